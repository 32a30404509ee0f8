import Checksum
import EtcdProto
import Testing
@testable import MVCC

/// The rules HashKV borrows from etcd's key index; the differential test in IntegrationTests
/// checks the hashes themselves against the reference etcd.
@Suite struct HashKVTests {
    func put(_ main: Int64, _ sub: Int64 = 0) -> IndexEntry { IndexEntry(revision: Revision(main: main, sub: sub), isTombstone: false) }
    func del(_ main: Int64, _ sub: Int64 = 0) -> IndexEntry { IndexEntry(revision: Revision(main: main, sub: sub), isTombstone: true) }

    @Test func keptRevisionFollowsGenerations() {
        // Generations [2, 3(del)] and the open [5].
        let history = [put(2), del(3), put(5)]
        #expect(KeyHistoryHash.kept(history, at: 2) == Revision(main: 2))
        // At the delete and after it, before the next put: nothing (a delete is never kept).
        #expect(KeyHistoryHash.kept(history, at: 3) == nil)
        #expect(KeyHistoryHash.kept(history, at: 4) == nil)
        #expect(KeyHistoryHash.kept(history, at: 5) == Revision(main: 5))
        #expect(KeyHistoryHash.kept(history, at: 9) == Revision(main: 5))
        // Before the key existed.
        #expect(KeyHistoryHash.kept(history, at: 1) == nil)
        // Deleted and not put again: the open generation is empty.
        #expect(KeyHistoryHash.kept([put(2), put(4, 1), del(6)], at: 5) == Revision(main: 4, sub: 1))
        #expect(KeyHistoryHash.kept([put(2), put(4, 1), del(6)], at: 7) == nil)
        #expect(KeyHistoryHash.kept([], at: 7) == nil)
    }

    @Test func compactionDropsWhatEtcdsIndexDrops() {
        let history = [put(2), put(4), del(6), put(8)]
        #expect(KeyHistoryHash.compacted(history, at: 1).map(\.revision.main) == [2, 4, 6, 8])
        #expect(KeyHistoryHash.compacted(history, at: 5).map(\.revision.main) == [4, 6, 8])
        // The newest entry at the compaction is a delete: it goes too.
        #expect(KeyHistoryHash.compacted(history, at: 6).map(\.revision.main) == [8])
        #expect(KeyHistoryHash.compacted(history, at: 9).map(\.revision.main) == [8])
    }

    @Test func keyFieldEnd() {
        #expect([UInt8]([0x0A, 0x01, 0x61, 0x10, 0x02]).withUnsafeBytes { KeyHistoryHash.endOfKeyField($0) } == 3)
        let long = [0x0A, 0x80, 0x01] + [UInt8](repeating: 0x6B, count: 128) + [0x18, 0x05]
        #expect(long.withUnsafeBytes { KeyHistoryHash.endOfKeyField($0) } == 131)
        // Truncated, or not starting with the key.
        #expect([UInt8]([0x0A, 0x05, 0x61]).withUnsafeBytes { KeyHistoryHash.endOfKeyField($0) } == nil)
        #expect([UInt8]([0x10, 0x01]).withUnsafeBytes { KeyHistoryHash.endOfKeyField($0) } == nil)
    }

    @Test func hashesEtcdsBucketBytes() throws {
        let f = try StoreFixture()
        // An empty history hashes the bucket name alone.
        let empty = try f.store.read { try $0.hashKV(revision: 0) }
        #expect(empty == KeyHistoryHash(hash: CRC32C.checksum(Array("key".utf8)), currentRevision: 1, compactRevision: -1))

        try f.put("a", "1")  // revision 2
        _ = try f.delete("a")  // revision 3
        var expected = CRC32C.checksum(Array("key".utf8))
        var stored = KeyValue()
        stored.key = Array("a".utf8)
        stored.createRevision = 2
        stored.modRevision = 2
        stored.version = 1
        stored.value = Array("1".utf8)
        let put = bigEndianBytes(2) + [0x5F] + bigEndianBytes(0)
        expected = CRC32C.checksum(put + stored.serializedBytes(), initial: expected)
        #expect(try f.store.read { try $0.hashKV(revision: 2) }.hash == expected)
        // A delete is the key with "t" appended, and a KeyValue holding only the key.
        var tombstone = KeyValue()
        tombstone.key = Array("a".utf8)
        expected = CRC32C.checksum(bigEndianBytes(3) + [0x5F] + bigEndianBytes(0) + [0x74] + tombstone.serializedBytes(),
                                   initial: expected)
        #expect(try f.store.read { try $0.hashKV(revision: 0) } == KeyHistoryHash(hash: expected, currentRevision: 3, compactRevision: -1))

        #expect(throws: MVCCError.futureRevision) { try f.store.read { try $0.hashKV(revision: 4) } }
        try f.store.writeBatch { try $0.compact(to: 2) }
        #expect(throws: MVCCError.compacted) { try f.store.read { try $0.hashKV(revision: 2) } }
        #expect(try f.store.read { try $0.hashKV(revision: 3) }.compactRevision == 2)
    }
}
