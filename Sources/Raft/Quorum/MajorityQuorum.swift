/// The outcome of an election (or of any yes/no poll of the voters) so far.
enum VoteResult: Sendable, Hashable {
    /// Neither a quorum of yes nor enough no votes to rule it out yet.
    case pending
    case lost
    case won
}

/// Majority quorum math over one set of voters. Pure functions of their inputs, kept apart so
/// they can be checked against a naive oracle.
struct MajorityQuorum {
    /// Sorted, without duplicates.
    let voters: [NodeID]

    init(voters: [NodeID]) {
        self.voters = voters
    }

    /// The smallest number of voters that forms a majority.
    var size: Int { voters.count / 2 + 1 }

    /// The largest index acknowledged by a majority. Voters for which `acked` returns nil count
    /// as having acknowledged nothing. With no voters, every index is "committed" (`UInt64.max`),
    /// which is the neutral value for taking a minimum across configurations.
    func committedIndex(acked: (NodeID) -> UInt64?) -> UInt64 {
        guard !voters.isEmpty else { return .max }
        var indexes = voters.map { acked($0) ?? 0 }
        indexes.sort(by: >)
        // With indexes in descending order, the one at position (size - 1) is held by at least
        // `size` voters: all those before it and itself.
        return indexes[size - 1]
    }

    /// Tallies yes (`true`), no (`false`) and missing (`nil`) votes.
    func voteResult(_ vote: (NodeID) -> Bool?) -> VoteResult {
        guard !voters.isEmpty else { return .won }
        var yes = 0
        var missing = 0
        for id in voters {
            switch vote(id) {
            case true?: yes += 1
            case false?: break
            case nil: missing += 1
            }
        }
        if yes >= size { return .won }
        if yes + missing >= size { return .pending }
        return .lost
    }
}
