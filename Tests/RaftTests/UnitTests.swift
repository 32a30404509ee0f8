import Testing
@testable import Raft

/// The pure parts of the core on their own: quorum math against a naive oracle, the unstable
/// log, the combined log, in-memory storage, flow-control windows and progress.
@Suite("Units: quorum, logs, storage, progress")
struct UnitTests {
    // MARK: Quorum

    @Test("Committed index agrees with a naive oracle on random inputs")
    func committedIndexOracle() {
        var random = SeededRandom(seed: 11)
        for _ in 0..<5000 {
            let voters = Array(1...NodeID.random(in: 1...7, using: &random))
            var acked: [NodeID: UInt64] = [:]
            for id in voters where random.chance(0.8) { acked[id] = UInt64.random(in: 0...20, using: &random) }
            let quorum = MajorityQuorum(voters: voters)
            // The oracle: the largest index that at least a majority has acknowledged.
            var naive: UInt64 = 0
            for index: UInt64 in 0...20 {
                let holders = voters.filter { (acked[$0] ?? 0) >= index }.count
                if holders >= voters.count / 2 + 1 { naive = index }
            }
            let computed = quorum.committedIndex { acked[$0] }
            #expect(computed == naive)
        }
        #expect(MajorityQuorum(voters: []).committedIndex { _ in 0 } == .max)
    }

    @Test("Vote results agree with a naive oracle on random inputs")
    func voteResultOracle() {
        var random = SeededRandom(seed: 12)
        for _ in 0..<5000 {
            let voters = Array(1...NodeID.random(in: 1...7, using: &random))
            var votes: [NodeID: Bool] = [:]
            for id in voters where random.chance(0.7) { votes[id] = random.chance(0.5) }
            let majority = voters.count / 2 + 1
            let yes = votes.values.filter { $0 }.count
            let no = votes.values.filter { !$0 }.count
            let expected: VoteResult = yes >= majority ? .won : (voters.count - no >= majority ? .pending : .lost)
            #expect(MajorityQuorum(voters: voters).voteResult { votes[$0] } == expected)
        }
    }

    // MARK: Unstable log

    @Test("Unstable log: appends, truncates on conflict, and stabilizes only what still matches")
    func unstableLog() {
        var log = UnstableLog(offset: 5)
        log.truncateAndAppend([entry(1, 5), entry(1, 6), entry(1, 7)])
        #expect(log.lastIndexIfKnown == 7)
        log.truncateAndAppend([entry(2, 6)])
        #expect(log.entries == [entry(1, 5), entry(2, 6)])
        // A stale write confirmation (term 1 at 6 was replaced) changes nothing.
        log.stabilize(through: 6, term: 1)
        #expect(log.offset == 5)
        log.stabilize(through: 5, term: 1)
        #expect(log.offset == 6 && log.entries == [entry(2, 6)])
        log.truncateAndAppend([entry(3, 4)])
        #expect(log.offset == 4 && log.entries == [entry(3, 4)])
        log.restore(Snapshot(metadata: SnapshotMetadata(index: 10, term: 3)))
        #expect(log.firstIndexIfKnown == 11 && log.lastIndexIfKnown == 10 && log.term(at: 10) == 3)
        log.stabilizeSnapshot(at: 9)
        #expect(log.snapshot != nil)
        log.stabilizeSnapshot(at: 10)
        #expect(log.snapshot == nil)
    }

    // MARK: Combined log

    @Test("RaftLog: terms and slices across storage and the unstable part")
    func raftLogReads() throws {
        let store = storage(withTerms: [1, 1, 2], voters: [1])
        try store.createSnapshot(index: 1, confState: ConfState(voters: [1]), data: [])
        try store.compact(through: 1)
        var log = RaftLog(storage: store, maxCommittedSizePerReady: .max)
        log.append([entry(3, 4), entry(3, 5)])
        #expect(log.firstIndex == 2 && log.lastIndex == 5)
        #expect(try log.term(at: 1) == 1)  // the snapshot's
        #expect(throws: StorageError.compacted) { try log.term(at: 0) }
        #expect(throws: StorageError.unavailable) { try log.term(at: 6) }
        #expect(try log.slice(2, 6, maxSize: .max).map(\.index) == [2, 3, 4, 5])
        #expect(throws: StorageError.compacted) { try log.slice(1, 3, maxSize: .max) }
        #expect(try log.slice(2, 6, maxSize: 1).count == 1)
        #expect(log.isUpToDate(lastIndex: 5, term: 3))
        #expect(!log.isUpToDate(lastIndex: 4, term: 3))
        #expect(log.isUpToDate(lastIndex: 1, term: 4))
    }

