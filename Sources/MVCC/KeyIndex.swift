#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import LMDB

/// Which keys a range covers, from etcd's (key, range_end) pair.
public enum KeyRange: Equatable, Sendable {
    /// Exactly one key (empty range_end).
    case single([UInt8])
    /// `[start, end)`.
    case bounded(start: [UInt8], end: [UInt8])
    /// Every key `>= start` (range_end "\0").
    case from([UInt8])

    public init(key: [UInt8], rangeEnd: [UInt8]) {
        if rangeEnd.isEmpty {
            self = .single(key)
        } else if rangeEnd == [0] {
            self = .from(key)
        } else {
            self = .bounded(start: key, end: rangeEnd)
        }
    }

    public var start: [UInt8] {
        switch self {
        case .single(let key), .from(let key), .bounded(let key, _): return key
        }
    }

    /// True if `key` is past the end of the range (callers only pass keys `>= start`).
    func isPastEnd(_ key: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .single(let only): return compareBytes(key, only) != 0
        case .from: return false
        case .bounded(_, let end): return compareBytes(key, end) >= 0
        }
    }

    public func contains(_ key: [UInt8]) -> Bool {
        switch self {
        case .single(let only): return key == only
        case .from(let start): return !key.lexicographicallyPrecedes(start)
        case .bounded(let start, let end):
            return !key.lexicographicallyPrecedes(start) && key.lexicographicallyPrecedes(end)
        }
    }
}

/// Three-way byte comparison, shorter prefix first (the order LMDB and etcd use).
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
    b.withUnsafeBytes { b in compareBytes(a, b) }
}

