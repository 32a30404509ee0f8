import EtcdProto
import Foundation
import GRPC

/// Who a call comes from and what it may do, for the services (etcd's `AuthInfoFromCtx` and
/// the checks made before proposing or serving).
///
/// The token travels in the gRPC metadata `token` (or `authorization`, how the JSON gateway
/// passes an `Authorization` header). A call without one is anonymous, or with
/// `--client-cert-auth` the user its certificate's CN names; a call with one that
/// names no live token fails with `etcdserver: invalid auth token`, whether auth is on or not
/// (after auth disable, clients must stop sending it), as in etcd.
struct AuthGate: Sendable {
    let store: AuthStore
    /// The member's applied index: a token assigned at a later index is not known here yet.
    let appliedIndex: @Sendable () -> UInt64
    /// Runs the closure once the member has applied the index.
    let waitApplied: @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void
    /// `--client-cert-auth`: a call without a token is the user its client certificate's CN
    /// names (never through the JSON gateway, whose calls carry no certificate name).
    var certificateAuth = false

    /// Who the call comes from, without waiting: a simple token from an Authenticate this
    /// member has not applied yet is refused here (`withIdentity` waits for it).
    func identity(_ call: ServerCall) -> Result<AuthInfo?, EtcdError> {
        guard let token = Self.token(call) else {
            if certificateAuth, let name = call.clientCommonName, !name.isEmpty {
                return .success(AuthInfo(username: name, revision: store.currentRevision))
            }
            return .success(nil)
        }
        if let jwt = store.jwt {
            // A JWT says who and at which auth revision; nothing is looked up.
            return jwt.info(token).map { .success($0) } ?? .failure(.invalidAuthToken)
        }
        guard SimpleTokens.index(of: token) != nil, let user = store.tokens.user(for: token) else {
            return .failure(.invalidAuthToken)
        }
        return .success(AuthInfo(username: user, revision: store.currentRevision))
    }

    static func token(_ call: ServerCall) -> String? {
        call.metadataValue("token") ?? call.metadataValue("authorization")
    }

    /// Resolves the caller, failing the call if its token is bad; then `body` with it. A simple
    /// token assigned at an index this member has not applied yet (a lagging follower) is
    /// looked up again once it has, as etcd waits for it, but never on the calling thread and
    /// for at most a second.
    func withIdentity(_ responder: Responder, _ body: @escaping @Sendable (AuthInfo?) -> Void) {
        switch identity(responder.call) {
        case .success(let info):
            body(info)
        case .failure(let error):
            guard store.jwt == nil, let token = Self.token(responder.call), let index = SimpleTokens.index(of: token),
                  index > appliedIndex(), index - appliedIndex() < 1_000_000 else {
                return responder.fail(error)
            }
            // The first of the wait and the timeout settles the call.
            let settled = AtomicFlag()
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                if !settled.exchange(true) { responder.fail(error) }
            }
            waitApplied(index) {
                guard !settled.exchange(true) else { return }
                switch identity(responder.call) {
                case .success(let info): body(info)
                case .failure(let error): responder.fail(error)
                }
            }
        }
    }

    /// Proposes as the caller: resolves who calls (failing the call on a bad token), lets
    /// `fill` build the request and stamps its header with the caller, whom the applying
    /// members check.
    func propose(_ proposer: Proposing, _ responder: Responder,
                 _ fill: @escaping @Sendable (inout InternalRaftRequest) -> Void,
                 completion: @escaping ApplyCompletion) {
        withIdentity(responder) { info in
            proposer.propose({ fill(&$0); AuthGate.stamp(&$0, info) }, deadline: responder.deadline, completion: completion)
        }
    }

    /// Sets the proposal's header to the caller (applying members check it).
    static func stamp(_ request: inout InternalRaftRequest, _ info: AuthInfo?) {
        guard let info else { return }
        request.header?.username = info.username
        request.header?.authRevision = info.revision
    }

    /// Reads (a range, a read-only txn's compares and ops) are checked where they are served.
    func checkRead(_ info: AuthInfo?, key: [UInt8], rangeEnd: [UInt8]) -> EtcdError? {
        store.permitted(info, key: key, rangeEnd: rangeEnd, write: false) ?? staleRevision(info)
    }

    func checkTxnReads(_ info: AuthInfo?, _ txn: TxnRequest) -> EtcdError? {
        guard store.isEnabled else { return staleRevision(info) }
        return AuthChecks.txn(txn) { key, end, write in store.permitted(info, key: key, rangeEnd: end, write: write) }
            ?? staleRevision(info)
    }

    /// etcd's check after a local read: a caller checked at another auth revision (a JWT from
    /// before a change) is refused, even with auth off.
    private func staleRevision(_ info: AuthInfo?) -> EtcdError? {
        guard let info, info.revision != 0, info.revision != store.currentRevision else { return nil }
        return .authOldRevision
    }

    /// Why the caller of an admin-only call (member changes) may not make it: a bad token, or
    /// not the root role.
    func adminRefusal(_ call: ServerCall) -> EtcdError? {
        switch identity(call) {
        case .success(let info): return store.adminCheck(info)
        case .failure(let error): return error
        }
    }

    /// Why the caller may not read the range (a watcher, checked when it is created).
    func readRefusal(_ call: ServerCall, key: [UInt8], rangeEnd: [UInt8]) -> EtcdError? {
        switch identity(call) {
        case .success(let info): return checkRead(info, key: key, rangeEnd: rangeEnd)
        case .failure(let error): return error
        }
    }

    /// The admin check of Defragment, Snapshot, Hash and HashKV: etcd's Maintenance server
    /// returns the auth store's own error, unmapped (code Unknown).
    func checkMaintenanceAdmin(_ call: ServerCall) -> GRPCStatus? {
        switch adminRefusal(call) {
        case nil: return nil
        case .invalidAuthToken?: return GRPCStatus(.unknown, "auth: invalid auth token")
        case .userEmpty?: return GRPCStatus(.unknown, "auth: user name is empty")
        case .userNotFound?: return GRPCStatus(.unknown, "auth: user not found")
        default: return GRPCStatus(.unknown, "auth: permission denied")
        }
    }
}

/// The permission checks of a request, as etcd's auth applier makes them.
enum AuthChecks {
    typealias Check = ([UInt8], [UInt8], _ write: Bool) -> EtcdError?

    /// A txn: every compare is a read; every operation of both branches is checked, whichever
    /// runs (nested txns too, which etcd 3.4 leaves unchecked).
    static func txn(_ txn: TxnRequest, _ check: Check) -> EtcdError? {
        for compare in txn.compare {
            if let error = check(compare.key, compare.rangeEnd, false) { return error }
        }
        for op in txn.success + txn.failure {
            switch op.request {
            case .requestRange(let range)?:
                if let error = check(range.key, range.rangeEnd, false) { return error }
            case .requestPut(let put)?:
                if let error = check(put.key, [], true) { return error }
            case .requestDeleteRange(let delete)?:
                if delete.prevKV, let error = check(delete.key, delete.rangeEnd, false) { return error }
                if let error = check(delete.key, delete.rangeEnd, true) { return error }
            case .requestTxn(let nested)?:
                if let error = self.txn(nested, check) { return error }
            case nil:
                break
            }
        }
        return nil
    }
}
