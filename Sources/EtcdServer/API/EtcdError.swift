import GRPC

/// Errors clients can see, with the gRPC code and the exact text etcd sends: clients match
/// errors by their text, so these strings are part of the API.
public enum EtcdError: Error, Equatable, Sendable {
    case emptyKey
    case keyNotFound
    case valueProvided
    case leaseProvided
    case tooManyOps
    case duplicateKey
    case compacted
    case futureRevision
    case noSpace
    case leaseNotFound
    case leaseExists
    case leaseTTLTooLarge
    case memberExists
    case peerURLExists
    case memberNotEnoughStarted
    case memberBadURLs
    case memberNotFound
    case memberNotLearner
    case learnerNotReady
    case tooManyLearners
    case requestTooLarge
    case tooManyRequests
    case rootUserNotExist
    case rootRoleNotExist
    case userAlreadyExists
    case userEmpty
    case userNotFound
    case roleAlreadyExists
    case roleNotFound
    case roleEmpty
    case authFailed
    case permissionDenied
    case roleNotGranted
    case permissionNotGranted
    case authNotEnabled
    case invalidAuthToken
    case invalidAuthManagement
    case authOldRevision
    case noLeader
    case notLeader
    case leaderChanged
    case notCapable
    case stopped
    case timeout
    case timeoutDueToLeaderFail
    case timeoutDueToConnectionLost
    case unhealthy
    case corrupt
    case notSupportedForLearner
    case badLeaderTransferee
    /// An error etcd does not map: sent as Unknown with its own text.
    case unmapped(String)

    public var grpcStatus: GRPCStatus {
        switch self {
        case .emptyKey: return GRPCStatus(.invalidArgument, "etcdserver: key is not provided")
        case .keyNotFound: return GRPCStatus(.invalidArgument, "etcdserver: key not found")
        case .valueProvided: return GRPCStatus(.invalidArgument, "etcdserver: value is provided")
        case .leaseProvided: return GRPCStatus(.invalidArgument, "etcdserver: lease is provided")
        case .tooManyOps: return GRPCStatus(.invalidArgument, "etcdserver: too many operations in txn request")
        case .duplicateKey: return GRPCStatus(.invalidArgument, "etcdserver: duplicate key given in txn request")
        case .compacted: return GRPCStatus(.outOfRange, "etcdserver: mvcc: required revision has been compacted")
        case .futureRevision: return GRPCStatus(.outOfRange, "etcdserver: mvcc: required revision is a future revision")
        case .noSpace: return GRPCStatus(.resourceExhausted, "etcdserver: mvcc: database space exceeded")
        case .leaseNotFound: return GRPCStatus(.notFound, "etcdserver: requested lease not found")
        case .leaseExists: return GRPCStatus(.failedPrecondition, "etcdserver: lease already exists")
        case .leaseTTLTooLarge: return GRPCStatus(.outOfRange, "etcdserver: too large lease TTL")
        case .memberExists: return GRPCStatus(.failedPrecondition, "etcdserver: member ID already exist")
        case .peerURLExists: return GRPCStatus(.failedPrecondition, "etcdserver: Peer URLs already exists")
        case .memberNotEnoughStarted:
            // etcd maps this to a client-side error value, which grpc-go sends as Unknown.
            return GRPCStatus(.unknown, "etcdserver: re-configuration failed due to not enough started members")
        case .memberBadURLs: return GRPCStatus(.invalidArgument, "etcdserver: given member URLs are invalid")
        case .memberNotFound: return GRPCStatus(.notFound, "etcdserver: member not found")
        case .memberNotLearner: return GRPCStatus(.failedPrecondition, "etcdserver: can only promote a learner member")
        case .learnerNotReady:
            return GRPCStatus(.failedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader")
        case .tooManyLearners: return GRPCStatus(.failedPrecondition, "etcdserver: too many learner members in cluster")
        case .requestTooLarge: return GRPCStatus(.invalidArgument, "etcdserver: request is too large")
        case .tooManyRequests:
            // As with memberNotEnoughStarted, etcd's mapping makes this Unknown on the wire.
            return GRPCStatus(.unknown, "etcdserver: too many requests")
        case .rootUserNotExist: return GRPCStatus(.failedPrecondition, "etcdserver: root user does not exist")
        case .rootRoleNotExist: return GRPCStatus(.failedPrecondition, "etcdserver: root user does not have root role")
        case .userAlreadyExists: return GRPCStatus(.failedPrecondition, "etcdserver: user name already exists")
        case .userEmpty: return GRPCStatus(.invalidArgument, "etcdserver: user name is empty")
        case .userNotFound: return GRPCStatus(.failedPrecondition, "etcdserver: user name not found")
        case .roleAlreadyExists: return GRPCStatus(.failedPrecondition, "etcdserver: role name already exists")
        case .roleNotFound: return GRPCStatus(.failedPrecondition, "etcdserver: role name not found")
        case .roleEmpty: return GRPCStatus(.invalidArgument, "etcdserver: role name is empty")
        case .authFailed: return GRPCStatus(.invalidArgument, "etcdserver: authentication failed, invalid user ID or password")
        case .permissionDenied: return GRPCStatus(.permissionDenied, "etcdserver: permission denied")
        case .roleNotGranted: return GRPCStatus(.failedPrecondition, "etcdserver: role is not granted to the user")
        case .permissionNotGranted: return GRPCStatus(.failedPrecondition, "etcdserver: permission is not granted to the role")
        case .authNotEnabled: return GRPCStatus(.failedPrecondition, "etcdserver: authentication is not enabled")
        case .invalidAuthToken: return GRPCStatus(.unauthenticated, "etcdserver: invalid auth token")
        case .invalidAuthManagement: return GRPCStatus(.invalidArgument, "etcdserver: invalid auth management")
        case .authOldRevision: return GRPCStatus(.invalidArgument, "etcdserver: revision of auth store is old")
        case .noLeader: return GRPCStatus(.unavailable, "etcdserver: no leader")
        case .notLeader: return GRPCStatus(.failedPrecondition, "etcdserver: not leader")
        case .leaderChanged: return GRPCStatus(.unavailable, "etcdserver: leader changed")
        case .notCapable: return GRPCStatus(.unavailable, "etcdserver: not capable")
        case .stopped: return GRPCStatus(.unavailable, "etcdserver: server stopped")
        case .timeout: return GRPCStatus(.unavailable, "etcdserver: request timed out")
        case .timeoutDueToLeaderFail:
            return GRPCStatus(.unavailable, "etcdserver: request timed out, possibly due to previous leader failure")
        case .timeoutDueToConnectionLost:
            return GRPCStatus(.unavailable, "etcdserver: request timed out, possibly due to connection lost")
        case .unhealthy: return GRPCStatus(.unavailable, "etcdserver: unhealthy cluster")
        case .corrupt: return GRPCStatus(.dataLoss, "etcdserver: corrupt cluster")
        case .notSupportedForLearner: return GRPCStatus(.unavailable, "etcdserver: rpc not supported for learner")
        case .badLeaderTransferee: return GRPCStatus(.failedPrecondition, "etcdserver: bad leader transferee")
        case .unmapped(let text): return GRPCStatus(.unknown, text)
        }
    }
}
