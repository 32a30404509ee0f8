import EtcdProto
import Foundation
import GRPC
import Lease
import MVCC
import NIOCore
import NIOPosix
import Peer
import Raft
import ServerLog
import Transport
import WAL
import Watch

extension URLList.Parsed {
    var listenAddress: Listener.Address {
        scheme.hasPrefix("unix") ? .unix(path: hostPort) : .tcp(host: host, port: port)
    }
}

/// The composition root: builds the modules, wires them together, starts and stops them. It
/// holds no request logic: bootstrap and recovery are `MemberBootstrap`'s, the Raft thread is
/// `RaftHost`'s, applying is `ServerApplication`'s, the peer port is `RaftTransport` and
/// `PeerGateway`, what a member publishes about itself is `MemberPublisher`'s, and leadership
/// changes are `LeadershipEvents`'.
public final class EtcdServer: @unchecked Sendable {
    public let config: ServerConfig
    let logger: Logger
    let member: RaftMember
    private let group: MultiThreadedEventLoopGroup
    private let listeners: [Listener]
    private let peerServers: [PeerHTTPServer]
    private let transport: RaftTransport
    private let publisher: MemberPublisher
    private let leaseExpiry: LeaseExpiry
    private let autoCompactor: AutoCompactor?
    private let corruptionCheck: CorruptionCheck?
    private let hub: WatchHub
    private let stopLock = NSLock()
    private var stopping = false
    /// Runs when the server stops on its own (removed from the cluster).
    public var onStopped: (@Sendable (Int32) -> Void)?

    private init(config: ServerConfig, logger: Logger, member: RaftMember, group: MultiThreadedEventLoopGroup,
                 listeners: [Listener], peerServers: [PeerHTTPServer], transport: RaftTransport,
                 publisher: MemberPublisher, leaseExpiry: LeaseExpiry, autoCompactor: AutoCompactor?,
                 corruptionCheck: CorruptionCheck?, hub: WatchHub) {
        self.config = config
        self.logger = logger
        self.member = member
        self.group = group
        self.listeners = listeners
        self.peerServers = peerServers
        self.transport = transport
        self.publisher = publisher
        self.leaseExpiry = leaseExpiry
        self.autoCompactor = autoCompactor
        self.corruptionCheck = corruptionCheck
        self.hub = hub
    }

    public var memberID: UInt64 { member.memberID }
    public var clusterID: UInt64 { member.clusterID }
    public var clientPorts: [Int] { listeners.compactMap(\.localPort) }
    public var peerPorts: [Int] { peerServers.compactMap(\.localPort) }

