/// Parameters of one member. Times are in ticks: the caller decides how long a tick is (etcd:
/// `--heartbeat-interval`, 100 ms by default) and calls `RaftNode.tick()` that often.
public struct RaftConfig: Sendable {
    /// This member's id; never `noNode`.
    public var id: NodeID

    /// Ticks a follower waits without hearing from a leader before it campaigns. The actual
    /// timeout is drawn at random from [electionTimeoutTicks, 2 * electionTimeoutTicks) each time
    /// it is reset (§5.2). Must be greater than `heartbeatIntervalTicks`; 10x is customary.
    public var electionTimeoutTicks: Int

    /// Ticks between a leader's heartbeats.
    public var heartbeatIntervalTicks: Int

    /// The last index the application had applied before this start (at least the storage
    /// snapshot's index is assumed). Entries up to it are not handed out again. Leave at 0 to
    /// have every committed entry after the storage snapshot replayed, which is what a state
    /// machine rebuilt from the snapshot needs.
    public var appliedIndex: UInt64

    /// Upper bound on the encoded size of the entries in one append message (at least one entry
    /// is always sent). `UInt64.max` means unlimited.
    public var maxSizePerMessage: UInt64

    /// Upper bound on the encoded size of `Ready.committedEntries` (at least one entry).
    public var maxCommittedSizePerReady: UInt64

    /// Upper bound on the encoded size of the leader's uncommitted tail; proposals beyond it
    /// fail with `RaftError.proposalDropped`. `UInt64.max` means unlimited.
    public var maxUncommittedEntriesSize: UInt64

    /// Upper bound on append messages in flight to one follower while replicating optimistically.
    public var maxInflightMessages: Int

    /// A leader that has not heard from a quorum within an election timeout steps down; a
    /// follower that heard from a leader within an election timeout ignores vote requests (the
    /// leader lease, thesis §6.2 and §4.2.3).
    public var checkQuorum: Bool

    /// Campaign with a pre-vote round first (thesis §9.6), so a member that was cut off cannot
    /// raise everyone's term when it returns.
    public var preVote: Bool

    public var readOnlyOption: ReadOnlyOption

    /// Followers drop proposals instead of forwarding them to the leader.
    public var disableProposalForwarding: Bool

    /// A leader removed from (or demoted in) the configuration steps down once it applies the
    /// change, first asking the most up-to-date voter to campaign at once.
    public var stepDownOnRemoval: Bool

    /// The leader refuses a membership change that would leave the new configuration without
    /// an active quorum, counting only members heard from within the last election timeout
    /// (etcd's `--strict-reconfig-check`).
    public var strictReconfigCheck: Bool

    /// The leader refuses to promote a learner that has not acknowledged its commit index. A
    /// server with its own readiness rule (etcd: 90% of the leader's log) turns this off.
    public var requireCaughtUpLearners: Bool

    public init(
        id: NodeID,
        electionTimeoutTicks: Int = 10,
        heartbeatIntervalTicks: Int = 1,
        appliedIndex: UInt64 = 0,
        maxSizePerMessage: UInt64 = 1024 * 1024,
        maxCommittedSizePerReady: UInt64 = .max,
        maxUncommittedEntriesSize: UInt64 = .max,
        maxInflightMessages: Int = 256,
        checkQuorum: Bool = true,
        preVote: Bool = true,
        readOnlyOption: ReadOnlyOption = .safe,
        disableProposalForwarding: Bool = false,
        stepDownOnRemoval: Bool = true,
        strictReconfigCheck: Bool = true,
        requireCaughtUpLearners: Bool = true
    ) {
        self.id = id
        self.electionTimeoutTicks = electionTimeoutTicks
        self.heartbeatIntervalTicks = heartbeatIntervalTicks
        self.appliedIndex = appliedIndex
        self.maxSizePerMessage = maxSizePerMessage
        self.maxCommittedSizePerReady = maxCommittedSizePerReady
        self.maxUncommittedEntriesSize = maxUncommittedEntriesSize
        self.maxInflightMessages = maxInflightMessages
        self.checkQuorum = checkQuorum
        self.preVote = preVote
        self.readOnlyOption = readOnlyOption
        self.disableProposalForwarding = disableProposalForwarding
        self.stepDownOnRemoval = stepDownOnRemoval
        self.strictReconfigCheck = strictReconfigCheck
        self.requireCaughtUpLearners = requireCaughtUpLearners
    }

    func validate() {
        precondition(id != noNode, "a Raft member cannot use id 0")
        precondition(heartbeatIntervalTicks > 0, "heartbeatIntervalTicks must be positive")
        precondition(
            electionTimeoutTicks > heartbeatIntervalTicks,
            "electionTimeoutTicks must be greater than heartbeatIntervalTicks")
        precondition(maxInflightMessages > 0, "maxInflightMessages must be positive")
        precondition(
            readOnlyOption != .leaseBased || checkQuorum,
            "lease-based reads need checkQuorum: the lease is what CheckQuorum maintains")
    }
}
