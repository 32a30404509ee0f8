/// The membership and, on a leader, each member's replication progress and vote.
///
/// Every iteration goes through the sorted id lists, never a dictionary's order: Swift seeds
/// its hashing per process, and the core must behave identically on every run.
struct ProgressTracker {
    /// Sorted voter ids.
    private(set) var voters: [NodeID] = [] {
        didSet { memberIDs = (voters + learners).sorted() }
    }
    /// Sorted learner ids (disjoint from voters).
    private(set) var learners: [NodeID] = [] {
        didSet { memberIDs = (voters + learners).sorted() }
    }
    /// Voters and learners together, sorted: the order of every broadcast. Kept with the
    /// membership rather than rebuilt for each broadcast.
    private(set) var memberIDs: [NodeID] = []
    var progress: [NodeID: Progress] = [:]
    /// Votes received in the current (pre-)campaign.
    private(set) var votes: [NodeID: Bool] = [:]
    let maxInflight: Int

    init(maxInflight: Int) {
        self.maxInflight = maxInflight
    }

    var confState: ConfState { ConfState(voters: voters, learners: learners) }

    var quorum: MajorityQuorum { MajorityQuorum(voters: voters) }

    func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }

    func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }

    func contains(_ id: NodeID) -> Bool { progress[id] != nil }

    /// Only one voter (this one, when it leads).
    var isSingleton: Bool { voters.count == 1 }

    /// The highest index stored on a quorum of voters.
    func committedIndex() -> UInt64 {
        quorum.committedIndex { progress[$0]?.match }
    }

    /// Whether a quorum of voters was heard from since the last CheckQuorum round.
    func quorumActive() -> Bool {
        quorum.voteResult { progress[$0]?.recentActive ?? false } == .won
    }

    // MARK: Votes

    mutating func resetVotes() {
        votes = [:]
    }

    /// Records the first vote from `id` in this campaign; repeats are ignored.
    mutating func recordVote(from id: NodeID, granted: Bool) {
        if votes[id] == nil { votes[id] = granted }
    }

    /// The campaign's outcome so far.
    func voteResult() -> VoteResult {
        quorum.voteResult { votes[$0] }
    }

    // MARK: Membership

    /// Replaces the membership wholesale (restoring from storage or a snapshot). Every member
    /// starts probing from `lastIndex + 1`.
    mutating func reset(to confState: ConfState, lastIndex: UInt64) {
        voters = confState.voters.sorted()
        learners = confState.learners.sorted().filter { !voters.contains($0) }
        progress = [:]
        for id in memberIDs {
            progress[id] = Progress(next: lastIndex + 1, maxInflight: maxInflight, isLearner: isLearner(id))
        }
        votes = [:]
    }

    /// Applies one membership change. Progress of members that stay is kept; a new member
    /// starts probing from `lastIndex + 1` and counts as recently active, so that the leader
    /// neither steps down nor withholds a snapshot before it has had a chance to answer.
    /// Returns false (and changes nothing) if the change would leave no voter.
    mutating func apply(_ change: ConfChange, lastIndex: UInt64) -> Bool {
        guard let next = confState.applying(change) else { return false }
        voters = next.voters
        learners = next.learners
        for id in memberIDs {
            let shouldBeLearner = learners.contains(id)
            if progress[id] == nil {
                var fresh = Progress(next: lastIndex + 1, maxInflight: maxInflight, isLearner: shouldBeLearner)
                fresh.recentActive = true
                progress[id] = fresh
            } else {
                progress[id]!.isLearner = shouldBeLearner
            }
        }
        for id in progress.keys.sorted() where !voters.contains(id) && !learners.contains(id) {
            progress[id] = nil
            votes[id] = nil
        }
        return true
    }
}
