#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Raft
import Testing
@testable import WAL

/// The WAL as the Raft core's `LogStorage`, checked against the in-memory storage the core's
/// own tests and the simulator use: the same writes in the same order must give the same
/// answers, before and after a restart, with segments cut and released and most entries read
/// back from disk (the cache is kept tiny).
@Suite struct WALStorageTests {
    private static func directory() -> String {
        var template = Array("/tmp/wal-storage-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    /// Every answer of `LogStorage` that the core may ask for.
    private func expectSame(_ wal: WAL, _ memory: MemoryStorage, _ context: String,
                            random: inout SeededRandom) throws {
        #expect(wal.firstIndex() == memory.firstIndex(), "\(context): firstIndex")
        #expect(wal.lastIndex() == memory.lastIndex(), "\(context): lastIndex")
        #expect(wal.initialState().hardState == memory.initialState().hardState, "\(context): hard state")
        let first = memory.firstIndex(), last = memory.lastIndex()
        if first >= 2 {
            #expect(throws: StorageError.compacted) { try wal.term(at: first - 2) }
        }
        #expect(throws: StorageError.unavailable) { try wal.term(at: last + 1) }
        for index in (first - 1)...last {
            #expect(try wal.term(at: index) == memory.term(at: index), "\(context): term at \(index)")
        }
        if first >= 2 {
            #expect(throws: StorageError.compacted) { try wal.entries(from: first - 1, to: last + 1, maxSize: .max) }
        }
        guard first <= last else { return }
        #expect(try wal.entries(from: first, to: last + 1, maxSize: .max)
            == memory.entries(from: first, to: last + 1, maxSize: .max), "\(context): every entry")
        for _ in 0..<5 {
            let lo = UInt64.random(in: first...last, using: &random)
            let hi = UInt64.random(in: lo...(last + 1), using: &random)
            let maxSize = UInt64.random(in: 0...400, using: &random)
            #expect(try wal.entries(from: lo, to: hi, maxSize: maxSize) == memory.entries(from: lo, to: hi, maxSize: maxSize),
                    "\(context): entries \(lo)..<\(hi) max \(maxSize)")
        }
    }

    @Test(arguments: 1...12)
    func sameAnswersAsMemoryStorage(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segmentSize = 4096
        let cacheBytes = 300
        var wal = try WAL.create(in: dir, metadata: [7], segmentSize: segmentSize, cacheBytes: cacheBytes)
        let memory = MemoryStorage()
        var term: UInt64 = 1
        var operations = 0
        for step in 0..<300 {
            let choice = Int.random(in: 0..<100, using: &random)
            let last = memory.lastIndex(), first = memory.firstIndex()
            if choice < 60 {
                // Append, sometimes replacing a suffix (a new leader's entries), with a new term.
                let lowest = max(first, last > 3 ? last - 3 : first)
                let start = random.chance(0.25) && lowest <= last ? UInt64.random(in: lowest...last, using: &random) : last + 1
                if start <= last || random.chance(0.1) { term += 1 }
                let count = Int.random(in: 1...6, using: &random)
                let entries = (0..<count).map { offset in
                    Entry(term: term, index: start + UInt64(offset), type: random.chance(0.1) ? .confChange : .normal,
                          data: (0..<Int.random(in: 0...150, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
                }
                let hardState = HardState(term: term, vote: 1, commit: min(start - 1, memory.initialState().hardState.commit + 1))
                try wal.save(entries: entries, hardState: hardState, sync: random.chance(0.5))
                try memory.save(snapshot: nil, entries: entries, hardState: hardState, sync: true)
            } else if choice < 75, last >= first {
                // The store covers a prefix: compact it away.
                let through = UInt64.random(in: first...last, using: &random)
                try memory.createSnapshot(index: through, confState: ConfState(voters: [1]), data: [])
                try memory.compact(through: through)
                try wal.markSnapshot(index: through, term: memory.term(at: through))
                wal.compact(through: through)
            } else if choice < 82 {
                // A snapshot from the leader replaces the log.
                term += 1
                let snapshot = Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2]),
                                                                   index: last + UInt64.random(in: 1...5, using: &random), term: term))
                let hardState = HardState(term: term, vote: 2, commit: snapshot.metadata.index)
                try wal.save(snapshot: snapshot, entries: [], hardState: hardState, sync: true)
                try memory.save(snapshot: snapshot, entries: [], hardState: hardState, sync: true)
            } else {
                // Restart: recover from disk, then start after what the "store" covers.
                try wal.sync()
                let (reopened, recovered) = try WAL.open(in: dir, segmentSize: segmentSize, cacheBytes: cacheBytes)
                #expect(recovered.metadata == [7])
                let base = try memory.snapshot().metadata
                try reopened.start(after: SnapshotMetadata(confState: base.confState, index: first - 1,
                                                           term: try memory.term(at: first - 1)))
                wal = reopened
            }
            operations += 1
            try expectSame(wal, memory, "seed \(seed) step \(step)", random: &random)
        }
        #expect(operations == 300)
        #expect(memory.lastIndex() > 20, "the run wrote a real log")
    }

    /// A restart after the store got ahead of the log (a snapshot installed just before a
    /// crash) starts the log after the store; later entries follow on across another restart.
    @Test func startAfterAStoreAheadOfTheLog() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [])
        try wal.save(entries: (1...3).map { Entry(term: 1, index: $0, data: [1]) }, hardState: HardState(term: 1, commit: 3), sync: true)
        let (reopened, _) = try WAL.open(in: dir)
        try reopened.start(after: SnapshotMetadata(confState: ConfState(voters: [1]), index: 10, term: 4))
        #expect(reopened.firstIndex() == 11)
        #expect(reopened.lastIndex() == 10)
        #expect(try reopened.term(at: 10) == 4)
        try reopened.save(entries: [Entry(term: 4, index: 11, data: [2])], hardState: HardState(term: 4, commit: 11), sync: true)
        let (again, recovered) = try WAL.open(in: dir)
        #expect(recovered.firstIndex == 11)
        #expect(try again.entries(from: 11, to: 12, maxSize: .max) == [Entry(term: 4, index: 11, data: [2])])
    }

    /// Starting after a point the log has compacted past means the store lost state the log
    /// no longer holds: refused.
    @Test func startBeforeTheLogIsRefused() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [])
        try wal.save(entries: (1...5).map { Entry(term: 1, index: $0) }, hardState: nil, sync: true)
        try wal.markSnapshot(index: 4, term: 1)
        let (reopened, _) = try WAL.open(in: dir)
        #expect(throws: WALError.self) { try reopened.start(after: SnapshotMetadata(index: 2, term: 1)) }
    }
}

