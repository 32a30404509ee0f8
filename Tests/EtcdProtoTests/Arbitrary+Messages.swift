import EtcdProto

// Random contents for every message type. Every field is drawn independently, so each is sometimes
// its default and usually not; oneofs pick any member, zero values included.

// MARK: mvccpb

extension KeyValue: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        KeyValue(key: g.bytes(), createRevision: g.int64(), modRevision: g.int64(), version: g.int64(),
                 value: g.bytes(), lease: g.int64())
    }
}

extension Event: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = Event()
        m.typeRaw = g.enumRaw(known: 2)
        m.kv = g.message()
        m.prevKV = g.message()
        return m
    }
}

// MARK: authpb

extension UserAddOptions: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { UserAddOptions(noPassword: g.bool()) }
}

extension User: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        User(name: g.bytes(), password: g.bytes(), roles: g.strings(), options: g.message())
    }
}

extension Permission: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = Permission()
        m.permTypeRaw = g.enumRaw(known: 3)
        m.key = g.bytes()
        m.rangeEnd = g.bytes()
        return m
    }
}

extension Role: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { Role(name: g.bytes(), keyPermission: g.messages()) }
}

// MARK: etcdserverpb KV

extension ResponseHeader: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        ResponseHeader(clusterID: g.uint64(), memberID: g.uint64(), revision: g.int64(), raftTerm: g.uint64())
    }
}

extension RangeRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = RangeRequest()
        m.key = g.bytes()
        m.rangeEnd = g.bytes()
        m.limit = g.int64()
        m.revision = g.int64()
        m.sortOrderRaw = g.enumRaw(known: 3)
        m.sortTargetRaw = g.enumRaw(known: 5)
        m.serializable = g.bool()
        m.keysOnly = g.bool()
        m.countOnly = g.bool()
        m.minModRevision = g.int64()
        m.maxModRevision = g.int64()
        m.minCreateRevision = g.int64()
        m.maxCreateRevision = g.int64()
        return m
    }
}

extension RangeResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        RangeResponse(header: g.message(), kvs: g.messages(max: 5), more: g.bool(), count: g.int64())
    }
}

extension PutRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        PutRequest(key: g.bytes(), value: g.bytes(), lease: g.int64(), prevKV: g.bool(),
                   ignoreValue: g.bool(), ignoreLease: g.bool())
    }
}

extension PutResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { PutResponse(header: g.message(), prevKV: g.message()) }
}

extension DeleteRangeRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        DeleteRangeRequest(key: g.bytes(), rangeEnd: g.bytes(), prevKV: g.bool())
    }
}

extension DeleteRangeResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        DeleteRangeResponse(header: g.message(), deleted: g.int64(), prevKVs: g.messages())
    }
}

extension RequestOp: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        // A transaction member only while below the depth limit, so nesting stays finite.
        let members = g.depth < Gen.maximumDepth ? 4 : 3
        switch g.int(0...members) {
        case 0: return RequestOp(nil)
        case 1: return RequestOp(.requestRange(g.nested()))
        case 2: return RequestOp(.requestPut(g.nested()))
        case 3: return RequestOp(.requestDeleteRange(g.nested()))
        default: return RequestOp(.requestTxn(g.nested()))
        }
    }
}

extension ResponseOp: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        let members = g.depth < Gen.maximumDepth ? 4 : 3
        switch g.int(0...members) {
        case 0: return ResponseOp(nil)
        case 1: return ResponseOp(.responseRange(g.nested()))
        case 2: return ResponseOp(.responsePut(g.nested()))
        case 3: return ResponseOp(.responseDeleteRange(g.nested()))
        default: return ResponseOp(.responseTxn(g.nested()))
        }
    }
}

extension Compare: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = Compare()
        m.resultRaw = g.enumRaw(known: 4)
        m.targetRaw = g.enumRaw(known: 5)
        m.key = g.bytes()
        switch g.int(0...5) {
        case 0: m.targetUnion = nil
        case 1: m.targetUnion = .version(g.int64())
        case 2: m.targetUnion = .createRevision(g.int64())
        case 3: m.targetUnion = .modRevision(g.int64())
        case 4: m.targetUnion = .value(g.bytes())
        default: m.targetUnion = .lease(g.int64())
        }
        m.rangeEnd = g.bytes()
        return m
    }
}

