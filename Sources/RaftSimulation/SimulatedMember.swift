import Raft

/// One simulated server: the durable storage (the "disk", which survives crashes), the Raft
/// node and the application state (lost in a crash, rebuilt from storage on restart), and the
/// client requests it is serving.
final class SimulatedMember {
    let id: NodeID
    let storage: MemoryStorage
    /// nil while the process is down.
    var node: RaftNode?
    /// Bumped on every crash and restart, so events aimed at an old process are ignored.
    var incarnation = 0
    /// Removed from the configuration and shut down for good.
    var retired = false
    /// Steps between this member's ticks (its clock rate).
    var tickPeriod: SimTime

    // Application state, rebuilt from the storage snapshot on restart.
    var kv = KVStateMachine()
    var appliedIndex: UInt64 = 0
    var confState = ConfState()
    var lastSnapshotIndex: UInt64 = 0

    /// The Ready being persisted (disk latency), if any.
    var persisting: Ready?

    // Client requests in progress at this process.
    var pendingPuts: [ClientRequest: Int] = [:]
    var pendingReads: [[UInt8]: Int] = [:]
    /// Reads whose read index is known, waiting for the applied index to reach it.
    var readsAwaitingApply: [(index: UInt64, operation: Int)] = []

    struct ClientRequest: Hashable {
        var clientID: UInt64
        var sequence: UInt64
    }

    init(id: NodeID, storage: MemoryStorage, tickPeriod: SimTime) {
        self.id = id
        self.storage = storage
        self.tickPeriod = tickPeriod
    }

    var isUp: Bool { node != nil }

    /// Rebuilds the application from the storage snapshot and starts a fresh node.
    func start(config: RaftConfig, random: SeededRandom) {
        let snapshot = try! storage.snapshot()
        kv = KVStateMachine(snapshotData: snapshot.data)
        appliedIndex = snapshot.metadata.index
        lastSnapshotIndex = snapshot.metadata.index
        confState = snapshot.metadata.confState
        node = RaftNode(config: config, storage: storage, random: random)
        incarnation += 1
    }

    /// Loses everything that is not in storage.
    func crash() {
        node = nil
        persisting = nil
        pendingPuts = [:]
        pendingReads = [:]
        readsAwaitingApply = []
        incarnation += 1
    }
}
