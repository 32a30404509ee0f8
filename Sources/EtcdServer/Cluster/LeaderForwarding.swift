import Dispatch
import EtcdProto
import Lease
import NIOCore
import Peer

/// What only the leader can answer, asked of the leader: lease keep-alives and time-to-live
/// (the leader's lessor is the primary, the only one tracking expiry) and learner promotion
/// (the leader alone knows how far the learner's log has come). On the leader these are
/// answered locally; elsewhere they go to the leader's peer URL, retried until the request
/// timeout as etcd retries them.
final class LeaderForwarding: LeaseKeeper, PromoteForwarding, @unchecked Sendable {
    private let local: LocalLeaseKeeper
    private let consensus: ConsensusStatus
    private let membership: ClusterMembership
    private let client: PeerHTTPClient
    private let timeoutNanoseconds: UInt64
    static let retryDelaySeconds = 0.1

    init(local: LocalLeaseKeeper, consensus: ConsensusStatus, membership: ClusterMembership, client: PeerHTTPClient,
         timeoutNanoseconds: UInt64) {
        self.local = local
        self.consensus = consensus
        self.membership = membership
        self.client = client
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    // MARK: LeaseKeeper

    func renew(_ id: Int64, _ done: @escaping @Sendable (Result<Int64?, EtcdError>) -> Void) {
        if consensus.isLeader { return local.renew(id, done) }
        var request = LeaseKeepAliveRequest()
        request.id = id
        forward(path: "/leases", body: request.serializedBytes(), deadline: deadline()) { response in
            switch response.status {
            case 200:
                guard let reply = try? LeaseKeepAliveResponse(serializedBytes: response.body), reply.id == id else { return nil }
                return .success(reply.ttl)
            case 404:
                return .success(0)
            default:
                return nil
            }
        } done: { done($0) }
    }

    func timeToLive(_ id: Int64, keys: Bool, _ done: @escaping @Sendable (Result<LeaseTimeToLiveResponse, EtcdError>) -> Void) {
        if consensus.isLeader { return local.timeToLive(id, keys: keys, done) }
        var query = LeaseTimeToLiveRequest()
        query.id = id
        query.keys = keys
        var envelope = LeaseInternalEnvelope<LeaseTimeToLiveRequest>()
        envelope.message = query
        forward(path: "/leases/internal", body: envelope.serializedBytes(), deadline: deadline()) { response in
            switch response.status {
            case 200:
                guard let reply = try? LeaseInternalEnvelope<LeaseTimeToLiveResponse>(serializedBytes: response.body),
                      let message = reply.message else { return nil }
                return .success(message)
            case 404:
                var unknown = LeaseTimeToLiveResponse()
                unknown.id = id
                unknown.ttl = -1
                return .success(unknown)
            default:
                return nil
            }
        } done: { done($0) }
    }

    // MARK: PromoteForwarding

    func forwardPromote(_ id: UInt64, _ done: @escaping @Sendable (Result<[Member], EtcdError>) -> Void) {
        forward(path: "/members/promote/\(id)", body: [], deadline: deadline()) { response in
            let text = String(decoding: response.body, as: UTF8.self)
            switch response.status {
            case 200:
                guard let list = MemberJSON.decodeList(response.body) else { return nil }
                return .success(list.map(\.member))
            case 404: return .failure(.memberNotFound)
            case 408: return .failure(.timeout)
            case 412:
                if text.contains(EtcdError.learnerNotReady.grpcStatus.message) { return .failure(.learnerNotReady) }
                if text.contains("can only promote a learner member") { return .failure(.memberNotLearner) }
                return .failure(.unmapped("member promote: unknown error(\(text))"))
            default:
                return nil
            }
        } done: { done($0) }
    }

    // MARK: Forwarding

    private func deadline() -> UInt64 { DispatchTime.now().uptimeNanoseconds + timeoutNanoseconds }

    /// POSTs `body` to the leader's `path` until `interpret` makes something of an answer (nil:
    /// try again) or the deadline passes (`request timed out`).
    private func forward<T: Sendable>(path: String, body: [UInt8], deadline: UInt64,
                                      interpret: @escaping @Sendable (PeerResponse) -> Result<T, EtcdError>?,
                                      done: @escaping @Sendable (Result<T, EtcdError>) -> Void) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline else { return done(.failure(.timeout)) }
        let retry: @Sendable () -> Void = { [self] in
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.retryDelaySeconds) {
                self.forward(path: path, body: body, deadline: deadline, interpret: interpret, done: done)
            }
        }
        let leader = consensus.leader
        guard leader != 0, leader != consensus.memberID, let url = membership.member(leader)?.peerURLs.first else {
            return retry()
        }
        let remaining = TimeAmount.nanoseconds(Int64(deadline - now))
        client.request(url, method: .POST, path: path, headers: [("Content-Type", "application/protobuf")], body: body,
                       timeout: min(remaining, .seconds(5))).whenComplete { result in
            if case .success(let response) = result, let outcome = interpret(response) {
                done(outcome)
            } else {
                retry()
            }
        }
    }
}
