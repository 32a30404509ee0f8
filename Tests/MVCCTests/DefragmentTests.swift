#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import MVCC
import LMDB

/// What the writer thread and the test share.
final class WriterState: Sendable {
    let stop = Atomic<Bool>(false)
    let written = Atomic<Int>(0)
    let failure = Mutex<String?>(nil)
}

@Suite struct DefragmentTests {
    /// Writes history, then compacts it away: the file has many free pages.
    func fragmented(_ f: StoreFixture, keys: Int = 200) throws {
        let value = String(repeating: "v", count: 2000)
        for round in 0..<5 {
            for key in 0..<keys { try f.put("k\(key)", value + "\(round)") }
        }
        let revision = try f.revision()
        try f.store.writeBatch { try $0.compact(to: revision) }
        var next: [UInt8]? = []
        while let start = next {
            next = try f.store.writeBatch { try $0.compactStep(from: start, keyLimit: 1000) }
        }
    }

    @Test func shrinksTheFileAndKeepsEveryKey() throws {
        let directory: String
        let revision: Int64
        do {
            let f = try StoreFixture()
            f.keepFiles = true
            directory = f.directory
            try fragmented(f)
            try f.store.environment.sync()
            // The compacted history's pages are free: in use is well below the high-water mark.
            let environment = f.store.environment
            #expect(environment.bytesInUse() < environment.usedBytes() / 2)
            revision = try f.revision()
            let outcome = try f.store.defragment()
            #expect(outcome.sizeInUseAfter < outcome.sizeInUseBefore / 2, "\(outcome)")
            #expect(outcome.sizeAfter < outcome.sizeBefore, "\(outcome)")
            let compacted = f.store.environment
            #expect(compacted.bytesInUse() > compacted.usedBytes() / 2)
            #expect(try f.revision() == revision)
            let all = try f.range("k", end: "l")
            #expect(all.count == 200)
            #expect(all.kvs.allSatisfy { $0.valueString.hasSuffix("4") && $0.version == 5 })
        }
        // The store file itself is now the compact copy: a restart opens it.
        let reopened = try StoreFixture(reopening: directory)
        #expect(try reopened.revision() == revision)
        #expect(try reopened.range("k", end: "l").count == 200)
        #expect(!FileManager.default.fileExists(atPath: directory + "/db.defrag"))
    }

    @Test func writesDuringTheCopyAreCarriedOver() throws {
        let f = try StoreFixture()
        try fragmented(f, keys: 100)
        let shared = WriterState()
        let writer = Thread {
            var n = 0
            while !shared.stop.load(ordering: .relaxed) {
                do {
                    try f.put("live\(n)", "x")
                    if n % 3 == 0 { _ = try f.delete("live\(n)") }
                } catch {
                    shared.failure.withLock { $0 = "write failed during defragment: \(error)" }
                    return
                }
                n += 1
                shared.written.store(n, ordering: .relaxed)
            }
        }
        writer.start()
        while shared.written.load(ordering: .relaxed) < 50 && shared.failure.withLock({ $0 }) == nil { usleep(1000) }
        _ = try f.store.defragment()
        let afterSwitch = shared.written.load(ordering: .relaxed)
        while shared.written.load(ordering: .relaxed) < afterSwitch + 50 && shared.failure.withLock({ $0 }) == nil { usleep(1000) }
        shared.stop.store(true, ordering: .relaxed)
        while !writer.isFinished { usleep(1000) }
        #expect(shared.failure.withLock { $0 } == nil)
        let total = shared.written.load(ordering: .relaxed)
        #expect(total > afterSwitch)
        let live = try f.range("live", end: "livf")
        #expect(live.count == (0..<total).filter { $0 % 3 != 0 }.count)
        #expect(try f.revision() == 501 + Int64(total) + Int64((0..<total).filter { $0 % 3 == 0 }.count))
    }

    @Test func aReadRunningDuringTheSwitchFinishesOnTheOldFile() throws {
        let f = try StoreFixture()
        try fragmented(f, keys: 50)
        let seen = try f.store.read { reader -> Int in
            _ = try f.store.defragment()
            try f.put("after", "x")
            // This transaction still sees the store as it was when it began.
            return try reader.range(KeyRange(key: Array("a".utf8), rangeEnd: Array("z".utf8))).count
        }
        #expect(seen == 50)
        #expect(try f.range("a", end: "z").count == 51)
    }

    @Test func aCopyLeftByACrashIsRemovedAtStart() throws {
        let directory: String
        do {
            let f = try StoreFixture()
            f.keepFiles = true
            directory = f.directory
            try f.put("a", "1")
        }
        FileManager.default.createFile(atPath: directory + "/db.defrag", contents: Data("partial".utf8))
        let reopened = try StoreFixture(reopening: directory)
        #expect(!FileManager.default.fileExists(atPath: directory + "/db.defrag"))
        #expect(try reopened.store.read { try $0.get(Array("a".utf8)) }?.valueString == "1")
    }
}

/// The journal that carries writes made during the copy over to it, checked without timing:
/// some journaled writes land before the copy is taken (the copy has them already) and some
/// after, and the replayed copy must equal the original in every database.
@Suite struct WriteJournalTests {
    @Test func replayLeavesTheCopyEqualToTheOriginal() throws {
        let f = try StoreFixture()
        for i in 0..<300 { try f.put("k\(i % 40)", "v\(i)") }
        try f.store.environment.startJournal()
        for i in 0..<50 { try f.put("before-copy\(i % 7)", "w\(i)") }
        _ = try f.delete("k1")
        let copyPath = f.directory + "/copy"
        try f.store.environment.copyCompacted(to: copyPath)
        for i in 0..<80 { try f.put("after-copy\(i % 9)", "x\(i)") }
        _ = try f.delete("k2", end: "k3")
        try f.put("k1", "again")
        try f.store.writeBatch { try $0.compact(to: 200) }
        var next: [UInt8]? = []
        while let start = next { next = try f.store.writeBatch { try $0.compactStep(from: start, keyLimit: 5) } }

        let copy = try Environment(path: copyPath, mapSize: 64 << 20, maxDatabases: Schema.maxDatabases, flags: [.noSync])
        var duplicateSorted = Set<Database>()
        for (name, db, flags) in f.store.allDatabases {
            #expect(try copy.openDatabase(name, flags: flags) == db)
            if flags.contains(.dupSort) { duplicateSorted.insert(db) }
        }
        let journal = try f.store.environment.write { txn in f.store.environment.takeJournal(txn) }
        let operations = try #require(journal).operations.count
        #expect(operations > 100)
        try copy.write { txn in try journal?.replay(into: txn, duplicateSorted: duplicateSorted) }

        for (name, db, _) in f.store.allDatabases {
            let original = try f.store.environment.read { try Self.entries(db, $0) }
            let replayed = try copy.read { try Self.entries(db, $0) }
            #expect(original == replayed, "database \(name) differs after replay")
        }
        #expect(try f.store.environment.read { try Self.entries(f.store.kv, $0) }.count > 100)
    }

    static func entries(_ db: Database, _ txn: some Transaction) throws -> [[UInt8]] {
        let cursor = try txn.cursor(db)
        defer { cursor.close() }
        var all: [[UInt8]] = []
        var entry = try cursor.first()
        while let current = entry {
            all.append(Array(current.key) + [0xFF] + Array(current.value))
            entry = try cursor.next()
        }
        return all
    }
}