extension TxnRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        TxnRequest(compare: g.messages(), success: g.messages(), failure: g.messages())
    }
}

extension TxnResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        TxnResponse(header: g.message(), succeeded: g.bool(), responses: g.messages())
    }
}

extension CompactionRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { CompactionRequest(revision: g.int64(), physical: g.bool()) }
}

extension CompactionResponse: Arbitrary {}

// MARK: etcdserverpb Watch

extension WatchRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        switch g.int(0...3) {
        case 0: return WatchRequest(nil)
        case 1: return WatchRequest(.createRequest(g.nested()))
        case 2: return WatchRequest(.cancelRequest(g.nested()))
        default: return WatchRequest(.progressRequest(g.nested()))
        }
    }
}

extension WatchCreateRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = WatchCreateRequest()
        m.key = g.bytes()
        m.rangeEnd = g.bytes()
        m.startRevision = g.int64()
        m.progressNotify = g.bool()
        m.filtersRaw = g.array(max: 5) { $0.enumRaw(known: 2) }
        m.prevKV = g.bool()
        m.watchID = g.int64()
        m.fragment = g.bool()
        return m
    }
}

extension WatchCancelRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { WatchCancelRequest(watchID: g.int64()) }
}

extension WatchProgressRequest: Arbitrary {}

extension WatchResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        WatchResponse(header: g.message(), watchID: g.int64(), created: g.bool(), canceled: g.bool(),
                      compactRevision: g.int64(), cancelReason: g.string(), fragment: g.bool(),
                      events: g.messages(max: 5))
    }
}

// MARK: etcdserverpb Lease

extension LeaseGrantRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseGrantRequest(ttl: g.int64(), id: g.int64()) }
}

extension LeaseGrantResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        LeaseGrantResponse(header: g.message(), id: g.int64(), ttl: g.int64(), error: g.string())
    }
}

extension LeaseRevokeRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseRevokeRequest(id: g.int64()) }
}

extension LeaseRevokeResponse: Arbitrary {}

extension LeaseCheckpoint: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseCheckpoint(id: g.int64(), remainingTTL: g.int64()) }
}

extension LeaseCheckpointRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseCheckpointRequest(checkpoints: g.messages()) }
}

extension LeaseCheckpointResponse: Arbitrary {}

extension LeaseKeepAliveRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseKeepAliveRequest(id: g.int64()) }
}

extension LeaseKeepAliveResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        LeaseKeepAliveResponse(header: g.message(), id: g.int64(), ttl: g.int64())
    }
}

extension LeaseTimeToLiveRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseTimeToLiveRequest(id: g.int64(), keys: g.bool()) }
}

extension LeaseTimeToLiveResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        LeaseTimeToLiveResponse(header: g.message(), id: g.int64(), ttl: g.int64(), grantedTTL: g.int64(),
                                keys: g.array { $0.bytes() })
    }
}

extension LeaseLeasesRequest: Arbitrary {}

extension LeaseStatus: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseStatus(id: g.int64()) }
}

extension LeaseLeasesResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaseLeasesResponse(header: g.message(), leases: g.messages()) }
}

// MARK: etcdserverpb Cluster

extension Member: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        Member(id: g.uint64(), name: g.string(), peerURLs: g.strings(), clientURLs: g.strings(),
               isLearner: g.bool())
    }
}

extension MemberAddRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { MemberAddRequest(peerURLs: g.strings(), isLearner: g.bool()) }
}

extension MemberAddResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        MemberAddResponse(header: g.message(), member: g.message(), members: g.messages())
    }
}

extension MemberRemoveRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { MemberRemoveRequest(id: g.uint64()) }
}

extension MemberRemoveResponse: Arbitrary {}

extension MemberUpdateRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { MemberUpdateRequest(id: g.uint64(), peerURLs: g.strings()) }
}

extension MemberUpdateResponse: Arbitrary {}

extension MemberListRequest: Arbitrary {}

extension MemberListResponse: Arbitrary {}

extension MemberPromoteRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { MemberPromoteRequest(id: g.uint64()) }
}

extension MemberPromoteResponse: Arbitrary {}

// MARK: etcdserverpb Maintenance

extension AlarmRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = AlarmRequest()
        m.actionRaw = g.enumRaw(known: 3)
        m.memberID = g.uint64()
        m.alarmRaw = g.enumRaw(known: 3)
        return m
    }
}

