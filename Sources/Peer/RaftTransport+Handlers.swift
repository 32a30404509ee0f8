import Foundation
import NIOCore
import Raft

/// The Raft endpoints of the peer port, with etcd's checks and answers (status codes are part
/// of the protocol: 204 for a delivered message, 200 for an accepted stream, 410 for a removed
/// sender, 412 for an incompatible version or a foreign cluster).
extension RaftTransport: PeerRouter {
    public func route(_ head: PeerRequestHead) -> PeerRoute {
        switch head.path {
        case "/raft":
            return pipelineRoute(head)
        case "/raft/snapshot":
            return snapshotRoute(head)
        case "/raft/probing":
            return .respond(.json("{\"OK\":true,\"Now\":\"\(Self.rfc3339Nano())\"}"))
        default:
            if head.path.hasPrefix("/raft/") { return streamRoute(head) }
            if let route = delegate?.route(head) { return route }
            return .respond(.text(404, "404 page not found"))
        }
    }

    /// etcd's `checkClusterCompatibilityFromHeader`: versions first, then the cluster ID.
    private func compatibilityRefusal(_ head: PeerRequestHead) -> PeerResponse? {
        let identity = self.identity
        let remoteVersion = head.header("X-Server-Version") ?? "2.0.0"
        let remoteMinimum = head.header("X-Min-Cluster-Version") ?? "2.0.0"
        let from = head.header("X-Server-From") ?? ""
        let local = SemanticVersion(PeerIdentity.serverVersion)!
        let minimum = SemanticVersion(PeerIdentity.minClusterVersion)!
        guard let remote = SemanticVersion(remoteVersion), let remoteMin = SemanticVersion(remoteMinimum),
              (remote.major, remote.minor) >= (minimum.major, minimum.minor),
              (remoteMin.major, remoteMin.minor) <= (local.major, local.minor) else {
            logger.warn("failed to check version compatibility",
                        ["local-member-id": PeerIdentity.hex(identity.localID), "remote-peer-id": from,
                         "remote-peer-server-version": remoteVersion, "remote-peer-cluster-version": remoteMinimum],
                        text: "request version incompatibility (remote[\(from)]=\(remoteVersion), local=\(PeerIdentity.serverVersion))",
                        package: "rafthttp")
            return .text(412, "incompatible version")
        }
        let clusterID = PeerIdentity.hex(identity.clusterID)
        let remoteCluster = head.header("X-Etcd-Cluster-Id") ?? ""
        guard remoteCluster == clusterID else {
            logger.warn("request cluster ID mismatch",
                        ["local-member-id": PeerIdentity.hex(identity.localID), "local-member-cluster-id": clusterID,
                         "local-member-server-version": PeerIdentity.serverVersion, "remote-peer-server-name": from,
                         "remote-peer-server-version": remoteVersion, "remote-peer-cluster-id": remoteCluster],
                        text: "request cluster ID mismatch (got \(remoteCluster) want \(clusterID))", package: "rafthttp")
            return .text(412, "cluster ID mismatch")
        }
        return nil
    }

    /// The sender's peer URLs, remembered so we can answer a member not yet in our membership.
    private func noteRemote(_ head: PeerRequestHead) {
        guard let from = head.header("X-Server-From").flatMap({ UInt64($0, radix: 16) }),
              let urls = head.header("X-Peerurls"), !urls.isEmpty else { return }
        addRemote(from, urls: urls.split(separator: ",").map(String.init))
    }

    private var clusterHeader: [(name: String, value: String)] {
        [("X-Etcd-Cluster-Id", PeerIdentity.hex(identity.clusterID))]
    }

    // MARK: POST /raft

