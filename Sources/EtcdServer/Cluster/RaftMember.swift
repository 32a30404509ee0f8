import EtcdProto
import Foundation
import Lease
import MVCC
import NIOCore
import Peer
import Raft
import ServerLog
import WAL

/// The consensus side of a member, composed: the store's tables, the Raft thread and the
/// apply thread, the peer transport, the proposal registry and the read barrier. It is also
/// the narrow view services get of it (`ConsensusStatus`, `LeadershipTransfer`).
final class RaftMember: ConsensusStatus, LeadershipTransfer, @unchecked Sendable {
    let memberID: UInt64
    let clusterID: UInt64
    let config: ServerConfig
    let store: KVStore
    let membership: ClusterMembership
    let alarms: AlarmTable
    let auth: AuthStore
    let lessor: Lessor
    let leases: LeaseStore
    let application: ServerApplication
    let registry: ProposalRegistry
    let ids: RequestIDGenerator
    let host: RaftHost
    let transport: RaftTransport
    let gateway: PeerGateway
    let proposer: RaftProposer
    let reads: LinearizableReads
    let forwarding: LeaderForwarding
    let compactor: Compactor
    let peerClient: PeerHTTPClient
    let logger: Logger
    /// The request timeout: etcd's 5 s plus two election timeouts.
    let requestTimeoutNanoseconds: UInt64
    private let electionNanoseconds: UInt64
    private let lock = NSLock()
    private var lastLeader: NodeID = noNode
    private var leaderElectedAt: UInt64 = 0
    private var lastSnapshotIndex: UInt64
    /// A store flush asked for by log compaction is running.
    private let storeFlushPending = AtomicFlag()
    /// The voters when this start began: the founders on a cluster's first start.
    private var initialVoters: [UInt64] = []

    var onFirstCommitInTerm: (() -> Void)?
    var onRemovedFromCluster: (() -> Void)?
    var onSnapshotInstalled: (() -> Void)?

    /// etcd keeps this many entries behind a snapshot for slow followers.
    static let catchUpEntries: UInt64 = 5000

    private init(memberID: UInt64, clusterID: UInt64, config: ServerConfig, store: KVStore, membership: ClusterMembership,
                 alarms: AlarmTable, auth: AuthStore, lessor: Lessor, leases: LeaseStore, application: ServerApplication,
                 registry: ProposalRegistry, ids: RequestIDGenerator, host: RaftHost, transport: RaftTransport,
                 gateway: PeerGateway, proposer: RaftProposer, reads: LinearizableReads, forwarding: LeaderForwarding,
                 compactor: Compactor, peerClient: PeerHTTPClient, metrics: ServerMetrics, logger: Logger,
                 requestTimeoutNanoseconds: UInt64) {
        self.metrics = metrics
        self.memberID = memberID
        self.clusterID = clusterID
        self.config = config
        self.store = store
        self.membership = membership
        self.alarms = alarms
        self.auth = auth
        self.lessor = lessor
        self.leases = leases
        self.application = application
        self.registry = registry
        self.ids = ids
        self.host = host
        self.transport = transport
        self.gateway = gateway
        self.proposer = proposer
        self.reads = reads
        self.forwarding = forwarding
        self.compactor = compactor
        self.peerClient = peerClient
        self.logger = logger
        self.requestTimeoutNanoseconds = requestTimeoutNanoseconds
        self.electionNanoseconds = config.electionTimeoutMs * 1_000_000
        self.lastSnapshotIndex = application.appliedIndex
    }

