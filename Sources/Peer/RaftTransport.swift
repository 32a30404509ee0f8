import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Raft
import ServerLog

/// Who we are on the peer port, in the forms etcd's headers carry.
public struct PeerIdentity: Sendable {
    public var localID: NodeID
    public var clusterID: UInt64
    /// Our advertised peer URLs (sent as X-PeerURLs).
    public var peerURLs: [String]
    public static let serverVersion = "3.4.23"
    public static let minClusterVersion = "3.0.0"

    public init(localID: NodeID, clusterID: UInt64, peerURLs: [String]) {
        self.localID = localID
        self.clusterID = clusterID
        self.peerURLs = peerURLs
    }

    public static func hex(_ id: UInt64) -> String { String(id, radix: 16) }
}

/// What the transport needs from the member around it.
public protocol RaftTransportDelegate: AnyObject, Sendable {
    /// A message for the local Raft node.
    func receive(_ message: Message)
    func reportUnreachable(_ member: NodeID)
    func reportSnapshot(to member: NodeID, succeeded: Bool)
    /// Whether `member` was removed from the cluster.
    func isRemoved(_ member: NodeID) -> Bool
    /// A snapshot from the leader arrived: store the database at `path` durably, then step the
    /// message.
    func snapshotReceived(_ message: Message, databasePath: String) throws
    /// Builds what an outgoing snapshot carries: the message to send (its metadata matching the
    /// database) and a file with the database, which the transport deletes after sending.
    func prepareSnapshot(_ message: Message) throws -> (message: Message, databasePath: String)
    /// A peer answered that this member was removed from the cluster.
    func removedFromCluster()
    /// The non-Raft endpoints of the peer port (`/members`, `/version`, `/leases`, ...).
    func route(_ head: PeerRequestHead) -> PeerRoute?
    /// Where received snapshots are written while they arrive.
    var snapshotDirectory: String { get }
}

/// etcd 3.4's peer transport (rafthttp), so our members and etcd's form one cluster.
///
/// Each pair of members is linked by four long-lived HTTP GETs: each side dials a `message`
/// and a `msgapp` stream to the other (`/raft/stream/<kind>/<its id>`), and the side answering
/// writes the messages bound for the dialer into that response. Appends go on `msgapp`,
/// everything else on `message`; with no stream attached a message is POSTed to `/raft` (the
/// pipeline), and a snapshot is always POSTed to `/raft/snapshot` with the database after it.
///
/// Sending never blocks the Raft loop: each peer has bounded queues; a message that does not
/// fit is dropped and the peer reported unreachable, as etcd does. A peer whose links fail is
/// inactive until one works again (`activeSince`, which the strict reconfiguration checks use).
public final class RaftTransport: RaftMessageSender, @unchecked Sendable {
    let client: PeerHTTPClient
    let logger: Logger
    private weak var delegateStorage: RaftTransportDelegate?
    private let lock = NIOLock()
    private var identityValue: PeerIdentity
    private var peers: [NodeID: RemotePeer] = [:]
    /// Members not (yet) in our membership that contacted us: reachable by pipeline only.
    private var remotes: [NodeID: [String]] = [:]
    private var stopped = false
    private var prober: DispatchSourceTimer?

    /// Bytes sent to and received from each peer (hex ID), and probe round trips in seconds.
    public var onSent: (@Sendable (Int, String) -> Void)?
    public var onReceived: (@Sendable (Int, String) -> Void)?
    public var onRoundTrip: (@Sendable (Double, String) -> Void)?

    /// etcd's stream buffer and pipeline limits.
    static let streamQueueLimit = 4096
    static let pipelineInFlightLimit = 64
    static let pipelineConnections = 4
    /// Link heartbeats keep a stream alive well within the reader's 5 s deadline.
    static let linkHeartbeatInterval = TimeAmount.milliseconds(1667)
    static let readTimeout = TimeAmount.seconds(5)
    static let dialRetrySeconds = 0.1

    public init(identity: PeerIdentity, client: PeerHTTPClient, logger: Logger) {
        self.identityValue = identity
        self.client = client
        self.logger = logger
    }

    public func setDelegate(_ delegate: RaftTransportDelegate) {
        lock.withLock { delegateStorage = delegate }
    }

    var delegate: RaftTransportDelegate? { lock.withLock { delegateStorage } }

    public var identity: PeerIdentity { lock.withLock { identityValue } }