extension AlarmMember: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = AlarmMember()
        m.memberID = g.uint64()
        m.alarmRaw = g.enumRaw(known: 3)
        return m
    }
}

extension AlarmResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AlarmResponse(header: g.message(), alarms: g.messages()) }
}

extension StatusRequest: Arbitrary {}

extension StatusResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        StatusResponse(header: g.message(), version: g.string(), dbSize: g.int64(), leader: g.uint64(),
                       raftIndex: g.uint64(), raftTerm: g.uint64(), raftAppliedIndex: g.uint64(),
                       errors: g.strings(), dbSizeInUse: g.int64(), isLearner: g.bool())
    }
}

extension DefragmentRequest: Arbitrary {}

extension DefragmentResponse: Arbitrary {}

extension MoveLeaderRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { MoveLeaderRequest(targetID: g.uint64()) }
}

extension MoveLeaderResponse: Arbitrary {}

extension HashRequest: Arbitrary {}

extension HashResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { HashResponse(header: g.message(), hash: g.uint32()) }
}

extension HashKVRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { HashKVRequest(revision: g.int64()) }
}

extension HashKVResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        HashKVResponse(header: g.message(), hash: g.uint32(), compactRevision: g.int64())
    }
}

extension SnapshotRequest: Arbitrary {}

extension SnapshotResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        SnapshotResponse(header: g.message(), remainingBytes: g.uint64(), blob: g.bytes())
    }
}

// MARK: etcdserverpb Auth

extension AuthEnableRequest: Arbitrary {}
extension AuthDisableRequest: Arbitrary {}
extension AuthUserListRequest: Arbitrary {}
extension AuthRoleListRequest: Arbitrary {}

extension AuthenticateRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthenticateRequest(name: g.string(), password: g.string()) }
}

extension AuthUserAddRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        AuthUserAddRequest(name: g.string(), password: g.string(), options: g.message())
    }
}

extension AuthUserGetRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserGetRequest(name: g.string()) }
}

extension AuthUserDeleteRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserDeleteRequest(name: g.string()) }
}

extension AuthUserChangePasswordRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        AuthUserChangePasswordRequest(name: g.string(), password: g.string())
    }
}

extension AuthUserGrantRoleRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserGrantRoleRequest(user: g.string(), role: g.string()) }
}

extension AuthUserRevokeRoleRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserRevokeRoleRequest(name: g.string(), role: g.string()) }
}

extension AuthRoleAddRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthRoleAddRequest(name: g.string()) }
}

extension AuthRoleGetRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthRoleGetRequest(role: g.string()) }
}

extension AuthRoleDeleteRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthRoleDeleteRequest(role: g.string()) }
}

extension AuthRoleGrantPermissionRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        AuthRoleGrantPermissionRequest(name: g.string(), perm: g.message())
    }
}

extension AuthRoleRevokePermissionRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        AuthRoleRevokePermissionRequest(role: g.string(), key: g.bytes(), rangeEnd: g.bytes())
    }
}

extension AuthEnableResponse: Arbitrary {}
extension AuthDisableResponse: Arbitrary {}
extension AuthUserAddResponse: Arbitrary {}
extension AuthUserDeleteResponse: Arbitrary {}
extension AuthUserChangePasswordResponse: Arbitrary {}
extension AuthUserGrantRoleResponse: Arbitrary {}
extension AuthUserRevokeRoleResponse: Arbitrary {}
extension AuthRoleAddResponse: Arbitrary {}
extension AuthRoleDeleteResponse: Arbitrary {}
extension AuthRoleGrantPermissionResponse: Arbitrary {}
extension AuthRoleRevokePermissionResponse: Arbitrary {}

extension AuthenticateResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthenticateResponse(header: g.message(), token: g.string()) }
}

extension AuthUserGetResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserGetResponse(header: g.message(), roles: g.strings()) }
}

extension AuthRoleGetResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthRoleGetResponse(header: g.message(), perm: g.messages()) }
}

extension AuthRoleListResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthRoleListResponse(header: g.message(), roles: g.strings()) }
}

extension AuthUserListResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { AuthUserListResponse(header: g.message(), users: g.strings()) }
}

