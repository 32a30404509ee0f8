import ServerLog
import Foundation
import Raft
import WAL

/// Runs the Raft core for this member. One thread owns the node, the WAL and the shared Ready
/// loop; everything else hands it inputs (peer messages, proposals, read requests, transport
/// feedback) through a queue and reads what it publishes (term, leader, indexes).
///
/// The thread: take the queued inputs and step them into the node, tick when a heartbeat
/// interval has passed, then run the Ready loop until the node has nothing more (persist to
/// the WAL, send, hand committed entries to the applier, advance).
final class RaftHost: RaftLoopObserver, @unchecked Sendable {
    /// What the loop publishes after each round, for any thread to read.
    struct Status: Sendable {
        var term: UInt64 = 0
        var leader: NodeID = noNode
        var role: RaftRole = .follower
        var commitIndex: UInt64 = 0
        var lastIndex: UInt64 = 0
        var firstIndex: UInt64 = 0
        var isLearner = false
        var confState = ConfState()
        /// Each member's replication progress; only while leading.
        var progress: [NodeID: Raft.Progress] = [:]
        var leadTransferee: NodeID = noNode
    }

    private enum Input {
        case message(Message)
        case propose([UInt8], id: UInt64)
        case confChange(ConfChange, refused: @Sendable (RaftError) -> Void)
        case readIndex([UInt8])
        case transfer(NodeID)
        case unreachable(NodeID)
        case snapshotStatus(NodeID, succeeded: Bool)
        case campaign
        case tick(count: Int)
    }

    let id: NodeID
    private let node: RaftNode
    private var loop: ReadyLoop!
    private let wal: WAL
    private let tickNanoseconds: UInt64
    private let logger: Logger
    private let condition = NSCondition()
    private var inputs: [Input] = []
    private var stopping = false
    private var finished = false
    private var campaignPending = false
    private let statusLock = NSLock()
    private var published = Status()

    /// Proposals made while no leader is known (or during a leadership transfer) wait here
    /// and are retried after each round, as etcd's proposals wait for a leader, until their
    /// requests time out.
    private var held: [(data: [UInt8], id: UInt64)] = []
    private var heldChanges: [(change: ConfChange, refused: @Sendable (RaftError) -> Void)] = []
    static let maxHeldProposals = 4096

    /// Whether a request is still waiting for its proposal (false once it timed out).
    var isPending: (@Sendable (UInt64) -> Bool)?
    /// The node took a request's proposal.
    var onAccepted: (@Sendable (UInt64) -> Void)?
    /// The leader or role changed; called on the Raft thread.
    var onSoftState: ((SoftState, UInt64) -> Void)?
    /// Read indexes confirmed; called on the Raft thread.
    var onReadStates: (([ReadState]) -> Void)?
    /// The duration of each WAL fsync, in nanoseconds.
    var onWALSync: ((UInt64) -> Void)? {
        get { wal.onSync }
        set { wal.onSync = newValue }
    }
    /// Called on the Raft thread after each round (log compaction, expiring requests).
    var afterRound: ((RaftHost) -> Void)?

    init(node: RaftNode, wal: WAL, application: RaftApplication, sender: RaftMessageSender,
         tickNanoseconds: UInt64, logger: Logger) {
        self.id = node.id
        self.node = node
        self.wal = wal
        self.tickNanoseconds = tickNanoseconds
        self.logger = logger
        self.loop = ReadyLoop(node: node, log: wal, application: application, sender: sender, observer: self)
        publish()
    }

    private var started = false

    func start() {
        condition.withLock { started = true }
        let thread = Thread { [self] in run() }
        thread.name = "raft"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the thread after its current round; waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
        condition.unlock()
    }

    var status: Status { statusLock.withLock { published } }

    // MARK: Inputs (any thread)

    private func enqueue(_ input: Input) {
        condition.lock()
        inputs.append(input)
        if inputs.count == 1 { condition.signal() }
        condition.unlock()
    }

    func step(_ message: Message) { enqueue(.message(message)) }

    func propose(_ data: [UInt8], id: UInt64) { enqueue(.propose(data, id: id)) }

    /// Proposes a membership change; `refused` reports a refusal by the core on this member.
    func proposeConfChange(_ change: ConfChange, refused: @escaping @Sendable (RaftError) -> Void) {
        enqueue(.confChange(change, refused: refused))
    }

    func readIndex(_ context: [UInt8]) { enqueue(.readIndex(context)) }

    func transferLeadership(to transferee: NodeID) { enqueue(.transfer(transferee)) }

    func reportUnreachable(_ member: NodeID) { enqueue(.unreachable(member)) }

    func reportSnapshot(to member: NodeID, succeeded: Bool) { enqueue(.snapshotStatus(member, succeeded: succeeded)) }

    func campaign() { enqueue(.campaign) }

    /// Advances logical time by `count` ticks at once (etcd's initial election tick advance).
    func advanceTicks(_ count: Int) { enqueue(.tick(count: count)) }

