import Testing
@testable import Raft

/// Claims of the Raft paper ("In Search of an Understandable Consensus Algorithm", extended
/// version), one test per claim, each naming its section. Set up a state, step a message,
/// check the result. These run with pre-vote and CheckQuorum off: the paper's plain algorithm.
@Suite("Raft paper")
struct PaperTests {
    // MARK: §5.1 Raft basics

    @Test("§5.1: a member that sees a higher term takes it and becomes a follower", arguments: [RaftRole.follower, .candidate, .leader])
    func updateTermFromMessage(role: RaftRole) {
        var r = makeRaft(1, voters: [1, 2, 3])
        switch role {
        case .follower: r.becomeFollower(term: 1, leader: 2)
        case .candidate: r.becomeCandidate()
        case .leader:
            r.becomeCandidate()
            r.becomeLeader()
        case .preCandidate: break
        }
        try? r.step(Message(type: .append, from: 2, term: 2))
        #expect(r.term == 2)
        #expect(r.role == .follower)
        #expect(r.leader == 2)
    }

    @Test("§5.1: a request with a stale term is rejected (here: ignored)")
    func rejectStaleTermMessage() {
        var r = makeRaft(1, voters: [1, 2, 3])
        r.becomeFollower(term: 2, leader: noNode)
        try? r.step(Message(type: .append, from: 2, term: 1, logTerm: 0, index: 0, entries: [entry(1, 1)]))
        #expect(r.log.lastIndex == 0)
        #expect(r.term == 2)
        #expect(r.takeMessages().isEmpty)
    }

    // MARK: §5.2 Leader election

    @Test("§5.2: members start as followers")
    func startAsFollower() {
        let r = makeRaft(1, voters: [1, 2, 3])
        #expect(r.role == .follower)
    }

    @Test("§5.2: a leader sends heartbeats to everyone every heartbeat interval")
    func leaderBroadcastsHeartbeats() {
        var r = makeRaft(1, voters: [1, 2, 3], heartbeat: 1)
        r.becomeCandidate()
        r.becomeLeader()
        _ = r.takeMessages()
        r.tick()
        let heartbeats = r.takeMessages().filter { $0.type == .heartbeat }
        #expect(Set(heartbeats.map(\.to)) == [2, 3])
        #expect(heartbeats.allSatisfy { $0.term == 1 })
    }

    @Test("§5.2: a follower or candidate that hears nothing for an election timeout campaigns: new term, own vote, vote requests", arguments: [RaftRole.follower, .candidate])
    func nonLeaderStartsElection(role: RaftRole) {
        var r = makeRaft(1, voters: [1, 2, 3])
        if role == .follower { r.becomeFollower(term: 1, leader: 2) } else { r.becomeCandidate() }
        let termBefore = r.term
        for _ in 0..<(2 * r.config.electionTimeoutTicks) { r.tick() }
        #expect(r.term == termBefore + 1)
        #expect(r.role == .candidate)
        #expect(r.vote == 1)
        let requests = r.takeMessages().filter { $0.type == .vote }
        #expect(Set(requests.map(\.to)) == [2, 3])
        #expect(requests.allSatisfy { $0.term == termBefore + 1 })
    }

    @Test("§5.2: a candidate wins with a majority of votes, loses with a majority against, and otherwise waits")
    func electionInOneRound() {
        let cases: [(voters: Int, yes: [NodeID], no: [NodeID], expected: RaftRole)] = [
            (1, [], [], .leader),
            (3, [2, 3], [], .leader),
            (3, [2], [], .leader),
            (5, [2, 3, 4, 5], [], .leader),
            (5, [2, 3, 4], [], .leader),
            (5, [2, 3], [], .leader),
            (3, [], [2, 3], .follower),
            (5, [], [2, 3, 4], .follower),
            (5, [2], [3, 4, 5], .follower),
            (5, [2], [3, 4], .candidate),
            (3, [], [], .candidate),
            (5, [2], [], .candidate),
            (5, [2], [3], .candidate),
        ]
        for c in cases {
            let ids = (1...NodeID(c.voters)).map { $0 }
            var r = makeRaft(1, voters: ids)
            try? r.step(Message(type: .hup, from: 1))
            for voter in c.yes { try? r.step(Message(type: .voteResponse, from: voter, term: r.term)) }
            for voter in c.no { try? r.step(Message(type: .voteResponse, from: voter, term: r.term, reject: true)) }
            #expect(r.role == c.expected, "\(c)")
            #expect(r.term == 1, "\(c)")
        }
    }

