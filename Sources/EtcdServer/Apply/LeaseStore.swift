import Lease
import MVCC

/// The lessor and its record in the store: each lease's ID and granted TTL are written in the
/// same transaction as the entry that granted or revoked it (MVCC's lease table).
final class LeaseStore: LeaseLookup, @unchecked Sendable {
    let lessor: Lessor

    init(lessor: Lessor) {
        self.lessor = lessor
    }

    func leaseExists(_ id: Int64) -> Bool { lessor.exists(id) }

    /// Loads the persisted leases and the keys attached to them (at start, and after a
    /// snapshot from the leader replaced the store).
    func restore(from store: KVStore, extraNanoseconds: UInt64) throws {
        let (records, attachments) = try store.read { reader -> ([StoredLease], [(key: [UInt8], lease: Int64)]) in
            let records = try reader.leases()
            // Attachments matter only for leases that exist; with none, skip walking every key.
            return (records, records.isEmpty ? [] : try reader.leasedKeys())
        }
        lessor.restore(records.map { Lessor.Record(id: $0.id, ttlSeconds: $0.ttlSeconds) }, attachments: attachments,
                       extraNanoseconds: extraNanoseconds)
    }
}
