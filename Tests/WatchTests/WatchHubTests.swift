#if canImport(Glibc)
import Glibc
#endif
import EtcdProto
import Foundation
import MVCC
import Testing
@testable import Watch

/// Collects deliveries; `backlog` simulates a stream that is not draining.
final class RecordingSink: WatchSink, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var received: [(watchID: Int64, revision: Int64, kind: Change.Kind, key: String, prev: String?)] = []
    private(set) var compacted: [(Int64, Int64)] = []
    private(set) var progress: [(Int64, Int64)] = []
    var backlog = 0

    func send(events: [WatchEvent], to watchID: Int64, revision: Int64, spec: WatchSpec) {
        lock.withLock {
            for e in events {
                received.append((watchID, e.revision, e.kind, String(decoding: e.kv.key, as: UTF8.self),
                                 spec.prevKV ? e.previous.map { String(decoding: $0.value, as: UTF8.self) } : nil))
            }
        }
    }
    func sendCompacted(watchID: Int64, compactRevision: Int64, currentRevision: Int64) {
        lock.withLock { compacted.append((watchID, compactRevision)) }
    }
    func sendProgress(watchID: Int64, revision: Int64) { lock.withLock { progress.append((watchID, revision)) } }
    func flush() {}
    var backlogBytes: Int { lock.withLock { backlog } }

    func events(_ id: Int64) -> [(Int64, Change.Kind, String, String?)] {
        lock.withLock { received.filter { $0.watchID == id }.map { ($0.revision, $0.kind, $0.key, $0.prev) } }
    }
}

final class HubFixture {
    let directory: String
    let store: KVStore
    let hub: WatchHub

    init(backlogLimit: Int = 1 << 20, progressInterval: Double = 600) throws {
        var template = Array("/tmp/watch-test-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
        store = try KVStore(path: directory + "/db", mapSize: 64 << 20)
        hub = try WatchHub(store: store, backlogLimit: backlogLimit, progressIntervalSeconds: progressInterval)
        hub.start()
    }

    deinit {
        hub.stop()
        unlink(directory + "/db")
        unlink(directory + "/db-lock")
        rmdir(directory)
    }

    /// One store transaction, published as the apply pipeline does.
    func write(_ body: (inout StoreWriter) throws -> Void) throws {
        let changes = try store.writeBatch { try $0.transaction(body).changes }
        hub.publish(changes)
    }

    func put(_ key: String, _ value: String) throws {
        try write { _ = try $0.put(key: Array(key.utf8), value: Array(value.utf8), lease: 0) }
    }

    func delete(_ key: String) throws {
        try write { _ = try $0.deleteRange(.single(Array(key.utf8))) }
    }

    func waitUntil(_ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(5_000) }
    }
}