    @Test("RaftLog: maybeAppend keeps matching entries, replaces conflicts, and commits only what the message vouches for")
    func raftLogMaybeAppend() {
        var log = RaftLog(storage: storage(withTerms: [1, 2, 3], voters: [1]), maxCommittedSizePerReady: .max)
        #expect(log.maybeAppend(index: 3, logTerm: 2, committed: 3, entries: []) == nil)
        #expect(log.maybeAppend(index: 1, logTerm: 1, committed: 9, entries: [entry(2, 2)]) == 2)
        // Matching entry kept; the stale tail beyond what the message covers is untouched...
        #expect(log.lastIndex == 3)
        // ...and the commit index stops at the last entry the message vouched for.
        #expect(log.committed == 2)
        #expect(log.maybeAppend(index: 2, logTerm: 2, committed: 2, entries: [entry(4, 3), entry(4, 4)]) == 4)
        #expect(log.termOrZero(at: 3) == 4 && log.lastIndex == 4)
        #expect(log.firstConflict(in: [entry(2, 2), entry(4, 3)]) == 0)
        #expect(log.firstConflict(in: [entry(2, 2), entry(5, 3)]) == 3)
        #expect(log.firstConflict(in: [entry(4, 4), entry(4, 5)]) == 5)
    }

    @Test("RaftLog: the leader commits only an entry of its own term")
    func raftLogMaybeCommit() {
        var log = RaftLog(storage: storage(withTerms: [1, 2], voters: [1]), maxCommittedSizePerReady: .max)
        let wrongTerm = log.maybeCommit(2, term: 3)
        #expect(!wrongTerm)
        let ownTerm = log.maybeCommit(2, term: 2)
        #expect(ownTerm && log.committed == 2)
        let backwards = log.maybeCommit(1, term: 1)
        #expect(!backwards)
    }

    // MARK: Storage

    @Test("MemoryStorage: append replaces conflicting tails; snapshots and compaction move the first index")
    func memoryStorage() throws {
        let store = MemoryStorage()
        store.append([entry(1, 1), entry(1, 2), entry(1, 3)])
        store.append([entry(2, 2)])
        let termAt2 = try store.term(at: 2)
        #expect(store.lastIndex() == 2 && termAt2 == 2)
        store.append([entry(2, 3), entry(2, 4)])
        try store.createSnapshot(index: 3, confState: ConfState(voters: [1]), data: [7])
        try store.compact(through: 3)
        let termAt3 = try store.term(at: 3)
        #expect(store.firstIndex() == 4 && termAt3 == 2)
        #expect(throws: StorageError.compacted) { try store.entries(from: 3, to: 5, maxSize: .max) }
        #expect(throws: StorageError.snapshotOutOfDate) { try store.createSnapshot(index: 2, confState: ConfState(), data: []) }
        // Appending entries the snapshot already covers skips them.
        store.append([entry(2, 3), entry(2, 4), entry(2, 5)])
        #expect(store.lastIndex() == 5 && store.firstIndex() == 4)
        try store.applySnapshot(Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2]), index: 10, term: 4)))
        #expect(store.firstIndex() == 11 && store.lastIndex() == 10)
        #expect(store.initialState().snapshot.confState == ConfState(voters: [1, 2]))
        #expect(throws: StorageError.snapshotOutOfDate) { try store.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 9, term: 4))) }
    }

    // MARK: Flow control and progress

    @Test("Inflights: a bounded window of increasing indexes, freed by acknowledgement")
    func inflights() {
        var window = Inflights(capacity: 4)
        for index: UInt64 in [2, 4, 6, 8] { window.add(index) }
        #expect(window.isFull)
        window.free(through: 5)
        #expect(window.count == 2)
        window.add(10)
        window.add(12)
        #expect(window.isFull)
        window.freeFirst()
        #expect(window.count == 3)
        window.free(through: 100)
        #expect(window.count == 0)
        // Wrap-around under sustained use.
        var random = SeededRandom(seed: 5)
        var next: UInt64 = 1
        var model: [UInt64] = []
        for _ in 0..<2000 {
            if !window.isFull && random.chance(0.6) {
                window.add(next)
                model.append(next)
                next += 1
            } else if let first = model.first {
                let through = first + UInt64.random(in: 0...2, using: &random)
                window.free(through: through)
                model.removeAll { $0 <= through }
            }
            #expect(window.count == model.count)
        }
    }

    @Test("Progress: probe, replicate and snapshot transitions, and stale acknowledgements")
    func progress() {
        var progress = Progress(next: 5, maxInflight: 2, isLearner: false)
        #expect(!progress.isPaused)
        progress.probeSent = true
        #expect(progress.isPaused)
        let advanced = progress.maybeUpdate(3)
        #expect(advanced)
        #expect(!progress.probeSent && progress.next == 5)
        let stale = progress.maybeUpdate(2)
        #expect(!stale)
        progress.becomeReplicate()
        #expect(progress.next == 4)
        // In replicate, a rejection at or below match is stale.
        let staleRejection = progress.maybeDecrease(rejected: 3, matchHint: 0)
        #expect(!staleRejection)
        let rejection = progress.maybeDecrease(rejected: 6, matchHint: 0)
        #expect(rejection)
        #expect(progress.next == 4)
        progress.becomeProbe()
        // In probe, only the rejection of the last probe counts; the hint bounds the jump.
        let notLastProbe = progress.maybeDecrease(rejected: 9, matchHint: 0)
        #expect(!notLastProbe)
        progress.next = 10
        let lastProbe = progress.maybeDecrease(rejected: 9, matchHint: 6)
        #expect(lastProbe)
        #expect(progress.next == 7)
        progress.becomeSnapshot(index: 20)
        #expect(progress.isPaused)
        progress.becomeProbe()
        #expect(progress.next == 21)
    }
}