    /// The headers every Raft request carries.
    func requestHeaders(to remote: NodeID?) -> [(String, String)] {
        let identity = self.identity
        var headers = [("X-Server-From", PeerIdentity.hex(identity.localID)),
                       ("X-Server-Version", PeerIdentity.serverVersion),
                       ("X-Min-Cluster-Version", PeerIdentity.minClusterVersion),
                       ("X-Etcd-Cluster-Id", PeerIdentity.hex(identity.clusterID)),
                       ("X-Peerurls", identity.peerURLs.joined(separator: ","))]
        if let remote { headers.append(("X-Raft-To", PeerIdentity.hex(remote))) }
        return headers
    }

    // MARK: Membership of the transport

    /// Makes the transport's peers those of `members` (their peer URLs), minus this member:
    /// new ones start dialing, departed ones are closed.
    public func setPeers(_ members: [(id: NodeID, peerURLs: [String])]) {
        let localID = identity.localID
        var started: [RemotePeer] = []
        var gone: [RemotePeer] = []
        lock.withLock {
            guard !stopped else { return }
            let wanted = Dictionary(members.filter { $0.id != localID }.map { ($0.id, $0.peerURLs) },
                                    uniquingKeysWith: { first, _ in first })
            for (id, peer) in peers where wanted[id] == nil {
                gone.append(peer)
                peers[id] = nil
            }
            for (id, urls) in wanted {
                if let peer = peers[id] {
                    peer.setURLs(urls)
                } else {
                    let peer = RemotePeer(id: id, urls: urls, transport: self)
                    peers[id] = peer
                    remotes[id] = nil
                    started.append(peer)
                }
            }
        }
        for peer in gone { peer.stop() }
        for peer in started {
            logger.info("added remote peer", ["local-member-id": PeerIdentity.hex(localID),
                                              "remote-peer-id": PeerIdentity.hex(peer.id), "remote-peer-urls": peer.urls],
                        text: "added peer \(PeerIdentity.hex(peer.id))", package: "rafthttp")
            peer.start()
        }
    }

    func peer(_ id: NodeID) -> RemotePeer? { lock.withLock { peers[id] } }

    /// Records how to reach a member that contacted us but is not a peer yet.
    func addRemote(_ id: NodeID, urls: [String]) {
        lock.withLock {
            if peers[id] == nil && !urls.isEmpty { remotes[id] = urls }
        }
    }

    /// When the link to `member` became active, nil while it is not.
    public func activeSince(_ member: NodeID) -> UInt64? {
        peer(member)?.activeSince
    }

