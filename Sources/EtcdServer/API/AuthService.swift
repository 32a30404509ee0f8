import EtcdProto
import Foundation
import GRPC
import ProtoWire

/// etcdserverpb.Auth, as etcd 3.4 serves it: every call goes through the log (the reads too),
/// is checked where it applies (admin calls need the root role; a user may read itself and
/// its roles), and answers with the header of the store's revision. Authenticate checks the
/// password here first (bcrypt, off the event loops) and proposes only the user's name and a
/// token prefix; every member then knows the token.
struct AuthService {
    let headers: HeaderSource
    let proposer: Proposing
    let barrier: ReadBarrier
    let gate: AuthGate
    /// Password checks (bcrypt, slow by design) run here, never on an event loop, and on at
    /// most all cores but one: a burst of logins queues up instead of starving other clients.
    static let passwordChecks: OperationQueue = {
        let queue = OperationQueue()
        queue.name = "auth.passwords"
        queue.maxConcurrentOperationCount = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        return queue
    }()

    func register(into router: inout Router) {
        proposing(&router, "AuthEnable", AuthEnableRequest.self, AuthEnableResponse.self) { request, message in request.authEnable = message }
        proposing(&router, "AuthDisable", AuthDisableRequest.self, AuthDisableResponse.self) { request, message in request.authDisable = message }
        proposing(&router, "UserAdd", AuthUserAddRequest.self, AuthUserAddResponse.self) { request, message in request.authUserAdd = message }
        proposing(&router, "UserDelete", AuthUserDeleteRequest.self, AuthUserDeleteResponse.self) { request, message in request.authUserDelete = message }
        proposing(&router, "UserChangePassword", AuthUserChangePasswordRequest.self, AuthUserChangePasswordResponse.self) {
            request, message in request.authUserChangePassword = message
        }
        proposing(&router, "UserGrantRole", AuthUserGrantRoleRequest.self, AuthUserGrantRoleResponse.self) {
            request, message in request.authUserGrantRole = message
        }
        proposing(&router, "UserRevokeRole", AuthUserRevokeRoleRequest.self, AuthUserRevokeRoleResponse.self) {
            request, message in request.authUserRevokeRole = message
        }
        proposing(&router, "RoleAdd", AuthRoleAddRequest.self, AuthRoleAddResponse.self) { request, message in request.authRoleAdd = message }
        proposing(&router, "RoleDelete", AuthRoleDeleteRequest.self, AuthRoleDeleteResponse.self) { request, message in request.authRoleDelete = message }
        proposing(&router, "RoleGrantPermission", AuthRoleGrantPermissionRequest.self, AuthRoleGrantPermissionResponse.self) {
            request, message in request.authRoleGrantPermission = message
        }
        proposing(&router, "RoleRevokePermission", AuthRoleRevokePermissionRequest.self, AuthRoleRevokePermissionResponse.self) {
            request, message in request.authRoleRevokePermission = message
        }
        let service = self
        router.unary("/etcdserverpb.Auth/UserGet", AuthUserGetRequest.self) { message, responder in
            service.propose(responder, { $0.authUserGet = message }) { reply, header in
                guard case .roles(let roles) = reply else { return nil }
                var response = AuthUserGetResponse()
                response.header = header
                response.roles = roles
                return response.serializedBytes()
            }
        }
        router.unary("/etcdserverpb.Auth/UserList", AuthUserListRequest.self) { message, responder in
            service.propose(responder, { $0.authUserList = message }) { reply, header in
                guard case .users(let users) = reply else { return nil }
                return AuthUserListResponse(header: header, users: users).serializedBytes()
            }
        }
        router.unary("/etcdserverpb.Auth/RoleGet", AuthRoleGetRequest.self) { message, responder in
            service.propose(responder, { $0.authRoleGet = message }) { reply, header in
                guard case .permissions(let permissions) = reply else { return nil }
                var response = AuthRoleGetResponse()
                response.header = header
                response.perm = permissions
                return response.serializedBytes()
            }
        }
        router.unary("/etcdserverpb.Auth/RoleList", AuthRoleListRequest.self) { message, responder in
            service.propose(responder, { $0.authRoleList = message }) { reply, header in
                guard case .roles(let roles) = reply else { return nil }
                return AuthRoleListResponse(header: header, roles: roles).serializedBytes()
            }
        }
        router.unary("/etcdserverpb.Auth/Authenticate", AuthenticateRequest.self) { request, responder in
            service.authenticate(request, responder: responder)
        }
    }

    /// A call whose answer is the header alone.
    private func proposing<Request: ProtoMessage, Response: HeaderOnlyResponse>(
        _ router: inout Router, _ method: String, _ type: Request.Type, _ response: Response.Type,
        _ fill: @escaping @Sendable (inout InternalRaftRequest, Request) -> Void
    ) {
        let service = self
        router.unary("/etcdserverpb.Auth/\(method)", type) { message, responder in
            service.propose(responder, { fill(&$0, message) }) { _, header in
                Response(header: header).serializedBytes()
            }
        }
    }

    /// Proposes as the caller and answers with what `encode` makes of the reply.
    private func propose(_ responder: Responder, _ fill: @escaping @Sendable (inout InternalRaftRequest) -> Void,
                         encode: @escaping @Sendable (AuthReply, ResponseHeader) -> [UInt8]?) {
        gate.propose(proposer, responder, fill) { result in
            switch result {
            case .success(.auth(let reply)):
                guard let bytes = encode(reply, headers.header(revision: 0)) else {
                    return responder.fail(.unmapped("auth: unexpected reply"))
                }
                responder.call.respond(.success(bytes))
            case .success:
                responder.fail(.unmapped("auth: unexpected reply"))
            case .failure(let error):
                responder.fail(error)
            }
        }
    }

    /// etcd's Authenticate: a linearizable barrier, the password checked here, then the token
    /// assigned through the log; if the auth store changed meanwhile, again.
    private func authenticate(_ request: AuthenticateRequest, responder: Responder, attempts: Int = 0) {
        barrier.linearizableRead { error in
            if let error { return responder.fail(error) }
            // A flood of logins is refused rather than queued without end.
            if AuthService.passwordChecks.operationCount > 1024 { return responder.fail(.tooManyRequests) }
            AuthService.passwordChecks.addOperation {
                // A caller that gave up does not cost a bcrypt.
                if responder.call.isCancelledOrFinished { return }
                if let deadline = responder.deadline, DispatchTime.now().uptimeNanoseconds > deadline {
                    return responder.fail(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
                }
                let checked: UInt64
                switch gate.store.checkPassword(name: request.name, password: request.password) {
                case .success(let revision): checked = revision
                case .failure(let error): return responder.fail(error)
                }
                let prefix = gate.store.jwt == nil ? SimpleTokens.prefix() : ""
                gate.propose(proposer, responder, {
                    $0.authenticate = InternalAuthenticateRequest(name: request.name, password: "", simpleToken: prefix)
                }) { result in
                    switch result {
                    case .success(.auth(.token(let token))):
                        if gate.store.currentRevision != checked && attempts < 3 {
                            return authenticate(request, responder: responder, attempts: attempts + 1)
                        }
                        responder.succeed(AuthenticateResponse(header: headers.header(revision: 0), token: token))
                    case .success:
                        responder.fail(.unmapped("auth: unexpected reply"))
                    case .failure(let error):
                        responder.fail(error)
                    }
                }
            }
        }
    }
}
