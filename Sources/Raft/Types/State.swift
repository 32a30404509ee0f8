/// The state a member must persist before it answers any message (Raft paper, Figure 2:
/// currentTerm, votedFor) plus the commit index, which lets a restarted member hand committed
/// entries back to the application without waiting for a leader.
public struct HardState: Sendable, Hashable, CustomStringConvertible {
    public var term: UInt64
    /// The candidate this member voted for in `term`, or `noNode`.
    public var vote: NodeID
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = noNode, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    public var isEmpty: Bool { term == 0 && vote == noNode && commit == 0 }

    public var description: String {
        vote == noNode ? "term=\(term) commit=\(commit)" : "term=\(term) vote=\(vote) commit=\(commit)"
    }
}

/// The role a member plays in its current term.
public enum RaftRole: Sendable, Hashable, CustomStringConvertible {
    case follower
    /// Collecting pre-votes (thesis §9.6) without having raised its term yet.
    case preCandidate
    case candidate
    case leader

    public var description: String {
        switch self {
        case .follower: return "follower"
        case .preCandidate: return "preCandidate"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }
}

/// Volatile state the application may want to observe (who leads, which role we play). It is
/// not persisted.
public struct SoftState: Sendable, Hashable, CustomStringConvertible {
    public var leader: NodeID
    public var role: RaftRole

    public init(leader: NodeID, role: RaftRole) {
        self.leader = leader
        self.role = role
    }

    public var description: String { "leader=\(leader) role=\(role)" }
}

/// The answer to a `RaftNode.readIndex` request: once the local applied index reaches `index`,
/// the application may serve the read identified by `requestContext` from its state machine and
/// the result is linearizable.
public struct ReadState: Sendable, Hashable {
    public var index: UInt64
    public var requestContext: [UInt8]

    public init(index: UInt64, requestContext: [UInt8]) {
        self.index = index
        self.requestContext = requestContext
    }
}

/// How the leader confirms it still leads before answering a read.
public enum ReadOnlyOption: Sendable, Hashable {
    /// Confirm leadership with a round of heartbeats acknowledged by a quorum (thesis §6.4).
    /// Linearizable whatever the clocks do. The default.
    case safe
    /// Trust the leader lease that CheckQuorum maintains (thesis §6.4.1). Faster, but only as
    /// correct as the bound on clock drift; requires `checkQuorum`.
    case leaseBased
}