    @Test("§5.2: each member votes for at most one candidate per term, first come first served")
    func followerVotesOncePerTerm() {
        let cases: [(vote: NodeID, candidate: NodeID, rejected: Bool)] = [
            (noNode, 2, false), (noNode, 3, false), (2, 2, false), (3, 3, false), (2, 3, true), (3, 2, true),
        ]
        for c in cases {
            var r = makeRaft(1, voters: [1, 2, 3])
            r.becomeFollower(term: 1, leader: noNode)
            r.vote = c.vote
            try? r.step(Message(type: .vote, from: c.candidate, term: 1))
            let reply = r.takeMessages()
            #expect(reply.count == 1)
            #expect(reply.first?.type == .voteResponse)
            #expect(reply.first?.reject == c.rejected, "\(c)")
        }
    }

    @Test("§5.2: a candidate that hears from a leader of its term steps down to follower")
    func candidateFallsBack() {
        for term: UInt64 in [1, 2] {
            var r = makeRaft(1, voters: [1, 2, 3])
            try? r.step(Message(type: .hup, from: 1))
            #expect(r.role == .candidate)
            try? r.step(Message(type: .append, from: 2, term: term))
            #expect(r.role == .follower)
            #expect(r.term == term)
        }
    }

    @Test("§5.2: election timeouts are drawn at random from [T, 2T)")
    func electionTimeoutIsRandomized() {
        var r = makeRaft(1, voters: [1, 2, 3], election: 10)
        var seen = Set<Int>()
        for _ in 0..<400 {
            r.becomeFollower(term: r.term + 1, leader: noNode)
            var ticks = 0
            while r.role == .follower {
                r.tick()
                ticks += 1
            }
            seen.insert(ticks)
        }
        #expect(seen.min()! >= 10)
        #expect(seen.max()! < 20)
        #expect(seen.count == 10, "every value in the range shows up: \(seen.sorted())")
    }

    @Test("§5.2: randomized timeouts make members time out at different moments, so split votes are rare")
    func electionTimeoutsDiffer() {
        var together = 0
        for round in 0..<200 {
            var a = makeRaft(1, voters: [1, 2], seed: UInt64(round) * 2)
            var b = makeRaft(2, voters: [1, 2], seed: UInt64(round) * 2 + 100)
            for _ in 0..<20 {
                a.tick()
                b.tick()
                if a.role == .candidate || b.role == .candidate { break }
            }
            if a.role == .candidate && b.role == .candidate { together += 1 }
        }
        #expect(together < 40, "both timed out in the same tick in \(together)/200 rounds")
    }

    // MARK: §5.3 Log replication

