import Bolt
import EtcdProto
import LMDB
import ProtoWire

/// The cluster's membership as the importer decided it: etcd 3.4 keeps the authoritative copy
/// outside the backend (its v2 store), so the caller supplies it.
public struct ImportedMembership: Sendable, Equatable {
    public var members: [Member]
    public var removedIDs: [UInt64]
    public var clusterVersion: String?

    public init(members: [Member], removedIDs: [UInt64], clusterVersion: String?) {
        self.members = members
        self.removedIDs = removedIDs
        self.clusterVersion = clusterVersion
    }
}

/// What an imported etcd backend said about where it stands.
public struct ImportedBackend: Sendable, Equatable {
    /// etcd's `consistent_index`: the last log entry the backend reflects.
    public var consistentIndex: UInt64
    public var revision: Int64
    public var compactRevision: Int64
    public var keyRecords: Int
    public var leases: Int
}

extension KVStore {
    /// Replaces everything this store holds with etcd 3.4's backend in `source` (a bbolt file:
    /// a member's `member/snap/db`, a snapshot, or a database a leader sent), in one write
    /// transaction, then flushes it to disk.
    ///
    /// - `key`: each revision record becomes ours (a delete keeps its key and mod revision);
    ///   the key index is rebuilt from them, as etcd rebuilds its in-memory one (a delete of a
    ///   key with no history is kept in the history table only, as etcd skips it).
    /// - `meta`: `consistent_index` becomes the applied index (at `appliedTerm`); the scheduled
    ///   and finished compaction marks carry over, so an unfinished compaction resumes.
    /// - `lease` (ID, TTL), `alarm` and the auth buckets (users, roles, the enabled flag and
    ///   the auth revision, as etcd wrote them) carry over.
    /// - members and the cluster version are `membership`.
    @discardableResult
    public func importEtcdBackend(_ source: BoltReader, appliedTerm: UInt64,
                                  membership: ImportedMembership) throws -> ImportedBackend {
        func bucket(_ name: String, _ body: ([UInt8], [UInt8]) throws -> Void) throws {
            guard try source.forEach(inBucket: Array(name.utf8), body) else {
                throw MVCCError.corrupt("etcd backend has no \(name) bucket")
            }
        }
        let meta = try Self.etcdMeta(source)
        let scheduled = meta.scheduledCompactRevision, finished = meta.finishedCompactRevision
        var imported = ImportedBackend(consistentIndex: meta.consistentIndex, revision: 1, compactRevision: -1,
                                       keyRecords: 0, leases: 0)
        try write { txn in
            for (_, db, _) in allDatabases { try txn.clear(db) }
            var last: Int64 = 0
            try bucket("key") { key, value in
                let at = try Self.etcdRevision(key)
                let kv: KeyValue
                do { kv = try KeyValue(serializedBytes: value) } catch {
                    throw MVCCError.corrupt("etcd backend: revision \(at.revision): \(error)")
                }
                if at.isDelete {
                    var tombstone = KeyValue()
                    tombstone.key = kv.key
                    tombstone.modRevision = at.main
                    try txn.put(self.kv, at.revision.bytes, tombstone.serializedBytes())
                    if try keyIndex.latest(txn, key: kv.key, atOrBefore: nil) != nil {
                        try keyIndex.append(txn, key: kv.key, entry: IndexEntry(revision: at.revision, isTombstone: true))
                    }
                } else {
                    try txn.put(self.kv, at.revision.bytes, value)
                    try keyIndex.append(txn, key: kv.key,
                                        entry: IndexEntry(revision: at.revision, isTombstone: false, lease: kv.lease))
                }
                last = max(last, at.main)
                imported.keyRecords += 1
            }
            try bucket("lease") { _, value in
                let lease = try Self.etcdLease(value)
                try txn.put(leases, bigEndianBytes(lease.id), bigEndianBytes(lease.ttlSeconds))
                imported.leases += 1
            }
            try bucket("alarm") { key, _ in
                do { _ = try AlarmMember(serializedBytes: key) } catch {
                    throw MVCCError.corrupt("etcd backend: alarm: \(error)")
                }
                try txn.put(alarms, key, [])
            }
            for auth in EtcdAuthBucket.allCases {
                try bucket(auth.name) { key, value in try txn.put(self.auth, [auth.rawValue] + key, value) }
            }
            for member in membership.members {
                try txn.put(members, ClusterKeys.member(member.id), member.serializedBytes())
            }
            for id in membership.removedIDs {
                try txn.put(members, ClusterKeys.removed(id), [])
            }
            if let version = membership.clusterVersion {
                try txn.put(members, ClusterKeys.clusterVersion, Array(version.utf8))
            }
            imported.revision = max(last, finished, 1)
            imported.compactRevision = max(scheduled, finished)
            try setMetaInt(txn, .currentRevision, imported.revision)
            if imported.compactRevision >= 0 { try setMetaInt(txn, .compactRevision, imported.compactRevision) }
            if finished >= 0 { try setMetaInt(txn, .finishedCompactRevision, finished) }
            try setMetaInt(txn, .appliedIndex, Int64(bitPattern: imported.consistentIndex))
            try setMetaInt(txn, .appliedTerm, Int64(bitPattern: appliedTerm))
        }
        try environment.sync()
        return imported
    }

