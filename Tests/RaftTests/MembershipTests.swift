import Testing
@testable import Raft

/// Learners and single-step membership changes (thesis §4.1, §4.2.1) with etcd's rules.
@Suite("Membership: learners and configuration changes")
struct MembershipTests {
    private func changeEntry(_ type: ConfChangeType, _ node: NodeID) -> Entry {
        Entry(type: .confChange, data: RaftWire.encode(ConfChange(type: type, nodeID: node)))
    }

    private func propose(_ r: inout Raft, _ type: ConfChangeType, _ node: NodeID, from: NodeID = 1) throws(RaftError) {
        try r.step(Message(type: .propose, from: from, entries: [changeEntry(type, node)]))
    }

    /// A leader of `voters` (+ `learners`) whose followers have acknowledged everything and
    /// whose application has applied everything.
    private func settledLeader(voters: [NodeID], learners: [NodeID] = [], strict: Bool = false) -> Raft {
        var r = makeRaft(1, voters: voters, learners: learners) { $0.strictReconfigCheck = strict }
        r.becomeCandidate()
        r.becomeLeader()
        for id in voters + learners where id != 1 {
            try? r.step(Message(type: .appendResponse, from: id, term: 1, index: r.log.lastIndex))
        }
        r.log.appliedTo(r.log.committed)
        _ = r.takeMessages()
        return r
    }

    // MARK: Learners

    @Test("Learners never campaign")
    func learnerDoesNotCampaign() {
        var r = makeRaft(3, voters: [1, 2], learners: [3])
        for _ in 0..<100 { r.tick() }
        #expect(r.role == .follower)
        #expect(r.takeMessages().isEmpty)
    }

    @Test("Learners receive the log, but their acknowledgements do not count toward commitment")
    func learnerReplicatedNotCounted() {
        var r = makeRaft(1, voters: [1, 2], learners: [3])
        r.becomeCandidate()
        r.becomeLeader()
        _ = r.takeMessages()
        r.broadcastAppend()
        #expect(r.takeMessages().contains { $0.type == .append && $0.to == 3 })
        try? r.step(Message(type: .appendResponse, from: 3, term: 1, index: 1))
        #expect(r.log.committed == 0)
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        #expect(r.log.committed == 1)
    }

    @Test("Learners vote when asked (a promotion may not have reached them yet), but only voters' votes count")
    func learnerVotes() {
        var learner = makeRaft(3, voters: [1, 2], learners: [3])
        try? learner.step(Message(type: .vote, from: 1, term: 1))
        #expect(learner.takeMessages().first?.reject == false)

        var candidate = makeRaft(1, voters: [1, 2], learners: [3])
        try? candidate.step(Message(type: .hup, from: 1))
        try? candidate.step(Message(type: .voteResponse, from: 3, term: 1))
        #expect(candidate.role == .candidate)
    }

    @Test("Promotion is refused until the learner has caught up with the leader's commit index")
    func promotionNeedsCaughtUpLearner() {
        var r = makeRaft(1, voters: [1, 2], learners: [3])
        r.becomeCandidate()
        r.becomeLeader()
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        r.log.appliedTo(r.log.committed)
        #expect(throws: RaftError.confChangeRefused(.learnerNotCaughtUp)) { try propose(&r, .addNode, 3) }
        try? r.step(Message(type: .appendResponse, from: 3, term: 1, index: 1))
        #expect(throws: Never.self) { try propose(&r, .addNode, 3) }
    }

    // MARK: Rules

    @Test("One change at a time: another is refused until the previous one is applied")
    func oneChangeAtATime() throws {
        var r = settledLeader(voters: [1, 2, 3])
        try propose(&r, .addLearnerNode, 4)
        #expect(throws: RaftError.confChangeRefused(.changeInProgress)) { try propose(&r, .removeNode, 3) }
        // Committed and applied: the next one is accepted.
        for id: NodeID in [2, 3] { try? r.step(Message(type: .appendResponse, from: id, term: 1, index: r.log.lastIndex)) }
        r.log.appliedTo(r.log.committed)
        _ = r.applyConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        try propose(&r, .removeNode, 3)
    }

