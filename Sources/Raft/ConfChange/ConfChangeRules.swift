/// Membership changes, one at a time (thesis §4.1): each change adds or removes at most one
/// voter, so any majority of the old configuration overlaps any majority of the new one and
/// no joint consensus is needed. A change takes effect on each member when that member applies
/// the committed entry (`RaftNode.applyConfChange`), as in etcd.
extension ConfState {
    /// The membership after `change`, or nil if the change would leave no voter (such a change
    /// is refused by the leader and ignored if it is ever applied).
    public func applying(_ change: ConfChange) -> ConfState? {
        let id = change.nodeID
        guard id != noNode else { return self }
        var newVoters = voters
        var newLearners = learners
        switch change.type {
        case .addNode:
            newLearners.removeAll { $0 == id }
            if !newVoters.contains(id) { newVoters.append(id) }
        case .addLearnerNode:
            newVoters.removeAll { $0 == id }
            if !newLearners.contains(id) { newLearners.append(id) }
        case .removeNode:
            newVoters.removeAll { $0 == id }
            newLearners.removeAll { $0 == id }
        case .updateNode:
            break
        }
        guard !newVoters.isEmpty else { return nil }
        return ConfState(voters: newVoters, learners: newLearners)
    }
}

/// The leader's admission rules for a proposed membership change, as a pure function so tests
/// can check each rule on its own.
struct ConfChangeAdmission {
    /// The current membership (every earlier change applied).
    var current: ConfState
    /// An earlier change may still be unapplied on the leader.
    var changeInProgress: Bool
    var strictReconfigCheck: Bool
    var requireCaughtUpLearners: Bool = true
    /// The leader's commit index, which a learner must have reached to be promoted.
    var committedIndex: UInt64
    /// The highest index known to be in a member's log.
    var matchIndex: (NodeID) -> UInt64
    /// Heard from within the last election timeout (the leader itself always is).
    var isActive: (NodeID) -> Bool

    func refusal(of change: ConfChange) -> ConfChangeRefusal? {
        if changeInProgress { return .changeInProgress }
        guard let next = current.applying(change) else { return .removesLastVoter }
        let id = change.nodeID
        let promotesLearner = change.type == .addNode && current.learners.contains(id)
        if promotesLearner && requireCaughtUpLearners && matchIndex(id) < committedIndex {
            return .learnerNotCaughtUp
        }
        guard strictReconfigCheck, next.voters != current.voters else { return nil }
        // Growing a single voter to two is how a one-member cluster gets company at all; etcd
        // allows it too.
        if current.voters.count == 1 && next.voters.count == 2 { return nil }
        let activeVoters = next.voters.filter(isActive).count
        if activeVoters < next.voters.count / 2 + 1 { return .wouldLoseQuorum }
        return nil
    }
}
