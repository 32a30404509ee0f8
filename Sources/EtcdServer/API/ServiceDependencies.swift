import Dispatch
import EtcdProto
import MVCC

/// Identity and the header every response carries: this member and its cluster, the current
/// Raft term, and a store revision.
protocol HeaderSource: Sendable {
    var memberID: UInt64 { get }
    var clusterID: UInt64 { get }
    /// A header with `revision`, or the store's current revision when 0.
    func header(revision: Int64) -> ResponseHeader
    /// A header without a revision (the Cluster service's).
    func memberHeader() -> ResponseHeader
}

extension HeaderSource {
    /// Fills in identity and term around the revision an applied response carries.
    func completeHeader(_ header: inout ResponseHeader?) {
        header = self.header(revision: header?.revision ?? 0)
    }
}

/// The `HeaderSource` of a running member.
struct MemberHeaders: HeaderSource {
    let memberID: UInt64
    let clusterID: UInt64
    let store: KVStore
    let term: @Sendable () -> UInt64

    func header(revision: Int64) -> ResponseHeader {
        var header = memberHeader()
        header.revision = revision != 0 ? revision : ((try? store.read { try $0.currentRevision() }) ?? 0)
        return header
    }

    func memberHeader() -> ResponseHeader {
        var header = ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.raftTerm = term()
        return header
    }
}

/// The key space as the read side of the KV service sees it: the store, etcd's range and txn
/// semantics, and a queue for reads that may be large (off the connection threads).
struct KeySpace: Sendable {
    let store: KVStore
    let semantics: KVSemantics
    let readQueue: DispatchQueue

    init(store: KVStore, semantics: KVSemantics) {
        self.store = store
        self.semantics = semantics
        self.readQueue = DispatchQueue(label: "etcd.reads", qos: .userInitiated, attributes: .concurrent)
    }
}

/// etcd's backend quota: a write that would grow the database past the quota is refused, and
/// the refusal raises this member's NOSPACE alarm through the log (so every member lists it
/// and refuses writes until it is disarmed).
///
/// etcd measures bbolt's high-water mark. LMDB's high-water mark carries more fixed overhead
/// (a root page per database, copy-on-write pages of recent transactions) but LMDB reuses its
/// free pages before growing the file, so the data held is what is measured: the high-water
/// mark less the free pages, counted only when the mark itself is over the quota.
struct BackendQuota: Sendable {
    let store: KVStore
    let quotaBytes: Int64
    var raiseAlarm: @Sendable () -> Void = {}

    func check(cost: Int) throws(EtcdError) {
        guard cost > 0 else { return }
        let environment = store.environment
        if Int64(environment.usedBytes() + cost) >= quotaBytes, Int64(environment.bytesInUse() + cost) >= quotaBytes {
            raiseAlarm()
            throw .noSpace
        }
    }
}
