import EtcdProto
import Foundation
import LMDB
import Lease
import MVCC
import ProtoWire
import WAL

/// The response of an applied mutation; the API layer completes its header.
public enum AppliedResponse: Sendable {
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
    case compaction(CompactionResponse)
    case leaseGrant(LeaseGrantResponse)
    case leaseRevoke(LeaseRevokeResponse)
    /// Entries with no client waiting (e.g. a leader's empty entry).
    case none
}

/// Applies committed log entries to the store, on the apply thread only.
final class Applier: @unchecked Sendable {
    let store: KVStore
    let semantics: KVSemantics
    let logger: Logger
    let membership: MembershipStore
    let leases: LeaseStore
    /// Receives each batch's committed changes, after the LMDB commit (the watch hub).
    var changeListener: (([Change]) -> Void)?

    init(store: KVStore, membership: MembershipStore, leases: LeaseStore, logger: Logger) {
        self.store = store
        self.membership = membership
        self.leases = leases
        self.semantics = KVSemantics(leases: leases)
        self.logger = logger
    }

    func apply(_ entry: Entry, in batch: WriteBatch) throws -> (ApplyResult, [Change]) {
        guard !entry.data.isEmpty else { return (.success(.none), []) }
        if entry.kind == .configurationChange {
            // A membership change: the entry holds the added member.
            try membership.add(try Member(serializedBytes: entry.data), in: batch.txn)
            return (.success(.none), [])
        }
        let request: InternalRaftRequest
        do {
            request = try InternalRaftRequest(serializedBytes: entry.data)
        } catch {
            logger.warn("skipping a log entry that does not decode", ["index": entry.index, "error": "\(error)"])
            return (.failure(.unmapped("etcdserver: unknown method")), [])
        }
        if let v2 = request.v2 {
            try applyClusterRequest(v2, in: batch)
            return (.success(.none), [])
        }
        do {
            if let put = request.put {
                return try transaction(in: batch) { writer -> ApplyResult in
                    try semantics.checkPut(put, in: writer, leaseFirst: true)
                    return .success(.put(try semantics.put(put, in: &writer)))
                }
            }
            if let delete = request.deleteRange {
                return try transaction(in: batch) { writer -> ApplyResult in
                    .success(.deleteRange(try semantics.deleteRange(delete, in: &writer)))
                }
            }
            if let txn = request.txn {
                return try transaction(in: batch) { writer -> ApplyResult in
                    let path = try semantics.path(of: txn, in: writer)
                    try semantics.checkPath(txn, path: path, in: writer, isWrite: true)
                    return .success(.txn(try semantics.execute(txn, path: path, in: &writer)))
                }
            }
            if let grant = request.leaseGrant {
                let ttl: Int64
                do {
                    ttl = try leases.lessor.grant(id: grant.id, ttlSeconds: grant.ttl)
                } catch {
                    return (.failure(error.etcdError), [])
                }
                try leases.persist(Lessor.Record(id: grant.id, ttlSeconds: ttl), in: batch.txn)
                var response = LeaseGrantResponse()
                response.header = ResponseHeader(revision: try batch.reader.currentRevision())
                response.id = grant.id
                response.ttl = ttl
                return (.success(.leaseGrant(response)), [])
            }
            if let revoke = request.leaseRevoke {
                // The lease's keys go in one store transaction (one revision), sorted by key.
                let keys: [[UInt8]]
                do {
                    keys = try leases.lessor.revoke(id: revoke.id)
                } catch {
                    return (.failure(error.etcdError), [])
                }
                try leases.remove(revoke.id, in: batch.txn)
                return try transaction(in: batch) { writer -> ApplyResult in
                    for key in keys { try writer.deleteRange(.single(key)) }
                    var response = LeaseRevokeResponse()
                    response.header = ResponseHeader(revision: writer.currentRevision)
                    return .success(.leaseRevoke(response))
                }
            }
            if let compaction = request.compaction {
                try batch.compact(to: compaction.revision)
                var response = CompactionResponse()
                response.header = ResponseHeader(revision: try batch.reader.currentRevision())
                return (.success(.compaction(response)), [])
            }
        } catch let error as EtcdError {
            return (.failure(error), [])
        } catch let error as MVCCError {
            if case .corrupt = error { throw error }
            return (.failure(etcdError(error)), [])
        }
        return (.success(.none), [])
    }

