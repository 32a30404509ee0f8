#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Checksum
import Testing
import Raft
@testable import WAL

private func temporaryDirectory() -> String {
    var template = Array("/tmp/wal-test-XXXXXX".utf8CString)
    return String(cString: mkdtemp(&template)!)
}

private func entry(_ index: UInt64, term: UInt64 = 1, _ text: String = "") -> Entry {
    Entry(term: term, index: index, data: Array((text.isEmpty ? "e\(index)" : text).utf8))
}

/// Every entry the log holds, read back through its `LogStorage` side.
private func stored(_ wal: WAL) -> [Entry] {
    wal.lastIndex() < wal.firstIndex() ? [] : try! wal.entries(from: wal.firstIndex(), to: wal.lastIndex() + 1, maxSize: .max)
}

private extension WAL {
    func append(entries: [Entry], hardState: HardState? = nil) throws {
        try save(entries: entries, hardState: hardState, sync: false)
    }
}

@Suite struct WALTests {
    @Test func crcMatchesKnownVector() {
        // RFC 3720 test vector: 32 bytes of zeros.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func recoversWhatWasWritten() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [1, 2, 3], segmentSize: 1 << 16)
        try wal.append(entries: (1...10).map { entry($0) }, hardState: HardState(term: 1, vote: 1, commit: 10))
        try wal.sync()
        let (reopened, recovered) = try WAL.open(in: dir, segmentSize: 1 << 16)
        #expect(recovered.metadata == [1, 2, 3])
        #expect(stored(reopened).map(\.index) == Array(1...10))
        #expect(stored(reopened)[3] == entry(4))
        #expect(recovered.hardState == HardState(term: 1, vote: 1, commit: 10))
        #expect(reopened.lastIndex() == 10)
        // Appending continues after the recovered end.
        try reopened.append(entries: [entry(11)])
        try reopened.sync()
        #expect(stored(try WAL.open(in: dir, segmentSize: 1 << 16).0).last == entry(11))
    }

    @Test func cutsSegmentsAndReleasesOldOnes() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [9], segmentSize: 4096)
        let payload = String(repeating: "x", count: 500)
        for i in 1...40 { try wal.append(entries: [entry(UInt64(i), payload)]) }
        try wal.sync()
        let before = wal.segmentCount
        #expect(before > 3)
        // Compaction alone releases nothing the store has not durably covered.
        wal.compact(through: 29)
        #expect(wal.segmentCount == before)
        try wal.markSnapshot(index: 30, term: 1)
        wal.compact(through: 30)
        #expect(wal.segmentCount < before)
        #expect(wal.firstIndex() == 31)
        #expect(throws: StorageError.compacted) { try wal.entries(from: 30, to: 31, maxSize: .max) }
        let (reopened, recovered) = try WAL.open(in: dir, segmentSize: 4096)
        #expect(recovered.metadata == [9])
        #expect(recovered.snapshot.index == 30)
        #expect(stored(reopened).map(\.index) == Array(31...40))
    }

    @Test func laterEntriesReplaceConflictingSuffix() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [])
        try wal.append(entries: [entry(1), entry(2), entry(3)])
        try wal.append(entries: [entry(2, term: 2, "new2")])
        try wal.sync()
        #expect(stored(wal) == [entry(1), entry(2, term: 2, "new2")])
        #expect(stored(try WAL.open(in: dir).0) == [entry(1), entry(2, term: 2, "new2")])
    }

    @Test func snapshotMarkDropsCoveredEntries() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [])
        try wal.append(entries: (1...5).map { entry($0) })
        try wal.markSnapshot(index: 3, term: 1)
        try wal.sync()
        let (reopened, recovered) = try WAL.open(in: dir)
        #expect(recovered.snapshot.index == 3)
        #expect(stored(reopened).map(\.index) == [4, 5])
    }

    /// A crash in the middle of a write leaves a torn record at the tail: recovery keeps every
    /// record before it, and new writes are not confused by the torn bytes.
    @Test func tornTailIsCutAtEveryByte() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [], segmentSize: 1 << 16)
        try wal.append(entries: [entry(1), entry(2)])
        try wal.sync()
        let segment = try #require(listWAL(dir).first)
        let path = dir + "/" + segment
        let intact = try fileBytes(path)
        let endOfTwo = lastNonZero(intact)
        try wal.append(entries: [entry(3, String(repeating: "y", count: 100))])
        try wal.sync()
        let full = try fileBytes(path)
        let endOfThree = lastNonZero(full)
        for cut in stride(from: endOfTwo, to: endOfThree, by: 7) {
            var torn = full
            for i in cut..<torn.count { torn[i] = 0 }
            // Leave some garbage after the cut as a torn page might.
            if cut + 3 < endOfThree { torn[cut + 2] = 0x5A }
            try writeBytes(path, torn)
            let (reopened, recovered) = try WAL.open(in: dir, segmentSize: 1 << 16)
            #expect(recovered.lastIndex == 2, "cut at \(cut)")
            #expect(stored(reopened).map(\.index) == [1, 2], "cut at \(cut)")
            try reopened.append(entries: [entry(3, "z")])
            try reopened.sync()
            #expect(stored(try WAL.open(in: dir, segmentSize: 1 << 16).0).map(\.data) == [entry(1), entry(2), entry(3, "z")].map(\.data))
            try writeBytes(path, intact)
        }
    }

    @Test func damageBeforeTheLastSegmentFailsToOpen() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL.create(in: dir, metadata: [], segmentSize: 4096)
        for i in 1...20 { try wal.append(entries: [entry(UInt64(i), String(repeating: "d", count: 400))]) }
        try wal.sync()
        let first = dir + "/" + (try listWAL(dir)).sorted()[0]
        var bytes = try fileBytes(first)
        bytes[200] ^= 0xFF
        try writeBytes(first, bytes)
        #expect(throws: WALError.self) { try WAL.open(in: dir, segmentSize: 4096) }
    }
}

private func listWAL(_ dir: String) throws -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name.hasSuffix(".wal") { names.append(name) }
    }
    return names
}

private func fileBytes(_ path: String) throws -> [UInt8] {
    let f = fopen(path, "rb")!
    defer { fclose(f) }
    fseek(f, 0, SEEK_END)
    let n = ftell(f)
    fseek(f, 0, SEEK_SET)
    var b = [UInt8](repeating: 0, count: n)
    _ = fread(&b, 1, n, f)
    return b
}

private func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    let f = fopen(path, "wb")!
    defer { fclose(f) }
    _ = fwrite(bytes, 1, bytes.count, f)
}

private func lastNonZero(_ bytes: [UInt8]) -> Int {
    (bytes.lastIndex { $0 != 0 } ?? 0) + 1
}
