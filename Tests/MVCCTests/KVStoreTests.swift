import EtcdProto
import Testing
@testable import MVCC

@Suite struct KVStoreTests {
    @Test func freshStoreStartsAtRevisionOne() throws {
        let f = try StoreFixture()
        #expect(try f.revision() == 1)
        #expect(try f.range("a").kvs.isEmpty)
    }

    @Test func putAssignsRevisionsAndVersions() throws {
        let f = try StoreFixture()
        try f.put("foo", "bar")
        try f.put("foo", "baz")
        let kv = try #require(f.range("foo").kvs.first)
        #expect(kv.createRevision == 2)
        #expect(kv.modRevision == 3)
        #expect(kv.version == 2)
        #expect(kv.valueString == "baz")
        #expect(try f.revision() == 3)
    }

    @Test func deleteEndsGenerationAndRecreateStartsOver() throws {
        let f = try StoreFixture()
        try f.put("k", "v1")                      // rev 2
        #expect(try f.delete("k") == 1)           // rev 3
        #expect(try f.range("k").kvs.isEmpty)
        #expect(try f.delete("k") == 0)           // nothing to delete: revision stays
        #expect(try f.revision() == 3)
        try f.put("k", "v2")                      // rev 4
        let kv = try #require(f.range("k").kvs.first)
        #expect(kv.createRevision == 4)
        #expect(kv.version == 1)
        // History is still readable.
        #expect(try f.range("k", options: RangeOptions(revision: 2)).kvs.first?.valueString == "v1")
        #expect(try f.range("k", options: RangeOptions(revision: 3)).kvs.isEmpty)
    }

    @Test func rangeKindsAndLimitCount() throws {
        let f = try StoreFixture()
        for key in ["a", "ab", "abc", "b", "c"] { try f.put(key, "v-" + key) }
        #expect(try f.range("a", end: "b").kvs.map(\.keyString) == ["a", "ab", "abc"])
        #expect(try f.range("ab", end: "\0").kvs.map(\.keyString) == ["ab", "abc", "b", "c"])
        #expect(try f.range("\0", end: "\0").count == 5)
        let limited = try f.range("a", end: "\0", options: RangeOptions(limit: 2))
        #expect(limited.kvs.map(\.keyString) == ["a", "ab"])
        #expect(limited.count == 5)
        let counted = try f.range("a", end: "\0", options: RangeOptions(countOnly: true))
        #expect(counted.kvs.isEmpty && counted.count == 5)
        #expect(try f.range("c", end: "a").kvs.isEmpty)
    }

    @Test func futureAndCompactedRevisionsFail() throws {
        let f = try StoreFixture()
        for i in 0..<5 { try f.put("k", "v\(i)") }  // revs 2...6
        #expect(throws: MVCCError.futureRevision) { try f.range("k", options: RangeOptions(revision: 7)) }
        try f.store.writeBatch { try $0.compact(to: 4) }
        #expect(throws: MVCCError.compacted) { try f.range("k", options: RangeOptions(revision: 3)) }
        #expect(try f.range("k", options: RangeOptions(revision: 4)).kvs.first?.valueString == "v2")
        #expect(throws: MVCCError.compacted) { try f.store.writeBatch { try $0.compact(to: 4) } }
        #expect(throws: MVCCError.futureRevision) { try f.store.writeBatch { try $0.compact(to: 9) } }
    }

    @Test func physicalCompactionKeepsNewestLiveRevision() throws {
        let f = try StoreFixture()
        try f.put("a", "1")       // 2
        try f.put("a", "2")       // 3
        try f.put("b", "1")       // 4
        _ = try f.delete("b")     // 5
        try f.put("a", "3")       // 6
        try f.store.writeBatch { batch in
            try batch.compact(to: 5)
            var next: [UInt8]? = []
            while let start = next { next = try batch.compactStep(from: start, keyLimit: 1) }
            #expect(try !batch.compactionPending())
        }
        let (historyA, historyB) = try f.store.read { r in
            (try f.store.keyIndex.history(r.txn, key: Array("a".utf8)), try f.store.keyIndex.history(r.txn, key: Array("b".utf8)))
        }
        #expect(historyA.map(\.revision.main) == [3, 6])
        #expect(historyB.isEmpty)
        #expect(try f.range("a", options: RangeOptions(revision: 5)).kvs.first?.valueString == "2")
        #expect(try f.range("a").kvs.first?.valueString == "3")
        #expect(try f.range("b", options: RangeOptions(revision: 5)).kvs.isEmpty)
    }

    @Test func transactionSharesMainRevisionAndSeesOwnWrites() throws {
        let f = try StoreFixture()
        try f.put("x", "0")
        let (rev, changes) = try f.store.writeBatch { batch in
            let outcome = try batch.transaction { w -> Int64 in
                try w.put(key: Array("a".utf8), value: Array("1".utf8), lease: 0)
                try w.put(key: Array("b".utf8), value: Array("2".utf8), lease: 0)
                #expect(try w.range(KeyRange(key: Array("a".utf8), rangeEnd: [0])).count == 3)
                #expect(try w.deleteRange(.single(Array("x".utf8))).count == 1)
                return w.revision
            }
            return (outcome.result, outcome.changes)
        }
        #expect(rev == 3)
        #expect(changes.map(\.kind) == [.put, .put, .delete])
        #expect(changes.map(\.kv.modRevision) == [3, 3, 3])
        let latestB = try f.store.read { r in try f.store.keyIndex.latest(r.txn, key: Array("b".utf8), atOrBefore: nil) }
        #expect(latestB?.revision == Revision(main: 3, sub: 1))
        #expect(try f.revision() == 3)
    }

    @Test func changesReplayInRevisionOrder() throws {
        let f = try StoreFixture()
        try f.put("a", "1")
        try f.put("b", "2")
        _ = try f.delete("a")
        var seen: [(Change.Kind, String, Int64)] = []
        try f.store.read { r in
            try r.changes(from: 3, through: 4) { change in
                seen.append((change.kind, change.kv.keyString, change.kv.modRevision))
                return true
            }
        }
        #expect(seen.map(\.0) == [.put, .delete])
        #expect(seen.map(\.1) == ["b", "a"])
        #expect(seen.map(\.2) == [3, 4])
    }

    @Test func longKeysSortAmongShortKeys() throws {
        let f = try StoreFixture()
        let limit = f.store.environment.maxKeySize
        let prefix = String(repeating: "p", count: limit)
        let longA = prefix + "a"
        let longB = prefix + "b" + String(repeating: "z", count: 3000)
        let exact = prefix  // exactly at the limit: stored directly
        for key in [longB, "p", exact, longA, "q"] { try f.put(key, "v") }
        let keys = try f.range("p", end: "\0").kvs.map(\.keyString)
        #expect(keys == ["p", exact, longA, longB, "q"])
        #expect(try f.range(longA).kvs.map(\.keyString) == [longA])
        #expect(try f.range(longA, end: "\0").count == 3)
        #expect(try f.range(prefix + "b", end: "q").kvs.map(\.keyString) == [longB])
        #expect(try f.delete(longA) == 1)
        #expect(try f.range("p", end: "\0").kvs.map(\.keyString) == ["p", exact, longB, "q"])
        try f.put(longB, "v2")
        #expect(try f.range(longB).kvs.first?.version == 2)
        #expect(try f.range("p", end: "\0", options: RangeOptions(revision: 6)).kvs.map(\.keyString)
                == ["p", exact, longA, longB, "q"])
    }
}
