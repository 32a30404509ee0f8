import EtcdProto
import GRPC
import Lease

/// etcdserverpb.Lease: grants and revokes go through the log; keep-alives, time-to-live and the
/// list are answered from the lessor.
struct LeaseService {
    let core: ServerCore
    let leases: LeaseStore

    func register(into router: inout Router) {
        let core = self.core
        let lessor = leases.lessor
        router.unary("/etcdserverpb.Lease/LeaseGrant", LeaseGrantRequest.self) { request, responder in
            var request = request
            // No ID given: pick one as etcd does, from the request ID generator (positive only).
            while request.id == 0 { request.id = Int64(bitPattern: core.requestIDs.next() & ((1 << 63) - 1)) }
            do throws(EtcdError) { try core.checkQuota(cost: 1) } catch { return responder.fail(error) }
            core.propose({ $0.leaseGrant = request }) { KVService.complete($0, core: core, responder: responder) }
        }
        router.unary("/etcdserverpb.Lease/LeaseRevoke", LeaseRevokeRequest.self) { request, responder in
            core.propose({ $0.leaseRevoke = request }) { KVService.complete($0, core: core, responder: responder) }
        }
        router.unary("/etcdserverpb.Lease/LeaseTimeToLive", LeaseTimeToLiveRequest.self) { request, responder in
            var response = LeaseTimeToLiveResponse()
            response.header = core.header(revision: 0)
            response.id = request.id
            if let lease = lessor.snapshot(request.id) {
                response.ttl = lease.remainingTTL
                response.grantedTTL = lease.grantedTTL
                if request.keys { response.keys = lease.keys }
            } else {
                response.ttl = -1
            }
            responder.succeed(response)
        }
        router.unary("/etcdserverpb.Lease/LeaseLeases", LeaseLeasesRequest.self) { _, responder in
            var response = LeaseLeasesResponse()
            response.header = core.header(revision: 0)
            response.leases = lessor.ids().sorted().map { id in
                var status = LeaseStatus()
                status.id = id
                return status
            }
            responder.succeed(response)
        }
        router.register("/etcdserverpb.Lease/LeaseKeepAlive", .streaming { call in
            KeepAliveStream(call: call, core: core, lessor: lessor)
        })
    }
}

/// One LeaseKeepAlive stream: each request renews one lease and gets one response, in order.
final class KeepAliveStream: StreamingCallDelegate, @unchecked Sendable {
    let call: ServerCall
    let core: ServerCore
    let lessor: Lessor

    init(call: ServerCall, core: ServerCore, lessor: Lessor) {
        self.call = call
        self.core = core
        self.lessor = lessor
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
        var response = LeaseKeepAliveResponse()
        response.id = id
        switch lessor.renew(id) {
        case .renewed(let ttl):
            response.ttl = ttl
        case .notFound:
            response.ttl = 0
        case .expired:
            // An expired lease is being revoked: answer once the revoke has been applied, so the
            // client does not see TTL 0 while the lease's keys still exist.
            let executor = call.executor
            _ = executor.schedule(afterNanoseconds: 20_000_000) { [self] in renew(id) }
            return
        }
        response.header = core.header(revision: 0)
        call.send(response.serializedBytes())
    }

    func receivedEnd() { call.finish(.ok) }
    func cancelled() {}
}
