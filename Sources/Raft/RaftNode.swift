/// One member of a Raft group: the API a server drives. It is a pure state machine: it does no
/// I/O, reads no clock, starts no thread and draws randomness only from the generator it is
/// given. One loop owns it (it is not thread-safe) and runs:
///
/// ```
/// on timer:          node.tick()
/// on peer message:   try node.step(message)
/// on client request: try node.propose(data) / node.readIndex(context: id)
/// whenever node.hasReady:
///     let ready = node.ready()
///     persist ready.snapshot, ready.entries, ready.hardState   (durable if ready.mustSync)
///     send ready.messages
///     apply ready.snapshot, ready.committedEntries; serve ready.readStates
///     node.advance()
/// ```
///
/// See `Ready` for the full ordering contract. The storage passed in is shared: the loop
/// writes to it, the node only reads.
public final class RaftNode {
    var raft: Raft
    private var previousSoftState: SoftState
    private var previousHardState: HardState
    /// The `Ready` handed out and not yet advanced.
    private var outstanding: Ready?

    /// Starts (or restarts) a member from what `storage` holds. The initial membership comes
    /// from `storage.initialState().confState`; a member joining an existing group starts with
    /// an empty membership and learns it from the leader.
    public init(config: RaftConfig, storage: any LogStorage, random: some RandomNumberGenerator) {
        raft = Raft(config: config, storage: storage, random: random)
        previousSoftState = raft.softState
        previousHardState = raft.hardState
    }

    public var id: NodeID { raft.id }

    // MARK: Inputs

    /// Advances logical time by one tick: elections time out, leaders send heartbeats and check
    /// their quorum.
    public func tick() {
        raft.tick()
    }

    /// Starts an election now (normally ticks do this).
    public func campaign() throws(RaftError) {
        try raft.step(Message(type: .hup))
    }

    /// Proposes `data` for the log. Success only means the proposal was accepted for now: it
    /// commits when it shows up in `Ready.committedEntries`, and may still be lost if leadership
    /// changes, so the caller must match applied entries to its requests and time out the rest.
    public func propose(_ data: [UInt8]) throws(RaftError) {
        try raft.step(Message(type: .propose, from: raft.id, entries: [Entry(data: data)]))
    }

    /// Proposes a membership change. On the leader it is checked at once (one change at a time,
    /// never the last voter, learners caught up before promotion, and with
    /// `strictReconfigCheck` an active quorum afterwards) and a refusal is thrown; a follower
    /// forwards it and a refusal at the leader is silent.
    public func proposeConfChange(_ change: ConfChange) throws(RaftError) {
        let entry = Entry(type: .confChange, data: RaftWire.encode(change))
        try raft.step(Message(type: .propose, from: raft.id, entries: [entry]))
    }

    /// Applies a committed membership change (from an entry of type `.confChange`) and returns
    /// the membership that results. A change that would leave no voter is ignored.
    @discardableResult
    public func applyConfChange(_ change: ConfChange) -> ConfState {
        raft.applyConfChange(change)
    }

    /// Handles a message from a peer.
    public func step(_ message: Message) throws(RaftError) {
        guard !message.type.isLocal else { throw .localMessageFromNetwork }
        if message.type.isResponse && raft.tracker.progress[message.from] == nil {
            throw .unknownPeer
        }
        try raft.step(message)
    }

    /// Requests a linearizable read. When leadership is confirmed, a `ReadState` with the same
    /// context appears in a `Ready`; the read may be served once the applied index reaches its
    /// index. Contexts must be unique among outstanding requests. Without a known leader the
    /// request is dropped silently: time out and retry.
    public func readIndex(context: [UInt8]) {
        try? raft.step(Message(type: .readIndex, entries: [Entry(data: context)]))
    }

    /// Asks the leader to hand leadership to `transferee` (etcd's MoveLeader). The leader
    /// catches it up, then tells it to campaign at once; proposals are refused meanwhile, and
    /// the attempt is abandoned after an election timeout.
    public func transferLeadership(to transferee: NodeID) {
        try? raft.step(Message(type: .transferLeader, from: transferee))
    }

    /// The transport failed to reach `member`: stop streaming to it optimistically.
    public func reportUnreachable(_ member: NodeID) {
        try? raft.step(Message(type: .unreachable, from: member))
    }