    static func build(config: ServerConfig, store: KVStore, mapSize: Int, peerClient: PeerHTTPClient,
                      logger: Logger) throws -> RaftMember {
        let membership = ClusterMembership()
        try membership.load(from: store)
        let alarms = AlarmTable(logger: logger)
        try alarms.load(from: store)
        // etcd's minimum lease TTL: one and a half election timeouts, in whole seconds, rounded up.
        let electionTicks = config.electionTimeoutMs / config.heartbeatIntervalMs
        let minTTLMs = (3 * electionTicks / 2) * config.heartbeatIntervalMs
        let lessor = Lessor(minTTLSeconds: Int64((minTTLMs + 999) / 1000), clock: { DispatchTime.now().uptimeNanoseconds })
        let leases = LeaseStore(lessor: lessor)
        let snapDirectory = config.memberDirectory + "/snap"

        let bootstrap = MemberBootstrap(config: config, logger: logger)
        let started = try bootstrap.start(store: store, membership: membership, installSnapshot: { index in
            try RaftMember.installSnapshotDatabase(index: index, directory: snapDirectory, store: store)
            try membership.load(from: store)
            try alarms.load(from: store)
        }, fetchMembers: { urls, timeout in
            try RaftMember.fetchMembers(from: urls, client: peerClient, timeoutSeconds: timeout)
        })
        try leases.restore(from: store, extraNanoseconds: config.electionTimeoutMs * 1_000_000)
        let auth = AuthStore(tokens: SimpleTokens(ttlSeconds: config.authTokenTTL), jwt: try JWTTokens.parse(config.authToken),
                             bcryptCost: config.bcryptCost)
        try auth.load(from: store)
        RaftMember.logRecovered(membership, clusterID: started.clusterID, logger: logger)

        let registry = ProposalRegistry()
        let ids = RequestIDGenerator(memberID: started.memberID)
        let metrics = ServerMetrics()
        metrics.mvcc.setKeys(RaftMember.liveKeys(store))
        let applier = Applier(store: store, membership: membership, leases: leases, alarms: alarms,
                              localID: started.memberID, metrics: metrics, auth: auth, logger: logger)
        let application = try ServerApplication(store: store, applier: applier, registry: registry, logger: logger)
        let identity = PeerIdentity(localID: started.memberID, clusterID: started.clusterID,
                                    peerURLs: config.initialAdvertisePeerURLs.map(\.text))
        let transport = RaftTransport(identity: identity, client: peerClient, logger: logger)
        let gateway = PeerGateway(store: store, membership: membership, lessor: lessor, snapshotDirectory: snapDirectory,
                                  clusterID: started.clusterID, mapSize: mapSize, logger: logger)
        transport.setDelegate(gateway)

        started.wal.snapshotSource = {
            Snapshot(metadata: SnapshotMetadata(confState: membership.confState, index: application.appliedIndex,
                                                term: application.appliedTerm))
        }
        let raftConfig = RaftConfig(
            id: started.memberID,
            electionTimeoutTicks: Int(electionTicks),
            heartbeatIntervalTicks: 1,
            appliedIndex: application.appliedIndex,
            maxSizePerMessage: 1 << 20,
            maxCommittedSizePerReady: 64 << 20,
            maxInflightMessages: 512,
            checkQuorum: true,
            preVote: config.preVote,
            // etcd checks reconfiguration (started members, connected peers, learners 90% in
            // sync) in the server, with its own errors.
            strictReconfigCheck: false,
            requireCaughtUpLearners: false)
        let node = RaftNode(config: raftConfig, storage: started.wal, random: SeededRandom(seed: UInt64.random(in: 0...UInt64.max)))
        let host = RaftHost(node: node, wal: started.wal, application: application, sender: transport,
                            tickNanoseconds: config.heartbeatIntervalMs * 1_000_000, logger: logger)
        let requestTimeout = (5_000 + 2 * config.electionTimeoutMs) * 1_000_000
        let proposer = RaftProposer(host: host, registry: registry, ids: ids, maxRequestBytes: Int(config.maxRequestBytes),
                                    timeoutNanoseconds: requestTimeout)
        let reads = LinearizableReads(host: host, application: application, ids: ids, timeoutNanoseconds: requestTimeout)
        let compactor = Compactor(store: store)
        application.backgroundWork = { compactor.step() }

        var member: RaftMember!
        let forwarding = LeaderForwarding(local: LocalLeaseKeeper(lessor: lessor, counters: metrics.leases), consensus: ConsensusProxy { member },
                                          membership: membership, client: peerClient, timeoutNanoseconds: requestTimeout)
        member = RaftMember(memberID: started.memberID, clusterID: started.clusterID, config: config, store: store,
                            membership: membership, alarms: alarms, auth: auth, lessor: lessor, leases: leases, application: application,
                            registry: registry, ids: ids, host: host, transport: transport, gateway: gateway,
                            proposer: proposer, reads: reads, forwarding: forwarding, compactor: compactor,
                            peerClient: peerClient, metrics: metrics, logger: logger, requestTimeoutNanoseconds: requestTimeout)
        member.wire(knownPeers: started.knownPeers)
        return member
    }