    /// The two v2-style requests etcd 3.4 sends through the log about the cluster itself: a
    /// member publishing its name and client URLs, and the cluster version.
    private func applyClusterRequest(_ request: V2Request, in batch: WriteBatch) throws {
        guard request.method == "PUT", let path = request.path, let value = request.val else { return }
        let parts = path.split(separator: "/")
        if parts.count == 4, parts[0] == "0", parts[1] == "members", parts[3] == "attributes",
           let id = UInt64(parts[2], radix: 16),
           let attributes = try? JSONDecoder().decode(MemberAttributes.self, from: Data(value.utf8)) {
            try membership.setAttributes(id: id, name: attributes.name, clientURLs: attributes.clientURLs, in: batch.txn)
        } else if parts == ["0", "version"] {
            try membership.setClusterVersion(value, in: batch.txn)
        }
    }

    /// One store transaction; afterwards each changed key's lease attachment follows its new
    /// value (a put moves the key to its lease, a delete detaches it).
    private func transaction(in batch: WriteBatch,
                             _ body: (inout StoreWriter) throws -> ApplyResult) throws -> (ApplyResult, [Change]) {
        let outcome = try batch.transaction(body)
        for change in outcome.changes {
            let old = change.previous?.lease ?? 0
            let new = change.kind == .put ? change.kv.lease : 0
            if old != 0 && old != new { leases.lessor.detach(change.kv.key, from: old) }
            if new != 0 { leases.lessor.attach(change.kv.key, to: new) }
        }
        return (outcome.result, outcome.changes)
    }

    func publish(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        changeListener?(changes)
    }
}

extension Lessor.Failure {
    var etcdError: EtcdError {
        switch self {
        case .notFound: return .leaseNotFound
        case .exists: return .leaseExists
        case .ttlTooLarge: return .leaseTTLTooLarge
        }
    }
}

/// Removes old revisions after a compaction, a bounded number of keys at a time, between
/// apply batches; and completes requests that asked to wait for it (`physical`).
final class Compactor: @unchecked Sendable {
    private let store: KVStore
    private let lock = NSLock()
    private var waiters: [(revision: Int64, done: @Sendable () -> Void)] = []
    private var progress: (revision: Int64, next: [UInt8])?
    static let keysPerStep = 1000

    init(store: KVStore) {
        self.store = store
    }

    /// One step; returns true while more remains. Runs on the apply thread.
    func step() -> Bool {
        do {
            let (pending, revision) = try store.read { r in
                (try r.compactRevision() > (try r.finishedCompactRevision()), try r.compactRevision())
            }
            guard pending else {
                notify(upTo: revision)
                return false
            }
            if progress?.revision != revision { progress = (revision, []) }
            let start = progress?.next ?? []
            let next = try store.writeBatch { try $0.compactStep(from: start, keyLimit: Compactor.keysPerStep) }
            if let next {
                progress = (revision, next)
                return true
            }
            progress = nil
            notify(upTo: revision)
            return false
        } catch {
            return false
        }
    }

    /// Runs `done` once the compaction at `revision` has been physically applied.
    func waitForPhysical(revision: Int64, _ done: @escaping @Sendable () -> Void) {
        lock.withLock { waiters.append((revision, done)) }
    }

    private func notify(upTo revision: Int64) {
        let ready = lock.withLock { () -> [@Sendable () -> Void] in
            let ready = waiters.filter { $0.revision <= revision }.map(\.done)
            waiters.removeAll { $0.revision <= revision }
            return ready
        }
        for done in ready { done() }
    }
}