    /// Probes every peer's `/raft/probing` every few seconds, as etcd does, for round-trip times.
    public func startProbing(every seconds: Double = 4) {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + seconds, repeating: seconds)
        timer.setEventHandler { [weak self] in self?.probe() }
        timer.resume()
        lock.withLock { prober = timer }
    }

    private func probe() {
        let targets = lock.withLock { peers.values.map { ($0.id, $0.urls.first) } }
        for (id, url) in targets {
            guard let url else { continue }
            let started = DispatchTime.now().uptimeNanoseconds
            client.request(url, method: .GET, path: "/raft/probing", timeout: .seconds(5)).whenSuccess { [weak self] response in
                guard response.status == 200 else { return }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                self?.onRoundTrip?(seconds, PeerIdentity.hex(id))
            }
        }
    }

    public func stop() {
        let all = lock.withLock { () -> [RemotePeer] in
            prober?.cancel()
            stopped = true
            defer { peers = [:] }
            return Array(peers.values)
        }
        for peer in all { peer.stop() }
    }

    // MARK: Sending (the Raft thread)

    public func send(_ messages: [Message]) {
        var byPeer: [NodeID: [Message]] = [:]
        for message in messages where message.to != noNode {
            byPeer[message.to, default: []].append(message)
        }
        for (to, batch) in byPeer {
            if let peer = peer(to) {
                peer.send(batch)
            } else if let urls = lock.withLock({ remotes[to] }) {
                for message in batch { postToPipeline(message, urls: urls, peer: nil) }
            }
            // Neither a peer nor a remote: etcd drops such messages too.
        }
    }

    /// POSTs one message to `/raft` at the first URL that answers.
    func postToPipeline(_ message: Message, urls: [String], peer: RemotePeer?) {
        guard let url = urls.first else { return }
        let body = RaftWire.encode(message)
        onSent?(body.count, PeerIdentity.hex(message.to))
        let headers = requestHeaders(to: nil) + [("Content-Type", "application/protobuf")]
        let future = client.request(url, method: .POST, path: "/raft", headers: headers, body: body,
                                    timeout: .seconds(5))
        future.whenComplete { [weak self] result in
            guard let self else { return }
            peer?.pipelineFinished()
            switch result {
            case .success(let response) where response.status == 204:
                peer?.activate()
            case .success(let response):
                self.handleRejection(response, to: message.to, via: "pipeline")
                self.failed(message, peer: peer, reason: "unexpected http status \(response.status)")
            case .failure(let error):
                self.failed(message, peer: peer, reason: "\(error)")
            }
        }
    }

    private func failed(_ message: Message, peer: RemotePeer?, reason: String) {
        peer?.deactivate(reason: "failed to post \(PeerIdentity.hex(message.to)) on pipeline (\(reason))")
        delegate?.reportUnreachable(message.to)
        if message.type == .snapshot { delegate?.reportSnapshot(to: message.to, succeeded: false) }
    }

    /// A 403 or 410 means this member was removed; a 412 names the incompatibility.
    func handleRejection(_ response: PeerResponse, to member: NodeID, via path: String) {
        let body = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        switch response.status {
        case 403, 410:
            logger.error("removed member", ["local-member-id": PeerIdentity.hex(identity.localID),
                                             "remote-peer-id": PeerIdentity.hex(member)],
                         text: "the member has been permanently removed from the cluster", package: "rafthttp")
            delegate?.removedFromCluster()
        case 412 where body == "cluster ID mismatch":
            logger.warn("request sent was ignored by remote peer due to cluster ID mismatch",
                        ["remote-peer-id": PeerIdentity.hex(member), "local-member-cluster-id": PeerIdentity.hex(identity.clusterID)],
                        text: "request sent was ignored (cluster ID mismatch: peer[\(PeerIdentity.hex(member))]=\(response.header("X-Etcd-Cluster-Id") ?? ""), local=\(PeerIdentity.hex(identity.clusterID)))",
                        package: "rafthttp")
        case 412 where body == "incompatible version":
            logger.warn("request sent was ignored by remote peer due to server version incompatibility",
                        ["remote-peer-id": PeerIdentity.hex(member)], package: "rafthttp")
        default:
            break
        }
    }

    /// Sends a snapshot: the delegate builds the database, which goes after the message in one
    /// chunked POST to `/raft/snapshot`.
    func sendSnapshot(_ message: Message, urls: [String], peer: RemotePeer?) {
        guard let url = urls.first else { return }
        Thread.detachNewThread { [weak self] in
            guard let self, let delegate = self.delegate else { return }
            let prepared: (message: Message, databasePath: String)
            do {
                prepared = try delegate.prepareSnapshot(message)
            } catch {
                self.logger.warn("failed to prepare a snapshot", ["error": "\(error)"], package: "rafthttp")
                delegate.reportSnapshot(to: message.to, succeeded: false)
                return
            }
            self.logger.info("sending database snapshot", [
                "snapshot-index": prepared.message.snapshot?.metadata.index ?? 0,
                "remote-peer-id": PeerIdentity.hex(message.to)], package: "rafthttp")
            let body = SnapshotUpload(head: SnapshotBody.head(prepared.message), databasePath: prepared.databasePath)
            let headers = self.requestHeaders(to: nil) + [("Content-Type", "application/octet-stream")]
            let future = self.client.upload(url, path: "/raft/snapshot", headers: headers, timeout: .seconds(30)) {
                try body.nextChunk()
            }
            let outcome = Result { try future.wait() }
            body.close()
            unlink(prepared.databasePath)
            switch outcome {
            case .success(let response) where response.status == 204:
                peer?.activate()
                self.logger.info("sent database snapshot", ["remote-peer-id": PeerIdentity.hex(message.to)], package: "rafthttp")
                delegate.reportSnapshot(to: message.to, succeeded: true)
            case .success(let response):
                self.handleRejection(response, to: message.to, via: "snapshot")
                self.failed(message, peer: peer, reason: "unexpected http status \(response.status)")
            case .failure(let error):
                self.failed(message, peer: peer, reason: "\(error)")
            }
        }
    }

    // MARK: Receiving

    func deliver(_ message: Message) {
        delegate?.receive(message)
    }
}

