import Testing
@testable import Raft

/// The API a server drives: the Ready / advance contract, restarts, bootstrap, inputs refused.
@Suite("RaftNode and the Ready contract")
struct RaftNodeTests {
    private func node(_ id: NodeID = 1, storage: MemoryStorage, configure: (inout RaftConfig) -> Void = { _ in }) -> RaftNode {
        RaftNode(config: testConfig(id, configure: configure), storage: storage, random: SeededRandom(seed: id))
    }

    /// Persists, applies and advances one Ready, as a server would (messages are returned).
    @discardableResult
    private func handle(_ node: RaftNode, _ storage: MemoryStorage, applied: inout [Entry]) -> [Message] {
        let ready = node.ready()
        if let snapshot = ready.snapshot { try? storage.applySnapshot(snapshot) }
        storage.append(ready.entries)
        if let hardState = ready.hardState { storage.setHardState(hardState) }
        for entry in ready.committedEntries {
            applied.append(entry)
            if entry.type == .confChange { node.applyConfChange(try! RaftWire.decodeConfChange(entry.data)) }
        }
        node.advance()
        return ready.messages
    }

    @Test("A fresh single-voter node: nothing to do until it campaigns; then one Ready with everything, in order")
    func singleVoterLifecycle() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let n = node(storage: storage)
        #expect(!n.hasReady)
        try n.campaign()
        #expect(n.hasReady)
        let ready = n.ready()
        #expect(ready.softState == SoftState(leader: 1, role: .leader))
        #expect(ready.hardState == HardState(term: 1, vote: 1, commit: 1))
        #expect(ready.entries == [Entry(term: 1, index: 1)])
        #expect(ready.committedEntries == [Entry(term: 1, index: 1)])
        #expect(ready.mustSync)
        storage.append(ready.entries)
        storage.setHardState(ready.hardState!)
        n.advance()
        #expect(!n.hasReady)
        try n.propose(Array("x".utf8))
        let next = n.ready()
        #expect(next.softState == nil)
        #expect(next.entries.map(\.data) == [Array("x".utf8)])
        #expect(next.committedEntries.map(\.data) == [Array("x".utf8)])
        #expect(next.hardState == HardState(term: 1, vote: 1, commit: 2))
        storage.append(next.entries)
        n.advance()
        #expect(n.appliedIndex == 2)
    }

    @Test("mustSync only when entries, term or vote change; a commit index alone may be written lazily")
    func mustSyncRules() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1, 2]))
        let n = node(storage: storage)
        try n.campaign()  // candidate: term and vote change
        var applied: [Entry] = []
        var ready = n.ready()
        #expect(ready.mustSync)
        storage.setHardState(ready.hardState!)
        n.advance()
        try n.step(Message(type: .voteResponse, to: 1, from: 2, term: 1))
        ready = n.ready()  // leader: entries
        #expect(ready.mustSync)
        storage.append(ready.entries)
        n.advance()
        try n.step(Message(type: .appendResponse, to: 1, from: 2, term: 1, index: 1))
        ready = n.ready()  // only the commit index moved (plus entries to apply)
        #expect(!ready.mustSync)
        #expect(ready.hardState?.commit == 1)
        n.advance()
        _ = applied
        applied = []
    }

    @Test("Inputs between ready() and advance() are kept for the next Ready")
    func stepBetweenReadyAndAdvance() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let n = node(storage: storage)
        try n.campaign()
        let first = n.ready()
        try n.propose(Array("during".utf8))
        storage.append(first.entries)
        storage.setHardState(first.hardState!)
        n.advance()
        let second = n.ready()
        #expect(second.entries.map(\.data) == [Array("during".utf8)])
        #expect(second.committedEntries.map(\.data) == [Array("during".utf8)])
    }

    @Test("Committed entries are paged by maxCommittedSizePerReady")
    func committedEntriesArePaged() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let n = node(storage: storage) { $0.maxCommittedSizePerReady = 30 }
        try n.campaign()
        var applied: [Entry] = []
        handle(n, storage, applied: &applied)
        for i in 0..<6 { try n.propose([UInt8](repeating: UInt8(i), count: 10)) }
        var rounds = 0
        while n.hasReady {
            handle(n, storage, applied: &applied)
            rounds += 1
        }
        #expect(applied.count == 7)
        #expect(rounds >= 3)
    }

    @Test("A restarted node resumes from storage: same term, vote and commit; applied entries are not handed out again")
    func restartFromStorage() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let first = node(storage: storage)
        try first.campaign()
        var applied: [Entry] = []
        handle(first, storage, applied: &applied)
        try first.propose([1])
        try first.propose([2])
        handle(first, storage, applied: &applied)
        #expect(applied.count == 3)

        let again = node(storage: storage) { $0.appliedIndex = 2 }
        #expect(again.term == 1)
        #expect(again.commitIndex == 3)
        #expect(again.role == .follower)
        var replayed: [Entry] = []
        handle(again, storage, applied: &replayed)
        #expect(replayed.map(\.index) == [3])
    }

    @Test("A restart starts applying after the storage snapshot, even if entries before it are still stored")
    func restartAfterSnapshot() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let first = node(storage: storage)
        try first.campaign()
        var applied: [Entry] = []
        handle(first, storage, applied: &applied)
        for i in 0..<4 { try first.propose([UInt8(i)]) }
        handle(first, storage, applied: &applied)
        try storage.createSnapshot(index: 3, confState: ConfState(voters: [1]), data: [3])
        let again = node(storage: storage)
        #expect(again.appliedIndex == 3)
        var replayed: [Entry] = []
        handle(again, storage, applied: &replayed)
        #expect(replayed.map(\.index) == [4, 5])
    }

    @Test("Bootstrap: founders start from the same committed membership entries; the first Ready hands them out")
    func bootstrapThroughTheLog() throws {
        let storages = [1, 2, 3].map { _ in MemoryStorage.bootstrapped(voters: [1, 2, 3]) }
        #expect(storages[0].storedEntries.elementsEqual(storages[1].storedEntries))
        let n = node(1, storage: storages[0])
        #expect(n.membership == ConfState())
        #expect(n.hasReady)
        var applied: [Entry] = []
        handle(n, storages[0], applied: &applied)
        #expect(applied.count == 3 && applied.allSatisfy { $0.type == .confChange })
        #expect(n.membership == ConfState(voters: [1, 2, 3]))
    }

    @Test("step refuses local message types from the network, and responses from strangers")
    func stepRefusals() {
        let n = node(storage: MemoryStorage(confState: ConfState(voters: [1, 2])))
        #expect(throws: RaftError.localMessageFromNetwork) { try n.step(Message(type: .hup, from: 2)) }
        #expect(throws: RaftError.unknownPeer) { try n.step(Message(type: .appendResponse, from: 9, term: 1)) }
        #expect(throws: Never.self) { try n.step(Message(type: .heartbeat, from: 2, term: 1)) }
    }

    @Test("Read requests come back as ReadStates in a Ready")
    func readStatesInReady() throws {
        let storage = MemoryStorage(confState: ConfState(voters: [1]))
        let n = node(storage: storage)
        try n.campaign()
        var applied: [Entry] = []
        handle(n, storage, applied: &applied)
        n.readIndex(context: [42])
        let ready = n.ready()
        #expect(ready.readStates == [ReadState(index: 1, requestContext: [42])])
        n.advance()
    }

    @Test("status reports role, term, membership and (on the leader) progress")
    func status() throws {
        let n = node(storage: MemoryStorage(confState: ConfState(voters: [1, 2], learners: [3])))
        try n.campaign()
        try n.step(Message(type: .voteResponse, to: 1, from: 2, term: 1))
        let status = n.status
        #expect(status.role == .leader && status.leader == 1 && status.term == 1)
        #expect(status.confState == ConfState(voters: [1, 2], learners: [3]))
        #expect(Set(status.progress.keys) == [1, 2, 3])
        #expect(status.progress[3]!.isLearner)
    }

    @Test("Ready descriptions are stable text (used in logs and golden files)")
    func descriptions() {
        let m = Message(type: .append, to: 2, from: 1, term: 3, logTerm: 2, index: 5, entries: [Entry(term: 3, index: 6, data: Array("hi".utf8))], commit: 4)
        #expect(m.description == #"1->2 App term=3 log=2/5 commit=4 entries=[3/6 normal "hi"]"#)
        let change = Entry(term: 1, index: 2, type: .confChange, data: RaftWire.encode(ConfChange(type: .addLearnerNode, nodeID: 4)))
        #expect(change.description == "1/2 confChange addLearnerNode(4)")
        #expect(Entry(term: 1, index: 1, data: [0, 255]).description == "1/1 normal 0x00ff")
    }
}
