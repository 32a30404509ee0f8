import EtcdProto
import LMDB

/// The tables beside the key space that the log changes too: the cluster's members (and the
/// IDs removed from it), the cluster version, and the leases. Written only inside a
/// `WriteBatch`, so they move with the applied index; read from any transaction.
///
/// Layout (see `Schema`):
/// - `members`: `m` + 8-byte big-endian member ID → encoded etcdserverpb.Member (name and client
///   URLs empty until the member publishes them); `r` + ID → empty, for a removed member;
///   `cluster_version` → the version text, e.g. "3.4.0".
/// - `lease`: 8-byte big-endian lease ID → 8-byte big-endian granted TTL in seconds.
/// - `alarm`: encoded etcdserverpb.AlarmMember → empty (as etcd's alarm bucket).
/// - `auth`: etcd's `auth`, `authUsers` and `authRoles` buckets, each key under its bucket's
///   tag (`EtcdAuthBucket`), values as etcd writes them (authpb.User and authpb.Role).
enum ClusterKeys {
    static let memberPrefix = UInt8(ascii: "m")
    static let removedPrefix = UInt8(ascii: "r")
    static let clusterVersion = Array("cluster_version".utf8)

    static func member(_ id: UInt64) -> [UInt8] { [memberPrefix] + bigEndianBytes(Int64(bitPattern: id)) }
    static func removed(_ id: UInt64) -> [UInt8] { [removedPrefix] + bigEndianBytes(Int64(bitPattern: id)) }
}

/// etcd's auth buckets, and the tag each one's keys carry in the `auth` table.
public enum EtcdAuthBucket: UInt8, CaseIterable, Sendable {
    case auth = 0x61  // "a": authEnabled, authRevision
    case authRoles = 0x72  // "r": role name → authpb.Role
    case authUsers = 0x75  // "u": user name → authpb.User

    public var name: String {
        switch self {
        case .auth: return "auth"
        case .authRoles: return "authRoles"
        case .authUsers: return "authUsers"
        }
    }
}

/// A lease as persisted.
public struct StoredLease: Sendable, Equatable {
    public var id: Int64
    public var ttlSeconds: Int64

    public init(id: Int64, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}

extension StoreReader {
    /// Every current member, in ID order.
    public func members() throws -> [Member] {
        var members: [Member] = []
        try scan(store.members, prefix: ClusterKeys.memberPrefix) { _, value in
            do {
                members.append(try Member(serializedBuffer: value))
            } catch {
                throw MVCCError.corrupt("members table: \(error)")
            }
        }
        return members
    }

    /// IDs of members removed from the cluster (they may never come back).
    public func removedMemberIDs() throws -> [UInt64] {
        var ids: [UInt64] = []
        try scan(store.members, prefix: ClusterKeys.removedPrefix) { key, _ in
            if let id = int64(bigEndian: UnsafeRawBufferPointer(rebasing: key[1...])) { ids.append(UInt64(bitPattern: id)) }
        }
        return ids
    }

    public func clusterVersion() throws -> String? {
        try txn.get(store.members, ClusterKeys.clusterVersion).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every raised alarm.
    public func alarms() throws -> [AlarmMember] {
        var alarms: [AlarmMember] = []
        let cursor = try txn.cursor(store.alarms)
        defer { cursor.close() }
        var entry = try cursor.first()
        while let current = entry {
            do {
                alarms.append(try AlarmMember(serializedBuffer: current.key))
            } catch {
                throw MVCCError.corrupt("alarm table: \(error)")
            }
            entry = try cursor.next()
        }
        return alarms
    }

    public func leases() throws -> [StoredLease] {
        var leases: [StoredLease] = []
        let cursor = try txn.cursor(store.leases)
        defer { cursor.close() }
        var entry = try cursor.first()
        while let current = entry {
            if let id = int64(bigEndian: current.key), let ttl = int64(bigEndian: current.value) {
                leases.append(StoredLease(id: id, ttlSeconds: ttl))
            }
            entry = try cursor.next()
        }
        return leases
    }

    /// One of etcd's auth buckets: its keys and values in key order.
    public func etcdAuthBucket(_ bucket: EtcdAuthBucket) throws -> [(key: [UInt8], value: [UInt8])] {
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try scan(store.auth, prefix: bucket.rawValue) { key, value in
            entries.append((Array(key[1...]), Array(value)))
        }
        return entries
    }

    private func scan(_ db: Database, prefix: UInt8,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        let cursor = try txn.cursor(db)
        defer { cursor.close() }
        var entry = try cursor.seek(atLeast: [prefix])
        while let current = entry, current.key.first == prefix {
            try body(current.key, current.value)
            entry = try cursor.next()
        }
    }
}

extension WriteBatch {
    /// Adds or replaces a member.
    public func putMember(_ member: Member) throws {
        try txn.put(store.members, ClusterKeys.member(member.id), member.serializedBytes())
    }

