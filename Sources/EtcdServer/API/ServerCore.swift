import Dispatch
import EtcdProto
import Foundation
import MVCC

/// What the API services need from the server: identity for response headers, the store for
/// reads, and the write path for proposals. Holds no request logic of its own.
public final class ServerCore: Sendable {
    public let memberID: UInt64
    public let clusterID: UInt64
    let store: KVStore
    let pipeline: ApplyPipeline
    let semantics: KVSemantics
    let compactor: Compactor
    let membership: MembershipStore
    let config: ServerConfig
    let requestIDs: RequestIDGenerator
    /// Reads that may be large run here, off the connection threads.
    let readQueue = DispatchQueue(label: "etcd.reads", qos: .userInitiated, attributes: .concurrent)

    init(memberID: UInt64, clusterID: UInt64, store: KVStore, pipeline: ApplyPipeline, semantics: KVSemantics,
         compactor: Compactor, membership: MembershipStore, config: ServerConfig) {
        self.memberID = memberID
        self.clusterID = clusterID
        self.store = store
        self.pipeline = pipeline
        self.semantics = semantics
        self.compactor = compactor
        self.membership = membership
        self.config = config
        self.requestIDs = RequestIDGenerator(memberID: memberID)
    }

    var term: UInt64 { pipeline.term }

    /// A response header: identity and term always; the revision as given (the current one
    /// when 0).
    func header(revision: Int64) -> ResponseHeader {
        var header = ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.raftTerm = term
        header.revision = revision != 0 ? revision : ((try? store.read { try $0.currentRevision() }) ?? 0)
        return header
    }

    func completeHeader(_ header: inout ResponseHeader?) {
        header = self.header(revision: header?.revision ?? 0)
    }

    /// Proposes a request; the completion runs on the apply thread.
    func propose(_ fill: (inout InternalRaftRequest) -> Void, completion: @escaping ApplyCompletion) {
        var request = InternalRaftRequest()
        var header = RequestHeader()
        header.id = requestIDs.next()
        request.header = header
        fill(&request)
        let data = request.serializedBytes()
        if data.count > Int(config.maxRequestBytes) {
            completion(.failure(.requestTooLarge))
            return
        }
        pipeline.propose(data, completion: completion)
    }

    /// etcd's backend quota: a write that would grow the database past the quota is refused.
    func checkQuota(cost: Int) throws(EtcdError) {
        guard cost > 0 else { return }
        if Int64(store.environment.usedBytes() + cost) > config.effectiveQuotaBytes { throw .noSpace }
    }
}

/// Request IDs as etcd makes them: the member ID's low 16 bits, then a millisecond timestamp
/// and a counter, so IDs from different members and restarts do not collide.
final class RequestIDGenerator: @unchecked Sendable {
    private let prefix: UInt64
    private var suffix: UInt64
    private let lock = NSLock()

    init(memberID: UInt64) {
        prefix = (memberID & 0xFFFF) << 48
        let millis = UInt64(Date().timeIntervalSince1970 * 1000)
        suffix = (millis & ((1 << 40) - 1)) << 8
    }

    func next() -> UInt64 {
        lock.withLock {
            suffix = (suffix + 1) & ((1 << 48) - 1)
            return prefix | suffix
        }
    }
}
