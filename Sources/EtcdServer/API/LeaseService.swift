import EtcdProto
import GRPC
import Lease

/// Renewals and time-to-live queries: answered by the leader's lessor (the primary, the only
/// one that tracks expiry), so a follower forwards them to the leader.
protocol LeaseKeeper: Sendable {
    /// A keep-alive: the lease's TTL after renewing, 0 for an unknown lease, or nil while an
    /// expired lease is being revoked (ask again shortly).
    func renew(_ id: Int64, _ done: @escaping @Sendable (Result<Int64?, EtcdError>) -> Void)
    /// Remaining and granted TTL (and keys); TTL -1 for an unknown lease.
    func timeToLive(_ id: Int64, keys: Bool, _ done: @escaping @Sendable (Result<LeaseTimeToLiveResponse, EtcdError>) -> Void)
}

/// etcdserverpb.Lease: grants and revokes go through the log; keep-alives and time-to-live go
/// to the primary lessor; the list is this member's.
struct LeaseService {
    let headers: HeaderSource
    let proposer: Proposing
    let keeper: LeaseKeeper
    let lessor: Lessor
    let quota: BackendQuota
    /// Grants and revokes are proposed as the caller (a revoke needs write permission on the
    /// lease's keys).
    let gate: AuthGate

    func register(into router: inout Router) {
        let service = self
        router.unary("/etcdserverpb.Lease/LeaseGrant", LeaseGrantRequest.self) { request, responder in
            var request = request
            // No ID given: pick one as etcd does, from the request ID generator (positive only).
            while request.id == 0 { request.id = Int64(bitPattern: service.proposer.nextRequestID() & ((1 << 63) - 1)) }
            do throws(EtcdError) { try service.quota.check(cost: 1) } catch { return responder.fail(error) }
            let grant = request
            service.gate.propose(service.proposer, responder, { $0.leaseGrant = grant }) {
                KVService.complete($0, headers: service.headers, responder: responder)
            }
        }
        router.unary("/etcdserverpb.Lease/LeaseRevoke", LeaseRevokeRequest.self) { request, responder in
            service.gate.propose(service.proposer, responder, { $0.leaseRevoke = request }) {
                KVService.complete($0, headers: service.headers, responder: responder)
            }
        }
        router.unary("/etcdserverpb.Lease/LeaseTimeToLive", LeaseTimeToLiveRequest.self) { request, responder in
            service.gate.withIdentity(responder) { info in
                service.keeper.timeToLive(request.id, keys: request.keys) { result in
                    switch result {
                    case .success(var response):
                        // The attached keys are shown only to a caller who may read them all (as
                        // etcd 3.5 decides; 3.4 shows them to anyone).
                        for key in response.keys {
                            if let refusal = service.gate.checkRead(info, key: key, rangeEnd: []) { return responder.fail(refusal) }
                        }
                        response.header = service.headers.header(revision: 0)
                        responder.succeed(response)
                    case .failure(let error):
                        responder.fail(error)
                    }
                }
            }
        }
        router.unary("/etcdserverpb.Lease/LeaseLeases", LeaseLeasesRequest.self) { _, responder in
            var response = LeaseLeasesResponse()
            response.header = service.headers.header(revision: 0)
            response.leases = service.lessor.ids().sorted().map { id in
                var status = LeaseStatus()
                status.id = id
                return status
            }
            responder.succeed(response)
        }
        router.register("/etcdserverpb.Lease/LeaseKeepAlive", .streaming { call in
            KeepAliveStream(call: call, headers: service.headers, keeper: service.keeper)
        })
    }
}

/// The lessor of this member answering for itself: the leader's (or a lone member's).
struct LocalLeaseKeeper: LeaseKeeper {
    let lessor: Lessor
    var counters: LeaseCounters?

    func renew(_ id: Int64, _ done: @escaping @Sendable (Result<Int64?, EtcdError>) -> Void) {
        switch lessor.renew(id) {
        case .renewed(let ttl):
            counters?.renew()
            done(.success(ttl))
        case .notFound: done(.success(0))
        case .expired: done(.success(nil))
        }
    }

    func timeToLive(_ id: Int64, keys: Bool, _ done: @escaping @Sendable (Result<LeaseTimeToLiveResponse, EtcdError>) -> Void) {
        var response = LeaseTimeToLiveResponse()
        response.id = id
        if let lease = lessor.snapshot(id) {
            response.ttl = lease.remainingTTL
            response.grantedTTL = lease.grantedTTL
            if keys { response.keys = lease.keys }
        } else {
            response.ttl = -1
        }
        done(.success(response))
    }
}

/// One LeaseKeepAlive stream: each request renews one lease and gets one response, in order.
final class KeepAliveStream: StreamingCallDelegate, @unchecked Sendable {
    let call: ServerCall
    let headers: HeaderSource
    let keeper: LeaseKeeper

    init(call: ServerCall, headers: HeaderSource, keeper: LeaseKeeper) {
        self.call = call
        self.headers = headers
        self.keeper = keeper
    }

    func received(_ message: [UInt8]) {
        guard let request = try? LeaseKeepAliveRequest(serializedBytes: message) else {
            call.finish(GRPCStatus(.internal, "grpc: error unmarshalling request"))
            return
        }
        renew(request.id)
    }

    private func renew(_ id: Int64) {
        guard !call.isCancelledOrFinished else { return }
        keeper.renew(id) { [self] result in
            switch result {
            case .success(let ttl?):
                var response = LeaseKeepAliveResponse()
                response.id = id
                response.ttl = ttl
                response.header = headers.header(revision: 0)
                call.send(response.serializedBytes())
            case .success(nil):
                // An expired lease is being revoked: answer once the revoke has been applied, so
                // the client does not see TTL 0 while the lease's keys still exist.
                _ = call.executor.schedule(afterNanoseconds: 20_000_000) { [self] in renew(id) }
            case .failure(let error):
                call.finish(error.grpcStatus)
            }
        }
    }

    func receivedEnd() { call.finish(.ok) }
    func cancelled() {}
}