    /// The transport finished sending a snapshot to `member` (or gave up).
    public func reportSnapshot(to member: NodeID, succeeded: Bool) {
        try? raft.step(Message(type: .snapshotStatus, from: member, reject: !succeeded))
    }

    // MARK: Output

    /// Whether `ready()` would return anything.
    public var hasReady: Bool {
        if raft.softState != previousSoftState { return true }
        let hardState = raft.hardState
        if !hardState.isEmpty && hardState != previousHardState { return true }
        if raft.log.unstable.snapshot != nil { return true }
        if !raft.messages.isEmpty || !raft.log.unstableEntries.isEmpty { return true }
        if raft.log.hasNextCommittedEntries(after: raft.log.applied) { return true }
        return !raft.readStates.isEmpty
    }

    /// Collects the work to do. The caller must carry it out (see `Ready`) and call `advance()`
    /// before taking the next one.
    public func ready() -> Ready {
        precondition(outstanding == nil, "ready() called again before advance()")
        var ready = Ready(
            readStates: raft.readStates,
            entries: raft.log.unstableEntries,
            snapshot: raft.log.unstable.snapshot,
            committedEntries: raft.log.nextCommittedEntries(after: raft.log.applied),
            messages: raft.messages)
        let softState = raft.softState
        if softState != previousSoftState {
            ready.softState = softState
            previousSoftState = softState
        }
        let hardState = raft.hardState
        if hardState != previousHardState {
            ready.hardState = hardState
        }
        ready.mustSync = !ready.entries.isEmpty || ready.snapshot != nil
            || hardState.term != previousHardState.term || hardState.vote != previousHardState.vote
        raft.messages = []
        raft.readStates = []
        outstanding = ready
        return ready
    }

    /// Confirms that the last `Ready` was carried out: entries and snapshot are durable and
    /// committed entries applied.
    public func advance() {
        guard let ready = outstanding else { preconditionFailure("advance() without a ready()") }
        outstanding = nil
        if let hardState = ready.hardState {
            previousHardState = hardState
        }
        let applied = ready.committedEntries.last?.index ?? ready.snapshot?.metadata.index
        raft.advance(
            appliedThrough: applied, committedEntries: ready.committedEntries,
            lastEntry: ready.entries.last, snapshotIndex: ready.snapshot?.metadata.index)
        // Applying may have unblocked the next membership change; nothing else to do here.
    }

    // MARK: Observation

    public var status: RaftStatus { RaftStatus(raft) }

    /// Cheap accessors for loops and checkers that run after every event.
    public var role: RaftRole { raft.role }
    public var term: UInt64 { raft.term }
    public var leader: NodeID { raft.leader }
    public var commitIndex: UInt64 { raft.log.committed }
    public var appliedIndex: UInt64 { raft.log.applied }
    public var lastIndex: UInt64 { raft.log.lastIndex }
    public var firstIndex: UInt64 { raft.log.firstIndex }
    public var membership: ConfState { raft.tracker.confState }

    /// The term of the entry at `index` in this member's log (stable or not), or nil if it was
    /// compacted away or lies beyond the end.
    public func term(at index: UInt64) -> UInt64? {
        try? raft.log.term(at: index)
    }

    /// The entries in `lo..<hi` of this member's log (stable or not).
    public func entries(from lo: UInt64, to hi: UInt64) throws(StorageError) -> [Entry] {
        try raft.log.slice(lo, hi, maxSize: .max)
    }
}

/// A read-only view of a member, for monitoring and for the server's decisions (who leads,
/// whether a learner has caught up).
public struct RaftStatus: Sendable {
    public var id: NodeID
    public var hardState: HardState
    public var softState: SoftState
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var firstIndex: UInt64
    public var confState: ConfState
    /// Each member's replication progress; only on the leader.
    public var progress: [NodeID: Progress]
    public var leadTransferee: NodeID

    init(_ raft: Raft) {
        id = raft.id
        hardState = raft.hardState
        softState = raft.softState
        appliedIndex = raft.log.applied
        lastIndex = raft.log.lastIndex
        firstIndex = raft.log.firstIndex
        confState = raft.tracker.confState
        progress = raft.role == .leader ? raft.tracker.progress : [:]
        leadTransferee = raft.leadTransferee
    }

    public var term: UInt64 { hardState.term }
    public var commitIndex: UInt64 { hardState.commit }
    public var leader: NodeID { softState.leader }
    public var role: RaftRole { softState.role }
}