@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0, let pa = a.baseAddress, let pb = b.baseAddress {
        let c = memcmp(pa, pb, common)
        if c != 0 { return c < 0 ? -1 : 1 }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// The per-key revision history, kept in LMDB so that start-up does not rebuild it.
///
/// A key's history is a sorted list of `IndexEntry` duplicates. Short keys (at most LMDB's
/// maximum key size) are stored under themselves in `index`; longer keys under the SHA-256 of
/// the key in `longKeyIndex`, and listed in a bucket of `longKeyBuckets` named by their first
/// `maxKeySize` bytes so that range walks can find them in key order.
struct KeyIndex {
    let index: Database
    let longKeyBuckets: Database
    let longKeyIndex: Database
    let maxKeySize: Int

    /// The database and LMDB key that hold `key`'s history.
    func location(of key: [UInt8]) -> (db: Database, lmdbKey: [UInt8]) {
        if key.count <= maxKeySize { return (index, key) }
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        key.withUnsafeBufferPointer { k in
            digest.withUnsafeMutableBufferPointer { d in _ = SHA256(k.baseAddress, k.count, d.baseAddress) }
        }
        return (longKeyIndex, digest)
    }

    /// The newest entry of `key` at or before main revision `revision` (nil: newest overall).
    func latest(_ txn: some Transaction, key: [UInt8], atOrBefore revision: Int64?) throws -> IndexEntry? {
        let (db, lmdbKey) = location(of: key)
        let cursor = try txn.cursor(db)
        defer { cursor.close() }
        guard try lmdbKey.withUnsafeBytes({ try cursor.seek(exactly: $0) }) != nil else { return nil }
        return try latestAtCursor(cursor, key: lmdbKey, atOrBefore: revision)
    }

    /// With `cursor` on some duplicate of `lmdbKey`, finds the newest entry at or before
    /// `revision`. Leaves the cursor on a duplicate of the same key.
    private func latestAtCursor(_ cursor: Cursor, key lmdbKey: UnsafeRawBufferPointer,
                                atOrBefore revision: Int64?) throws -> IndexEntry? {
        guard let revision, revision < Int64.max else {
            return try cursor.lastDuplicate().flatMap { IndexEntry($0.value) }
        }
        let bound = IndexEntry.lowerBound(main: revision + 1)
        let found = try bound.withUnsafeBytes { try cursor.seek(key: lmdbKey, duplicateAtLeast: $0) }
        if found != nil {
            // The cursor is on the first entry after `revision`; the one before it, if any, is ours.
            guard let previous = try cursor.previousDuplicate() else { return nil }
            return IndexEntry(previous.value)
        }
        // Every entry is at or before `revision`: the last one is the newest.
        guard try cursor.seek(exactly: lmdbKey) != nil else { return nil }
        return try cursor.lastDuplicate().flatMap { IndexEntry($0.value) }
    }

    private func latestAtCursor(_ cursor: Cursor, key lmdbKey: [UInt8],
                                atOrBefore revision: Int64?) throws -> IndexEntry? {
        try lmdbKey.withUnsafeBytes { try latestAtCursor(cursor, key: $0, atOrBefore: revision) }
    }

    /// Every entry of `key`, oldest first.
    func history(_ txn: some Transaction, key: [UInt8]) throws -> [IndexEntry] {
        let (db, lmdbKey) = location(of: key)
        let cursor = try txn.cursor(db)
        defer { cursor.close() }
        var entries: [IndexEntry] = []
        var position = try lmdbKey.withUnsafeBytes { try cursor.seek(exactly: $0) }
        while let current = position {
            if let entry = IndexEntry(current.value) { entries.append(entry) }
            position = try cursor.nextDuplicate()
        }
        return entries
    }

    /// Visits, in key order, every key in `range` that has an entry at or before `revision`,
    /// with that newest entry (which may be a tombstone). `body` returns false to stop.
    func walk(_ txn: some Transaction, range: KeyRange, atOrBefore revision: Int64?,
              _ body: (UnsafeRawBufferPointer, IndexEntry) throws -> Bool) throws {
        if case .single(let key) = range {
            if let entry = try latest(txn, key: key, atOrBefore: revision) {
                _ = try key.withUnsafeBytes { try body($0, entry) }
            }
            return
        }
        let hasLongKeys = try txn.entryCount(longKeyBuckets) > 0
        let cursor = try txn.cursor(index)
        defer { cursor.close() }
        var short = try cursor.seek(atLeast: range.start)
        var long = hasLongKeys
            ? try LongKeyWalker(txn, buckets: longKeyBuckets, from: range.start, maxKeySize: maxKeySize) : nil
        defer { long?.close() }
        while true {
            let shortKey = short.map(\.key).flatMap { range.isPastEnd($0) ? nil : $0 }
            let longKey = long?.currentKey.flatMap { key in
                key.withUnsafeBytes { range.isPastEnd($0) } ? nil : key
            }
            if let shortKey, longKey == nil || compareBytes(shortKey, longKey!) < 0 {
                if let entry = try latestAtCursor(cursor, key: shortKey, atOrBefore: revision),
                   try !body(shortKey, entry) {
                    return
                }
                short = try cursor.nextKey()
            } else if let longKey {
                if let entry = try latest(txn, key: longKey, atOrBefore: revision),
                   try !longKey.withUnsafeBytes({ try body($0, entry) }) {
                    return
                }
                try long?.advance()
            } else {
                return
            }
        }
    }

    /// Appends an entry to `key`'s history; entries arrive in increasing revision order.
    func append(_ txn: WriteTransaction, key: [UInt8], entry: IndexEntry) throws {
        let (db, lmdbKey) = location(of: key)
        if db == longKeyIndex, try txn.get(db, lmdbKey) == nil {
            try addToBucket(txn, key: key)
        }
        try txn.put(db, lmdbKey, entry.bytes, flags: .appendDup)
    }

    /// Removes the given entries of `key`'s history; drops the key when none remain.
    func remove(_ txn: WriteTransaction, key: [UInt8], entries: [IndexEntry]) throws {
        let (db, lmdbKey) = location(of: key)
        for entry in entries {
            try txn.delete(db, lmdbKey, value: entry.bytes)
        }
        if db == longKeyIndex, try txn.get(db, lmdbKey) == nil {
            try removeFromBucket(txn, key: key)
        }
    }

    private func bucketName(_ key: [UInt8]) -> [UInt8] { Array(key[0..<maxKeySize]) }

    private func addToBucket(_ txn: WriteTransaction, key: [UInt8]) throws {
        let name = bucketName(key)
        var keys = try txn.get(longKeyBuckets, name).map(LongKeyBucket.decode) ?? []
        let position = keys.firstIndex { !$0.lexicographicallyPrecedes(key) } ?? keys.count
        guard position == keys.count || keys[position] != key else { return }
        keys.insert(key, at: position)
        try txn.put(longKeyBuckets, name, LongKeyBucket.encode(keys))
    }

    private func removeFromBucket(_ txn: WriteTransaction, key: [UInt8]) throws {
        let name = bucketName(key)
        var keys = try txn.get(longKeyBuckets, name).map(LongKeyBucket.decode) ?? []
        keys.removeAll { $0 == key }
        if keys.isEmpty {
            try txn.delete(longKeyBuckets, name)
        } else {
            try txn.put(longKeyBuckets, name, LongKeyBucket.encode(keys))
        }
    }
}

/// A bucket's value: the sorted full keys, each as a 4-byte big-endian length and the bytes.
enum LongKeyBucket {
    static func encode(_ keys: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for key in keys {
            let n = UInt32(key.count)
            out += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
                    UInt8(truncatingIfNeeded: n)]
            out += key
        }
        return out
    }

    static func decode(_ buffer: UnsafeRawBufferPointer) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        var offset = 0
        while offset + 4 <= buffer.count {
            let n = Int(buffer[offset]) << 24 | Int(buffer[offset + 1]) << 16 | Int(buffer[offset + 2]) << 8
                | Int(buffer[offset + 3])
            offset += 4
            guard offset + n <= buffer.count else { break }
            keys.append(Array(buffer[offset..<(offset + n)]))
            offset += n
        }
        return keys
    }
}

/// Walks the long keys at or after a start key, in order, bucket by bucket.
private struct LongKeyWalker {
    let cursor: Cursor
    var pending: [[UInt8]] = []
    var pendingIndex = 0

    init(_ txn: some Transaction, buckets: Database, from start: [UInt8], maxKeySize: Int) throws {
        cursor = try txn.cursor(buckets)
        // Bucket names are the first `maxKeySize` bytes of their keys, so the first bucket that
        // can hold a key >= start is the first one >= start's prefix of that length.
        try load(try cursor.seek(atLeast: Array(start.prefix(maxKeySize))), skippingBefore: start)
    }

    func close() { cursor.close() }

    var currentKey: [UInt8]? { pendingIndex < pending.count ? pending[pendingIndex] : nil }

    mutating func advance() throws {
        pendingIndex += 1
        if pendingIndex >= pending.count {
            try load(try cursor.next(), skippingBefore: nil)
        }
    }

    private mutating func load(_ entry: Cursor.Entry?, skippingBefore start: [UInt8]?) throws {
        var entry = entry
        while let current = entry {
            pending = LongKeyBucket.decode(current.value).filter { start == nil || !$0.lexicographicallyPrecedes(start!) }
            pendingIndex = 0
            if !pending.isEmpty { return }
            entry = try cursor.next()
        }
        pending = []
        pendingIndex = 0
    }
}