    /// etcd's `meta` bucket: `consistent_index` (0 if absent) and the scheduled and finished
    /// compaction revisions (-1 if absent).
    public static func etcdMeta(_ source: BoltReader) throws
        -> (consistentIndex: UInt64, scheduledCompactRevision: Int64, finishedCompactRevision: Int64) {
        var meta: (consistentIndex: UInt64, scheduledCompactRevision: Int64, finishedCompactRevision: Int64) = (0, -1, -1)
        guard try source.forEach(inBucket: Array("meta".utf8), { key, value in
            switch String(decoding: key, as: UTF8.self) {
            case "consistent_index":
                guard let index = value.withUnsafeBytes({ int64(bigEndian: $0) }) else {
                    throw MVCCError.corrupt("etcd backend: consistent_index of \(value.count) bytes")
                }
                meta.consistentIndex = UInt64(bitPattern: index)
            case "scheduledCompactRev":
                meta.scheduledCompactRevision = try etcdRevision(value).main
            case "finishedCompactRev":
                meta.finishedCompactRevision = try etcdRevision(value).main
            default:
                break
            }
        }) else {
            throw MVCCError.corrupt("etcd backend has no meta bucket")
        }
        return meta
    }

    /// A `key` bucket key (or a compaction mark): main, `_`, sub, and `t` for a delete.
    static func etcdRevision(_ bytes: [UInt8]) throws -> (revision: Revision, isDelete: Bool, main: Int64) {
        guard bytes.count == 17 || (bytes.count == 18 && bytes[17] == 0x74), bytes[8] == 0x5F else {
            throw MVCCError.corrupt("etcd backend: \(bytes.count)-byte revision")
        }
        var main: UInt64 = 0, sub: UInt64 = 0
        for i in 0..<8 {
            main = main << 8 | UInt64(bytes[i])
            sub = sub << 8 | UInt64(bytes[9 + i])
        }
        let revision = Revision(main: Int64(bitPattern: main), sub: Int64(bitPattern: sub))
        return (revision, bytes.count == 18, revision.main)
    }

    /// leasepb.Lease{ID = 1, TTL = 2, RemainingTTL = 3}; the granted TTL is what we keep.
    static func etcdLease(_ bytes: [UInt8]) throws -> StoredLease {
        var lease = StoredLease(id: 0, ttlSeconds: 0)
        do {
            try ProtoReader.reading(bytes) { reader throws(ProtoDecodingError) in
                while let (field, wireType) = try reader.readTag() {
                    switch field {
                    case 1: lease.id = try reader.readInt64(wireType, field: field)
                    case 2: lease.ttlSeconds = try reader.readInt64(wireType, field: field)
                    default: try reader.skip(wireType, field: field)
                    }
                }
            }
        } catch {
            throw MVCCError.corrupt("etcd backend: lease: \(error)")
        }
        return lease
    }
}