// MARK: raft_internal and the proto2 v2 messages

extension RequestHeader: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        RequestHeader(id: g.uint64(), username: g.string(), authRevision: g.uint64())
    }
}

extension InternalRaftRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        // Real entries set one request; random ones set any subset, since the codec must not care.
        var m = InternalRaftRequest()
        func some<M: Arbitrary>(_ g: inout Gen) -> M? { g.oneIn(3) ? g.message() : nil }
        m.header = g.message()
        m.id = g.uint64()
        m.v2 = some(&g)
        m.range = some(&g)
        m.put = some(&g)
        m.deleteRange = some(&g)
        m.txn = some(&g)
        m.compaction = some(&g)
        m.leaseGrant = some(&g)
        m.leaseRevoke = some(&g)
        m.alarm = some(&g)
        m.leaseCheckpoint = some(&g)
        m.authEnable = some(&g)
        m.authDisable = some(&g)
        m.authenticate = some(&g)
        m.authUserAdd = some(&g)
        m.authUserDelete = some(&g)
        m.authUserGet = some(&g)
        m.authUserChangePassword = some(&g)
        m.authUserGrantRole = some(&g)
        m.authUserRevokeRole = some(&g)
        m.authUserList = some(&g)
        m.authRoleList = some(&g)
        m.authRoleAdd = some(&g)
        m.authRoleDelete = some(&g)
        m.authRoleGet = some(&g)
        m.authRoleGrantPermission = some(&g)
        m.authRoleRevokePermission = some(&g)
        return m
    }
}

extension EmptyResponse: Arbitrary {}

extension InternalAuthenticateRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        InternalAuthenticateRequest(name: g.string(), password: g.string(), simpleToken: g.string())
    }
}

extension V2Request: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        // proto2 presence: each field is absent, present with its zero value, or present.
        func present<T>(_ g: inout Gen, _ value: (inout Gen) -> T) -> T? { g.oneIn(3) ? nil : value(&g) }
        var m = V2Request()
        m.id = present(&g) { $0.uint64() }
        m.method = present(&g) { $0.string() }
        m.path = present(&g) { $0.string() }
        m.val = present(&g) { $0.string() }
        m.dir = present(&g) { $0.bool() }
        m.prevValue = present(&g) { $0.string() }
        m.prevIndex = present(&g) { $0.uint64() }
        m.prevExist = present(&g) { $0.bool() }
        m.expiration = present(&g) { $0.int64() }
        m.wait = present(&g) { $0.bool() }
        m.since = present(&g) { $0.uint64() }
        m.recursive = present(&g) { $0.bool() }
        m.sorted = present(&g) { $0.bool() }
        m.quorum = present(&g) { $0.bool() }
        m.time = present(&g) { $0.int64() }
        m.stream = present(&g) { $0.bool() }
        m.refresh = present(&g) { $0.bool() }
        return m
    }
}

extension WALMetadata: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        var m = WALMetadata()
        m.nodeID = g.oneIn(3) ? nil : g.uint64()
        m.clusterID = g.oneIn(3) ? nil : g.uint64()
        return m
    }
}

// MARK: v3lockpb

extension LockRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LockRequest(name: g.bytes(), lease: g.int64()) }
}

extension LockResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LockResponse(header: g.message(), key: g.bytes()) }
}

extension UnlockRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { UnlockRequest(key: g.bytes()) }
}

extension UnlockResponse: Arbitrary {}

// MARK: v3electionpb

extension CampaignRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        CampaignRequest(name: g.bytes(), lease: g.int64(), value: g.bytes())
    }
}

extension CampaignResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { CampaignResponse(header: g.message(), leader: g.message()) }
}

extension LeaderKey: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self {
        LeaderKey(name: g.bytes(), key: g.bytes(), rev: g.int64(), lease: g.int64())
    }
}

extension LeaderRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaderRequest(name: g.bytes()) }
}

extension LeaderResponse: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { LeaderResponse(header: g.message(), kv: g.message()) }
}

extension ResignRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { ResignRequest(leader: g.message()) }
}

extension ResignResponse: Arbitrary {}

extension ProclaimRequest: Arbitrary {
    static func arbitrary(_ g: inout Gen) -> Self { ProclaimRequest(leader: g.message(), value: g.bytes()) }
}

extension ProclaimResponse: Arbitrary {}
