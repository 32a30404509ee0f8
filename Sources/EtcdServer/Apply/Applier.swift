import ServerLog
import EtcdProto
import Foundation
import Lease
import MVCC
import ProtoWire
import Raft

/// What applying one log entry produced, handed back to the proposer.
public enum ApplyResult: Sendable {
    case success(AppliedResponse)
    case failure(EtcdError)
}

public typealias ApplyCompletion = @Sendable (ApplyResult) -> Void

/// The response of an applied request; the API layer completes its header.
public enum AppliedResponse: Sendable {
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
    case compaction(CompactionResponse)
    case leaseGrant(LeaseGrantResponse)
    case leaseRevoke(LeaseRevokeResponse)
    case alarm(AlarmResponse)
    /// A membership change: the members after it.
    case members([Member])
    /// An auth request's answer.
    case auth(AuthReply)
    /// Entries with no response of their own (a member publishing its attributes, the
    /// cluster version, a leader's empty entry).
    case none
}

/// What one applied entry means beyond its response.
struct EntryOutcome {
    /// The request the entry carries, whose waiter (if any) gets `result`.
    var requestID: UInt64?
    var result: ApplyResult = .success(.none)
    var changes: [Change] = []
    /// A membership change entry: the change to make in the core, or nil if it was refused.
    var membershipChange: ConfChange??
    /// The entry removed this member from the cluster.
    var removesThisMember = false
    /// A leader's empty entry (etcd's "first commit in term").
    var isEmpty = false
}

/// Applies committed log entries to the store, on the apply thread only. It reads what etcd 3.4
/// members write: InternalRaftRequests, the raw v2 requests etcd proposes about the cluster
/// (member attributes, the cluster version), conf changes with JSON member contexts, and the
/// leader's empty entries.
final class Applier: @unchecked Sendable {
    let store: KVStore
    let semantics: KVSemantics
    let logger: Logger
    let membership: ClusterMembership
    let leases: LeaseStore
    let alarms: AlarmTable
    let localID: UInt64
    let metrics: ServerMetrics?
    /// Users, roles and the checks of requests against them (none: auth requests are ignored).
    let auth: AuthStore?

    init(store: KVStore, membership: ClusterMembership, leases: LeaseStore, alarms: AlarmTable, localID: UInt64,
         metrics: ServerMetrics? = nil, auth: AuthStore? = nil, logger: Logger) {
        self.auth = auth
        self.store = store
        self.membership = membership
        self.leases = leases
        self.alarms = alarms
        self.localID = localID
        self.semantics = KVSemantics(leases: leases, counters: metrics?.mvcc)
        self.metrics = metrics
        self.logger = logger
    }

    func apply(_ entry: Entry, in batch: WriteBatch) throws -> EntryOutcome {
        switch entry.type {
        case .confChange:
            return try applyConfChange(entry, in: batch)
        case .normal:
            guard !entry.data.isEmpty else { return EntryOutcome(isEmpty: true) }
            if let request = try? InternalRaftRequest(serializedBytes: entry.data) {
                var outcome = try apply(request, index: entry.index, in: batch)
                outcome.requestID = request.header?.id ?? request.id
                return outcome
            }
            // etcd's own requests about the cluster travel unwrapped.
            if let request = try? V2Request(serializedBytes: entry.data) {
                try applyClusterRequest(request, in: batch)
                return EntryOutcome(requestID: request.id)
            }
            logger.warn("skipping a log entry that does not decode", ["index": entry.index])
            return EntryOutcome()
        }
    }

    /// Applies only what an entry changes in the membership (a conf change, a member's
    /// attributes, the cluster version). The import of an etcd data dir replays these for the
    /// entries its backend already reflects, as etcd replays them into its v2 store.
    func applyMembership(_ entry: Entry, in batch: WriteBatch) throws {
        switch entry.type {
        case .confChange:
            _ = try applyConfChange(entry, in: batch)
        case .normal:
            guard !entry.data.isEmpty else { return }
            if let request = try? InternalRaftRequest(serializedBytes: entry.data) {
                if let v2 = request.v2 { try applyClusterRequest(v2, in: batch) }
            } else if let request = try? V2Request(serializedBytes: entry.data) {
                try applyClusterRequest(request, in: batch)
            }
        }
    }

