import Checksum
import LMDB

/// The answer to HashKV: a CRC-32C over the key history as etcd 3.4 stores it, and the
/// revisions it was taken at.
public struct KeyHistoryHash: Sendable, Equatable {
    public var hash: UInt32
    public var currentRevision: Int64
    public var compactRevision: Int64
}

extension StoreReader {
    /// etcd 3.4's HashKV(revision) over this store: the same bytes in the same order, so members
    /// of a mixed cluster agree.
    ///
    /// etcd hashes its `key` bucket: the bucket name, then for each stored revision up to
    /// `revision`, the bucket key (main, `_`, sub, and `t` for a delete) and the value (an
    /// mvccpb.KeyValue; only the key for a delete). Revisions at or below the compaction are
    /// hashed only if they are the ones each key's history keeps at `revision` (a delete never
    /// is), unless no key keeps any.
    public func hashKV(revision requested: Int64) throws -> KeyHistoryHash {
        let compact = try compactRevision()
        let current = try currentRevision()
        if requested > 0 && requested <= compact { throw MVCCError.compacted }
        if requested > current { throw MVCCError.futureRevision }
        let revision = requested == 0 ? current : requested

        var keptAtOrBelowCompaction = Set<Revision>()
        var keepsAny = false
        try store.keyIndex.walk(txn, range: .from([]), atOrBefore: nil) { key, _ in
            let history = KeyHistoryHash.compacted(try store.keyIndex.history(txn, key: Array(key)), at: compact)
            if let kept = KeyHistoryHash.kept(history, at: revision) {
                keepsAny = true
                if kept.main <= compact { keptAtOrBelowCompaction.insert(kept) }
            }
            return true
        }

        var crc = CRC32C.checksum(Array("key".utf8))
        try forEachEtcdKeyRecord(through: revision) { at, key, value in
            if at.main > compact || !keepsAny || keptAtOrBelowCompaction.contains(at) {
                crc = CRC32C.checksum(key, initial: crc)
                crc = CRC32C.checksum(value, initial: crc)
            }
        }
        return KeyHistoryHash(hash: crc, currentRevision: current, compactRevision: compact)
    }
}

extension StoreReader {
    /// Every stored revision up to `last` (all when nil), in order, as etcd 3.4's `key` bucket
    /// holds it: the key is the revision (main, `_`, sub) with `t` appended for a delete; the
    /// value is the mvccpb.KeyValue, only the key for a delete.
    func forEachEtcdKeyRecord(through last: Int64? = nil,
                              _ body: (Revision, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        var bucketKey = [UInt8](repeating: 0, count: 18)
        bucketKey[8] = 0x5F  // "_"
        bucketKey[17] = 0x74  // "t", for deletes only
        let cursor = try txn.cursor(store.kv)
        defer { cursor.close() }
        var position = try cursor.first()
        while let entry = position, let at = Revision(entry.key), at.main <= last ?? .max {
            guard let keyEnd = KeyHistoryHash.endOfKeyField(entry.value) else {
                throw MVCCError.corrupt("kv at revision \(at): no key field")
            }
            // A put always carries create_revision (field 2) right after the key; a delete's
            // record does not, and etcd stores only its key.
            let isDelete = keyEnd == entry.value.count || entry.value[keyEnd] != 0x10
            putBigEndian(UInt64(bitPattern: at.main), into: &bucketKey, at: 0)
            putBigEndian(UInt64(bitPattern: at.sub), into: &bucketKey, at: 9)
            try bucketKey.withUnsafeBytes { key in
                try body(at, UnsafeRawBufferPointer(rebasing: key[0..<(isDelete ? 18 : 17)]),
                         isDelete ? UnsafeRawBufferPointer(rebasing: entry.value[0..<keyEnd]) : entry.value)
            }
            position = try cursor.next()
        }
    }
}

extension KeyHistoryHash {
    /// A key's history as etcd's in-memory index holds it once a compaction at `compact` was
    /// accepted: the newest entry at or below it stays (unless a delete), older ones go. Our
    /// store removes them in steps afterwards; etcd's index drops them at once.
    static func compacted(_ history: [IndexEntry], at compact: Int64) -> [IndexEntry] {
        guard let keep = history.lastIndex(where: { $0.revision.main <= compact }) else { return history }
        return Array(history[(history[keep].isTombstone ? keep + 1 : keep)...])
    }

    /// The revision etcd's index keeps for a key's history at `revision` (`keyIndex.keep`): in
    /// the first generation that ends after `revision` (else the last, open one), the newest
    /// entry at or before it, unless that entry ends its generation (a delete).
    static func kept(_ history: [IndexEntry], at revision: Int64) -> Revision? {
        // Generations end with a delete; the last one is open (and empty after a delete).
        var generationStart = 0
        for (index, entry) in history.enumerated() where entry.isTombstone {
            if entry.revision.main > revision { break }
            generationStart = index + 1
        }
        let generation = history[generationStart...]
        let generationEnd = generation.firstIndex(where: \.isTombstone)
        let upTo = generationEnd.map { generation[...$0] } ?? generation
        guard let chosen = upTo.lastIndex(where: { $0.revision.main <= revision }) else { return nil }
        if chosen == generationEnd { return nil }
        return history[chosen].revision
    }

    /// Where the key field (field 1, always first in a stored KeyValue) ends; nil if the bytes
    /// do not start with one.
    static func endOfKeyField(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 2, bytes[0] == 0x0A else { return nil }
        var length = 0
        var shift = 0
        var index = 1
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            length |= Int(byte & 0x7F) << shift
            index += 1
            if byte & 0x80 == 0 {
                let end = index + length
                return end <= bytes.count ? end : nil
            }
            shift += 7
        }
        return nil
    }
}
