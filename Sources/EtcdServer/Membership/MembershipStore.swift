import EtcdProto
import Foundation
import LMDB
import MVCC

/// The cluster's members and version, kept in the backend and changed only by applied log
/// entries (so every member sees the same history).
///
/// Layout of the `members` database: `m` + 8-byte big-endian member ID → encoded
/// etcdserverpb.Member; `cluster_version` → the version text.
final class MembershipStore: @unchecked Sendable {
    private let store: KVStore
    private let db: Database
    private static let clusterVersionKey = Array("cluster_version".utf8)

    init(store: KVStore) throws {
        self.store = store
        self.db = try store.openAuxiliaryDatabase(Schema.members)
    }

    private static func key(_ id: UInt64) -> [UInt8] {
        [UInt8(ascii: "m")] + bigEndianBytes(Int64(bitPattern: id))
    }

    func members() throws -> [Member] {
        try store.environment.read { txn in
            let cursor = try txn.cursor(db)
            defer { cursor.close() }
            var members: [Member] = []
            var entry = try cursor.seek(atLeast: [UInt8(ascii: "m")])
            while let current = entry, current.key.first == UInt8(ascii: "m") {
                members.append(try Member(serializedBuffer: current.value))
                entry = try cursor.next()
            }
            return members
        }
    }

    func clusterVersion() throws -> String? {
        try store.environment.read { txn in
            try txn.get(db, MembershipStore.clusterVersionKey).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    // MARK: changes, on the apply thread inside the batch's transaction

    func add(_ member: Member, in txn: WriteTransaction) throws {
        try txn.put(db, MembershipStore.key(member.id), member.serializedBytes())
    }

    func setAttributes(id: UInt64, name: String, clientURLs: [String], in txn: WriteTransaction) throws {
        guard let bytes = try txn.get(db, MembershipStore.key(id)) else { return }
        var member = try Member(serializedBuffer: bytes)
        member.name = name
        member.clientURLs = clientURLs
        try txn.put(db, MembershipStore.key(id), member.serializedBytes())
    }

    func setClusterVersion(_ version: String, in txn: WriteTransaction) throws {
        try txn.put(db, MembershipStore.clusterVersionKey, Array(version.utf8))
    }
}

/// The member attributes etcd 3.4 publishes through the log, as JSON.
struct MemberAttributes: Codable {
    var name: String
    var clientURLs: [String]
}
