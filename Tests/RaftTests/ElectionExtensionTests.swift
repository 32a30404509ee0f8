import Testing
@testable import Raft

/// etcd's extensions around elections: PreVote (thesis §9.6), CheckQuorum and the leader lease
/// (thesis §6.2, §4.2.3), and leadership transfer (thesis §3.10).
@Suite("Elections: PreVote, CheckQuorum, leadership transfer")
struct ElectionExtensionTests {
    // MARK: PreVote

    @Test("PreVote: a pre-candidate asks about the next term without raising its own")
    func preCandidateKeepsTerm() {
        var r = makeRaft(1, voters: [1, 2, 3], preVote: true)
        r.becomeFollower(term: 4, leader: noNode)
        try? r.step(Message(type: .hup, from: 1))
        #expect(r.role == .preCandidate)
        #expect(r.term == 4)
        #expect(r.vote == noNode)
        let requests = r.takeMessages()
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.type == .preVote && $0.term == 5 })
    }

    @Test("PreVote: granting a pre-vote changes neither the voter's term nor its vote")
    func preVoteLeavesVoterAlone() {
        var r = makeRaft(2, voters: [1, 2, 3], preVote: true)
        r.becomeFollower(term: 4, leader: noNode)
        r.vote = 3
        try? r.step(Message(type: .preVote, from: 1, term: 5, logTerm: 0, index: 0))
        #expect(r.term == 4)
        #expect(r.vote == 3)
        let reply = r.takeMessages()
        #expect(reply.count == 1 && reply[0].type == .preVoteResponse && !reply[0].reject && reply[0].term == 5)
    }

    @Test("PreVote: a pre-candidate with a quorum of pre-votes runs the real election")
    func preVoteThenElection() {
        var network = TestNetwork(voters: 3, preVote: true)
        network.campaign(1)
        #expect(network[1].role == .leader)
        #expect(network[1].term == 1)
        #expect(network.delivered.contains { $0.type == .preVote })
    }

    @Test("PreVote: a member cut off from the group cannot raise the term, so its return disturbs no one")
    func partitionedMemberDoesNotDisrupt() {
        var network = TestNetwork(voters: 3, preVote: true)
        network.campaign(1)
        let term = network[1].term
        network.isolate(3)
        network.tick(3, times: 100)
        #expect(network[3].term == term)
        network.recover()
        network.tick(1, times: 1)  // a heartbeat brings 3 back in
        #expect(network[1].role == .leader)
        #expect(network[1].term == term)
        #expect(network[3].leader == 1)
    }

    @Test("Without PreVote, the same returning member forces a new election (what PreVote prevents)")
    func withoutPreVoteTheReturnDisrupts() {
        var network = TestNetwork(voters: 3, preVote: false)
        network.campaign(1)
        let term = network[1].term
        network.isolate(3)
        network.tick(3, times: 100)
        #expect(network[3].term > term)
        network.recover()
        network.tick(3, times: 40)
        #expect(network[1].term > term)
    }

    @Test("PreVote: a pre-vote is refused to a candidate whose log is behind")
    func preVoteNeedsUpToDateLog() {
        var r = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: [1, 2], voters: [1, 2, 3]), preVote: true)
        r.becomeFollower(term: 2, leader: noNode)
        try? r.step(Message(type: .preVote, from: 1, term: 3, logTerm: 1, index: 5))
        #expect(r.takeMessages().first?.reject == true)
    }

    // MARK: CheckQuorum and the leader lease

    @Test("CheckQuorum: a leader that hears from no quorum for an election timeout steps down")
    func leaderStepsDownWithoutQuorum() {
        var network = TestNetwork(voters: 3, checkQuorum: true)
        network.campaign(1)
        #expect(network[1].role == .leader)
        network.isolate(1)
        network.tick(1, times: 2 * network[1].config.electionTimeoutTicks)
        #expect(network[1].role == .follower)
    }

    @Test("CheckQuorum: a leader that keeps hearing from a quorum stays")
    func leaderWithQuorumStays() {
        var network = TestNetwork(voters: 3, checkQuorum: true)
        network.campaign(1)
        network.isolate(3)
        network.tick(1, times: 5 * network[1].config.electionTimeoutTicks)
        #expect(network[1].role == .leader)
    }

    @Test("Leader lease: a follower that heard from the leader within the election timeout ignores vote requests")
    func followerInLeaseIgnoresVotes() {
        var r = makeRaft(2, voters: [1, 2, 3], checkQuorum: true)
        try? r.step(Message(type: .heartbeat, from: 1, term: 2))
        _ = r.takeMessages()
        try? r.step(Message(type: .vote, from: 3, term: 3, logTerm: 9, index: 9))
        #expect(r.term == 2)
        #expect(r.takeMessages().isEmpty)
        // Once the lease has run out, the request is considered.
        for _ in 0..<r.config.electionTimeoutTicks { r.electionElapsed += 1 }
        try? r.step(Message(type: .vote, from: 3, term: 3, logTerm: 9, index: 9))
        #expect(r.term == 3)
        #expect(r.takeMessages().first?.reject == false)
    }

    @Test("Leader lease: a transfer's vote request is honoured even inside the lease")
    func transferOverridesLease() {
        var r = makeRaft(2, voters: [1, 2, 3], checkQuorum: true)
        try? r.step(Message(type: .heartbeat, from: 1, term: 2))
        _ = r.takeMessages()
        try? r.step(Message(type: .vote, from: 3, term: 3, logTerm: 9, index: 9, context: Raft.transferContext))
        #expect(r.term == 3)
        #expect(r.takeMessages().first?.reject == false)
    }

    @Test("A member with a higher term answers a stale leader's heartbeat, which makes it step down")
    func staleLeaderLearnsNewTerm() {
        var r = makeRaft(2, voters: [1, 2, 3], checkQuorum: true)
        r.becomeFollower(term: 5, leader: noNode)
        try? r.step(Message(type: .heartbeat, from: 1, term: 3))
        let reply = r.takeMessages()
        #expect(reply.count == 1 && reply[0].type == .appendResponse && reply[0].term == 5)

        var leader = makeRaft(1, voters: [1, 2, 3], checkQuorum: true)
        leader.becomeFollower(term: 2, leader: noNode)
        leader.becomeCandidate()
        leader.becomeLeader()
        try? leader.step(reply[0])
        #expect(leader.role == .follower)
        #expect(leader.term == 5)
    }

    @Test("A follower that rejects a higher-term vote keeps its election timer (Figure 2); granting resets it")
    func rejectingAVoteKeepsTheTimer() {
        var r = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: [1, 1], voters: [1, 2, 3]))
        r.becomeFollower(term: 1, leader: noNode)
        r.electionElapsed = 7
        try? r.step(Message(type: .vote, from: 3, term: 2, logTerm: 1, index: 1))  // stale log
        #expect(r.term == 2)
        #expect(r.takeMessages().first?.reject == true)
        #expect(r.electionElapsed == 7)
        try? r.step(Message(type: .vote, from: 1, term: 3, logTerm: 1, index: 2))
        #expect(r.takeMessages().first?.reject == false)
        #expect(r.electionElapsed == 0)
    }

    // MARK: Leadership transfer

    @Test("Transfer: to an up-to-date follower, which is told to campaign at once and wins")
    func transferToUpToDateFollower() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.send(Message(type: .transferLeader, to: 1, from: 2))
        #expect(network.delivered.contains { $0.type == .timeoutNow && $0.to == 2 })
        #expect(network[2].role == .leader)
        #expect(network[1].role == .follower)
        #expect(network[2].term == 2)
    }

    @Test("Transfer: to a lagging follower, which is caught up first")
    func transferToLaggingFollower() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.isolate(3)
        network.propose(1, "x")
        network.recover()
        // 3 is behind: the leader replicates, then sends TimeoutNow on the acknowledgement.
        network.send(Message(type: .transferLeader, to: 1, from: 3))
        #expect(network[3].role == .leader)
        #expect(network[3].log.lastIndex >= 2)
    }

    @Test("Transfer: proposals are refused while it is under way, and it is abandoned after an election timeout")
    func transferBlocksProposalsUntilAbandoned() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        // The leader asks 3 to campaign, but the TimeoutNow is lost.
        try? network.nodes[1]!.step(Message(type: .transferLeader, from: 3))
        #expect(network[1].takeMessages().map(\.type) == [.timeoutNow])
        network.isolate(3)
        #expect(network[1].leadTransferee == 3)
        #expect(throws: RaftError.proposalDropped) {
            try network[1].step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
        }
        network.tick(1, times: network[1].config.electionTimeoutTicks)
        #expect(network[1].leadTransferee == noNode)
        #expect(network[1].role == .leader)
        #expect(throws: Never.self) {
            try network[1].step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
        }
    }

    @Test("Transfer: a follower forwards a request for another member with its transferee intact")
    func forwardedTransferKeepsTheTransferee() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        // Asked on follower 2 to hand leadership to 3: 3 must win, not the forwarding follower.
        network.send(Message(type: .transferLeader, to: 2, from: 3))
        #expect(network[3].role == .leader)
        #expect(network[2].role == .follower)
    }

    @Test("Transfer: requests naming a learner or the leader itself are ignored; followers forward requests")
    func transferEdgeCases() {
        let voters: [NodeID] = [1, 2]
        var network = TestNetwork([
            makeRaft(1, voters: voters, learners: [3]), makeRaft(2, voters: voters, learners: [3]),
            makeRaft(3, voters: voters, learners: [3]),
        ])
        network.campaign(1)
        network.send(Message(type: .transferLeader, to: 1, from: 3))
        #expect(network[1].role == .leader && network[1].leadTransferee == noNode)
        network.send(Message(type: .transferLeader, to: 1, from: 1))
        #expect(network[1].role == .leader && network[1].leadTransferee == noNode)
        // Asked on a follower: forwarded to the leader, which transfers.
        network.send(Message(type: .transferLeader, to: 2, from: 2))
        #expect(network[2].role == .leader)
    }
}
