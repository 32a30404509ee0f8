import EtcdProto
import Foundation
import GRPC
import Raft

/// etcdserverpb.Cluster: membership changes go through the log as conf changes (validated
/// again when applied, as etcd does); with `--strict-reconfig-check` they are refused up front
/// when they would leave the cluster without a working quorum.
struct ClusterService {
    let headers: HeaderSource
    let proposer: Proposing
    let membership: ClusterMembership
    let consensus: ConsensusStatus
    let peers: PeerActivity
    let promoteForwarding: PromoteForwarding
    let strictReconfigCheck: Bool
    /// Member changes need the root role when auth is on (etcd's
    /// checkMembershipOperationPermission); promotes forwarded by peers are not checked again.
    var gate: AuthGate?
    /// etcd's HealthInterval: peers must have been connected this long.
    static let healthIntervalNanoseconds: UInt64 = 5_000_000_000
    /// etcd's readyPercent: a learner is in sync once its log matches 90% of the leader's.
    static let learnerReadyFraction = 0.9

    func register(into router: inout Router) {
        let service = self
        router.unary("/etcdserverpb.Cluster/MemberList", MemberListRequest.self) { _, responder in
            var response = MemberListResponse()
            response.header = service.headers.memberHeader()
            response.members = service.membership.all
            responder.succeed(response)
        }
        router.unary("/etcdserverpb.Cluster/MemberAdd", MemberAddRequest.self) { request, responder in
            if let refusal = service.adminRefusal(responder) { return responder.fail(refusal) }
            service.add(request, responder)
        }
        router.unary("/etcdserverpb.Cluster/MemberRemove", MemberRemoveRequest.self) { request, responder in
            if let refusal = service.adminRefusal(responder) { return responder.fail(refusal) }
            if let refusal = service.removalRefusal(request.id) { return responder.fail(refusal) }
            service.proposer.proposeConfChange(ConfChange(type: .removeNode, nodeID: request.id),
                                               deadline: responder.deadline) { result in
                service.complete(result, responder, MemberRemoveResponse.self)
            }
        }
        router.unary("/etcdserverpb.Cluster/MemberUpdate", MemberUpdateRequest.self) { request, responder in
            if let refusal = service.adminRefusal(responder) { return responder.fail(refusal) }
            // etcd's context carries only the ID and the new peer URLs.
            let context = MemberJSON.encode(Member(id: request.id, peerURLs: request.peerURLs))
            let change = ConfChange(type: .updateNode, nodeID: request.id, context: Array(context.utf8))
            service.proposer.proposeConfChange(change, deadline: responder.deadline) { result in
                service.complete(result, responder, MemberUpdateResponse.self)
            }
        }
        router.unary("/etcdserverpb.Cluster/MemberPromote", MemberPromoteRequest.self) { request, responder in
            if let refusal = service.adminRefusal(responder) { return responder.fail(refusal) }
            service.promote(request.id) { result in
                switch result {
                case .success(let members):
                    var response = MemberPromoteResponse()
                    response.header = service.headers.memberHeader()
                    response.members = members
                    responder.succeed(response)
                case .failure(let error):
                    responder.fail(error)
                }
            }
        }
    }

    private func adminRefusal(_ responder: Responder) -> EtcdError? {
        gate?.adminRefusal(responder.call)
    }

    private func add(_ request: MemberAddRequest, _ responder: Responder) {
        guard let urls = ClusterService.validPeerURLs(request.peerURLs) else { return responder.fail(.memberBadURLs) }
        // etcd names a new member by its peer URLs and the time (not the cluster token).
        let id = ClusterService.newMemberID(peerURLs: urls, unixSeconds: Int64(Date().timeIntervalSince1970))
        let member = Member(id: id, peerURLs: urls, isLearner: request.isLearner)
        if let refusal = additionRefusal(learner: member.isLearner) { return responder.fail(refusal) }
        let change = ConfChange(type: member.isLearner ? .addLearnerNode : .addNode, nodeID: id,
                                context: Array(MemberJSON.encode(member).utf8))
        proposer.proposeConfChange(change, deadline: responder.deadline) { result in
            switch result {
            case .success(.members(let members)):
                var response = MemberAddResponse()
                response.header = headers.memberHeader()
                response.member = member
                response.members = members
                responder.succeed(response)
            case .failure(let error):
                responder.fail(error)
            case .success:
                responder.fail(GRPCStatus(.internal, "etcdserver: unexpected response type"))
            }
        }
    }

