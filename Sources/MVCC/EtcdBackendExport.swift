import Bolt
import Checksum
import EtcdProto
import Foundation
import ProtoJSON
import ProtoWire

extension KVStore {
    /// Exports the store as etcd's backend to a scratch file beside the store (from one read
    /// transaction: writes go on meanwhile) and returns its path; the caller removes it. Scratch
    /// files a crash left behind are removed when the store opens.
    public func writeEtcdSnapshot() throws -> String {
        let scratch = KVStore.snapshotScratchPrefix(of: path) + UUID().uuidString
        do {
            try read { try $0.exportEtcdBackend(to: scratch) }
        } catch {
            unlink(scratch)
            throw error
        }
        return scratch
    }

    static func snapshotScratchPrefix(of path: String) -> String { path + ".snapshot-" }

    static func removeSnapshotScratch(of path: String) {
        let prefix = snapshotScratchPrefix(of: path)
        let directory = (prefix as NSString).deletingLastPathComponent
        let name = (prefix as NSString).lastPathComponent
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasPrefix(name) {
            unlink(directory + "/" + file)
        }
    }
}

extension StoreReader {
    /// Writes the store, as this transaction sees it, as etcd 3.4's bbolt backend at `path`:
    /// the file `etcdctl snapshot save` receives and `snapshot restore` turns into a data dir.
    /// Returns the number of 4 KiB pages written.
    ///
    /// Buckets, in bbolt's (bytewise) order, as etcd writes them:
    /// - `alarm`: encoded AlarmMember → empty;
    /// - `auth`, `authRoles`, `authUsers`: as stored (imported from etcd); `authRevision` 1
    ///   alone when there is nothing;
    /// - `cluster`: `clusterVersion` → "3.4.0";
    /// - `key`: every stored revision (see `forEachEtcdKeyRecord`);
    /// - `lease`: 8-byte big-endian ID → leasepb.Lease{ID, TTL};
    /// - `members`: hex ID → etcd's member JSON; `members_removed`: hex ID → "removed";
    /// - `meta`: `consistent_index` (the applied index), and the scheduled and finished
    ///   compaction revisions as 17-byte revisions once there was a compaction.
    @discardableResult
    public func exportEtcdBackend(to path: String) throws -> UInt64 {
        let writer = try BoltWriter(path: path)
        try writeEtcdBuckets(to: writer)
        return try writer.finish()
    }

    /// etcd 3.4's Maintenance.Hash over this store: a CRC-32C over every bucket's name, keys and
    /// values in order, leaving out `meta`'s `consistent_index`.
    public func etcdBackendHash() throws -> UInt32 {
        let hasher = BucketHasher()
        try writeEtcdBuckets(to: hasher)
        return hasher.crc
    }

    func writeEtcdBuckets(to sink: some EtcdBucketSink) throws {
        func bucket(_ name: String, _ entries: [(key: [UInt8], value: [UInt8])]) throws {
            try sink.beginBucket(Array(name.utf8))
            for entry in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                try sink.append(key: entry.key, value: entry.value)
            }
            try sink.endBucket()
        }
        try bucket("alarm", try alarms().map { (key: $0.serializedBytes(), value: []) })
        // A store that never held etcd's auth state has auth off at revision 1, as etcd starts.
        let auth = try etcdAuthBucket(.auth)
        try bucket("auth", auth.isEmpty ? [(Array("authRevision".utf8), bigEndianBytes(1))] : auth)
        try bucket("authRoles", try etcdAuthBucket(.authRoles))
        try bucket("authUsers", try etcdAuthBucket(.authUsers))
        try bucket("cluster", try clusterVersion().map { [(Array("clusterVersion".utf8), Array($0.utf8))] } ?? [])
        try sink.beginBucket(Array("key".utf8))
        try forEachEtcdKeyRecord { _, key, value in try sink.append(key: Array(key), value: Array(value)) }
        try sink.endBucket()
        try bucket("lease", try leases().map { lease in
            (key: bigEndianBytes(lease.id), value: EtcdBackendFormat.lease(id: lease.id, ttl: lease.ttlSeconds))
        })
        try bucket("members", try members().map { (key: Array(String($0.id, radix: 16).utf8), value: Array($0.etcdJSON().utf8)) })
        try bucket("members_removed", try removedMemberIDs().map { (key: Array(String($0, radix: 16).utf8), value: Array("removed".utf8)) })
        var meta: [(key: [UInt8], value: [UInt8])] = [(Array("consistent_index".utf8), bigEndianBytes(Int64(bitPattern: try appliedIndex())))]
        let scheduled = try compactRevision(), finished = try finishedCompactRevision()
        if scheduled >= 0 { meta.append((Array("scheduledCompactRev".utf8), EtcdBackendFormat.revision(scheduled))) }
        if finished >= 0 { meta.append((Array("finishedCompactRev".utf8), EtcdBackendFormat.revision(finished))) }
        try bucket("meta", meta)
    }
}

/// Where the etcd buckets go: a bbolt file, or a hash.
protocol EtcdBucketSink {
    func beginBucket(_ name: [UInt8]) throws
    func append(key: [UInt8], value: [UInt8]) throws
    func endBucket() throws
}

extension BoltWriter: EtcdBucketSink {}

/// etcd's backend hash: bucket names, keys and values, all but (meta, consistent_index).
final class BucketHasher: EtcdBucketSink {
    private(set) var crc: UInt32 = 0
    private var bucket: [UInt8] = []

    func beginBucket(_ name: [UInt8]) {
        bucket = name
        crc = CRC32C.checksum(name, initial: crc)
    }

    func append(key: [UInt8], value: [UInt8]) {
        if bucket == Array("meta".utf8) && key == Array("consistent_index".utf8) { return }
        crc = CRC32C.checksum(key, initial: crc)
        crc = CRC32C.checksum(value, initial: crc)
    }

    func endBucket() {}
}

/// The byte formats of etcd 3.4's backend buckets.
enum EtcdBackendFormat {
    /// A revision as etcd's bucket keys and compaction marks hold it: main, `_`, sub 0.
    static func revision(_ main: Int64) -> [UInt8] {
        bigEndianBytes(main) + [0x5F] + bigEndianBytes(0)
    }

    /// leasepb.Lease{ID = 1, TTL = 2} (RemainingTTL = 3 is only written by checkpoints).
    static func lease(id: Int64, ttl: Int64) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeInt64(1, id)
        writer.writeInt64(2, ttl)
        return writer.bytes
    }
}