    @Test("A new leader accepts no change until it has applied everything up to its own first entry")
    func newLeaderWaitsForItsTerm() {
        var r = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: [1, 1], voters: [1, 2, 3]))
        r.becomeFollower(term: 1, leader: noNode)
        r.becomeCandidate()
        r.becomeLeader()
        #expect(throws: RaftError.confChangeRefused(.changeInProgress)) { try propose(&r, .addLearnerNode, 4) }
    }

    @Test("A change that would remove the last voter is refused; one that is applied anyway is ignored")
    func lastVoterStays() {
        var r = settledLeader(voters: [1])
        #expect(throws: RaftError.confChangeRefused(.removesLastVoter)) { try propose(&r, .removeNode, 1) }
        #expect(r.applyConfChange(ConfChange(type: .removeNode, nodeID: 1)) == ConfState(voters: [1]))
    }

    @Test("Strict reconfiguration: removing a voter must leave an active quorum; removing a down voter is fine")
    func strictRemoval() {
        // 1 leads 1, 2, 3; 3 is down (never heard from).
        var r = makeRaft(1, voters: [1, 2, 3]) { $0.strictReconfigCheck = true }
        r.becomeCandidate()
        r.becomeLeader()
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        r.log.appliedTo(r.log.committed)
        // Removing the live follower would leave {1, 3} with only 1 active.
        #expect(throws: RaftError.confChangeRefused(.wouldLoseQuorum)) { try propose(&r, .removeNode, 2) }
        // Removing the dead one leaves {1, 2}, both active.
        #expect(throws: Never.self) { try propose(&r, .removeNode, 3) }
    }

    @Test("Strict reconfiguration: adding a voter must not outgrow the active quorum; growing one voter to two is allowed")
    func strictAddition() {
        var lonely = settledLeader(voters: [1], strict: true)
        #expect(throws: Never.self) { try propose(&lonely, .addNode, 2) }

        // 1 leads 1, 2, 3 but hears only from 2: four voters would need three active.
        var r = makeRaft(1, voters: [1, 2, 3]) { $0.strictReconfigCheck = true }
        r.becomeCandidate()
        r.becomeLeader()
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        r.log.appliedTo(r.log.committed)
        #expect(throws: RaftError.confChangeRefused(.wouldLoseQuorum)) { try propose(&r, .addNode, 4) }
        #expect(throws: Never.self) { try propose(&r, .addLearnerNode, 4) }
    }

    @Test("Strict reconfiguration: members count as active only if heard from within an election timeout")
    func activityExpires() {
        var r = settledLeader(voters: [1, 2, 3], strict: true)
        for _ in 0..<(r.config.electionTimeoutTicks + 1) { r.tick() }
        _ = r.takeMessages()
        #expect(throws: RaftError.confChangeRefused(.wouldLoseQuorum)) { try propose(&r, .removeNode, 2) }
    }

    @Test("A change forwarded by a follower and refused at the leader is dropped from the batch")
    func forwardedRefusalIsSilent() {
        var r = settledLeader(voters: [1])
        let before = r.log.lastIndex
        try? r.step(Message(type: .propose, from: 2, entries: [changeEntry(.removeNode, 1)]))
        #expect(r.log.lastIndex == before + 1)
        #expect(r.allEntries.last?.type == .normal && r.allEntries.last?.data.isEmpty == true)
    }

    @Test("Applying a change updates the membership and the member's own learner status")
    func applyingChanges() {
        var r = makeRaft(3, voters: [1, 2], learners: [3])
        #expect(r.isLearner)
        #expect(r.applyConfChange(ConfChange(type: .addNode, nodeID: 3)) == ConfState(voters: [1, 2, 3]))
        #expect(!r.isLearner && r.isPromotable)
        #expect(r.applyConfChange(ConfChange(type: .addLearnerNode, nodeID: 2)) == ConfState(voters: [1, 3], learners: [2]))
        #expect(r.applyConfChange(ConfChange(type: .removeNode, nodeID: 3)) == ConfState(voters: [1], learners: [2]))
        #expect(!r.isPromotable)
        #expect(r.applyConfChange(ConfChange(type: .updateNode, nodeID: 1)) == ConfState(voters: [1], learners: [2]))
    }

    @Test("A removed leader steps down when it applies its removal, handing over to an up-to-date voter")
    func removedLeaderStepsDown() {
        var r = settledLeader(voters: [1, 2, 3])
        _ = r.applyConfChange(ConfChange(type: .removeNode, nodeID: 1))
        #expect(r.role == .follower)
        let sent = r.takeMessages()
        #expect(sent.count == 1 && sent[0].type == .timeoutNow && sent[0].to == 2)
        #expect(throws: RaftError.proposalDropped) {
            try r.step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
        }
    }

    @Test("A member with committed but unapplied changes does not campaign")
    func noCampaignWithUnappliedChanges() {
        let store = MemoryStorage(confState: ConfState(voters: [1, 2, 3]))
        store.append([Entry(term: 1, index: 1, type: .confChange, data: RaftWire.encode(ConfChange(type: .removeNode, nodeID: 1)))])
        store.setHardState(HardState(term: 1, commit: 1))
        var r = makeRaft(1, voters: [1, 2, 3], storage: store)
        try? r.step(Message(type: .hup, from: 1))
        #expect(r.role == .follower)
        r.log.appliedTo(1)
        try? r.step(Message(type: .hup, from: 1))
        #expect(r.role == .candidate)
    }

    @Test("A network of three adds a fourth member as a learner, catches it up and promotes it")
    func addLearnerThenPromote() {
        var network = TestNetwork(voters: 3)
        network.nodes[4] = makeRaft(4, voters: [])
        network.campaign(1)
        network.propose(1, "before")
        network.send(Message(type: .propose, from: 1, entries: [changeEntry(.addLearnerNode, 4)]))
        // Everyone applies the committed change.
        for id: NodeID in [1, 2, 3, 4] {
            network.nodes[id]!.log.appliedTo(network[id].log.committed)
            _ = network.nodes[id]!.applyConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        }
        network.tick(1, times: 2)
        #expect(network[4].log.lastIndex == network[1].log.lastIndex)
        #expect(network[1].tracker.isLearner(4))
        network.send(Message(type: .propose, from: 1, entries: [changeEntry(.addNode, 4)]))
        #expect(network[1].allEntries.last?.type == .confChange)
    }
}