    /// Promotes a learner: checked and proposed by the leader, which alone knows how far the
    /// learner's log has come; forwarded to it from any other member.
    func promote(_ id: UInt64, _ done: @escaping @Sendable (Result<[Member], EtcdError>) -> Void) {
        guard consensus.isLeader else {
            promoteForwarding.forwardPromote(id, done)
            return
        }
        let progress = consensus.progress
        if let learner = progress[id], let leader = progress[consensus.memberID],
           Double(learner.match) < Double(leader.match) * ClusterService.learnerReadyFraction {
            return done(.failure(.learnerNotReady))
        }
        if strictReconfigCheck && !membership.isReadyToPromoteMember(id) {
            return done(.failure(.memberNotEnoughStarted))
        }
        let context = MemberJSON.promoteContext(id: id)
        proposer.proposeConfChange(ConfChange(type: .addNode, nodeID: id, context: Array(context.utf8))) { result in
            switch result {
            case .success(.members(let members)): done(.success(members))
            case .failure(let error): done(.failure(error))
            case .success: done(.failure(.unmapped("etcdserver: unexpected response type")))
            }
        }
    }

    /// etcd's `mayAddMember`: a voter needs a quorum of started members, and any addition
    /// needs every voter connected for the health interval.
    func additionRefusal(learner: Bool) -> EtcdError? {
        guard strictReconfigCheck else { return nil }
        if !learner && !membership.isReadyToAddVotingMember() { return .memberNotEnoughStarted }
        if !connectedToEveryVoter() { return .unhealthy }
        return nil
    }

    /// etcd's `mayRemoveMember`.
    func removalRefusal(_ id: UInt64) -> EtcdError? {
        guard strictReconfigCheck else { return nil }
        if membership.member(id)?.isLearner == true { return nil }
        if !membership.isReadyToRemoveVotingMember(id) { return .memberNotEnoughStarted }
        // A member that is down is not part of the active quorum: removing it is safe.
        if id != consensus.memberID && peers.activeSince(id) == nil { return nil }
        let voters = membership.votingMembers
        let active = voters.filter { connectedSinceHealthInterval($0.id) }.count
        if active - 1 < 1 + (voters.count - 1) / 2 { return .unhealthy }
        return nil
    }

    private func connectedSinceHealthInterval(_ id: UInt64) -> Bool {
        if id == consensus.memberID { return true }
        guard let since = peers.activeSince(id) else { return false }
        return DispatchTime.now().uptimeNanoseconds - since >= ClusterService.healthIntervalNanoseconds
    }

    private func connectedToEveryVoter() -> Bool {
        membership.votingMembers.allSatisfy { connectedSinceHealthInterval($0.id) }
    }

    private func complete<Response: MembersResponse>(_ result: ApplyResult, _ responder: Responder, _ type: Response.Type) {
        switch result {
        case .success(.members(let members)):
            var response = Response()
            response.header = headers.memberHeader()
            response.members = members
            responder.succeed(response)
        case .failure(let error):
            responder.fail(error)
        case .success:
            responder.fail(GRPCStatus(.internal, "etcdserver: unexpected response type"))
        }
    }

    /// Peer URLs as etcd's `types.NewURLs` accepts them (scheme http, https, unix or unixs, a
    /// host with a port, no path), sorted; nil if any is malformed.
    static func validPeerURLs(_ texts: [String]) -> [String]? {
        var urls: [String] = []
        for text in texts {
            guard let url = URLComponents(string: text), let scheme = url.scheme,
                  ["http", "https", "unix", "unixs"].contains(scheme), let host = url.host, !host.isEmpty,
                  url.port != nil, url.path.isEmpty else { return nil }
            urls.append(text)
        }
        return urls.sorted()
    }

    /// etcd's ID for a member added at run time: SHA-1 over the sorted peer URLs, an empty
    /// cluster name and the Unix time in seconds; the first 8 bytes, big-endian.
    static func newMemberID(peerURLs: [String], unixSeconds: Int64) -> UInt64 {
        ClusterIdentity.memberID(peerURLs: peerURLs, token: "\(unixSeconds)")
    }
}