    /// Connects the parts' callbacks.
    private func wire(knownPeers: [Member]) {
        let metrics = self.metrics
        application.onCommit = { metrics.backendCommit.observe($0) }
        host.onWALSync = { metrics.walFsync.observe(Double($0) / 1e9) }
        transport.onSent = { metrics.sent($0, to: $1) }
        transport.onReceived = { metrics.received($0, from: $1) }
        transport.onRoundTrip = { metrics.roundTrip($0, to: $1) }
        gateway.host = host
        gateway.isLeader = { [unowned self] in isLeader }
        gateway.promote = { [unowned self] id, done in clusterService.promote(id, done) }
        gateway.onRemoved = { [unowned self] in onRemovedFromCluster?() }
        host.isPending = { [registry] id in registry.isWaiting(id) }
        host.onAccepted = { [registry] id in registry.markAccepted(id) }
        host.onSoftState = { [unowned self] state, term in softStateChanged(state, term: term) }
        host.onReadStates = { [reads] states in reads.readStatesReady(states) }
        host.afterRound = { [unowned self] host in afterRound(host) }
        application.onEmptyEntry = { [unowned self] term in emptyEntryApplied(term: term) }
        application.onRemoved = { [unowned self] in onRemovedFromCluster?() }
        application.installSnapshot = { [unowned self] snapshot in try installSnapshot(snapshot) }
        // The transport follows the applied membership; a joining member starts with the
        // members it fetched.
        membership.onChange = { [unowned self] in updatePeers() }
        let initial = membership.all.isEmpty ? knownPeers : membership.all
        transport.setPeers(initial.map { ($0.id, $0.peerURLs) })
        initialVoters = initial.filter { !$0.isLearner }.map(\.id)
    }

    private func updatePeers() {
        let members = membership.all
        guard !members.isEmpty else { return }
        transport.setPeers(members.map { ($0.id, $0.peerURLs) })
    }

    func start() {
        application.start()
        host.start()
        transport.startProbing()
        admission.start()
        let voters = initialVoters
        if voters == [memberID] {
            // A lone voter has nobody to wait for (etcd fast-forwards its election ticks).
            host.campaign()
        } else if voters.count > 1 {
            advanceTicksOncePeersAreActive()
        }
    }

    /// etcd's initial election tick advance: once other members are connected, most of the
    /// first election timeout is skipped, so a restarted cluster elects quickly.
    private func advanceTicksOncePeersAreActive() {
        guard config.initialElectionTickAdvance else { return }
        let electionTicks = Int(config.electionTimeoutMs / config.heartbeatIntervalMs)
        Thread.detachNewThread { [self] in
            for _ in 0..<100 {
                Thread.sleep(forTimeInterval: 0.05)
                let active = membership.all.filter { $0.id != memberID && transport.activeSince($0.id) != nil }.count
                if active > 1 {
                    host.advanceTicks(electionTicks - 2)
                    return
                }
            }
        }
    }

    func stop() {
        admission.stop()
        host.stop()
        application.stop()
        registry.failAll(.stopped)
    }

    // MARK: Leadership