/// One remote member: its stream writers (responses to its GETs), its stream readers (our
/// GETs to it) and the pipeline.
final class RemotePeer: @unchecked Sendable {
    let id: NodeID
    private unowned let transport: RaftTransport
    private let lock = NIOLock()
    private var urlList: [String]
    private var urlIndex = 0
    private var writers: [StreamKind: AttachedStream] = [:]
    private var readerGenerations: [StreamKind: Int] = [:]
    private var active: UInt64?
    private var pipelineInFlight = 0
    private var stopped = false

    init(id: NodeID, urls: [String], transport: RaftTransport) {
        self.id = id
        self.urlList = urls
        self.transport = transport
    }

    var urls: [String] { lock.withLock { urlList } }

    func setURLs(_ urls: [String]) { lock.withLock { urlList = urls } }

    var activeSince: UInt64? { lock.withLock { active } }

    func start() {
        for kind in StreamKind.allCases { dial(kind, generation: 0) }
    }

    func stop() {
        let open = lock.withLock { () -> [AttachedStream] in
            stopped = true
            defer { writers = [:] }
            return Array(writers.values)
        }
        for stream in open { stream.close() }
    }

    func activate() {
        let became = lock.withLock { () -> Bool in
            guard active == nil, !stopped else { return false }
            active = DispatchTime.now().uptimeNanoseconds
            return true
        }
        if became {
            transport.logger.info("peer became active", ["peer-id": PeerIdentity.hex(id)],
                                  text: "peer \(PeerIdentity.hex(id)) became active", package: "rafthttp")
        }
    }

    func deactivate(reason: String) {
        let became = lock.withLock { () -> Bool in
            guard active != nil else { return false }
            active = nil
            return true
        }
        if became {
            transport.logger.warn("peer became inactive (message send to peer failed)",
                                  ["peer-id": PeerIdentity.hex(id), "error": reason],
                                  text: "peer \(PeerIdentity.hex(id)) became inactive (message send to peer failed)",
                                  package: "rafthttp")
        }
    }

    // MARK: Writing

