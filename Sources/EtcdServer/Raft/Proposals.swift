import EtcdProto
import Foundation
import Raft

/// Requests waiting for their log entry to be applied, keyed by request ID. Every member applies
/// every entry and triggers its ID; only the member that proposed it has a waiter. A request
/// whose entry never commits (a leader lost it, no quorum) is failed when it times out.
final class ProposalRegistry: @unchecked Sendable {
    private struct Waiter {
        var completion: ApplyCompletion
        var started: UInt64
        /// When the request gives up (the server's request timeout, or the client's deadline
        /// if sooner), in monotonic nanoseconds.
        var deadline: UInt64
        /// The local Raft node took the proposal (appended it, or forwarded it to a leader).
        var accepted = false
    }

    private let lock = NSLock()
    private var waiting: [UInt64: Waiter] = [:]

    func register(_ id: UInt64, deadline: UInt64, _ completion: @escaping ApplyCompletion) {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock { waiting[id] = Waiter(completion: completion, started: now, deadline: deadline) }
    }

    /// Completes the request with `id`, if this member is waiting for it.
    func trigger(_ id: UInt64, _ result: ApplyResult) {
        guard let waiter = lock.withLock({ waiting.removeValue(forKey: id) }) else { return }
        waiter.completion(result)
    }

    func isWaiting(_ id: UInt64) -> Bool { lock.withLock { waiting[id] != nil } }

    func markAccepted(_ id: UInt64) { lock.withLock { waiting[id]?.accepted = true } }

    var count: Int { lock.withLock { waiting.count } }

    /// Fails every request past its deadline; `error` picks the error from its start time and
    /// whether Raft ever took it. Returns how many failed.
    @discardableResult
    func expire(error: (_ started: UInt64, _ accepted: Bool) -> EtcdError) -> Int {
        let now = DispatchTime.now().uptimeNanoseconds
        let expired = lock.withLock { () -> [Waiter] in
            let old = waiting.filter { now >= $0.value.deadline }
            for id in old.keys { waiting[id] = nil }
            return Array(old.values)
        }
        for waiter in expired { waiter.completion(.failure(error(waiter.started, waiter.accepted))) }
        return expired.count
    }

    /// Fails every waiting request (the server is stopping).
    func failAll(_ error: EtcdError) {
        let all = lock.withLock { () -> [Waiter] in
            defer { waiting = [:] }
            return Array(waiting.values)
        }
        for waiter in all { waiter.completion(.failure(error)) }
    }
}

/// Request IDs as etcd makes them: the member ID's low 16 bits, then a millisecond timestamp
/// and a counter, so IDs from different members and restarts do not collide (every member
/// triggers every applied ID).
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

/// How services change the replicated state: a request goes into the log through Raft, and its
/// completion runs once this member has applied it (or it failed or timed out).
protocol Proposing: Sendable {
    /// Proposes an InternalRaftRequest that `fill` builds (the header with the request ID is
    /// added here). It is abandoned at the server's request timeout, or at `deadline` (the
    /// client's, monotonic nanoseconds) if sooner, as etcd abandons a proposal whose context ends.
    func propose(_ fill: (inout InternalRaftRequest) -> Void, deadline: UInt64?, completion: @escaping ApplyCompletion)
    /// Proposes a membership change; it completes with the members after the change.
    func proposeConfChange(_ change: ConfChange, deadline: UInt64?, completion: @escaping ApplyCompletion)
    /// A fresh request ID (etcd draws lease IDs from the same generator).
    func nextRequestID() -> UInt64
}

extension Proposing {
    func propose(_ fill: (inout InternalRaftRequest) -> Void, completion: @escaping ApplyCompletion) {
        propose(fill, deadline: nil, completion: completion)
    }

    func proposeConfChange(_ change: ConfChange, completion: @escaping ApplyCompletion) {
        proposeConfChange(change, deadline: nil, completion: completion)
    }
}

/// The `Proposing` of a running member.
final class RaftProposer: Proposing, @unchecked Sendable {
    private let host: RaftHost
    private let registry: ProposalRegistry
    private let ids: RequestIDGenerator
    private let maxRequestBytes: Int
    private let timeoutNanoseconds: UInt64

    init(host: RaftHost, registry: ProposalRegistry, ids: RequestIDGenerator, maxRequestBytes: Int,
         timeoutNanoseconds: UInt64) {
        self.host = host
        self.registry = registry
        self.ids = ids
        self.maxRequestBytes = maxRequestBytes
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    private func deadline(_ client: UInt64?) -> UInt64 {
        let server = DispatchTime.now().uptimeNanoseconds + timeoutNanoseconds
        return min(server, client ?? .max)
    }

    func nextRequestID() -> UInt64 { ids.next() }

    func propose(_ fill: (inout InternalRaftRequest) -> Void, deadline client: UInt64?, completion: @escaping ApplyCompletion) {
        var request = InternalRaftRequest()
        var header = RequestHeader()
        header.id = ids.next()
        request.header = header
        fill(&request)
        let data = request.serializedBytes()
        // etcd checks the limit only where a request enters the cluster.
        if data.count > maxRequestBytes {
            completion(.failure(.requestTooLarge))
            return
        }
        registry.register(header.id, deadline: deadline(client), completion)
        host.propose(data, id: header.id)
    }

    /// Proposes one of the raw v2 requests etcd writes about the cluster itself (a member's
    /// attributes, the cluster version).
    func proposeClusterRequest(method: String, path: String, value: String, completion: @escaping ApplyCompletion) {
        let id = ids.next()
        registry.register(id, deadline: deadline(nil), completion)
        host.propose(V2Request.etcdRequest(id: id, method: method, path: path, value: value).serializedBytes(), id: id)
    }

    func proposeConfChange(_ change: ConfChange, deadline client: UInt64?, completion: @escaping ApplyCompletion) {
        var change = change
        change.id = ids.next()
        let id = change.id
        registry.register(id, deadline: deadline(client), completion)
        let registry = self.registry
        host.proposeConfChange(change) { refusal in
            registry.trigger(id, .failure(refusal.etcdError))
        }
    }
}

extension V2Request {
    /// A v2 request encoded as etcd's gogo-protobuf code writes it: every non-nullable field
    /// present, even at its zero value (etcd 3.4 members parse exactly these bytes).
    static func etcdRequest(id: UInt64, method: String, path: String, value: String) -> V2Request {
        var request = V2Request()
        request.id = id
        request.method = method
        request.path = path
        request.val = value
        request.dir = false
        request.prevValue = ""
        request.prevIndex = 0
        request.expiration = 0
        request.wait = false
        request.since = 0
        request.recursive = false
        request.sorted = false
        request.quorum = false
        request.time = 0
        request.stream = false
        return request
    }
}

extension RaftError {
    /// What a client sees when the core refuses a proposal on this member.
    var etcdError: EtcdError {
        switch self {
        case .proposalDropped: return .unmapped("raft proposal dropped")
        case .confChangeRefused(let refusal):
            switch refusal {
            case .removesLastVoter, .wouldLoseQuorum: return .memberNotEnoughStarted
            case .learnerNotCaughtUp: return .learnerNotReady
            case .changeInProgress: return .timeout
            }
        case .localMessageFromNetwork, .unknownPeer: return .unmapped("raft: \(self)")
        }
    }
}