    private func apply(_ request: InternalRaftRequest, index: UInt64, in batch: WriteBatch) throws -> EntryOutcome {
        if let v2 = request.v2 {
            try applyClusterRequest(v2, in: batch)
            return EntryOutcome()
        }
        if let auth, let result = try auth.apply(request, index: index, in: batch) { return EntryOutcome(result: result) }
        if let refusal = alarmRefusal(request) { return EntryOutcome(result: .failure(refusal)) }
        if let refusal = permissionRefusal(request) { return EntryOutcome(result: .failure(refusal)) }
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
                    return EntryOutcome(result: .failure(error.etcdError))
                }
                try batch.putLease(StoredLease(id: grant.id, ttlSeconds: ttl))
                metrics?.leases.grant()
                var response = LeaseGrantResponse()
                response.header = ResponseHeader(revision: try batch.reader.currentRevision())
                response.id = grant.id
                response.ttl = ttl
                return EntryOutcome(result: .success(.leaseGrant(response)))
            }
            if let revoke = request.leaseRevoke {
                // The lease's keys go in one store transaction (one revision), sorted by key.
                let keys: [[UInt8]]
                do {
                    keys = try leases.lessor.revoke(id: revoke.id)
                } catch {
                    return EntryOutcome(result: .failure(error.etcdError))
                }
                try batch.deleteLease(revoke.id)
                metrics?.leases.revoke()
                let counters = metrics?.mvcc
                return try transaction(in: batch) { writer -> ApplyResult in
                    for key in keys {
                        counters?.delete(keys: try writer.deleteRange(.single(key)).count)
                    }
                    if keys.count > 1 { counters?.transaction() }
                    var response = LeaseRevokeResponse()
                    response.header = ResponseHeader(revision: writer.currentRevision)
                    return .success(.leaseRevoke(response))
                }
            }
            if let compaction = request.compaction {
                try batch.compact(to: compaction.revision)
                var response = CompactionResponse()
                response.header = ResponseHeader(revision: try batch.reader.currentRevision())
                return EntryOutcome(result: .success(.compaction(response)))
            }
            if let alarm = request.alarm {
                return EntryOutcome(result: .success(.alarm(try alarms.apply(alarm, in: batch))))
            }
        } catch let error as EtcdError {
            return EntryOutcome(result: .failure(error))
        } catch let error as MVCCError {
            if case .corrupt = error { throw error }
            return EntryOutcome(result: .failure(etcdError(error)))
        }
        return EntryOutcome()
    }

    /// etcd's auth applier: with auth on, a write needs write permission on its keys (and read
    /// permission where it returns previous values); a put with a lease, and a lease revoke,
    /// need write permission on every key attached to the lease. The caller is the proposal's
    /// header, so every member decides the same.
    private func permissionRefusal(_ request: InternalRaftRequest) -> EtcdError? {
        guard let auth, auth.isEnabled else { return nil }
        let info = request.header.map { AuthInfo(username: $0.username, revision: $0.authRevision) }
        func check(_ key: [UInt8], _ end: [UInt8], _ write: Bool) -> EtcdError? {
            auth.permitted(info, key: key, rangeEnd: end, write: write)
        }
        func leaseKeys(_ id: Int64) -> EtcdError? {
            for key in leases.lessor.snapshot(id)?.keys ?? [] {
                if let error = check(key, [], true) { return error }
            }
            return nil
        }
        if let put = request.put {
            if let error = check(put.key, [], true) { return error }
            if put.lease != 0, let error = leaseKeys(put.lease) { return error }
            if put.prevKV, let error = check(put.key, [], false) { return error }
        } else if let delete = request.deleteRange {
            if let error = check(delete.key, delete.rangeEnd, true) { return error }
            if delete.prevKV, let error = check(delete.key, delete.rangeEnd, false) { return error }
        } else if let txn = request.txn {
            return AuthChecks.txn(txn, check)
        } else if let revoke = request.leaseRevoke {
            return leaseKeys(revoke.id)
        }
        return nil
    }

    /// What a raised alarm refuses, as etcd's capped (NOSPACE) and corrupt appliers do.
    private func alarmRefusal(_ request: InternalRaftRequest) -> EtcdError? {
        if alarms.isRaised(.corrupt) && (request.put != nil || request.deleteRange != nil || request.txn != nil
            || request.compaction != nil || request.leaseGrant != nil || request.leaseRevoke != nil) {
            return .corrupt
        }
        if alarms.isRaised(.noSpace) {
            if request.put != nil || request.leaseGrant != nil { return .noSpace }
            if let txn = request.txn, KVService.txnCost(txn) > 0 { return .noSpace }
        }
        return nil
    }

    /// A membership change, validated as etcd validates it; a refused change reaches the core
    /// as no change at all, and its proposer gets the reason.
    private func applyConfChange(_ entry: Entry, in batch: WriteBatch) throws -> EntryOutcome {
        guard let change = try? RaftWire.decodeConfChange(entry.data) else {
            // Data dirs of the first release began with the founding member as an encoded
            // Member; a store that applied it already holds the member.
            if let member = try? Member(serializedBytes: entry.data), membership.member(member.id) == nil {
                try batch.putMember(member)
            }
            return EntryOutcome(membershipChange: .some(nil))
        }
        if let error = membership.validate(change) {
            logger.warn("rejected a configuration change", ["change": "\(change)", "error": "\(error.grpcStatus.message)"])
            return EntryOutcome(requestID: change.id, result: .failure(error), membershipChange: .some(nil))
        }
        try membership.apply(change, in: batch)
        return EntryOutcome(requestID: change.id, result: .success(.members(membership.all)),
                            membershipChange: .some(change),
                            removesThisMember: change.type == .removeNode && change.nodeID == localID)
    }

    /// The two v2 requests etcd 3.4 sends through the log about the cluster itself: a member
    /// publishing its name and client URLs, and the cluster version.
    private func applyClusterRequest(_ request: V2Request, in batch: WriteBatch) throws {
        guard request.method == "PUT", let path = request.path, let value = request.val else { return }
        let parts = path.split(separator: "/")
        if parts.count == 4, parts[0] == "0", parts[1] == "members", parts[3] == "attributes",
           let id = UInt64(parts[2], radix: 16), let attributes = MemberJSON.decodeAttributes(value) {
            try membership.setAttributes(id: id, name: attributes.name ?? "", clientURLs: attributes.clientURLs ?? [],
                                         in: batch)
        } else if parts == ["0", "version"] {
            let previous = membership.clusterVersion
            try membership.setClusterVersion(value, in: batch)
            let short = value.split(separator: ".").prefix(2).joined(separator: ".")
            if let previous {
                let from = previous.split(separator: ".").prefix(2).joined(separator: ".")
                logger.info("updated cluster version", ["from": from, "to": short],
                            text: "updated the cluster version from \(from) to \(short)", package: "etcdserver/membership")
            } else {
                logger.info("set initial cluster version", ["local-member-id": ClusterIdentity.hex(localID),
                                                            "cluster-version": short],
                            text: "set the initial cluster version to \(short)", package: "etcdserver/membership")
            }
            logger.info("enabled capabilities for version", ["cluster-version": short],
                        text: "enabled capabilities for version \(short)", package: "etcdserver/api")
        }
    }

    /// One store transaction; afterwards each changed key's lease attachment follows its new
    /// value (a put moves the key to its lease, a delete detaches it).
    private func transaction(in batch: WriteBatch,
                             _ body: (inout StoreWriter) throws -> ApplyResult) throws -> EntryOutcome {
        let outcome = try batch.transaction(body)
        for change in outcome.changes {
            let old = change.previous?.lease ?? 0
            let new = change.kind == .put ? change.kv.lease : 0
            if old != 0 && old != new { leases.lessor.detach(change.kv.key, from: old) }
            if new != 0 { leases.lessor.attach(change.kv.key, to: new) }
        }
        return EntryOutcome(result: outcome.result, changes: outcome.changes)
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
