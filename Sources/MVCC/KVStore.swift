#if canImport(Glibc)
import Glibc
#endif
import EtcdProto
import Foundation
import Synchronization
import LMDB
import ProtoWire

public enum MVCCError: Error, Equatable, Sendable {
    /// The requested revision is older than the last compaction.
    case compacted
    /// The requested revision has not happened yet.
    case futureRevision
    /// Stored bytes that do not decode: the data file is damaged.
    case corrupt(String)
}

public struct RangeOptions: Sendable {
    /// At most this many keys are returned; 0 means no limit. `count` is unaffected.
    public var limit: Int
    /// Read as of this main revision; 0 means the current one.
    public var revision: Int64
    /// Only count the keys.
    public var countOnly: Bool

    public init(limit: Int = 0, revision: Int64 = 0, countOnly: Bool = false) {
        self.limit = limit
        self.revision = revision
        self.countOnly = countOnly
    }
}

public struct EncodedRangeResult: Sendable {
    /// Encoded mvccpb.KeyValue messages, in key order.
    public var kvs: [[UInt8]]
    public var count: Int
    public var currentRevision: Int64
}

public struct RangeResult: Sendable {
    public var kvs: [KeyValue]
    /// Number of keys in the range at the revision read, regardless of `limit`.
    public var count: Int
    /// The store's current revision when the read ran.
    public var currentRevision: Int64
}

/// The multi-version key-value store on LMDB.
///
/// Reads run in short read transactions on any thread. Writes happen only through
/// `writeBatch`, which callers run on one thread: each batch is one LMDB write transaction
/// holding any number of store transactions (each one main revision) and the applied index.
public final class KVStore: @unchecked Sendable {
    /// The LMDB environment serving now; a defragmentation replaces it with a compact copy.
    public var environment: Environment { current.withLock { $0 } }
    private let current: Mutex<Environment>
    /// Held by every writer and by a defragmentation's switch-over, so that no write lands in
    /// an environment being replaced.
    let writers = NSLock()
    /// One defragmentation at a time.
    let defragmenting = NSLock()
    let path: String
    static let environmentFlags: EnvironmentFlags = [.noSync, .noReadAhead]
    let kv: Database
    let meta: Database
    let keyIndex: KeyIndex
    let members: Database
    let leases: Database
    let alarms: Database
    let auth: Database

    /// Opens (creating if needed) the store in the LMDB file at `path`.
    public init(path: String, mapSize: Int) throws {
        self.path = path
        // A defragmentation that stopped before its switch-over leaves its copy behind.
        KVStore.removeDefragmentCopy(of: path)
        KVStore.removeSnapshotScratch(of: path)
        let environment = try Environment(path: path, mapSize: mapSize, maxDatabases: Schema.maxDatabases,
                                          flags: KVStore.environmentFlags)
        current = Mutex(environment)
        kv = try environment.openDatabase(Schema.kv, flags: .create)
        meta = try environment.openDatabase(Schema.meta, flags: .create)
        keyIndex = KeyIndex(
            index: try environment.openDatabase(Schema.index, flags: [.create, .dupSort, .dupFixed]),
            longKeyBuckets: try environment.openDatabase(Schema.longKeyBuckets, flags: .create),
            longKeyIndex: try environment.openDatabase(Schema.longKeyIndex, flags: [.create, .dupSort, .dupFixed]),
            maxKeySize: environment.maxKeySize)
        members = try environment.openDatabase(Schema.members, flags: .create)
        leases = try environment.openDatabase(Schema.lease, flags: .create)
        alarms = try environment.openDatabase(Schema.alarm, flags: .create)
        auth = try environment.openDatabase(Schema.auth, flags: .create)
        try environment.write { txn in
            if try txn.get(meta, MetaKey.currentRevision.bytes) == nil {
                // A fresh store starts at revision 1, as etcd's does.
                try txn.put(meta, MetaKey.currentRevision.bytes, bigEndianBytes(1))
            }
        }
    }

    public func read<T>(_ body: (StoreReadView) throws -> T) throws -> T {
        try environment.read { txn in try body(StoreReader(store: self, txn: txn)) }
    }

    /// Runs one LMDB write transaction; see `WriteBatch`.
    public func writeBatch<T>(_ body: (WriteBatch) throws -> T) throws -> T {
        try write { txn in try body(WriteBatch(store: self, txn: txn)) }
    }

    /// New transactions use `fresh` from now on (a defragmentation's switch-over).
    func replaceEnvironment(with fresh: Environment) {
        current.withLock { $0 = fresh }
    }

    /// Every write of the store goes through here (see `writers`).
    func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        writers.lock()
        defer { writers.unlock() }
        return try environment.write(body)
    }

    func metaInt(_ txn: some Transaction, _ key: MetaKey) throws -> Int64 {
        try int64(bigEndian: txn.get(meta, key.bytes)) ?? key.defaultValue
    }

    func setMetaInt(_ txn: WriteTransaction, _ key: MetaKey, _ value: Int64) throws {
        try txn.put(meta, key.bytes, bigEndianBytes(value))
    }

    func keyValue(_ txn: some Transaction, at revision: Revision) throws -> KeyValue {
        guard let bytes = try txn.get(kv, revision.bytes) else {
            throw MVCCError.corrupt("index names revision \(revision) but the kv database lacks it")
        }
        do {
            return try KeyValue(serializedBuffer: bytes)
        } catch {
            throw MVCCError.corrupt("kv at revision \(revision): \(error)")
        }
    }
}

/// The store as a read transaction sees it, for modules that do not deal with LMDB.
public typealias StoreReadView = StoreReader<ReadTransaction>

