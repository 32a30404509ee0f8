/// The membership of a group: who votes and who only learns. Both lists are kept sorted.
public struct ConfState: Sendable, Hashable, CustomStringConvertible {
    public var voters: [NodeID]
    public var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = voters.sorted()
        self.learners = learners.sorted()
    }

    public var isEmpty: Bool { voters.isEmpty && learners.isEmpty }

    public func contains(_ id: NodeID) -> Bool { voters.contains(id) || learners.contains(id) }

    public var description: String {
        let v = voters.map(String.init).joined(separator: " ")
        if learners.isEmpty { return "voters=(\(v))" }
        return "voters=(\(v)) learners=(\(learners.map(String.init).joined(separator: " ")))"
    }
}

/// Where a snapshot sits in the log and the membership at that point.
public struct SnapshotMetadata: Sendable, Hashable {
    public var confState: ConfState
    /// The index of the last entry the snapshot covers.
    public var index: UInt64
    /// The term of that entry.
    public var term: UInt64

    public init(confState: ConfState = ConfState(), index: UInt64 = 0, term: UInt64 = 0) {
        self.confState = confState
        self.index = index
        self.term = term
    }
}

/// The application's state as of `metadata.index`, which replaces every log entry up to it.
/// The core never looks inside `data`.
public struct Snapshot: Sendable, Hashable, CustomStringConvertible {
    public var data: [UInt8]
    public var metadata: SnapshotMetadata

    public init(data: [UInt8] = [], metadata: SnapshotMetadata = SnapshotMetadata()) {
        self.data = data
        self.metadata = metadata
    }

    /// A snapshot at index zero stands for "no snapshot"; storage may still use its
    /// `confState` to carry a new cluster's initial membership.
    public var isEmpty: Bool { metadata.index == 0 }

    public var description: String {
        "index=\(metadata.index) term=\(metadata.term) \(metadata.confState)"
    }
}

/// The kind of a membership change. Raw values are those of etcd's `raftpb.ConfChangeType`.
public enum ConfChangeType: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Adds a voter, or promotes a learner to voter.
    case addNode = 0
    case removeNode = 1
    /// Changes nothing in the core; lets the application replicate a member's new metadata.
    case updateNode = 2
    /// Adds a learner, or demotes a voter to learner.
    case addLearnerNode = 3

    public var description: String {
        switch self {
        case .addNode: return "addNode"
        case .removeNode: return "removeNode"
        case .updateNode: return "updateNode"
        case .addLearnerNode: return "addLearnerNode"
        }
    }
}

/// One membership change. Changes are made one at a time: a leader accepts a new one only
/// after the previous one has been applied (see `RaftNode.proposeConfChange`).
public struct ConfChange: Sendable, Hashable, CustomStringConvertible {
    /// An identifier chosen by the application (etcd: the request id); opaque to the core.
    public var id: UInt64
    public var type: ConfChangeType
    public var nodeID: NodeID
    /// Opaque application data (etcd: the encoded member).
    public var context: [UInt8]

    public init(id: UInt64 = 0, type: ConfChangeType, nodeID: NodeID, context: [UInt8] = []) {
        self.id = id
        self.type = type
        self.nodeID = nodeID
        self.context = context
    }

    public var description: String { "\(type)(\(nodeID))" }
}
