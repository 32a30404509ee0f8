/// Why the core did not accept an input.
public enum RaftError: Error, Sendable, Hashable {
    /// The proposal was not appended: there is no known leader, forwarding is disabled, a
    /// leadership transfer is under way, this member left the configuration, or the
    /// uncommitted tail is full. The caller may retry later.
    case proposalDropped
    /// The leader refused a membership change; the reason says which rule it would break.
    case confChangeRefused(ConfChangeRefusal)
    /// `step` was given a message the core only makes for itself (`MessageType.isLocal`).
    case localMessageFromNetwork
    /// `step` was given a response from a member that is not in the configuration.
    case unknownPeer
}

/// The rules a leader checks before it appends a membership change.
public enum ConfChangeRefusal: Sendable, Hashable, CustomStringConvertible {
    /// An earlier change may still be unapplied; changes are made one at a time.
    case changeInProgress
    /// The change would leave no voter.
    case removesLastVoter
    /// Strict reconfiguration: the new configuration would lack an active quorum.
    case wouldLoseQuorum
    /// A learner can be promoted only after it has caught up with the leader's commit index.
    case learnerNotCaughtUp

    public var description: String {
        switch self {
        case .changeInProgress: return "a configuration change is still being applied"
        case .removesLastVoter: return "the change would remove the last voter"
        case .wouldLoseQuorum: return "the new configuration would not have an active quorum"
        case .learnerNotCaughtUp: return "the learner has not caught up with the leader"
        }
    }
}

/// The answers a `LogStorage` gives when it cannot serve a request.
public enum StorageError: Error, Sendable, Hashable {
    /// The index lies at or before the storage's snapshot: its entry was compacted away.
    case compacted
    /// The index lies beyond the last stored entry.
    case unavailable
    /// A snapshot is being prepared; the core will ask again later.
    case snapshotTemporarilyUnavailable
    /// A snapshot older than the one already held was offered to storage.
    case snapshotOutOfDate
}