    private func pipelineRoute(_ head: PeerRequestHead) -> PeerRoute {
        guard head.method == "POST" else {
            return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "POST")] + clusterHeader))
        }
        if var refusal = compatibilityRefusal(head) {
            refusal.headers += clusterHeader
            return .respond(refusal)
        }
        noteRemote(head)
        let headers = clusterHeader
        return .buffered(maxBodyBytes: Int(PeerFrames.maxFrameBytes)) { [weak self] _, body, respond in
            guard let self else { return respond(.text(503, "stopping")) }
            let message: Message
            if let from = head.header("X-Server-From") { self.onReceived?(body.count, from) }
            do {
                message = try RaftWire.decodeMessage(body)
            } catch {
                self.logger.warn("failed to unmarshal Raft message", ["error": "\(error)"], package: "rafthttp")
                return respond(.text(400, "error unmarshalling raft message", headers: headers))
            }
            if self.delegate?.isRemoved(message.from) == true {
                self.logger.warn("rejected Raft message from removed member",
                                 ["local-member-id": PeerIdentity.hex(self.identity.localID),
                                  "removed-member-id": PeerIdentity.hex(message.from)], package: "rafthttp")
                return respond(.text(500, "error processing raft message", headers: headers))
            }
            self.peer(message.from)?.activate()
            self.deliver(message)
            respond(PeerResponse(status: 204, headers: headers))
        }
    }

    // MARK: GET /raft/stream/<kind>/<from>

    private func streamRoute(_ head: PeerRequestHead) -> PeerRoute {
        guard head.method == "GET" else {
            return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "GET")]))
        }
        let responseHeaders = [("X-Server-Version", PeerIdentity.serverVersion)] + clusterHeader
        if var refusal = compatibilityRefusal(head) {
            refusal.headers += responseHeaders
            return .respond(refusal)
        }
        let parts = head.path.split(separator: "/", omittingEmptySubsequences: false)
        // ["", "raft", "stream", kind, from]
        guard parts.count == 5, parts[2] == "stream", let kind = StreamKind(rawValue: String(parts[3])) else {
            return .respond(.text(404, "invalid path", headers: responseHeaders))
        }
        guard let from = UInt64(parts[4], radix: 16) else {
            logger.warn("failed to parse path into ID", ["path": String(parts[4])], package: "rafthttp")
            return .respond(.text(404, "invalid from", headers: responseHeaders))
        }
        if delegate?.isRemoved(from) == true {
            logger.warn("rejected stream from remote peer because it was removed",
                        ["local-member-id": PeerIdentity.hex(identity.localID), "remote-peer-id-stream-handler": PeerIdentity.hex(from)],
                        package: "rafthttp")
            return .respond(.text(410, "removed member", headers: responseHeaders))
        }
        guard let peer = peer(from) else {
            noteRemote(head)
            logger.warn("failed to find remote peer in cluster",
                        ["local-member-id": PeerIdentity.hex(identity.localID), "remote-peer-id-stream-handler": PeerIdentity.hex(from)],
                        package: "rafthttp")
            return .respond(.text(404, "error sender not found", headers: responseHeaders))
        }
        guard head.header("X-Raft-To") == PeerIdentity.hex(identity.localID) else {
            logger.warn("ignored streaming request; ID mismatch", ["local-member-id": PeerIdentity.hex(identity.localID),
                                                                   "remote-peer-id-header": head.header("X-Raft-To") ?? ""],
                        package: "rafthttp")
            return .respond(.text(412, "to field mismatch", headers: responseHeaders))
        }
        return .stream(headers: responseHeaders) { writer in
            peer.attach(writer, kind: kind)
        }
    }

    // MARK: POST /raft/snapshot

    private func snapshotRoute(_ head: PeerRequestHead) -> PeerRoute {
        guard head.method == "POST" else {
            return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "POST")] + clusterHeader))
        }
        if var refusal = compatibilityRefusal(head) {
            refusal.headers += clusterHeader
            return .respond(refusal)
        }
        noteRemote(head)
        guard let directory = delegate?.snapshotDirectory,
              let sink = SnapshotReceiver(directory: directory, transport: self) else {
            return .respond(.text(500, "failed to save KV snapshot (cannot create a temporary file)", headers: clusterHeader))
        }
        return .streamedBody(sink)
    }

    static func rfc3339Nano() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ts.tv_nsec))
    }
}

