import Testing
@testable import Raft

/// etcd's extensions around replication: ReadIndex (thesis §6.4), flow control, fast
/// backtracking, snapshots for lagging followers, and proposal limits.
@Suite("Replication: ReadIndex, flow control, backtracking, snapshots, proposals")
struct ReplicationExtensionTests {
    private func readRequest(_ context: String, from: NodeID = noNode) -> Message {
        Message(type: .readIndex, from: from, entries: [Entry(data: Array(context.utf8))])
    }

    // MARK: ReadIndex

    @Test("ReadIndex (safe): the leader answers only after a quorum acknowledges a heartbeat carrying the request")
    func safeReadNeedsQuorum() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.propose(1, "x")
        let commit = network[1].log.committed
        network.ignoredTypes = [.heartbeatResponse]
        network.send(readRequest("r1", from: 1))
        #expect(network[1].readStates.isEmpty)
        network.ignoredTypes = []
        network.send(readRequest("r2", from: 1))
        #expect(network[1].readStates.map(\.requestContext) == [Array("r1".utf8), Array("r2".utf8)])
        #expect(network[1].readStates.allSatisfy { $0.index == commit })
    }

    @Test("ReadIndex: a new leader holds reads until it has committed an entry of its own term")
    func newLeaderHoldsReads() {
        var r = makeRaft(1, voters: [1, 2, 3])
        try? r.step(Message(type: .hup, from: 1))
        for id: NodeID in [2, 3] { try? r.step(Message(type: .voteResponse, from: id, term: 1)) }
        #expect(r.role == .leader)
        _ = r.takeMessages()
        try? r.step(readRequest("early", from: 1))
        #expect(r.pendingReadRequests.count == 1)
        #expect(!r.takeMessages().contains { $0.type == .heartbeat })
        // The no-op of term 1 commits: the read proceeds with a heartbeat round.
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        #expect(r.pendingReadRequests.isEmpty)
        let heartbeats = r.takeMessages().filter { $0.type == .heartbeat }
        #expect(!heartbeats.isEmpty && heartbeats.allSatisfy { $0.context == Array("early".utf8) })
        try? r.step(Message(type: .heartbeatResponse, from: 3, term: 1, context: Array("early".utf8)))
        #expect(r.readStates == [ReadState(index: 1, requestContext: Array("early".utf8))])
    }

    @Test("ReadIndex: a follower forwards the request and gets the leader's read index back")
    func followerRead() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.propose(1, "x")
        network.send(readRequest("f", from: 2).with(to: 2))
        #expect(network[2].readStates == [ReadState(index: network[1].log.committed, requestContext: Array("f".utf8))])
        #expect(network[1].readStates.isEmpty)
    }

    @Test("ReadIndex: a single voter answers at once; without a leader the request is dropped")
    func readEdgeCases() {
        var single = makeRaft(1, voters: [1])
        try? single.step(Message(type: .hup, from: 1))
        try? single.step(readRequest("solo", from: 1))
        #expect(single.readStates.count == 1)

        var orphan = makeRaft(2, voters: [1, 2, 3])
        try? orphan.step(readRequest("lost", from: 2))
        #expect(orphan.takeMessages().isEmpty && orphan.readStates.isEmpty)
    }

    @Test("ReadIndex (lease-based): the leader answers from its lease, without a heartbeat round")
    func leaseBasedRead() {
        var network = TestNetwork(voters: 3, checkQuorum: true) { $0.readOnlyOption = .leaseBased }
        network.campaign(1)
        network.ignoredTypes = [.heartbeatResponse, .heartbeat]
        network.send(readRequest("lease", from: 1))
        #expect(network[1].readStates.count == 1)
    }

    // MARK: Flow control

    @Test("Flow control: at most maxInflightMessages appends are outstanding; acknowledgements open the window")
    func inflightWindow() {
        var r = makeRaft(1, voters: [1, 2]) { $0.maxInflightMessages = 3 }
        r.becomeCandidate()
        r.becomeLeader()
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))  // replicate state
        _ = r.takeMessages()
        for i in 0..<6 { try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [UInt8(i)])])) }
        let sent = r.takeMessages().filter { $0.type == .append }
        #expect(sent.count == 3)
        #expect(r.tracker.progress[2]!.isPaused)
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: sent[1].entries.last!.index))
        #expect(r.takeMessages().filter { $0.type == .append }.count >= 1)
    }

    @Test("Flow control: a heartbeat response frees one slot of a full window, so lost acknowledgements cannot stall")
    func heartbeatFreesOneSlot() {
        var r = makeRaft(1, voters: [1, 2]) { $0.maxInflightMessages = 2 }
        r.becomeCandidate()
        r.becomeLeader()
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 1))
        for i in 0..<4 { try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [UInt8(i)])])) }
        _ = r.takeMessages()
        #expect(r.tracker.progress[2]!.inflights.isFull)
        try? r.step(Message(type: .heartbeatResponse, from: 2, term: 1))
        #expect(r.takeMessages().contains { $0.type == .append })
    }

    @Test("Flow control: while probing, one append at a time until it is answered (or a heartbeat interval passes)")
    func probeSendsOneAtATime() {
        var r = makeRaft(1, voters: [1, 2])
        r.becomeCandidate()
        r.becomeLeader()
        _ = r.takeMessages()
        r.broadcastAppend()
        #expect(r.takeMessages().count == 1)
        for i in 0..<3 { try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [UInt8(i)])])) }
        #expect(r.takeMessages().filter { $0.type == .append }.isEmpty)
        try? r.step(Message(type: .heartbeatResponse, from: 2, term: 1))
        #expect(r.takeMessages().filter { $0.type == .append }.count == 1)
    }

    @Test("Flow control: maxSizePerMessage bounds the entries per append (but at least one goes)")
    func messageSizeLimit() {
        // Entries of 15 data bytes encode to 21 bytes: two fit in 50, three do not.
        var r = makeRaft(1, voters: [1, 2]) { $0.maxSizePerMessage = 50 }
        r.becomeCandidate()
        r.becomeLeader()
        for _ in 0..<10 { try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [UInt8](repeating: 7, count: 15))])) }
        _ = r.takeMessages()  // one probe went out; the rest waits
        try? r.step(Message(type: .appendResponse, from: 2, term: 1, index: 2))
        let appends = r.takeMessages().filter { $0.type == .append && !$0.entries.isEmpty }
        #expect(appends.allSatisfy { $0.entries.count <= 2 })
        #expect(appends.contains { $0.entries.count == 2 })
        #expect(appends.reduce(0) { $0 + $1.entries.count } == 9)
        let big = limitSize([Entry(data: [UInt8](repeating: 1, count: 100))], maxSize: 10)
        #expect(big.count == 1)
    }

    // MARK: Fast backtracking

    @Test("Backtracking: the rejection hint points at the last index whose term could match")
    func conflictHint() {
        // Log terms by index 1...7: 1 1 3 3 3 5 5
        let log = RaftLog(storage: storage(withTerms: [1, 1, 3, 3, 3, 5, 5], voters: [1]), maxCommittedSizePerReady: .max)
        #expect(log.conflictHint(index: 7, term: 4) == (5, 3))
        #expect(log.conflictHint(index: 7, term: 5) == (7, 5))
        #expect(log.conflictHint(index: 5, term: 2) == (2, 1))
        #expect(log.conflictHint(index: 4, term: 0) == (0, 0))
        #expect(log.conflictHint(index: 10, term: 9) == (10, 0))  // beyond the log: unknown
    }

    @Test("Backtracking: a follower with a long divergent tail is repaired in one rejection, not one per entry")
    func fastBacktracking() {
        // Both hold 5 entries of term 1; then the leader-to-be has 50 of term 3 and the follower
        // 50 of term 2 (Figure 7 (f), stretched).
        let common = [UInt64](repeating: 1, count: 5)
        let leaderTerms = common + [UInt64](repeating: 3, count: 50)
        let followerTerms = common + [UInt64](repeating: 2, count: 50)
        var leader = makeRaft(1, voters: [1, 2, 3], storage: storage(withTerms: leaderTerms, voters: [1, 2, 3]))
        leader.becomeFollower(term: 3, leader: noNode)
        var follower = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: followerTerms, voters: [1, 2, 3]))
        follower.becomeFollower(term: 3, leader: noNode)
        var network = TestNetwork([leader, follower, makeRaft(3, voters: [1, 2, 3])])
        network.campaign(1)
        #expect(network[1].role == .leader)
        let rejections = network.delivered.filter { $0.type == .appendResponse && $0.reject && $0.from == 2 }.count
        #expect(network[2].allEntries == network[1].allEntries)
        #expect(rejections == 1, "took \(rejections) rejections")
    }

    // MARK: Snapshots

    private func leaderWithCompactedLog() -> (Raft, MemoryStorage) {
        let store = storage(withTerms: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], voters: [1, 2, 3])
        store.setHardState(HardState(term: 1, commit: 10))
        try! store.createSnapshot(index: 8, confState: ConfState(voters: [1, 2, 3]), data: Array("state@8".utf8))
        try! store.compact(through: 8)
        var r = makeRaft(1, voters: [1, 2, 3], storage: store)
        r.becomeCandidate()
        r.becomeLeader()
        _ = r.takeMessages()
        return (r, store)
    }

    @Test("Snapshot: a follower that needs compacted entries gets the snapshot, and nothing else until it lands")
    func leaderSendsSnapshot() {
        var (r, _) = leaderWithCompactedLog()
        r.tracker.progress[2]!.recentActive = true
        try? r.step(Message(type: .appendResponse, from: 2, term: 2, index: 10, reject: true, rejectHint: 0))
        let sent = r.takeMessages()
        #expect(sent.count == 1 && sent[0].type == .snapshot && sent[0].snapshot?.metadata.index == 8)
        #expect(r.tracker.progress[2]!.state == .snapshot && r.tracker.progress[2]!.isPaused)
        try? r.step(Message(type: .propose, from: 1, entries: [Entry(data: [1])]))
        #expect(!r.takeMessages().contains { $0.to == 2 })
    }

    @Test("Snapshot: none is sent to a member not heard from recently, nor one the snapshot's membership leaves out")
    func snapshotWithheld() {
        var (r, _) = leaderWithCompactedLog()
        r.tracker.progress[2]!.next = 1
        r.sendAppend(to: 2)
        #expect(r.takeMessages().isEmpty)  // 2 not heard from since this leader took over

        var (s, _) = leaderWithCompactedLog()
        _ = s.applyConfChange(ConfChange(type: .addNode, nodeID: 4))
        _ = s.takeMessages()
        s.tracker.progress[4]!.recentActive = true
        try? s.step(Message(type: .appendResponse, from: 4, term: 2, index: 11, reject: true, rejectHint: 0))
        #expect(!s.takeMessages().contains { $0.type == .snapshot })
    }

    @Test("Snapshot: the transport's report moves the follower back to probing (from the snapshot on success)")
    func snapshotStatusReports() {
        for succeeded in [true, false] {
            var (r, _) = leaderWithCompactedLog()
            r.tracker.progress[2]!.recentActive = true
            try? r.step(Message(type: .appendResponse, from: 2, term: 2, index: 10, reject: true, rejectHint: 0))
            _ = r.takeMessages()
            try? r.step(Message(type: .snapshotStatus, from: 2, reject: !succeeded))
            let progress = r.tracker.progress[2]!
            #expect(progress.state == .probe)
            #expect(progress.next == (succeeded ? 9 : 1))
            #expect(progress.probeSent)
        }
    }

    @Test("Snapshot: the follower's acknowledgement of the snapshot resumes replication")
    func snapshotAcknowledged() {
        var (r, _) = leaderWithCompactedLog()
        r.tracker.progress[2]!.recentActive = true
        try? r.step(Message(type: .appendResponse, from: 2, term: 2, index: 10, reject: true, rejectHint: 0))
        _ = r.takeMessages()
        try? r.step(Message(type: .appendResponse, from: 2, term: 2, index: 8))
        #expect(r.tracker.progress[2]!.state == .replicate)
        #expect(r.takeMessages().contains { $0.type == .append && $0.to == 2 })
    }

    @Test("Snapshot: a follower installs a newer snapshot (log, commit and membership) and ignores an older one")
    func followerRestoresSnapshot() {
        let snapshot = Snapshot(data: [9], metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2], learners: [3]), index: 20, term: 4))
        var r = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: [1, 1], voters: [1, 2, 3]))
        try? r.step(Message(type: .snapshot, from: 1, term: 4, snapshot: snapshot))
        #expect(r.log.committed == 20 && r.log.lastIndex == 20 && r.log.lastTerm == 4)
        #expect(r.tracker.confState == ConfState(voters: [1, 2], learners: [3]))
        #expect(r.log.unstable.snapshot == snapshot)
        #expect(r.takeMessages().first == Message(type: .appendResponse, to: 1, from: 2, term: 4, index: 20))

        let older = Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2]), index: 10, term: 3))
        try? r.step(Message(type: .snapshot, from: 1, term: 4, snapshot: older))
        #expect(r.log.committed == 20)
        #expect(r.takeMessages().first?.index == 20)
    }

    @Test("Snapshot: when the follower already holds the snapshot's last entry, it only advances its commit index")
    func snapshotFastForward() {
        var r = makeRaft(2, voters: [1, 2, 3], storage: storage(withTerms: [1, 1, 2], voters: [1, 2, 3]))
        let snapshot = Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2, 3]), index: 2, term: 1))
        try? r.step(Message(type: .snapshot, from: 1, term: 2, snapshot: snapshot))
        #expect(r.log.committed == 2)
        #expect(r.log.lastIndex == 3)
        #expect(r.log.unstable.snapshot == nil)
    }

    // MARK: Proposals

    @Test("Proposals: a follower forwards them to the leader, or refuses without a leader or when forwarding is off")
    func proposalForwarding() {
        var network = TestNetwork(voters: 3)
        network.campaign(1)
        network.send(Message(type: .propose, to: 2, from: 2, entries: [Entry(data: Array("via 2".utf8))]))
        #expect(network[1].allEntries.last?.data == Array("via 2".utf8))

        var orphan = makeRaft(2, voters: [1, 2, 3])
        #expect(throws: RaftError.proposalDropped) {
            try orphan.step(Message(type: .propose, from: 2, entries: [Entry(data: [1])]))
        }
        var strict = makeRaft(2, voters: [1, 2, 3]) { $0.disableProposalForwarding = true }
        try? strict.step(Message(type: .heartbeat, from: 1, term: 1))
        #expect(throws: RaftError.proposalDropped) {
            try strict.step(Message(type: .propose, from: 2, entries: [Entry(data: [1])]))
        }
    }

    @Test("Proposals: the uncommitted tail is bounded by maxUncommittedEntriesSize; commits make room again")
    func uncommittedSizeLimit() {
        var r = makeRaft(1, voters: [1, 2, 3]) { $0.maxUncommittedEntriesSize = 100 }
        r.becomeCandidate()
        r.becomeLeader()
        let payload = Entry(data: [UInt8](repeating: 1, count: 40))
        try? r.step(Message(type: .propose, from: 1, entries: [payload]))
        try? r.step(Message(type: .propose, from: 1, entries: [payload]))
        #expect(throws: RaftError.proposalDropped) {
            try r.step(Message(type: .propose, from: 1, entries: [payload]))
        }
        let last = r.log.lastIndex
        for id: NodeID in [2, 3] { try? r.step(Message(type: .appendResponse, from: id, term: 1, index: last)) }
        r.reduceUncommittedSize(r.log.nextCommittedEntries(after: 0))
        #expect(throws: Never.self) { try r.step(Message(type: .propose, from: 1, entries: [payload])) }
    }
}

extension Message {
    func with(to recipient: NodeID) -> Message {
        var copy = self
        copy.to = recipient
        return copy
    }
}