    /// Removes a member and remembers its ID as removed.
    public func removeMember(_ id: UInt64) throws {
        _ = try txn.delete(store.members, ClusterKeys.member(id))
        try txn.put(store.members, ClusterKeys.removed(id), [])
    }

    public func setClusterVersion(_ version: String) throws {
        try txn.put(store.members, ClusterKeys.clusterVersion, Array(version.utf8))
    }

    public func putAlarm(_ alarm: AlarmMember) throws {
        try txn.put(store.alarms, alarm.serializedBytes(), [])
    }

    public func deleteAlarm(_ alarm: AlarmMember) throws {
        _ = try txn.delete(store.alarms, alarm.serializedBytes())
    }

    public func putLease(_ lease: StoredLease) throws {
        try txn.put(store.leases, bigEndianBytes(lease.id), bigEndianBytes(lease.ttlSeconds))
    }

    public func putEtcdAuth(_ bucket: EtcdAuthBucket, key: [UInt8], value: [UInt8]) throws {
        try txn.put(store.auth, [bucket.rawValue] + key, value)
    }

    public func deleteEtcdAuth(_ bucket: EtcdAuthBucket, key: [UInt8]) throws {
        _ = try txn.delete(store.auth, [bucket.rawValue] + key)
    }

    public func deleteLease(_ id: Int64) throws {
        _ = try txn.delete(store.leases, bigEndianBytes(id))
    }
}

/// Snapshots between members: the leader ships a compacted copy of its LMDB file; a follower
/// replaces its whole store with it in one write transaction (so a crash leaves either the old
/// state or the new one).
extension KVStore {
    /// Every database of the store, with its flags.
    var allDatabases: [(name: String, db: Database, flags: DatabaseFlags)] {
        [(Schema.kv, kv, .create), (Schema.meta, meta, .create),
         (Schema.index, keyIndex.index, [.create, .dupSort, .dupFixed]),
         (Schema.longKeyBuckets, keyIndex.longKeyBuckets, .create),
         (Schema.longKeyIndex, keyIndex.longKeyIndex, [.create, .dupSort, .dupFixed]),
         (Schema.members, members, .create), (Schema.lease, leases, .create), (Schema.alarm, alarms, .create),
         (Schema.auth, auth, .create)]
    }

    /// What a store copy covers: its applied index and term, and its members.
    public static func describeCopy(at path: String, mapSize: Int) throws -> (appliedIndex: UInt64, appliedTerm: UInt64, members: [Member]) {
        let copy = try Environment(path: path, mapSize: mapSize, maxDatabases: Schema.maxDatabases,
                                   flags: [.readOnly, .noLock, .noReadAhead])
        return try copy.read { txn in
            guard let meta = try txn.openExistingDatabase(Schema.meta, flags: []) else {
                throw MVCCError.corrupt("store copy at \(path) has no meta table")
            }
            let index = int64(bigEndian: try txn.get(meta, MetaKey.appliedIndex.bytes)) ?? 0
            let term = int64(bigEndian: try txn.get(meta, MetaKey.appliedTerm.bytes)) ?? 0
            var members: [Member] = []
            if let table = try txn.openExistingDatabase(Schema.members, flags: []) {
                let cursor = try txn.cursor(table)
                defer { cursor.close() }
                var entry = try cursor.seek(atLeast: [ClusterKeys.memberPrefix])
                while let current = entry, current.key.first == ClusterKeys.memberPrefix {
                    members.append(try Member(serializedBuffer: current.value))
                    entry = try cursor.next()
                }
            }
            return (UInt64(bitPattern: index), UInt64(bitPattern: term), members)
        }
    }

    /// Replaces every table with those of the store copy at `path`, in one write transaction,
    /// then flushes to disk.
    public func replaceContents(withCopyAt path: String) throws {
        let source = try Environment(path: path, mapSize: environment.mapSize(), maxDatabases: Schema.maxDatabases,
                                     flags: [.readOnly, .noLock, .noReadAhead])
        try source.read { from in
            try write { to in
                for (name, db, flags) in allDatabases {
                    try to.clear(db)
                    guard let sourceDB = try from.openExistingDatabase(name, flags: flags) else { continue }
                    let isDup = flags.contains(.dupSort)
                    let cursor = try from.cursor(sourceDB)
                    defer { cursor.close() }
                    var entry = try cursor.first()
                    while let current = entry {
                        try to.put(db, current.key, current.value, flags: isDup ? .appendDup : .append)
                        entry = try cursor.next()
                    }
                }
            }
        }
        try environment.sync()
    }
}