/// Writes an incoming snapshot body to a temporary file as it arrives: the length-prefixed
/// MsgSnap first, then the database to the end. Memory stays bounded whatever its size.
final class SnapshotReceiver: PeerBodySink, @unchecked Sendable {
    private let transport: RaftTransport
    private let path: String
    private let fd: Int32
    private var head: [UInt8] = []
    private var headLength: Int?
    private var failed: String?

    init?(directory: String, transport: RaftTransport) {
        var template = Array("\(directory)/tmp-snapshot-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.path = String(cString: template)
        self.transport = transport
    }

    func receive(_ bytes: ByteBuffer) {
        guard failed == nil else { return }
        var view = bytes.readableBytesView[...]
        if headLength == nil || head.count < 8 + (headLength ?? 0) {
            while !view.isEmpty && (head.count < 8 || head.count < 8 + (headLength ?? 0)) {
                head.append(view.removeFirst())
                if head.count == 8 {
                    let length = PeerFrames.readUInt64(head[...], at: 0)
                    guard length <= PeerFrames.maxFrameBytes else {
                        failed = "raft message too large"
                        return
                    }
                    headLength = Int(length)
                }
            }
        }
        guard !view.isEmpty else { return }
        let written = view.withContiguousStorageIfAvailable { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        } ?? false
        if !written { failed = "write: \(String(cString: strerror(errno)))" }
    }

    func finish(_ respond: @escaping @Sendable (PeerResponse) -> Void) {
        let headers = [("X-Etcd-Cluster-Id", PeerIdentity.hex(transport.identity.clusterID))]
        let transport = self.transport
        let path = self.path
        if let failed {
            close(fd)
            unlink(path)
            return respond(.text(400, "failed to decode raft message (\(failed))", headers: headers))
        }
        guard let length = headLength, head.count == 8 + length else {
            close(fd)
            unlink(path)
            return respond(.text(400, "failed to decode raft message (unexpected EOF)", headers: headers))
        }
        let message: Message
        do {
            message = try RaftWire.decodeMessage(Array(head[8...]))
        } catch {
            close(fd)
            unlink(path)
            transport.logger.warn("failed to decode Raft message", ["error": "\(error)"], package: "rafthttp")
            return respond(.text(400, "failed to decode raft message (\(error))", headers: headers))
        }
        guard message.type == .snapshot else {
            close(fd)
            unlink(path)
            transport.logger.warn("unexpected Raft message type", ["message-type": "\(message.type)"], package: "rafthttp")
            return respond(.text(400, "wrong raft message type", headers: headers))
        }
        transport.logger.info("receiving database snapshot", [
            "local-member-id": PeerIdentity.hex(transport.identity.localID),
            "remote-snapshot-sender-id": PeerIdentity.hex(message.from),
            "incoming-snapshot-index": message.snapshot?.metadata.index ?? 0], package: "rafthttp")
        let fd = self.fd
        // Saving (fsync) and stepping happen off the event loop.
        Thread.detachNewThread {
            let synced = fsync(fd) == 0
            close(fd)
            guard synced, let delegate = transport.delegate else {
                unlink(path)
                return respond(.text(500, "failed to save KV snapshot (fsync failed)", headers: headers))
            }
            do {
                try delegate.snapshotReceived(message, databasePath: path)
                transport.peer(message.from)?.activate()
                respond(PeerResponse(status: 204, headers: headers))
            } catch {
                unlink(path)
                transport.logger.warn("failed to save incoming database snapshot", ["error": "\(error)"], package: "rafthttp")
                respond(.text(500, "failed to save KV snapshot (\(error))", headers: headers))
            }
        }
    }

    func abort() {
        close(fd)
        unlink(path)
    }
}