    // MARK: The thread

    private func run() {
        var nextTick = DispatchTime.now().uptimeNanoseconds + tickNanoseconds
        while true {
            condition.lock()
            while inputs.isEmpty && !stopping {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= nextTick { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(nextTick - now) / 1e9))
            }
            let batch = inputs
            inputs.removeAll(keepingCapacity: true)
            let stop = stopping
            condition.unlock()
            if stop { break }

            for input in batch { handle(input) }
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= nextTick {
                node.tick()
                nextTick += tickNanoseconds
                // After a stall, do not fire a burst of ticks: elections would time out at once.
                if nextTick < now { nextTick = now + tickNanoseconds }
            }
            do {
                try loop.run()
                if campaignPending && node.membership.voters.contains(id) {
                    campaignPending = false
                    try? node.campaign()
                    try loop.run()
                }
                retryHeld()
                try loop.run()
            } catch {
                logger.fatal("failed to persist Raft state", ["error": "\(error)"], package: "etcdserver")
            }
            publish()
            afterRound?(self)
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func handle(_ input: Input) {
        switch input {
        case .message(let message):
            do {
                try node.step(message)
            } catch {
                // Local message types from the network, or responses from non-members: dropped.
            }
        case .propose(let data, let id):
            propose(data, id: id, queueIfDropped: true)
        case .confChange(let change, let refused):
            proposeConfChange(change, refused: refused, queueIfBusy: true)
        case .readIndex(let context):
            node.readIndex(context: context)
        case .transfer(let transferee):
            node.transferLeadership(to: transferee)
        case .unreachable(let member):
            node.reportUnreachable(member)
        case .snapshotStatus(let member, let succeeded):
            node.reportSnapshot(to: member, succeeded: succeeded)
        case .campaign:
            // A founding member learns that it is a voter from the first entries it applies.
            if node.membership.voters.contains(id) { try? node.campaign() } else { campaignPending = true }
        case .tick(let count):
            for _ in 0..<count { node.tick() }
        }
    }

    private func propose(_ data: [UInt8], id: UInt64, queueIfDropped: Bool) {
        do {
            try node.propose(data)
            onAccepted?(id)
        } catch {
            if queueIfDropped && held.count < RaftHost.maxHeldProposals { held.append((data, id)) }
        }
    }

    private func proposeConfChange(_ change: ConfChange, refused: @escaping @Sendable (RaftError) -> Void,
                                   queueIfBusy: Bool) {
        do {
            try node.proposeConfChange(change)
            onAccepted?(change.id)
        } catch .proposalDropped where queueIfBusy {
            heldChanges.append((change, refused))
        } catch .confChangeRefused(.changeInProgress) where queueIfBusy {
            // etcd's core turns such a change into an empty entry and the request times out;
            // waiting for the earlier change to apply serves it instead.
            heldChanges.append((change, refused))
        } catch {
            refused(error)
        }
    }

    /// Retries held proposals once a leader is known and no transfer is under way.
    private func retryHeld() {
        guard node.leader != noNode, !held.isEmpty || !heldChanges.isEmpty else { return }
        let proposals = held
        held = []
        for proposal in proposals where isPending?(proposal.id) ?? true {
            propose(proposal.data, id: proposal.id, queueIfDropped: true)
        }
        let changes = heldChanges
        heldChanges = []
        for held in changes where isPending?(held.change.id) ?? true {
            proposeConfChange(held.change, refused: held.refused, queueIfBusy: true)
        }
    }

    private func publish() {
        let status = node.status
        let next = Status(term: node.term, leader: node.leader, role: node.role, commitIndex: node.commitIndex,
                          lastIndex: node.lastIndex, firstIndex: node.firstIndex,
                          isLearner: status.confState.learners.contains(id), confState: status.confState,
                          progress: status.progress, leadTransferee: status.leadTransferee)
        statusLock.withLock { published = next }
    }

    // MARK: Log compaction (on the Raft thread, from `afterRound`)

    /// Records that the store durably covers `index` and discards entries through `compact`.
    func compactLog(durableIndex: UInt64, durableTerm: UInt64, through compact: UInt64, keepSegments: Int) {
        do {
            try wal.markSnapshot(index: durableIndex, term: durableTerm)
            if compact >= wal.firstIndex() && compact <= node.appliedIndex {
                wal.compact(through: compact, keepSegments: keepSegments)
            }
        } catch {
            logger.fatal("failed to write a snapshot mark to the write-ahead log", ["error": "\(error)"], package: "etcdserver")
        }
    }

    // MARK: RaftLoopObserver (the Raft thread)

    func softStateChanged(_ state: SoftState, term: UInt64) {
        // Published before the Ready is carried out, so the applier sees the new role.
        publish()
        onSoftState?(state, term)
    }

    func readStatesReady(_ states: [ReadState]) {
        onReadStates?(states)
    }
}