/// Read operations over any transaction (a read transaction, or the write transaction while
/// applying).
public struct StoreReader<Txn: Transaction> {
    let store: KVStore
    public let txn: Txn

    public func currentRevision() throws -> Int64 { try store.metaInt(txn, .currentRevision) }
    /// The last accepted compaction; -1 for a store never compacted (so compacting at 0 works
    /// once, as in etcd).
    public func compactRevision() throws -> Int64 { try store.metaInt(txn, .compactRevision) }
    public func finishedCompactRevision() throws -> Int64 { try store.metaInt(txn, .finishedCompactRevision) }
    public func appliedIndex() throws -> UInt64 { UInt64(bitPattern: try store.metaInt(txn, .appliedIndex)) }
    public func appliedTerm() throws -> UInt64 { UInt64(bitPattern: try store.metaInt(txn, .appliedTerm)) }

    public func range(_ range: KeyRange, options: RangeOptions = RangeOptions()) throws -> RangeResult {
        try self.range(range, options: options, current: currentRevision())
    }

    /// Reads `range` as of `options.revision`, given the current revision `current`.
    func range(_ range: KeyRange, options: RangeOptions, current: Int64) throws -> RangeResult {
        var kvs: [KeyValue] = []
        let (count, revision) = try walkLive(range, options: options, current: current) { bytes, at in
            do {
                kvs.append(try KeyValue(serializedBuffer: bytes))
            } catch {
                throw MVCCError.corrupt("kv at revision \(at): \(error)")
            }
        }
        return RangeResult(kvs: kvs, count: count, currentRevision: revision)
    }

    /// Like `range`, but returns each key-value as its stored encoding (an encoded
    /// mvccpb.KeyValue), for responses that pass values through unchanged.
    public func rangeEncoded(_ range: KeyRange, options: RangeOptions = RangeOptions()) throws -> EncodedRangeResult {
        var kvs: [[UInt8]] = []
        let (count, revision) = try walkLive(range, options: options, current: try currentRevision()) { bytes, _ in
            kvs.append(Array(bytes))
        }
        return EncodedRangeResult(kvs: kvs, count: count, currentRevision: revision)
    }

    /// Counts the live keys of `range` at the requested revision and hands the stored bytes of
    /// the first `options.limit` (all when 0) to `take`. Returns the count and `current`.
    private func walkLive(_ range: KeyRange, options: RangeOptions, current: Int64,
                          _ take: (UnsafeRawBufferPointer, Revision) throws -> Void) throws -> (Int, Int64) {
        if options.revision > current { throw MVCCError.futureRevision }
        let revision = options.revision <= 0 ? current : options.revision
        if revision < (try compactRevision()) { throw MVCCError.compacted }
        var count = 0
        var taken = 0
        let readingLatest = revision >= current
        try store.keyIndex.walk(txn, range: range, atOrBefore: readingLatest ? nil : revision) { _, entry in
            guard !entry.isTombstone else { return true }
            count += 1
            if !options.countOnly && (options.limit <= 0 || taken < options.limit) {
                guard let bytes = try txn.get(store.kv, entry.revision.bytes) else {
                    throw MVCCError.corrupt("index names revision \(entry.revision) but the kv database lacks it")
                }
                try take(bytes, entry.revision)
                taken += 1
            }
            return true
        }
        return (count, current)
    }

    /// The live value of `key` as of `revision` (nil: current), or nil if absent or deleted.
    public func get(_ key: [UInt8], atOrBefore revision: Int64? = nil) throws -> KeyValue? {
        guard let entry = try store.keyIndex.latest(txn, key: key, atOrBefore: revision),
              !entry.isTombstone else { return nil }
        return try store.keyValue(txn, at: entry.revision)
    }

    /// Every live key attached to a lease, with the lease (rebuilding attachments at start-up).
    public func leasedKeys() throws -> [(key: [UInt8], lease: Int64)] {
        var attached: [(key: [UInt8], lease: Int64)] = []
        try store.keyIndex.walk(txn, range: .from([]), atOrBefore: nil) { key, entry in
            if !entry.isTombstone && entry.lease != 0 { attached.append((Array(key), entry.lease)) }
            return true
        }
        return attached
    }

    /// Every change with main revision in `[from, through]`, in revision order (watch replay).
    public func changes(from: Int64, through: Int64, _ body: (Change) throws -> Bool) throws {
        let cursor = try txn.cursor(store.kv)
        defer { cursor.close() }
        var position = try cursor.seek(atLeast: Revision(main: from).bytes)
        while let current = position, let revision = Revision(current.key), revision.main <= through {
            let value: KeyValue
            do { value = try KeyValue(serializedBuffer: current.value) } catch {
                throw MVCCError.corrupt("kv at revision \(revision): \(error)")
            }
            let change = Change(kind: value.createRevision == 0 ? .delete : .put, kv: value, previous: nil)
            if try !body(change) { return }
            position = try cursor.next()
        }
    }
}

/// One change made by a store transaction.
public struct Change: Sendable, Equatable {
    public enum Kind: Sendable { case put, delete }
    public var kind: Kind
    /// For a put, the new value; for a delete, the key with mod_revision set to the delete's
    /// revision.
    public var kv: KeyValue
    /// The key's live value just before the change, when the writer knew it (always for changes
    /// made by store transactions; nil for changes replayed from history).
    public var previous: KeyValue?

    public init(kind: Kind, kv: KeyValue, previous: KeyValue?) {
        self.kind = kind
        self.kv = kv
        self.previous = previous
    }
}
