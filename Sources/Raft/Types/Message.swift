/// Every input of the core is a message, including local events (a tick that ends an election
/// timeout becomes `.hup`). Raw values are those of etcd's `raftpb.MessageType`.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Local: start an election.
    case hup = 0
    /// Local: the leader's heartbeat timer fired.
    case beat = 1
    /// A proposal of new entries; followers forward it to the leader.
    case propose = 2
    /// AppendEntries (§5.3): `index`/`logTerm` name the entry preceding `entries`.
    case append = 3
    /// Reply to `.append` (and `.snapshot`): `index` is the last index known to match, or on
    /// rejection the rejected index, with `rejectHint`/`logTerm` pointing at a likely match.
    case appendResponse = 4
    /// RequestVote (§5.2): `index`/`logTerm` describe the candidate's last entry.
    case vote = 5
    case voteResponse = 6
    /// InstallSnapshot (§7).
    case snapshot = 7
    /// Leader to follower: "I still lead"; carries a safe commit index and, for ReadIndex, a
    /// context to be echoed back.
    case heartbeat = 8
    case heartbeatResponse = 9
    /// Local: the transport could not reach `from`.
    case unreachable = 10
    /// Local: the transport finished (or failed, `reject`) sending a snapshot to `from`.
    case snapshotStatus = 11
    /// Local: the leader's CheckQuorum timer fired.
    case checkQuorum = 12
    /// Ask the leader to hand leadership to `from` (thesis §3.10).
    case transferLeader = 13
    /// Leader to transferee: campaign now, without waiting for an election timeout.
    case timeoutNow = 14
    /// A linearizable read request; `entries[0].data` is the request context.
    case readIndex = 15
    case readIndexResponse = 16
    /// Pre-vote (thesis §9.6): "would you vote for me in term `term`?", without disturbing anyone.
    case preVote = 17
    case preVoteResponse = 18

    public var description: String {
        switch self {
        case .hup: return "Hup"
        case .beat: return "Beat"
        case .propose: return "Prop"
        case .append: return "App"
        case .appendResponse: return "AppResp"
        case .vote: return "Vote"
        case .voteResponse: return "VoteResp"
        case .snapshot: return "Snap"
        case .heartbeat: return "Heartbeat"
        case .heartbeatResponse: return "HeartbeatResp"
        case .unreachable: return "Unreachable"
        case .snapshotStatus: return "SnapStatus"
        case .checkQuorum: return "CheckQuorum"
        case .transferLeader: return "TransferLeader"
        case .timeoutNow: return "TimeoutNow"
        case .readIndex: return "ReadIndex"
        case .readIndexResponse: return "ReadIndexResp"
        case .preVote: return "PreVote"
        case .preVoteResponse: return "PreVoteResp"
        }
    }

    /// Messages the core makes for itself; `RaftNode.step` refuses them from the network.
    public var isLocal: Bool {
        switch self {
        case .hup, .beat, .unreachable, .snapshotStatus, .checkQuorum: return true
        default: return false
        }
    }

    /// Replies to a request the core sent; dropped when the sender is not a known member.
    public var isResponse: Bool {
        switch self {
        case .appendResponse, .voteResponse, .heartbeatResponse, .unreachable, .preVoteResponse: return true
        default: return false
        }
    }

    var voteResponseType: MessageType {
        switch self {
        case .vote: return .voteResponse
        case .preVote: return .preVoteResponse
        default: preconditionFailure("\(self) is not a vote request")
        }
    }
}

/// A message between members (or a local event). One flat shape for all types, as in etcd's
/// `raftpb.Message`; each type's doc says which fields it uses.
public struct Message: Sendable, Hashable {
    public var type: MessageType
    public var to: NodeID
    public var from: NodeID
    /// The sender's term. Zero for local messages and for proposals and read requests forwarded
    /// by followers, which the leader treats as if they were its own.
    public var term: UInt64
    public var logTerm: UInt64
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var snapshot: Snapshot?
    public var reject: Bool
    public var rejectHint: UInt64
    public var context: [UInt8]

    public init(
        type: MessageType,
        to: NodeID = noNode,
        from: NodeID = noNode,
        term: UInt64 = 0,
        logTerm: UInt64 = 0,
        index: UInt64 = 0,
        entries: [Entry] = [],
        commit: UInt64 = 0,
        snapshot: Snapshot? = nil,
        reject: Bool = false,
        rejectHint: UInt64 = 0,
        context: [UInt8] = []
    ) {
        self.type = type
        self.to = to
        self.from = from
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHint = rejectHint
        self.context = context
    }
}