    private func softStateChanged(_ state: SoftState, term: UInt64) {
        let previous = lock.withLock { () -> NodeID in
            defer { lastLeader = state.leader }
            return lastLeader
        }
        let id = ClusterIdentity.hex(memberID)
        if state.leader != previous {
            if state.leader == noNode {
                logger.info("raft.node: \(id) lost leader \(ClusterIdentity.hex(previous)) at term \(term)",
                            text: "raft.node: \(id) lost leader \(ClusterIdentity.hex(previous)) at term \(term)", package: "raft")
            } else {
                lock.withLock { leaderElectedAt = DispatchTime.now().uptimeNanoseconds }
                let verb = previous == noNode ? "elected leader" : "changed leader from \(ClusterIdentity.hex(previous)) to"
                logger.info("raft.node: \(id) \(verb) \(ClusterIdentity.hex(state.leader)) at term \(term)",
                            text: "raft.node: \(id) \(verb) \(ClusterIdentity.hex(state.leader)) at term \(term)", package: "raft")
            }
            metrics.leaderChanged(hasLeader: state.leader != noNode)
            // As etcd: reads waiting on the old leader fail (clients retry) once a new one is known.
            if state.leader != noNode { reads.leaderChanged() }
        }
        if state.role == .leader {
            logger.info("\(id) became leader at term \(term)", text: "\(id) became leader at term \(term)", package: "raft")
        } else {
            lessor.demote()
        }
    }

    /// The leader's empty entry of its term is applied: it now knows the commit index of the
    /// whole cluster (reads may proceed) and its lessor becomes the primary.
    private func emptyEntryApplied(term: UInt64) {
        // Every member: the new leader can now answer read requests at once.
        reads.firstCommitInTerm()
        let status = host.status
        guard status.role == .leader, status.term == term else { return }
        lessor.promote(extraNanoseconds: electionNanoseconds)
        onFirstCommitInTerm?()
    }

    let metrics: ServerMetrics

    // MARK: ConsensusStatus

    var leader: UInt64 { host.status.leader }
    /// The term of the last applied entry, which etcd reports in headers and Status.
    var term: UInt64 { application.appliedTerm }
    var committedIndex: UInt64 { host.status.commitIndex }
    var appliedIndex: UInt64 { application.appliedIndex }
    var isLearner: Bool { host.status.isLearner }
    var isLeader: Bool { host.status.role == .leader }
    var progress: [UInt64: Raft.Progress] { host.status.progress }

    // MARK: LeadershipTransfer

    func moveLeader(to transferee: UInt64, _ done: @escaping @Sendable (EtcdError?) -> Void) {
        guard let target = membership.member(transferee), !target.isLearner else { return done(.badLeaderTransferee) }
        logger.info("leadership transfer starting", ["local-member-id": ClusterIdentity.hex(memberID),
                                                     "current-leader-member-id": ClusterIdentity.hex(memberID),
                                                     "transferee-member-id": ClusterIdentity.hex(transferee)])
        host.transferLeadership(to: transferee)
        let deadline = DispatchTime.now().uptimeNanoseconds + requestTimeoutNanoseconds
        let interval = Double(config.heartbeatIntervalMs) / 1000
        Thread.detachNewThread { [self] in
            while host.status.leader != transferee {
                if DispatchTime.now().uptimeNanoseconds >= deadline {
                    return done(.unmapped("etcdserver: request timed out, leader transfer took too long"))
                }
                Thread.sleep(forTimeInterval: interval)
            }
            logger.info("leadership transfer finished", ["local-member-id": ClusterIdentity.hex(memberID),
                                                         "old-leader-member-id": ClusterIdentity.hex(memberID),
                                                         "new-leader-member-id": ClusterIdentity.hex(transferee)])
            done(nil)
        }
    }