    /// A stream the remote opened to us, now carrying our messages to it.
    func attach(_ writer: PeerStreamWriter, kind: StreamKind) {
        let stream = AttachedStream(writer: writer, kind: kind, onSent: transport.onSent, peer: PeerIdentity.hex(id))
        let replaced = lock.withLock { () -> AttachedStream? in
            guard !stopped else { return nil }
            defer { writers[kind] = stream }
            return writers[kind]
        }
        if lock.withLock({ stopped }) {
            writer.close()
            return
        }
        replaced?.close()
        activate()
        transport.logger.info("established TCP streaming connection with remote peer",
                              ["stream-writer-type": kind.description, "remote-peer-id": PeerIdentity.hex(id)],
                              text: "established a TCP streaming connection with peer \(PeerIdentity.hex(id)) (\(kind.description) writer)",
                              package: "rafthttp")
        stream.startHeartbeats()
        writer.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            let current = self.lock.withLock { () -> Bool in
                guard self.writers[kind] === stream else { return false }
                self.writers[kind] = nil
                return true
            }
            if current {
                self.transport.logger.warn("lost TCP streaming connection with remote peer",
                                           ["stream-writer-type": kind.description, "remote-peer-id": PeerIdentity.hex(self.id)],
                                           text: "lost the TCP streaming connection with peer \(PeerIdentity.hex(self.id)) (\(kind.description) writer)",
                                           package: "rafthttp")
            }
        }
    }

    /// Sends a batch from the Raft loop: appends on msgapp, the rest on message, snapshots
    /// and anything without a stream by pipeline.
    func send(_ messages: [Message]) {
        let (messageStream, appStream, urls) = lock.withLock { (writers[.message], writers[.msgapp], urlList) }
        var onMessage: [Message] = []
        var onApp: [Message] = []
        for message in messages {
            if message.type == .snapshot {
                transport.sendSnapshot(message, urls: urls, peer: self)
            } else if message.type == .append, let appStream, appStream.isUsable {
                onApp.append(message)
            } else if let messageStream, messageStream.isUsable {
                onMessage.append(message)
            } else if reservePipeline() {
                transport.postToPipeline(message, urls: urls, peer: self)
            } else {
                dropped(message, reason: "sending buffer is full")
            }
        }
        if !onApp.isEmpty, let appStream, !appStream.write(onApp) {
            for message in onApp { dropped(message, reason: "sending buffer is full") }
        }
        if !onMessage.isEmpty, let messageStream, !messageStream.write(onMessage) {
            for message in onMessage { dropped(message, reason: "sending buffer is full") }
        }
    }

    private func dropped(_ message: Message, reason: String) {
        transport.logger.warn("dropped internal Raft message since sending buffer is full (overloaded network)",
                              ["message-type": "\(message.type)", "remote-peer-id": PeerIdentity.hex(id)],
                              package: "rafthttp")
        transport.delegate?.reportUnreachable(id)
        if message.type == .snapshot { transport.delegate?.reportSnapshot(to: id, succeeded: false) }
    }

    private func reservePipeline() -> Bool {
        lock.withLock {
            guard pipelineInFlight < RaftTransport.pipelineInFlightLimit else { return false }
            pipelineInFlight += 1
            return true
        }
    }

    func pipelineFinished() {
        lock.withLock { pipelineInFlight = max(0, pipelineInFlight - 1) }
    }

    // MARK: Reading: our GETs to the remote

    private func dial(_ kind: StreamKind, generation: Int) {
        let (url, isStopped) = lock.withLock { () -> (String?, Bool) in
            guard !urlList.isEmpty else { return (nil, stopped) }
            return (urlList[urlIndex % urlList.count], stopped)
        }
        guard !isStopped, let url else { return }
        let localID = transport.identity.localID
        let remote = id
        let connection = ReaderConnection(kind: kind, local: localID, remote: remote)
        transport.client.openStream(
            url, path: "/raft/stream/\(kind.pathSegment)/\(PeerIdentity.hex(localID))",
            headers: transport.requestHeaders(to: remote), readTimeout: RaftTransport.readTimeout,
            onHead: { [weak self] status, head in
                guard let self else { return false }
                return self.readerAnswered(kind, status: status, head: head)
            },
            onBody: { [weak self] bytes in
                guard let self else { return false }
                transport.onReceived?(bytes.readableBytes, PeerIdentity.hex(remote))
                do {
                    for message in try connection.feed(bytes) { self.transport.deliver(message) }
                    return true
                } catch {
                    self.transport.logger.warn("failed to read Raft message", ["remote-peer-id": PeerIdentity.hex(remote),
                                                                               "error": "\(error)"], package: "rafthttp")
                    return false
                }
            },
            onClose: { [weak self] error in
                guard let self else { return }
                self.readerClosed(kind, connected: connection.connected, error: error)
            })
    }

    /// The remote's answer to our stream GET.
    private func readerAnswered(_ kind: StreamKind, status: Int, head: PeerRequestHead) -> Bool {
        switch status {
        case 200:
            // A remote that names no version (or one below 2.1) supports no streams.
            guard let version = head.header("X-Server-Version"), SemanticVersion(version)?.supportsStreams == true else {
                return false
            }
            activate()
            transport.logger.info("established TCP streaming connection with remote peer",
                                  ["stream-reader-type": kind.description, "remote-peer-id": PeerIdentity.hex(id)],
                                  text: "established a TCP streaming connection with peer \(PeerIdentity.hex(id)) (\(kind.description) reader)",
                                  package: "rafthttp")
            return true
        case 410:
            transport.handleRejection(PeerResponse(status: 410), to: id, via: "stream")
            return false
        case 412:
            return false
        default:
            return false
        }
    }

    private func readerClosed(_ kind: StreamKind, connected: Bool, error: Error?) {
        let isStopped = lock.withLock { () -> Bool in
            if !connected { urlIndex += 1 }
            return stopped
        }
        if isStopped { return }
        if connected {
            transport.logger.warn("lost TCP streaming connection with remote peer",
                                  ["stream-reader-type": kind.description, "remote-peer-id": PeerIdentity.hex(id)],
                                  text: "lost the TCP streaming connection with peer \(PeerIdentity.hex(id)) (\(kind.description) reader)",
                                  package: "rafthttp")
            deactivate(reason: "failed to read \(PeerIdentity.hex(id)) on \(kind.description) (\(error.map { "\($0)" } ?? "EOF"))")
        } else if let error {
            deactivate(reason: "failed to dial \(PeerIdentity.hex(id)) on \(kind.description) (\(error))")
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + RaftTransport.dialRetrySeconds) { [weak self] in
            self?.dial(kind, generation: 0)
        }
    }
}

