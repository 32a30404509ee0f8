import Bolt
import EtcdProto
import Foundation
import Testing
@testable import MVCC

/// etcd's backend into our store: a store exported as etcd's bbolt file and imported into a
/// fresh one holds the same history, marks, leases and alarms, and exports to the same bytes.
@Suite struct EtcdBackendImportTests {
    let members = [Member(id: 5, name: "a", peerURLs: ["http://127.0.0.1:1"], clientURLs: ["http://127.0.0.1:2"])]

    private func populated() throws -> StoreFixture {
        let fixture = try StoreFixture()
        for i in 0..<40 { try fixture.put("key/\(i % 13)", "value-\(i)", lease: i % 5 == 0 ? 0x77 : 0) }
        _ = try fixture.delete("key/3")
        _ = try fixture.delete("key/5", end: "key/8")
        try fixture.put("key/3", "again")
        try fixture.put(String(repeating: "k", count: 600), "long key")
        try fixture.store.writeBatch { batch in
            try batch.putLease(StoredLease(id: 0x77, ttlSeconds: 90))
            try batch.putAlarm(AlarmMember(memberID: 9, alarm: .noSpace))
            try batch.compact(to: 20)
            var next: [UInt8]? = []
            while let start = next { next = try batch.compactStep(from: start, keyLimit: 4) }
            try batch.setApplied(index: 321, term: 7)
            try batch.putMember(members[0])
            try batch.removeMember(3)
            try batch.setClusterVersion("3.4.0")
            try batch.putEtcdAuth(.auth, key: Array("authRevision".utf8), value: bigEndianBytes(4))
            try batch.putEtcdAuth(.authUsers, key: Array("alice".utf8), value: [0x0A, 0x05] + Array("alice".utf8))
            try batch.putEtcdAuth(.authRoles, key: Array("r1".utf8), value: [0x0A, 0x02] + Array("r1".utf8))
        }
        try fixture.put("key/after", "compaction")
        return fixture
    }

    @Test func roundTripThroughEtcdsFormat() throws {
        let source = try populated()
        let file = source.directory + "/exported.db"
        _ = try source.store.read { try $0.exportEtcdBackend(to: file) }
        let target = try StoreFixture()
        let imported = try target.store.importEtcdBackend(try BoltReader(path: file), appliedTerm: 7,
                                                          membership: ImportedMembership(members: members, removedIDs: [3],
                                                                                         clusterVersion: "3.4.0"))
        let revision = try source.store.read { try $0.currentRevision() }
        #expect(imported.revision == revision && imported.compactRevision == 20 && imported.consistentIndex == 321)
        #expect(imported.leases == 1 && imported.keyRecords > 0)
        try target.store.read { (reader: StoreReadView) throws -> Void in
            #expect(try reader.currentRevision() == revision)
            #expect(try reader.compactRevision() == 20 && reader.finishedCompactRevision() == 20)
            #expect(try reader.appliedIndex() == 321 && reader.appliedTerm() == 7)
            #expect(try reader.leases() == [StoredLease(id: 0x77, ttlSeconds: 90)])
            #expect(try reader.alarms() == [AlarmMember(memberID: 9, alarm: .noSpace)])
            #expect(try reader.etcdAuthBucket(.authUsers).map(\.key) == [Array("alice".utf8)])
            #expect(try reader.etcdAuthBucket(.authRoles).map(\.value) == [[0x0A, 0x02] + Array("r1".utf8)])
            #expect(try reader.etcdAuthBucket(.auth).map(\.value) == [bigEndianBytes(4)])
            #expect(try reader.members() == members && reader.removedMemberIDs() == [3] && reader.clusterVersion() == "3.4.0")
        }
        // Every read and hash agrees with the source.
        let all = try source.range("", end: "\0")
        #expect(!all.kvs.isEmpty)
        #expect(try target.range("", end: "\0").kvs == all.kvs)
        for at in [Int64(21), 25, 33, revision] {
            let options = RangeOptions(revision: at)
            #expect(try target.range("", end: "\0", options: options).kvs == source.range("", end: "\0", options: options).kvs)
            #expect(try target.store.read { try $0.hashKV(revision: at) } == source.store.read { try $0.hashKV(revision: at) })
        }
        #expect(try target.store.read { try $0.etcdBackendHash() } == source.store.read { try $0.etcdBackendHash() })
        // Leased keys stay attached.
        #expect(try target.store.read { try $0.leasedKeys() }.map(\.key) == source.store.read { try $0.leasedKeys() }.map(\.key))
    }

    @Test func damagedRecordsAreErrors() throws {
        #expect(throws: MVCCError.self) { try KVStore.etcdRevision([1, 2, 3]) }
        #expect(throws: MVCCError.self) { try KVStore.etcdRevision([UInt8](repeating: 0, count: 17)) }
        var tombstone = [UInt8](repeating: 0, count: 18)
        tombstone[8] = 0x5F
        tombstone[17] = 0x74
        tombstone[7] = 9
        let parsed = try KVStore.etcdRevision(tombstone)
        #expect(parsed.isDelete && parsed.main == 9)
        #expect(throws: MVCCError.self) { try KVStore.etcdLease([0x08]) }
        #expect(try KVStore.etcdLease([0x08, 0x05, 0x10, 0x3C, 0x18, 0x0A]) == StoredLease(id: 5, ttlSeconds: 60))
    }
}