    /// A leader stopping hands leadership to the voter connected longest, as etcd does.
    func transferLeadershipBeforeStopping() {
        guard isLeader else { return }
        let candidates = membership.votingMembers.filter { $0.id != memberID }
            .compactMap { member in transport.activeSince(member.id).map { (member.id, $0) } }
        guard let transferee = candidates.min(by: { $0.1 < $1.1 })?.0 else { return }
        let finished = DispatchSemaphore(value: 0)
        moveLeader(to: transferee) { _ in finished.signal() }
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(2 * electionNanoseconds)))
    }

    // MARK: The Raft thread's rounds

    private var lastHousekeeping: UInt64 = 0

    private func afterRound(_ host: RaftHost) {
        compactLogIfDue(host)
        // Timeouts and retries need no more than a look every few milliseconds.
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastHousekeeping >= 20_000_000 else { return }
        lastHousekeeping = now
        let startedAt = lock.withLock { leaderElectedAt }
        let window = 2 * electionNanoseconds
        let failed = registry.expire { started, accepted in
            // Never taken by Raft (no leader all along): etcd's proposal blocks until its
            // context ends and the raw context error reaches the client.
            guard accepted else { return .unmapped("context deadline exceeded") }
            // A request that started shortly before a new leader was elected probably died
            // with the old one.
            return started < startedAt && startedAt - started < window ? .timeoutDueToLeaderFail : .timeout
        }
        for _ in 0..<failed { metrics.proposalFailed() }
        reads.tick()
    }

    /// Every `--snapshot-count` applied entries, the log is compacted: entries the store holds
    /// on disk, except the last 5000 (kept for followers that are a little behind), go.
    private func compactLogIfDue(_ host: RaftHost) {
        let applied = application.appliedIndex
        guard applied > lastSnapshotIndex + config.snapshotCount else { return }
        // As etcd commits its backend before a snapshot: the store is flushed first (off this
        // thread), so the log can go up to what is applied; a later round compacts.
        if application.durableState.index < applied {
            if !storeFlushPending.exchange(true) {
                DispatchQueue.global().async { [application, storeFlushPending] in
                    application.syncStore()
                    storeFlushPending.store(false)
                }
            }
            return
        }
        let durable = application.durableState
        guard durable.index > 0 else { return }
        lastSnapshotIndex = applied
        let compactIndex = durable.index > RaftMember.catchUpEntries ? durable.index - RaftMember.catchUpEntries : 0
        host.compactLog(durableIndex: durable.index, durableTerm: durable.term, through: compactIndex,
                        keepSegments: Int(config.maxWALs))
        logger.info("compacted Raft logs", ["compact-index": compactIndex], text: "compacted raft log at \(compactIndex)")
    }

    // MARK: Snapshots from the leader

    /// Replaces the store with the snapshot's database (saved by the peer transport), then
    /// reloads everything kept beside the store.
    private func installSnapshot(_ snapshot: Snapshot) throws {
        let index = snapshot.metadata.index
        logger.info("applying snapshot", ["incoming-leader-snapshot-index": index], package: "etcdserver")
        try RaftMember.installSnapshotDatabase(index: index, directory: gateway.snapshotDirectory, store: store)
        try membership.load(from: store)
        RaftMember.logRecovered(membership, clusterID: clusterID, logger: logger)
        try alarms.load(from: store)
        try auth.load(from: store)
        try leases.restore(from: store, extraNanoseconds: electionNanoseconds)
        if !isLeader { lessor.demote() }
        metrics.mvcc.setKeys(RaftMember.liveKeys(store))
        onSnapshotInstalled?()
        logger.info("applied snapshot", ["applied-index": index], package: "etcdserver")
    }

    /// etcd's `RaftCluster.Recover` log lines, at start-up and after a snapshot is installed.
    static func logRecovered(_ membership: ClusterMembership, clusterID: UInt64, logger: Logger) {
        for member in membership.all {
            logger.info("added member from store", ["cluster-id": ClusterIdentity.hex(clusterID),
                                                    "added-peer-id": ClusterIdentity.hex(member.id),
                                                    "added-peer-peer-urls": member.peerURLs],
                        text: "added member \(ClusterIdentity.hex(member.id)) [\(member.peerURLs.joined(separator: " "))] to cluster \(ClusterIdentity.hex(clusterID)) from store",
                        package: "etcdserver/membership")
        }
        guard let version = membership.clusterVersion else { return }
        let short = version.split(separator: ".").prefix(2).joined(separator: ".")
        logger.info("set cluster version from store", ["cluster-version": short],
                    text: "set the cluster version to \(short) from store", package: "etcdserver/membership")
        logger.info("enabled capabilities for version", ["cluster-version": short],
                    text: "enabled capabilities for version \(short)", package: "etcdserver/api")
    }

    /// How many keys the store holds now (counted once at start-up and after a snapshot).
    static func liveKeys(_ store: KVStore) -> Int {
        (try? store.read { try $0.range(.from([]), options: RangeOptions(countOnly: true)).count }) ?? 0
    }

    static func installSnapshotDatabase(index: UInt64, directory: String, store: KVStore) throws {
        let path = PeerGateway.databasePath(in: directory, index: index)
        guard access(path, F_OK) == 0 else { throw WALError("snapshot database \(path) is missing") }
        try store.replaceContents(withCopyAt: path)
        unlink(path)
    }

    // MARK: Joining

    /// etcd's `GetClusterFromRemotePeers`: the first member that answers `/members` with a
    /// cluster ID names the cluster.
    static func fetchMembers(from urls: [String], client: PeerHTTPClient,
                             timeoutSeconds: Int64) throws -> (clusterID: UInt64, members: [Member]) {
        for url in urls {
            guard let response = try? client.request(url, method: .GET, path: "/members", timeout: .seconds(timeoutSeconds)).wait(),
                  response.status == 200,
                  let clusterID = response.header("X-Etcd-Cluster-Id").flatMap({ UInt64($0, radix: 16) }),
                  let list = MemberJSON.decodeList(response.body), !list.isEmpty else { continue }
            return (clusterID, list.map(\.member))
        }
        throw ConfigError.invalid("cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs")
    }

    // MARK: Services

    private(set) lazy var headers = MemberHeaders(memberID: memberID, clusterID: clusterID, store: store,
                                                  term: { [unowned self] in application.appliedTerm })

    private(set) lazy var authGate = AuthGate(store: auth, appliedIndex: { [unowned self] in application.appliedIndex },
                                              waitApplied: { [unowned self] index, resume in application.waitApplied(index, resume) },
                                              certificateAuth: config.clientTLS.clientCertAuth)

    private(set) lazy var admission = CallAdmission(consensus: self, membership: membership,
                                                    electionSeconds: Double(config.electionTimeoutMs) / 1000)

    private(set) lazy var clusterService = ClusterService(
        headers: headers, proposer: proposer, membership: membership, consensus: self, peers: transport,
        promoteForwarding: forwarding, strictReconfigCheck: config.strictReconfigCheck, gate: authGate)
}

/// Lets parts built before the member refer to it.
struct ConsensusProxy: ConsensusStatus, @unchecked Sendable {
    let resolve: () -> RaftMember

    var memberID: UInt64 { resolve().memberID }
    var leader: UInt64 { resolve().leader }
    var term: UInt64 { resolve().term }
    var committedIndex: UInt64 { resolve().committedIndex }
    var appliedIndex: UInt64 { resolve().appliedIndex }
    var isLearner: Bool { resolve().isLearner }
    var isLeader: Bool { resolve().isLeader }
    var progress: [UInt64: Raft.Progress] { resolve().progress }
}

extension RaftTransport: PeerActivity {}

/// A flag set and read from several threads.
final class AtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// Sets the flag; returns what it was.
    func exchange(_ newValue: Bool) -> Bool { lock.withLock { defer { value = newValue }; return value } }
    func store(_ newValue: Bool) { lock.withLock { value = newValue } }
}