    @Test("§5.3: the leader appends a proposal to its log and sends it to every follower")
    func leaderStartsReplication() {
        var r = makeRaft(1, voters: [1, 2, 3])
        r.becomeCandidate()
        r.becomeLeader()
        // Followers acknowledge the leader's no-op, so it knows where their logs end.
        for id: NodeID in [2, 3] { try? r.step(Message(type: .appendResponse, from: id, term: 1, index: 1)) }
        let last = r.log.lastIndex
        _ = r.takeMessages()
        try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: Array("x".utf8))]))
        #expect(r.log.lastIndex == last + 1)
        let appends = r.takeMessages().filter { $0.type == .append }
        #expect(Set(appends.map(\.to)) == [2, 3])
        for m in appends {
            #expect(m.index == last)
            #expect(m.logTerm == 1)
            #expect(m.entries == [entry(1, last + 1, "x")])
            #expect(m.commit == r.log.committed)
        }
    }

    @Test("§5.3: an entry is committed once stored on a majority, and the leader then tells followers")
    func leaderCommitsEntry() {
        var r = makeRaft(1, voters: [1, 2, 3])
        r.becomeCandidate()
        r.becomeLeader()
        for id: NodeID in [2, 3] { try? r.step(Message(type: .appendResponse, from: id, term: 1, index: 1)) }
        _ = r.takeMessages()
        try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: Array("x".utf8))]))
        _ = r.takeMessages()
        #expect(r.log.committed == 1)
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 2))
        #expect(r.log.committed == 2)
        let appends = r.takeMessages().filter { $0.type == .append }
        #expect(!appends.isEmpty && appends.allSatisfy { $0.commit == 2 })
    }

    @Test("§5.3: the leader commits once a majority acknowledges, counting itself", arguments: [1, 3, 5])
    func leaderAcknowledgesCommit(size: Int) {
        let ids = (1...NodeID(size)).map { $0 }
        for acks in 0..<size {
            var r = makeRaft(1, voters: ids)
            r.becomeCandidate()
            r.becomeLeader()
            try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
            let last = r.log.lastIndex
            for id in ids.dropFirst().prefix(acks) {
                try? r.step(Message(type: .appendResponse, from: id, term: 1, index: last))
            }
            let majority = (acks + 1) >= size / 2 + 1
            #expect((r.log.committed == last) == majority, "size \(size) acks \(acks)")
        }
    }

    @Test("§5.3: committing an entry commits every entry before it, including older terms' (through the leader's own)")
    func leaderCommitsPrecedingEntries() {
        for terms: [UInt64] in [[], [2], [1, 1], [1, 2]] {
            var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: terms, voters: [1, 2, 3]))
            r.becomeFollower(term: 2, leader: noNode)
            r.becomeCandidate()
            r.becomeLeader()
            try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
            for id: NodeID in [2, 3] { try? r.step(Message(type: .appendResponse, from: id, term: 3, index: r.log.lastIndex)) }
            #expect(r.log.committed == r.log.lastIndex, "log \(terms)")
            #expect(r.log.nextCommittedEntries(after: 0).count == terms.count + 2)
        }
    }

    @Test("§5.3: a follower learns the commit index from the leader and commits up to it")
    func followerCommitsEntries() {
        var r = makeRaft(1, voters: [1, 2, 3])
        r.becomeFollower(term: 1, leader: 2)
        try? r.step(Message(type: .append, from: 2, term: 1, logTerm: 0, index: 0, entries: [entry(1, 1), entry(1, 2)], commit: 1))
        #expect(r.log.committed == 1)
        try? r.step(Message(type: .append, from: 2, term: 1, logTerm: 1, index: 2, entries: [], commit: 2))
        #expect(r.log.committed == 2)
    }

    @Test("§5.3: a follower refuses entries unless its log has the preceding entry with the same term")
    func followerChecksConsistency() {
        let terms: [UInt64] = [1, 2]
        let cases: [(logTerm: UInt64, index: UInt64, rejected: Bool)] = [
            (0, 0, false), (1, 1, false), (2, 2, false), (1, 2, true), (3, 3, true),
        ]
        for c in cases {
            var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: terms, voters: [1, 2, 3]))
            r.becomeFollower(term: 2, leader: 2)
            try? r.step(Message(type: .append, from: 2, term: 2, logTerm: c.logTerm, index: c.index))
            let reply = r.takeMessages()
            #expect(reply.count == 1 && reply[0].type == .appendResponse)
            #expect(reply[0].reject == c.rejected, "\(c)")
        }
    }

    @Test("§5.3: a follower deletes conflicting entries and everything after them, then appends the leader's")
    func followerResolvesConflicts() {
        let cases: [(index: UInt64, logTerm: UInt64, new: [Entry], expected: [Entry])] = [
            (2, 2, [entry(3, 3)], [entry(1, 1), entry(2, 2), entry(3, 3)]),
            (1, 1, [entry(3, 2), entry(4, 3)], [entry(1, 1), entry(3, 2), entry(4, 3)]),
            (0, 0, [entry(1, 1)], [entry(1, 1), entry(2, 2)]),
            (0, 0, [entry(3, 1)], [entry(3, 1)]),
        ]
        for c in cases {
            var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: [1, 2], voters: [1, 2, 3]))
            r.becomeFollower(term: 2, leader: 2)
            try? r.step(Message(type: .append, from: 2, term: 2, logTerm: c.logTerm, index: c.index, entries: c.new))
            #expect(r.allEntries == c.expected, "\(c.new)")
        }
    }

    @Test("§5.3 (Figure 7): a new leader brings any follower log into line with its own")
    func leaderRepairsFollowerLogs() {
        // The leader's log of Figure 7, and the six follower logs (a)-(f).
        let leaderTerms: [UInt64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
        let followers: [[UInt64]] = [
            [1, 1, 1, 4, 4, 5, 5, 6, 6],
            [1, 1, 1, 4],
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
            [1, 1, 1, 4, 4, 4, 4],
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
        ]
        for followerTerms in followers {
            var leader = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: leaderTerms, voters: [1, 2, 3]))
            leader.becomeFollower(term: 8, leader: noNode)
            leader.log.loadCommit(UInt64(leaderTerms.count))
            var follower = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: followerTerms, voters: [1, 2, 3]))
            follower.becomeFollower(term: 7, leader: noNode)
            // The third member votes and otherwise stays out of the way.
            var network = TestNetwork([leader, follower, makeRaft(3, voters: [1, 2, 3])])
            network.campaign(1)
            network.propose(1, "x")
            #expect(network[1].role == .leader)
            #expect(network[2].allEntries == network[1].allEntries, "follower \(followerTerms)")
        }
    }

    // MARK: §5.4.1 Election restriction

    @Test("§5.4.1: vote requests carry the candidate's last log index and term")
    func voteRequestDescribesLog() {
        for terms: [UInt64] in [[1], [1, 2], [1, 1, 3]] {
            var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: terms, voters: [1, 2, 3]))
            r.becomeFollower(term: terms.last!, leader: noNode)
            try? r.step(Message(type: .hup, from: 1))
            let requests = r.takeMessages().filter { $0.type == .vote }
            #expect(requests.count == 2)
            #expect(requests.allSatisfy { $0.index == UInt64(terms.count) && $0.logTerm == terms.last! })
        }
    }

    @Test("§5.4.1: a voter denies its vote to a candidate whose log is less up to date than its own")
    func voterRequiresUpToDateLog() {
        // Our log: term 1 at 1, term 2 at 2. (candidate lastTerm, lastIndex) -> granted?
        let cases: [(logTerm: UInt64, index: UInt64, granted: Bool)] = [
            (2, 2, true), (2, 3, true), (3, 1, true), (2, 1, false), (1, 5, false), (1, 1, false),
        ]
        for c in cases {
            var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: [1, 2], voters: [1, 2, 3]))
            try? r.step(Message(type: .vote, from: 2, term: 3, logTerm: c.logTerm, index: c.index))
            let reply = r.takeMessages()
            #expect(reply.count == 1)
            #expect(reply[0].reject == !c.granted, "\(c)")
        }
    }

    // MARK: §5.4.2 Committing entries from previous terms

    @Test("§5.4.2: a leader never commits an entry of an earlier term by counting replicas, only through one of its own term")
    func leaderOnlyCommitsCurrentTermEntries() {
        // Log: term 1, term 2 (inherited). New leader in term 3.
        var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: [1, 2], voters: [1, 2, 3]))
        r.becomeFollower(term: 2, leader: noNode)
        r.becomeCandidate()
        r.becomeLeader()
        #expect(r.term == 3)
        // A follower acknowledges the inherited entries only: not committed (Figure 8).
        try? r.step(Message(type: .appendResponse, from: 2, term: 3, index: 2))
        #expect(r.log.committed == 0)
        // Once it holds the leader's own no-op entry (index 3, term 3), everything commits.
        try? r.step(Message(type: .appendResponse, from: 2, term: 3, index: 3))
        #expect(r.log.committed == 3)
    }

    @Test("§5.4.2 (Figure 8): an old-term entry stored on a majority can still be overwritten, which is why it was not committed")
    func figureEight() {
        let all: [NodeID] = [1, 2, 3, 4, 5]
        // State (c): S1 leads term 4 holding [1, 2] (index 2 from its term-2 reign); S2 and S3
        // hold [1, 2] too; S4 holds [1]; S5 holds [1, 3] from its term-3 reign.
        var s1 = makeRaft(1, voters: all, storage: storage(withTerms: [1, 2], voters: all))
        s1.becomeFollower(term: 3, leader: noNode)
        s1.becomeCandidate()
        s1.becomeLeader()
        #expect(s1.term == 4)
        for id: NodeID in [2, 3] { try? s1.step(Message(type: .appendResponse, from: id, term: 4, index: 2)) }
        // Index 2 is on a majority (S1, S2, S3) but is of term 2: not committed.
        #expect(s1.log.committed == 0)

        // State (d): S1 crashes. S5 (last term 3) wins term 5 with S2, S3, S4 and overwrites
        // index 2 everywhere, so committing it in (c) would have lost a committed entry.
        var others: [Raft] = []
        for (id, terms) in [(NodeID(2), [UInt64(1), 2]), (3, [1, 2]), (4, [1]), (5, [1, 3])] {
            var member = makeRaft(id, voters: all, storage: storage(withTerms: terms, voters: all))
            member.becomeFollower(term: 4, leader: noNode)
            others.append(member)
        }
        var network = TestNetwork(others)
        network.campaign(5)
        #expect(network[5].role == .leader)
        network.propose(5, "x")
        for id: NodeID in [2, 3, 4] {
            #expect(network[id].log.termOrZero(at: 2) == 3, "member \(id)")
        }
    }

    // MARK: §5.4.3 Safety argument

    @Test("§5.4.3: an entry a member applied is never replaced at that index on any member")
    func appliedEntriesStay() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.propose(1, "a")
        let committed = network[1].log.committed
        let committedEntries = network[1].allEntries.prefix(Int(committed))
        // Leadership moves around; the committed prefix survives everywhere.
        network.isolate(1)
        network.campaign(2)
        network.propose(2, "b")
        network.recover()
        network.campaign(3)
        network.propose(3, "c")
        for id: NodeID in [1, 2, 3] {
            #expect(Array(network[id].allEntries.prefix(Int(committed))) == Array(committedEntries))
        }
    }
}