    public static func start(config: ServerConfig, logger: Logger) async throws -> EtcdServer {
        logger.info("starting an etcd server", [
            "etcd-version": MaintenanceService.serverVersion, "name": config.name, "data-dir": config.dataDir,
            "wal-dir": config.walDir, "member-dir": config.memberDirectory,
            "initial-advertise-peer-urls": config.initialAdvertisePeerURLs.map(\.text),
            "listen-peer-urls": config.listenPeerURLs.map(\.text),
            "advertise-client-urls": config.advertiseClientURLs.map(\.text),
            "listen-client-urls": config.listenClientURLs.map(\.text),
            "initial-cluster": config.initialCluster, "initial-cluster-state": config.initialClusterState,
            "initial-cluster-token": config.initialClusterToken, "quota-backend-bytes": config.effectiveQuotaBytes,
            "max-request-bytes": config.maxRequestBytes, "max-concurrent-streams": config.maxConcurrentStreams,
            "snapshot-count": config.snapshotCount, "heartbeat-interval": "\(config.heartbeatIntervalMs)ms",
            "election-timeout": "\(config.electionTimeoutMs)ms", "pre-vote": config.preVote,
        ], text: "name = \(config.name), data dir = \(config.dataDir)", package: "embed")

        // A member that has run before (etcd's "memberInitialized") gets the initial corruption check.
        let memberInitialized = FileManager.default.fileExists(atPath: config.walDirectory)
        let mapSize = Int(config.effectiveQuotaBytes) + (1 << 30)
        // A data dir etcd wrote becomes ours first (its files are kept aside).
        try EtcdDataImport(config: config, mapSize: mapSize, logger: logger).runIfNeeded()
        let snapDirectory = config.memberDirectory + "/snap"
        try makeDirectories(snapDirectory)
        removeTemporaryFiles(in: snapDirectory)
        let store = try KVStore(path: config.backendPath, mapSize: mapSize)
        logger.info("opened backend db", ["path": config.backendPath], text: "opened backend db at \(config.backendPath)")

        let tls = try ServerTLS.prepare(config: config, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let peerClient = PeerHTTPClient(group: group, connectTimeout: .milliseconds(Int64(1000 + config.electionTimeoutMs)),
                                        tls: tls.peerClient)
        let parts: RaftMember
        do {
            parts = try RaftMember.build(config: config, store: store, mapSize: mapSize, peerClient: peerClient, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let hub = try WatchHub(store: store, progressIntervalSeconds: config.watchProgressNotifyInterval)
        parts.application.onChanges = { hub.publish($0) }
        parts.onSnapshotInstalled = { hub.resync() }

        // Peers first, then clients.
        var peerServers: [PeerHTTPServer] = []
        var listeners: [Listener] = []
        do {
            // One listener per address: http:// and https:// URLs naming the same one share it.
            for urls in groupedByAddress(config.listenPeerURLs) where !urls[0].scheme.hasPrefix("unix") {
                let url = urls[0]
                // etcd's peer connections time out after 5 s of silence, the handshake included.
                let serving = tls.serving(tls.peerServer, urls: urls, handshakeTimeout: .seconds(5),
                                          logRejections: tls.logsPeerRejections, logger: logger)
                peerServers.append(try await PeerHTTPServer.bind(host: url.host, port: url.port, group: group,
                                                                 router: parts.transport, tls: serving))
                logger.info("serving peer traffic", ["address": url.hostPort], text: "listening for peers on \(url.hostPort)",
                            package: "embed")
            }
            let services = ServiceSet(member: parts, hub: hub, config: config)
            for urls in groupedByAddress(config.listenClientURLs) {
                let serving = tls.serving(tls.client, urls: urls, logRejections: tls.logsClientRejections, logger: logger)
                listeners.append(try await Listener.bind(urls[0].listenAddress, group: group,
                                                         configuration: services.grpc, router: services.router,
                                                         httpHandler: services.http, tls: serving))
            }
            // The metrics port: /metrics and /health over HTTP, with the client port's TLS and,
            // like etcd's, a check of client certificates' names against the caller's address.
            for urls in groupedByAddress(config.listenMetricsURLs) {
                let endpoints = services.endpoints
                var metricsGRPC = GRPCServerConfiguration()
                metricsGRPC.plainHTTPHandler = { request, responder in endpoints.handleMetricsPort(request, responder) }
                let serving = tls.serving(tls.metrics, urls: urls, logRejections: tls.logsClientRejections, logger: logger)
                listeners.append(try await Listener.bind(urls[0].listenAddress, group: group, configuration: metricsGRPC,
                                                         router: Router(), httpHandler: metricsGRPC.plainHTTPHandler!,
                                                         tls: serving))
                logger.info("serving metrics", ["address": urls[0].text], text: "listening for metrics on \(urls[0].text)",
                            package: "embed")
            }
        } catch {
            for server in peerServers { await server.shutdown() }
            for listener in listeners { await listener.shutdown() }
            parts.stop()
            try? await group.shutdownGracefully()
            throw error
        }

        let publisher = MemberPublisher(proposer: parts.proposer, membership: parts.membership, consensus: parts,
                                        client: peerClient, logger: logger, memberID: parts.memberID,
                                        clusterID: parts.clusterID, name: config.name,
                                        clientURLs: config.advertiseClientURLs.map(\.text))
        let leaseExpiry = LeaseExpiry(lessor: parts.lessor, isLeader: { parts.isLeader }) { id, completion in
            parts.metrics.leases.expire()
            parts.proposer.propose({ request in
                var revoke = LeaseRevokeRequest()
                revoke.id = id
                request.leaseRevoke = revoke
                // etcd revokes expired leases as root.
                AuthGate.stamp(&request, AuthInfo(username: AuthStore.root, revision: parts.auth.currentRevision))
            }, completion: completion)
        }
        let autoCompactor = config.autoCompaction.map { policy in
            AutoCompactor(policy: policy, isLeader: { parts.isLeader },
                          currentRevision: { (try? store.read { try $0.currentRevision() }) ?? 0 }, logger: logger) { revision, completion in
                parts.proposer.propose({ $0.compaction = CompactionRequest(revision: revision) }, completion: completion)
            }
        }
        let corruptionCheck = CorruptionCheck(
            store: store, membership: parts.membership, localID: parts.memberID, client: peerClient, logger: logger,
            timeoutSeconds: 5 + 2 * Double(config.electionTimeoutMs) / 1000,
            raiseAlarm: { [proposer = parts.proposer] in
                proposer.propose({ $0.alarm = AlarmRequest(action: .activate, memberID: 0, alarm: .corrupt) }, deadline: nil) { _ in }
            },
            linearizableRead: { [reads = parts.reads] done in reads.linearizableRead(done) })
        if config.initialCorruptCheck && memberInitialized {
            try corruptionCheck.checkInitial()
        }
        let server = EtcdServer(config: config, logger: logger, member: parts, group: group, listeners: listeners,
                                peerServers: peerServers, transport: parts.transport, publisher: publisher,
                                leaseExpiry: leaseExpiry, autoCompactor: autoCompactor,
                                corruptionCheck: config.corruptCheckSeconds > 0 ? corruptionCheck : nil, hub: hub)
        parts.onFirstCommitInTerm = { [weak publisher] in publisher?.monitorVersion() }
        parts.onRemovedFromCluster = { [weak server] in server?.stopRemoved() }
        publisher.onPublished = {
            logger.info("ready to serve client requests", package: "embed")
            for urls in groupedByAddress(config.listenClientURLs) {
                let address = urls[0].hostPort
                if urls.contains(where: { !$0.isTLS }) {
                    logger.info("serving client traffic insecurely; this is strongly discouraged!", ["address": address],
                                text: "serving insecure client requests on \(address), this is strongly discouraged!",
                                package: "embed")
                }
                if urls.contains(where: \.isTLS) {
                    logger.info("serving client traffic securely", ["address": address],
                                text: "serving client requests on \(address)", package: "embed")
                }
            }
        }
        hub.start()
        parts.start()
        publisher.start()
        leaseExpiry.start()
        autoCompactor?.start()
        if config.corruptCheckSeconds > 0 {
            corruptionCheck.startMonitor(interval: config.corruptCheckSeconds, isLeader: { parts.isLeader })
        }
        return server
    }

    /// Stops serving: a leader first hands leadership over, then listeners close (HTTP/2
    /// clients get GOAWAY), accepted writes finish, the store is flushed.
    public func stop() async {
        guard stopLock.withLock({ () -> Bool in
            defer { stopping = true }
            return !stopping
        }) else { return }
        member.transferLeadershipBeforeStopping()
        publisher.stop()
        leaseExpiry.stop()
        autoCompactor?.stop()
        corruptionCheck?.stop()
        hub.stop()
        for listener in listeners { await listener.shutdown() }
        for server in peerServers { await server.shutdown() }
        transport.stop()
        member.stop()
        try? await group.shutdownGracefully()
        logger.info("closed etcd server", ["name": config.name, "data-dir": config.dataDir],
                    text: "stopped etcd server \(config.name)", package: "embed")
    }

    /// This member was removed from the cluster: it stops, as etcd's does, a little later (so
    /// the removal reaches the others) and exits with an error.
    private func stopRemoved() {
        logger.warn("server error", ["error": "the member has been permanently removed from the cluster"],
                    text: "the member has been permanently removed from the cluster")
        logger.warn("data-dir used by this member must be removed", ["data-dir": config.dataDir],
                    text: "the data-dir used by this member must be removed.")
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: Double(config.heartbeatIntervalMs) / 1000)
            let done = DispatchSemaphore(value: 0)
            Task {
                await stop()
                done.signal()
            }
            done.wait()
            // etcd exits cleanly: the removal is not a failure of the process.
            onStopped?(0)
        }
    }
}

/// URLs grouped by the address they listen on, in order of first appearance.
private func groupedByAddress(_ urls: [URLList.Parsed]) -> [[URLList.Parsed]] {
    var groups: [[URLList.Parsed]] = []
    for url in urls {
        let unix = url.scheme.hasPrefix("unix")
        if let index = groups.firstIndex(where: { $0[0].hostPort == url.hostPort && $0[0].scheme.hasPrefix("unix") == unix }) {
            groups[index].append(url)
        } else {
            groups.append([url])
        }
    }
    return groups
}

/// Deletes temporary files a crash left in the snapshot directory.
private func removeTemporaryFiles(in directory: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in names where name.hasPrefix("tmp") {
        unlink(directory + "/" + name)
    }
}
