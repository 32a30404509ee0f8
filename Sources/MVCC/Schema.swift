import LMDB

/// Every LMDB database and meta key of the store, declared in one place.
///
/// - `kv`: revision (16 bytes, big-endian main then sub) → encoded mvccpb.KeyValue. A delete
///   stores a tombstone: a KeyValue holding only the key and mod_revision (create_revision 0).
/// - `index`: user key → its history, as sorted fixed-size duplicates (`IndexEntry`, 17
///   bytes). Used for keys no longer than LMDB's maximum key size.
/// - `longKeyBuckets` / `longKeyIndex`: keys longer than LMDB's key limit. A bucket holds the
///   sorted full keys that share their first `maxKeySize` bytes; each key's history lives in
///   `longKeyIndex` under the SHA-256 of the full key. Bucket keys sort exactly where their
///   keys belong, so a merged walk of `index` and the buckets visits keys in order.
/// - `meta`: the fixed keys in `MetaKey`.
/// - `members`, `lease`, `alarm`: the cluster's members and version, the leases and the raised
///   alarms (`ClusterTables.swift`).
/// - `auth`: etcd's three auth buckets as etcd writes them, each key under a one-byte tag
///   (`ClusterTables.swift`).
public enum Schema {
    static let kv = "kv"
    static let index = "index"
    static let longKeyBuckets = "long_key_buckets"
    static let longKeyIndex = "long_key_index"
    static let meta = "meta"
    static let lease = "lease"
    static let members = "members"
    static let alarm = "alarm"
    static let auth = "auth"
    public static let maxDatabases = 16
}

/// Keys of the `meta` database; values are 8-byte big-endian integers unless noted.
public enum MetaKey: String, CaseIterable, Sendable {
    /// The store's current revision (last write transaction that changed something).
    case currentRevision = "current_revision"
    /// The revision of the last accepted compaction; reads below it fail.
    case compactRevision = "compact_revision"
    /// The compaction whose physical removal has finished.
    case finishedCompactRevision = "finished_compact_revision"
    /// Index of the last log entry applied to this store (etcd's consistent index).
    case appliedIndex = "consistent_index"
    /// Raft term of the last applied entry.
    case appliedTerm = "applied_term"

    var bytes: [UInt8] { Array(rawValue.utf8) }

    /// Value of a key that was never written.
    var defaultValue: Int64 {
        switch self {
        case .compactRevision, .finishedCompactRevision: return -1
        case .currentRevision: return 1
        case .appliedIndex, .appliedTerm: return 0
        }
    }
}
