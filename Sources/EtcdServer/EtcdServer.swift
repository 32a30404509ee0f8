import EtcdProto
import Foundation
import GRPC
import Lease
import MVCC
import NIOCore
import NIOPosix
import Transport
import WAL
import Watch

extension URLList.Parsed {
    var listenAddress: Listener.Address {
        scheme.hasPrefix("unix") ? .unix(path: hostPort) : .tcp(host: host, port: port)
    }
}

/// The composition root: builds the modules, wires them together, starts and stops them. It
/// holds no request logic.
public final class EtcdServer: Sendable {
    public let config: ServerConfig
    let logger: Logger
    let core: ServerCore
    private let group: MultiThreadedEventLoopGroup
    private let listeners: [Listener]
    private let leaseExpiry: LeaseExpiry
    private let hub: WatchHub

    private init(config: ServerConfig, logger: Logger, core: ServerCore, group: MultiThreadedEventLoopGroup,
                 listeners: [Listener], leaseExpiry: LeaseExpiry, hub: WatchHub) {
        self.hub = hub
        self.config = config
        self.logger = logger
        self.core = core
        self.group = group
        self.listeners = listeners
        self.leaseExpiry = leaseExpiry
    }

    public var memberID: UInt64 { core.memberID }
    public var clusterID: UInt64 { core.clusterID }
    public var clientPorts: [Int] { listeners.dropFirst(config.listenPeerURLs.count).compactMap(\.localPort) }

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
        ], text: "name = \(config.name), data dir = \(config.dataDir)", package: "embed")

        try makeDirectories(config.memberDirectory + "/snap")
        let store = try KVStore(path: config.backendPath, mapSize: Int(config.effectiveQuotaBytes) + (1 << 30))
        logger.info("opened backend db", ["path": config.backendPath], text: "opened backend db at \(config.backendPath)")
        let membership = try MembershipStore(store: store)

        // Identity and log: recovered from the data dir, or bootstrapped from the flags.
        let wal: WAL
        var replay: [Entry]
        let memberID: UInt64, clusterID: UInt64, term: UInt64
        let fresh = !WAL.exists(in: config.walDirectory)
        if fresh {
            (memberID, clusterID) = try bootstrapIdentity(config)
            var metadata = WALMetadata()
            metadata.nodeID = memberID
            metadata.clusterID = clusterID
            wal = try WAL.create(in: config.walDirectory, metadata: metadata.serializedBytes())
            // As etcd does, the log starts with the configuration entry adding this member at
            // term 1; the member then "wins" term 2.
            var member = Member()
            member.id = memberID
            member.peerURLs = config.initialAdvertisePeerURLs.map(\.text).sorted()
            let first = Entry(term: 1, index: 1, kind: .configurationChange, data: member.serializedBytes())
            try wal.append(entries: [first], hardState: HardState(term: 1, vote: 0, commit: 1))
            try wal.sync()
            replay = [first]
            term = 2
            logger.info("starting local member", ["local-member-id": ClusterIdentity.hex(memberID),
                                                  "cluster-id": ClusterIdentity.hex(clusterID)],
                        text: "starting member \(ClusterIdentity.hex(memberID)) in cluster \(ClusterIdentity.hex(clusterID))")
        } else {
            let (opened, recovered) = try WAL.open(in: config.walDirectory)
            let metadata = try WALMetadata(serializedBytes: recovered.metadata)
            guard let node = metadata.nodeID, let cluster = metadata.clusterID else {
                throw ConfigError.invalid("wal: metadata in \(config.walDirectory) names no member")
            }
            wal = opened
            memberID = node
            clusterID = cluster
            replay = recovered.entries
            term = recovered.hardState.term + 1
            logger.info("restarting local member", ["local-member-id": ClusterIdentity.hex(memberID),
                                                    "cluster-id": ClusterIdentity.hex(clusterID),
                                                    "commit-index": recovered.hardState.commit],
                        text: "restarting member \(ClusterIdentity.hex(memberID)) in cluster \(ClusterIdentity.hex(clusterID)) at commit index \(recovered.hardState.commit)")
        }

        let applied = try store.read { try $0.appliedIndex() }
        // etcd's minimum lease TTL: one and a half election timeouts, in whole seconds, rounded up.
        let electionTicks = config.electionTimeoutMs / config.heartbeatIntervalMs
        let minTTLMs = (3 * electionTicks / 2) * config.heartbeatIntervalMs
        let lessor = Lessor(minTTLSeconds: Int64((minTTLMs + 999) / 1000),
                            clock: { DispatchTime.now().uptimeNanoseconds })
        let leases = try LeaseStore(store: store, lessor: lessor)
        // Leases as of the applied index first; replaying the log brings them up to date.
        try leases.restore(from: store, extraNanoseconds: config.electionTimeoutMs * 1_000_000)
        let applier = Applier(store: store, membership: membership, leases: leases, logger: logger)
        let pipeline = ApplyPipeline(wal: wal, store: store, applier: applier, term: term, appliedIndex: applied,
                                     logger: logger, syncWrites: !config.unsafeNoFsync)
        try pipeline.replay(replay)
        replay = []
        // Watchers start after replay: the hub's first revision is the recovered one.
        let hub = try WatchHub(store: store, progressIntervalSeconds: config.watchProgressNotifyInterval)
        applier.changeListener = { hub.publish($0) }
        hub.start()
        let compactor = Compactor(store: store)
        pipeline.backgroundWork = { compactor.step() }
        pipeline.start()

        let core = ServerCore(memberID: memberID, clusterID: clusterID, store: store, pipeline: pipeline,
                              semantics: applier.semantics, compactor: compactor, membership: membership, config: config)

        // Listeners: peers first (nothing served there yet), then clients.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        var grpcConfiguration = GRPCServerConfiguration()
        grpcConfiguration.http2.maxConcurrentStreams = config.maxConcurrentStreams
        grpcConfiguration.maxReceiveMessageBytes = Int(config.maxRequestBytes) + ServerConfig.grpcOverheadBytes
        let endpoints = HTTPEndpoints(core: core)
        grpcConfiguration.plainHTTPHandler = { request, respond in endpoints.handle(request, respond) }
        var router = Router()
        KVService(core: core).register(into: &router)
        MaintenanceService(core: core).register(into: &router)
        ClusterService(core: core).register(into: &router)
        LeaseService(core: core, leases: leases).register(into: &router)
        WatchService(core: core, hub: hub).register(into: &router)
        var listeners: [Listener] = []
        do {
            for url in config.listenPeerURLs {
                listeners.append(try await Listener.bind(url.listenAddress, group: group,
                                                         configuration: GRPCServerConfiguration(), router: Router(),
                                                         httpHandler: { _, respond in respond(PlainHTTPResponse(status: 404)) }))
                logger.info("serving peer traffic", ["address": url.hostPort], text: "listening for peers on \(url.hostPort)",
                            package: "embed")
            }
            for url in config.listenClientURLs {
                listeners.append(try await Listener.bind(url.listenAddress, group: group,
                                                         configuration: grpcConfiguration, router: router,
                                                         httpHandler: { request, respond in endpoints.handle(request, respond) }))
            }
        } catch {
            for listener in listeners { await listener.shutdown() }
            try? await group.shutdownGracefully()
            pipeline.stop()
            throw error
        }
        let expiry = LeaseExpiry(lessor: lessor) { id, completion in
            core.propose({ request in
                var revoke = LeaseRevokeRequest()
                revoke.id = id
                request.leaseRevoke = revoke
            }, completion: completion)
        }
        let server = EtcdServer(config: config, logger: logger, core: core, group: group, listeners: listeners,
                                leaseExpiry: expiry, hub: hub)
        try await server.announce(fresh: fresh)
        expiry.start()
        return server
    }

    /// The entries etcd writes when a member becomes leader and starts serving: the leader's
    /// empty entry, the cluster version (first start), and this member's name and client URLs.
    private func announce(fresh: Bool) async throws {
        let id = ClusterIdentity.hex(core.memberID)
        logger.info("became leader at term \(core.term)", text: "\(id) became leader at term \(core.term)", package: "raft")
        _ = await propose(data: [])
        let capabilities = { [logger] in
            logger.info("enabled capabilities for version", ["cluster-version": "3.4"],
                        text: "enabled capabilities for version 3.4", package: "etcdserver/api")
        }
        if try core.membership.clusterVersion() == nil {
            logger.info("setting up initial cluster version", ["cluster-version": "3.4"],
                        text: "setting up the initial cluster version to 3.4")
            var request = InternalRaftRequest()
            var v2 = V2Request()
            v2.method = "PUT"
            v2.path = "/0/version"
            v2.val = "3.4.0"
            request.v2 = v2
            _ = await propose(data: request.serializedBytes())
            logger.info("set initial cluster version", ["cluster-id": ClusterIdentity.hex(core.clusterID),
                                                        "local-member-id": id, "cluster-version": "3.4"],
                        text: "set the initial cluster version to 3.4", package: "etcdserver/membership")
            capabilities()
        } else {
            capabilities()
        }
        let clientURLs = config.advertiseClientURLs.map(\.text)
        let attributes = MemberAttributes(name: config.name, clientURLs: clientURLs)
        var request = InternalRaftRequest()
        var v2 = V2Request()
        v2.method = "PUT"
        v2.path = "/0/members/\(id)/attributes"
        v2.val = String(decoding: try JSONEncoder().encode(attributes), as: UTF8.self)
        request.v2 = v2
        _ = await propose(data: request.serializedBytes())
        let attributeText = "{Name:\(config.name) ClientURLs:[\(clientURLs.joined(separator: " "))]}"
        logger.info("published local member to cluster through raft", [
            "local-member-id": id, "local-member-attributes": attributeText,
            "request-path": "/0/members/\(id)/attributes", "cluster-id": ClusterIdentity.hex(core.clusterID),
        ], text: "published \(attributeText) to cluster \(ClusterIdentity.hex(core.clusterID))")
        logger.info("ready to serve client requests", package: "embed")
        for url in config.listenClientURLs {
            logger.info("serving client traffic insecurely; this is strongly discouraged!", ["address": url.hostPort],
                        text: "serving insecure client requests on \(url.hostPort), this is strongly discouraged!",
                        package: "embed")
        }
    }

    private func propose(data: [UInt8]) async -> ApplyResult {
        await withCheckedContinuation { continuation in
            core.pipeline.propose(data) { continuation.resume(returning: $0) }
        }
    }

    /// Stops serving: listeners close (HTTP/2 clients get GOAWAY), accepted writes finish,
    /// the store is flushed.
    public func stop() async {
        leaseExpiry.stop()
        hub.stop()
        for listener in listeners { await listener.shutdown() }
        core.pipeline.stop()
        try? await group.shutdownGracefully()
        logger.info("closed etcd server", ["name": config.name, "data-dir": config.dataDir],
                    text: "stopped etcd server \(config.name)", package: "embed")
    }

    /// Member and cluster IDs for a new member, from --initial-cluster.
    static func bootstrapIdentity(_ config: ServerConfig) throws -> (UInt64, UInt64) {
        guard config.initialClusterState == "new" else {
            throw ConfigError.invalid("--initial-cluster-state=existing is not supported by this server yet")
        }
        let members = try ClusterIdentity.parseInitialCluster(config.initialCluster, token: config.initialClusterToken)
        guard let me = members.first(where: { $0.name == config.name }) else {
            throw ConfigError.invalid("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
        }
        let advertised = config.initialAdvertisePeerURLs.map(\.text).sorted()
        guard advertised == me.peerURLs else {
            throw ConfigError.invalid("--initial-cluster has \(config.name)=\(me.peerURLs.joined(separator: ",")) but missing from --initial-advertise-peer-urls=\(advertised.joined(separator: ",")) (\"\(advertised.joined(separator: ","))\"(resolved from \(advertised.joined(separator: ","))) != \"\(me.peerURLs.joined(separator: ","))\"(resolved from \(me.peerURLs.joined(separator: ","))))")
        }
        guard members.count == 1 else {
            throw ConfigError.invalid("clusters of more than one member are not supported by this server yet")
        }
        return (me.id, ClusterIdentity.clusterID(memberIDs: members.map(\.id)))
    }
}
