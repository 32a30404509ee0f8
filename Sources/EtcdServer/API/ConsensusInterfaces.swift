import EtcdProto
import Raft

/// A member's replication progress as the leader tracks it.
typealias PeerProgress = Raft.Progress

/// Who leads and how far the log has come, as Status, the cluster checks and the metrics
/// report it.
protocol ConsensusStatus: Sendable {
    var memberID: UInt64 { get }
    var leader: UInt64 { get }
    /// The term of the last applied entry (etcd reports this, not Raft's current term).
    var term: UInt64 { get }
    var committedIndex: UInt64 { get }
    var appliedIndex: UInt64 { get }
    var isLearner: Bool { get }
    var isLeader: Bool { get }
    /// Each member's replication progress; only while this member leads.
    var progress: [UInt64: PeerProgress] { get }
}

/// Whether peers are connected, as the peer transport sees it.
protocol PeerActivity: Sendable {
    /// When the link to `member` last became active (monotonic nanoseconds), nil while it is
    /// not.
    func activeSince(_ member: UInt64) -> UInt64?
}

/// Hands leadership to another voter (MoveLeader).
protocol LeadershipTransfer: Sendable {
    /// Completes once `transferee` leads, or with the error that stopped it.
    func moveLeader(to transferee: UInt64, _ done: @escaping @Sendable (EtcdError?) -> Void)
}

/// Asks the leader to promote a learner when this member does not lead (etcd forwards the
/// request to the leader's peer URL).
protocol PromoteForwarding: Sendable {
    func forwardPromote(_ id: UInt64, _ done: @escaping @Sendable (Result<[Member], EtcdError>) -> Void)
}