/// Decodes one reader connection's bytes with the decoder of its kind.
private final class ReaderConnection: @unchecked Sendable {
    private var messageDecoder = MessageStreamDecoder()
    private var appDecoder: MsgAppDecoder
    let kind: StreamKind
    private(set) var connected = false

    init(kind: StreamKind, local: NodeID, remote: NodeID) {
        self.kind = kind
        appDecoder = MsgAppDecoder(local: local, remote: remote)
    }

    func feed(_ bytes: ByteBuffer) throws(StreamDecodingError) -> [Message] {
        connected = true
        switch kind {
        case .message: return try messageDecoder.feed(bytes.readableBytesView)
        case .msgapp: return try appDecoder.feed(bytes.readableBytesView)
        }
    }
}

/// A stream writer: encodes on the connection's event loop (msgappv2 keeps state per
/// connection), counts what is queued, and sends link heartbeats.
final class AttachedStream: @unchecked Sendable {
    let writer: PeerStreamWriter
    let kind: StreamKind
    private var appEncoder = MsgAppEncoder()
    private let queued = NIOLockedValueBox(0)
    private var heartbeat: RepeatedTask?
    private let onSent: (@Sendable (Int, String) -> Void)?
    private let peer: String

    init(writer: PeerStreamWriter, kind: StreamKind, onSent: (@Sendable (Int, String) -> Void)?, peer: String) {
        self.writer = writer
        self.kind = kind
        self.onSent = onSent
        self.peer = peer
    }

    var isUsable: Bool { queued.withLockedValue { $0 } < RaftTransport.streamQueueLimit }

    /// Queues messages for the connection; false if the queue is full.
    func write(_ messages: [Message]) -> Bool {
        let accepted = queued.withLockedValue { count -> Bool in
            guard count + messages.count <= RaftTransport.streamQueueLimit else { return false }
            count += messages.count
            return true
        }
        guard accepted else { return false }
        writer.eventLoop.execute { [self] in
            var bytes: [UInt8] = []
            for message in messages {
                switch kind {
                case .message: MessageStreamEncoder().encode(message, into: &bytes)
                case .msgapp: appEncoder.encode(message, into: &bytes)
                }
            }
            onSent?(bytes.count, peer)
            writer.write(bytes).whenComplete { [self] _ in
                queued.withLockedValue { $0 -= messages.count }
            }
        }
        return true
    }

    func startHeartbeats() {
        writer.eventLoop.execute { [self] in
            heartbeat = writer.eventLoop.scheduleRepeatedTask(initialDelay: RaftTransport.linkHeartbeatInterval,
                                                              delay: RaftTransport.linkHeartbeatInterval) { [self] _ in
                var bytes: [UInt8] = []
                switch kind {
                case .message: MessageStreamEncoder().linkHeartbeat(into: &bytes)
                case .msgapp: appEncoder.linkHeartbeat(into: &bytes)
                }
                _ = writer.write(bytes)
            }
            writer.closeFuture.whenComplete { [self] _ in heartbeat?.cancel() }
        }
    }

    func close() {
        writer.close()
    }
}

/// A version as the peer headers carry it ("3.4.23").
struct SemanticVersion: Comparable, Sendable {
    var major: Int
    var minor: Int
    var patch: Int

    init?(_ text: String) {
        let core = text.split(separator: "-", maxSplits: 1).first ?? ""
        let parts = core.split(separator: ".").map { Int($0) }
        guard parts.count == 3, let major = parts[0], let minor = parts[1], let patch = parts[2] else { return nil }
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    /// Streams exist from 2.1 on (3.4 supports both kinds).
    var supportsStreams: Bool { (major, minor) >= (2, 1) }
}

/// The body of a snapshot upload: the message frame, then the database file in 1 MiB chunks.
private final class SnapshotUpload: @unchecked Sendable {
    private var head: [UInt8]?
    private let file: FileHandle?

    init(head: [UInt8], databasePath: String) {
        self.head = head
        self.file = FileHandle(forReadingAtPath: databasePath)
    }

    func nextChunk() throws -> [UInt8]? {
        if let first = head {
            head = nil
            return first
        }
        guard let file, let data = try file.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
        return Array(data)
    }

    func close() {
        try? file?.close()
    }
}