private func key(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct WatchHubTests {
    @Test func liveEventsGoToMatchingWatchersInOrder() throws {
        let f = try HubFixture()
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 0, spec: WatchSpec(range: .single(key("a"))))
        f.hub.add(sink, watchID: 1, spec: WatchSpec(range: .bounded(start: key("a"), end: key("c"))))
        f.hub.add(sink, watchID: 2, spec: WatchSpec(range: .from(key("b")), filterPuts: true))
        try f.put("a", "1")          // rev 2
        try f.put("b", "2")          // rev 3
        try f.put("c", "3")          // rev 4
        try f.delete("b")            // rev 5
        #expect(f.hub.counts.unsynced == 0)
        #expect(sink.events(0).map(\.0) == [2])
        #expect(sink.events(1).map { "\($0.0)\($0.2)" } == ["2a", "3b", "5b"])
        #expect(sink.events(2).map { "\($0.0)\($0.1)\($0.2)" } == ["5deleteb"])
    }

    @Test func historyReplaysFromAPastRevisionThenFollowsLive() throws {
        let f = try HubFixture()
        for i in 0..<5 { try f.put("k", "v\(i)") }   // revs 2...6
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 7, spec: WatchSpec(range: .single(key("k")), startRevision: 3, prevKV: true))
        f.waitUntil { f.hub.counts.unsynced == 0 }
        try f.put("k", "v5")                           // rev 7
        f.waitUntil { sink.events(7).count == 5 }
        let events = sink.events(7)
        #expect(events.map(\.0) == [3, 4, 5, 6, 7])
        // prev_kv from history is the value at the revision before.
        #expect(events.map(\.3) == ["v0", "v1", "v2", "v3", "v4"])
    }

    @Test func compactedStartRevisionCancelsWithTheCompactionRevision() throws {
        let f = try HubFixture()
        for i in 0..<5 { try f.put("k", "v\(i)") }   // revs 2...6
        try f.store.writeBatch { try $0.compact(to: 5) }
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 3, spec: WatchSpec(range: .single(key("k")), startRevision: 2))
        f.waitUntil { !sink.compacted.isEmpty }
        #expect(sink.compacted.map(\.0) == [3])
        #expect(sink.compacted.map(\.1) == [5])
        #expect(f.hub.counts == (0, 0))
    }

    @Test func futureStartRevisionWaitsForIt() throws {
        let f = try HubFixture()
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 0, spec: WatchSpec(range: .single(key("k")), startRevision: 4))
        for i in 0..<4 { try f.put("k", "v\(i)") }   // revs 2...5
        #expect(sink.events(0).map(\.0) == [4, 5])
    }

    @Test func progressRevisionOnlyWhenAllWatchersAreSynced() throws {
        let f = try HubFixture()
        for i in 0..<3 { try f.put("k", "v\(i)") }
        let sink = RecordingSink()
        sink.backlog = 10 << 20
        f.hub.add(sink, watchID: 0, spec: WatchSpec(range: .single(key("k")), startRevision: 2))
        #expect(f.hub.progressRevision(for: sink) == nil)
        sink.backlog = 0
        f.waitUntil { f.hub.counts.unsynced == 0 }
        #expect(f.hub.progressRevision(for: sink) == 4)
    }

    @Test func periodicProgressGoesToQuietWatchersThatAskedForIt() throws {
        let f = try HubFixture(progressInterval: 0.2)
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 0, spec: WatchSpec(range: .single(key("k")), progressNotify: true))
        f.hub.add(sink, watchID: 1, spec: WatchSpec(range: .single(key("k"))))
        f.waitUntil { !sink.progress.isEmpty }
        #expect(sink.progress.allSatisfy { $0.0 == 0 && $0.1 == 1 })
    }

    /// A reader that stops draining is demoted instead of buffering: writes and other watchers
    /// go on. When it drains again it catches up from the store, every event once, in order.
    @Test func stalledReaderDoesNotBlockWritesAndCatchesUpExactlyOnce() throws {
        let f = try HubFixture(backlogLimit: 1000)
        let slow = RecordingSink(), fast = RecordingSink()
        f.hub.add(slow, watchID: 0, spec: WatchSpec(range: .from(key("k"))))
        f.hub.add(fast, watchID: 0, spec: WatchSpec(range: .from(key("k"))))
        try f.put("k0", "x")
        slow.backlog = 5000                            // the slow stream stops draining
        for i in 1..<200 { try f.put("k\(i)", "x") }
        #expect(fast.events(0).count == 200)
        #expect(slow.events(0).count <= 2)
        #expect(f.hub.counts.unsynced == 1)
        slow.backlog = 0                               // it drains again
        f.waitUntil { slow.events(0).count == 200 && f.hub.counts.unsynced == 0 }
        try f.put("k200", "x")
        let revisions = slow.events(0).map(\.0)
        #expect(revisions == Array(2...202))
    }

    @Test func manyWatchersOnOneKeyAllGetEveryEvent() throws {
        let f = try HubFixture()
        let sinks = (0..<10).map { _ in RecordingSink() }
        for sink in sinks {
            for id in 0..<100 { f.hub.add(sink, watchID: Int64(id), spec: WatchSpec(range: .single(key("hot")))) }
        }
        for i in 0..<50 { try f.put("hot", "v\(i)") }
        for sink in sinks {
            for id in 0..<100 { #expect(sink.events(Int64(id)).map(\.0) == Array(2...51)) }
        }
    }

    @Test func removedWatchersGetNothingMore() throws {
        let f = try HubFixture()
        let sink = RecordingSink()
        f.hub.add(sink, watchID: 0, spec: WatchSpec(range: .single(key("a"))))
        try f.put("a", "1")
        f.hub.remove(sink, watchID: 0)
        try f.put("a", "2")
        #expect(sink.events(0).count == 1)
        #expect(f.hub.counts == (0, 0))
    }
}
