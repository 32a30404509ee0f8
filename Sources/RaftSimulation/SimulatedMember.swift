import Raft

/// One simulated server: the durable storage (the "disk", which survives crashes), the Raft
/// node and the application state (lost in a crash, rebuilt from storage on restart), and the
/// client requests it is serving.
final class SimulatedMember {
    let id: NodeID
    let storage: MemoryStorage
    /// The process's Ready loop (and through it the node); nil while the process is down.
    var loop: ReadyLoop?
    var node: RaftNode? { loop?.node }
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

    /// Rebuilds the application from the storage snapshot and starts a fresh node, driven by
    /// the shared Ready loop through `process`.
    func start(config: RaftConfig, random: SeededRandom, simulation: Simulation) {
        let snapshot = try! storage.snapshot()
        kv = KVStateMachine(snapshotData: snapshot.data)
        appliedIndex = snapshot.metadata.index
        lastSnapshotIndex = snapshot.metadata.index
        confState = snapshot.metadata.confState
        let node = RaftNode(config: config, storage: storage, random: random)
        let process = SimulatedProcess(simulation: simulation, member: self)
        loop = ReadyLoop(node: node, log: process, application: process, sender: process, observer: process)
        self.process = process
        incarnation += 1
    }

    /// Keeps the loop's collaborators alive (the loop holds its observer weakly).
    private var process: SimulatedProcess?

    /// Loses everything that is not in storage.
    func crash() {
        loop = nil
        process = nil
        persisting = nil
        pendingPuts = [:]
        pendingReads = [:]
        readsAwaitingApply = []
        incarnation += 1
    }
}

/// A simulated process's side of the shared Ready loop: its disk, network card and application,
/// each forwarding to the simulation (which owns the faults, the checkers and the clients).
final class SimulatedProcess: RaftLogWriter, RaftApplication, RaftMessageSender, RaftLoopObserver {
    private unowned let simulation: Simulation
    private unowned let member: SimulatedMember
    /// Membership decisions made while applying, until the loop collects them.
    private var decided: [ConfChange?] = []

    init(simulation: Simulation, member: SimulatedMember) {
        self.simulation = simulation
        self.member = member
    }

    func save(snapshot: Snapshot?, entries: [Entry], hardState: HardState?, sync: Bool) throws {
        try simulation.persist(member, snapshot: snapshot, entries: entries, hardState: hardState)
    }

    func send(_ messages: [Message]) {
        for message in messages { simulation.send(message, from: member) }
    }

    func restore(from snapshot: Snapshot) throws {
        simulation.restore(member, from: snapshot)
    }

    func apply(_ entries: [Entry]) {
        for entry in entries {
            let change = simulation.apply(entry, at: member)
            if entry.type == .confChange { decided.append(change) }
        }
    }

    func membershipChanges(through index: UInt64) -> [ConfChange?] {
        defer { decided = [] }
        return decided
    }

    func softStateChanged(_ state: SoftState, term: UInt64) {}

    func readStatesReady(_ states: [ReadState]) {
        simulation.readStatesReady(states, at: member)
    }
}
