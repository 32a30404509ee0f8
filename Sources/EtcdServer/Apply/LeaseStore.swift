import Lease
import LMDB
import MVCC

/// The lessor plus its persistence: each lease's ID and granted TTL live in the backend's
/// `lease` database (key: 8-byte big-endian ID; value: 8-byte big-endian TTL in seconds), written
/// in the same LMDB transaction as the entry that granted or revoked it.
final class LeaseStore: LeaseLookup, @unchecked Sendable {
    let lessor: Lessor
    private let db: Database

    init(store: KVStore, lessor: Lessor) throws {
        self.lessor = lessor
        self.db = try store.openAuxiliaryDatabase(Schema.lease)
    }

    func leaseExists(_ id: Int64) -> Bool { lessor.exists(id) }

    func persist(_ record: Lessor.Record, in txn: WriteTransaction) throws {
        try txn.put(db, bigEndianBytes(record.id), bigEndianBytes(record.ttlSeconds))
    }

    func remove(_ id: Int64, in txn: WriteTransaction) throws {
        try txn.delete(db, bigEndianBytes(id))
    }

    /// Loads persisted leases and the keys attached to them (after a restart).
    func restore(from store: KVStore, extraNanoseconds: UInt64) throws {
        let (records, attachments) = try store.read { reader -> ([Lessor.Record], [(key: [UInt8], lease: Int64)]) in
            var records: [Lessor.Record] = []
            let cursor = try reader.txn.cursor(db)
            defer { cursor.close() }
            var entry = try cursor.first()
            while let current = entry {
                if let id = int64(bigEndian: current.key), let ttl = int64(bigEndian: current.value) {
                    records.append(Lessor.Record(id: id, ttlSeconds: ttl))
                }
                entry = try cursor.next()
            }
            // Attachments matter only for leases that exist; with none, skip walking every key.
            return (records, records.isEmpty ? [] : try reader.leasedKeys())
        }
        lessor.restore(records, attachments: attachments, extraNanoseconds: extraNanoseconds)
    }
}
