import EtcdProto
import LMDB

/// One LMDB write transaction of the store. It may hold many store transactions (each gets
/// the next main revision) plus the applied log index; everything commits together, so the
/// store and its applied index never disagree.
public struct WriteBatch {
    let store: KVStore
    public let txn: WriteTransaction

    public var reader: StoreReader<WriteTransaction> { StoreReader(store: store, txn: txn) }

    /// Runs one store transaction. Its changes get main revision current+1 and sub revisions in
    /// order; if it changes nothing, the revision does not move.
    public func transaction<T>(_ body: (inout StoreWriter) throws -> T) throws -> TransactionResult<T> {
        let begin = try store.metaInt(txn, .currentRevision)
        var writer = StoreWriter(store: store, txn: txn, beginRevision: begin)
        let result = try body(&writer)
        if !writer.changes.isEmpty {
            try store.setMetaInt(txn, .currentRevision, writer.revision)
        }
        return TransactionResult(result: result, changes: writer.changes)
    }

    public struct TransactionResult<T> {
        public var result: T
        /// The transaction's changes, in sub-revision order.
        public var changes: [Change]
    }

    public func setApplied(index: UInt64, term: UInt64) throws {
        try store.setMetaInt(txn, .appliedIndex, Int64(bitPattern: index))
        try store.setMetaInt(txn, .appliedTerm, Int64(bitPattern: term))
    }

    /// Records a compaction at `revision`: reads below it fail from now on. The physical
    /// removal of old revisions follows through `compactStep`.
    public func compact(to revision: Int64) throws {
        let current = try store.metaInt(txn, .currentRevision)
        if revision <= (try store.metaInt(txn, .compactRevision)) { throw MVCCError.compacted }
        if revision > current { throw MVCCError.futureRevision }
        try store.setMetaInt(txn, .compactRevision, revision)
    }

    /// Whether an accepted compaction still has old revisions to remove.
    public func compactionPending() throws -> Bool {
        try store.metaInt(txn, .compactRevision) > store.metaInt(txn, .finishedCompactRevision)
    }

    /// Removes superseded revisions for up to `keyLimit` keys at or after `start`. Returns where
    /// to continue, or nil when the compaction is complete.
    ///
    /// For each key, history older than the compaction revision goes, except the newest entry
    /// at or before it, which stays unless it is a delete.
    public func compactStep(from start: [UInt8], keyLimit: Int) throws -> [UInt8]? {
        let revision = try store.metaInt(txn, .compactRevision)
        var keys: [[UInt8]] = []
        try store.keyIndex.walk(txn, range: .from(start), atOrBefore: nil) { key, _ in
            keys.append(Array(key))
            return keys.count < keyLimit
        }
        for key in keys {
            let history = try store.keyIndex.history(txn, key: key)
            guard let keepIndex = history.lastIndex(where: { $0.revision.main <= revision }) else { continue }
            var removed = Array(history[..<keepIndex])
            if history[keepIndex].isTombstone { removed.append(history[keepIndex]) }
            guard !removed.isEmpty else { continue }
            for entry in removed {
                try txn.delete(store.kv, entry.revision.bytes)
            }
            try store.keyIndex.remove(txn, key: key, entries: removed)
        }
        if keys.count < keyLimit {
            try store.setMetaInt(txn, .finishedCompactRevision, revision)
            return nil
        }
        return keys[keys.count - 1] + [0]
    }
}

/// Writes of one store transaction. Reads through it see the transaction's own writes.
public struct StoreWriter {
    let store: KVStore
    public let txn: WriteTransaction
    /// The store's revision before this transaction.
    public let beginRevision: Int64
    public private(set) var changes: [Change] = []

    init(store: KVStore, txn: WriteTransaction, beginRevision: Int64) {
        self.store = store
        self.txn = txn
        self.beginRevision = beginRevision
    }

    /// The main revision this transaction's changes get.
    public var revision: Int64 { beginRevision + 1 }

    /// The store's revision as seen inside the transaction so far.
    public var currentRevision: Int64 { changes.isEmpty ? beginRevision : revision }

    var reader: StoreReader<WriteTransaction> { StoreReader(store: store, txn: txn) }

    public func range(_ range: KeyRange, options: RangeOptions = RangeOptions()) throws -> RangeResult {
        try reader.range(range, options: options, current: currentRevision)
    }

    public func get(_ key: [UInt8]) throws -> KeyValue? { try reader.get(key) }

    public func compactRevision() throws -> Int64 { try reader.compactRevision() }

    /// Stores `value` under `key`; returns the previous live value, if any.
    @discardableResult
    public mutating func put(key: [UInt8], value: [UInt8], lease: Int64) throws -> KeyValue? {
        let previous = try reader.get(key)
        let at = Revision(main: revision, sub: Int64(changes.count))
        let kv = KeyValue(key: key, createRevision: previous?.createRevision ?? at.main, modRevision: at.main,
                          version: (previous?.version ?? 0) + 1, value: value, lease: lease)
        try txn.put(store.kv, at.bytes, kv.serializedBytes())
        try store.keyIndex.append(txn, key: key, entry: IndexEntry(revision: at, isTombstone: false, lease: lease))
        changes.append(Change(kind: .put, kv: kv, previous: previous))
        return previous
    }

    /// Deletes every live key in `range`; returns their values before the delete, in key order.
    @discardableResult
    public mutating func deleteRange(_ range: KeyRange) throws -> [KeyValue] {
        let live = try self.range(range).kvs
        for previous in live {
            try delete(previous)
        }
        return live
    }

    private mutating func delete(_ previous: KeyValue) throws {
        let key = previous.key
        let at = Revision(main: revision, sub: Int64(changes.count))
        var tombstone = KeyValue()
        tombstone.key = key
        tombstone.modRevision = at.main
        try txn.put(store.kv, at.bytes, tombstone.serializedBytes())
        try store.keyIndex.append(txn, key: key, entry: IndexEntry(revision: at, isTombstone: true))
        changes.append(Change(kind: .delete, kv: tombstone, previous: previous))
    }
}
