import ProtoWire

// Log entry payloads of package etcdserverpb (Protos/raft_internal.proto).

/// etcdserverpb.RequestHeader: identity of a proposal and the auth context it was checked under.
public struct RequestHeader: ProtoMessage, Hashable {
    public var id: UInt64 = 0
    /// Empty when auth is off.
    public var username: String = ""
    /// Auth store revision at which the permission check was made.
    public var authRevision: UInt64 = 0

    public init() {}

    public init(id: UInt64, username: String = "", authRevision: UInt64 = 0) {
        self.id = id
        self.username = username
        self.authRevision = authRevision
    }

    public var serializedSize: Int {
        ProtoSize.uint64(1, id) + ProtoSize.string(2, username) + ProtoSize.uint64(3, authRevision)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, id)
        writer.writeString(2, username)
        writer.writeUInt64(3, authRevision)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        case 2: username = try reader.readString(wireType, field: field)
        case 3: authRevision = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.InternalRaftRequest: the payload of one log entry. Exactly one request field is set.
///
/// The schema declares these as plain message fields, not a oneof, so they stay separate optionals:
/// an entry that carries two of them decodes with both, as it does in etcd.
public struct InternalRaftRequest: ProtoMessage {
    public var header: RequestHeader?
    public var id: UInt64 = 0

    public var v2: V2Request?

    public var range: RangeRequest?
    public var put: PutRequest?
    public var deleteRange: DeleteRangeRequest?
    public var txn: TxnRequest?
    public var compaction: CompactionRequest?

    public var leaseGrant: LeaseGrantRequest?
    public var leaseRevoke: LeaseRevokeRequest?

    public var alarm: AlarmRequest?

    public var leaseCheckpoint: LeaseCheckpointRequest?

    public var authEnable: AuthEnableRequest?
    public var authDisable: AuthDisableRequest?

    public var authenticate: InternalAuthenticateRequest?

    public var authUserAdd: AuthUserAddRequest?
    public var authUserDelete: AuthUserDeleteRequest?
    public var authUserGet: AuthUserGetRequest?
    public var authUserChangePassword: AuthUserChangePasswordRequest?
    public var authUserGrantRole: AuthUserGrantRoleRequest?
    public var authUserRevokeRole: AuthUserRevokeRoleRequest?
    public var authUserList: AuthUserListRequest?
    public var authRoleList: AuthRoleListRequest?

    public var authRoleAdd: AuthRoleAddRequest?
    public var authRoleDelete: AuthRoleDeleteRequest?
    public var authRoleGet: AuthRoleGetRequest?
    public var authRoleGrantPermission: AuthRoleGrantPermissionRequest?
    public var authRoleRevokePermission: AuthRoleRevokePermissionRequest?

    public init() {}

    public var serializedSize: Int {
        var size = ProtoSize.uint64(1, id) + ProtoSize.message(2, v2)
        size += ProtoSize.message(3, range) + ProtoSize.message(4, put) + ProtoSize.message(5, deleteRange)
            + ProtoSize.message(6, txn) + ProtoSize.message(7, compaction)
        size += ProtoSize.message(8, leaseGrant) + ProtoSize.message(9, leaseRevoke)
            + ProtoSize.message(10, alarm) + ProtoSize.message(11, leaseCheckpoint)
        size += ProtoSize.message(100, header)
        size += ProtoSize.message(1000, authEnable) + ProtoSize.message(1011, authDisable)
            + ProtoSize.message(1012, authenticate)
        size += ProtoSize.message(1100, authUserAdd) + ProtoSize.message(1101, authUserDelete)
            + ProtoSize.message(1102, authUserGet) + ProtoSize.message(1103, authUserChangePassword)
            + ProtoSize.message(1104, authUserGrantRole) + ProtoSize.message(1105, authUserRevokeRole)
            + ProtoSize.message(1106, authUserList) + ProtoSize.message(1107, authRoleList)
        size += ProtoSize.message(1200, authRoleAdd) + ProtoSize.message(1201, authRoleDelete)
            + ProtoSize.message(1202, authRoleGet) + ProtoSize.message(1203, authRoleGrantPermission)
            + ProtoSize.message(1204, authRoleRevokePermission)
        return size
    }

    public func encode(to writer: inout ProtoWriter) {
        // Field-number order: the header (100) comes after the KV and lease requests.
        writer.writeUInt64(1, id)
        writer.writeMessage(2, v2)
        writer.writeMessage(3, range)
        writer.writeMessage(4, put)
        writer.writeMessage(5, deleteRange)
        writer.writeMessage(6, txn)
        writer.writeMessage(7, compaction)
        writer.writeMessage(8, leaseGrant)
        writer.writeMessage(9, leaseRevoke)
        writer.writeMessage(10, alarm)
        writer.writeMessage(11, leaseCheckpoint)
        writer.writeMessage(100, header)
        writer.writeMessage(1000, authEnable)
        writer.writeMessage(1011, authDisable)
        writer.writeMessage(1012, authenticate)
        writer.writeMessage(1100, authUserAdd)
        writer.writeMessage(1101, authUserDelete)
        writer.writeMessage(1102, authUserGet)
        writer.writeMessage(1103, authUserChangePassword)
        writer.writeMessage(1104, authUserGrantRole)
        writer.writeMessage(1105, authUserRevokeRole)
        writer.writeMessage(1106, authUserList)
        writer.writeMessage(1107, authRoleList)
        writer.writeMessage(1200, authRoleAdd)
        writer.writeMessage(1201, authRoleDelete)
        writer.writeMessage(1202, authRoleGet)
        writer.writeMessage(1203, authRoleGrantPermission)
        writer.writeMessage(1204, authRoleRevokePermission)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        case 2: try reader.mergeMessage(wireType, field: field, into: &v2)
        case 3: try reader.mergeMessage(wireType, field: field, into: &range)
        case 4: try reader.mergeMessage(wireType, field: field, into: &put)
        case 5: try reader.mergeMessage(wireType, field: field, into: &deleteRange)
        case 6: try reader.mergeMessage(wireType, field: field, into: &txn)
        case 7: try reader.mergeMessage(wireType, field: field, into: &compaction)
        case 8: try reader.mergeMessage(wireType, field: field, into: &leaseGrant)
        case 9: try reader.mergeMessage(wireType, field: field, into: &leaseRevoke)
        case 10: try reader.mergeMessage(wireType, field: field, into: &alarm)
        case 11: try reader.mergeMessage(wireType, field: field, into: &leaseCheckpoint)
        case 100: try reader.mergeMessage(wireType, field: field, into: &header)
        case 1000: try reader.mergeMessage(wireType, field: field, into: &authEnable)
        case 1011: try reader.mergeMessage(wireType, field: field, into: &authDisable)
        case 1012: try reader.mergeMessage(wireType, field: field, into: &authenticate)
        case 1100: try reader.mergeMessage(wireType, field: field, into: &authUserAdd)
        case 1101: try reader.mergeMessage(wireType, field: field, into: &authUserDelete)
        case 1102: try reader.mergeMessage(wireType, field: field, into: &authUserGet)
        case 1103: try reader.mergeMessage(wireType, field: field, into: &authUserChangePassword)
        case 1104: try reader.mergeMessage(wireType, field: field, into: &authUserGrantRole)
        case 1105: try reader.mergeMessage(wireType, field: field, into: &authUserRevokeRole)
        case 1106: try reader.mergeMessage(wireType, field: field, into: &authUserList)
        case 1107: try reader.mergeMessage(wireType, field: field, into: &authRoleList)
        case 1200: try reader.mergeMessage(wireType, field: field, into: &authRoleAdd)
        case 1201: try reader.mergeMessage(wireType, field: field, into: &authRoleDelete)
        case 1202: try reader.mergeMessage(wireType, field: field, into: &authRoleGet)
        case 1203: try reader.mergeMessage(wireType, field: field, into: &authRoleGrantPermission)
        case 1204: try reader.mergeMessage(wireType, field: field, into: &authRoleRevokePermission)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.EmptyResponse
public struct EmptyResponse: EmptyMessage {
    public init() {}
}

/// etcdserverpb.InternalAuthenticateRequest: Authenticate as proposed through the log. The leader has
/// checked the password and minted the token, so every member installs the same token.
public struct InternalAuthenticateRequest: ProtoMessage {
    public var name: String = ""
    public var password: String = ""
    public var simpleToken: String = ""

    public init() {}

    public init(name: String, password: String, simpleToken: String) {
        self.name = name
        self.password = password
        self.simpleToken = simpleToken
    }

    public var serializedSize: Int {
        ProtoSize.string(1, name) + ProtoSize.string(2, password) + ProtoSize.string(3, simpleToken)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeString(2, password)
        writer.writeString(3, simpleToken)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: password = try reader.readString(wireType, field: field)
        case 3: simpleToken = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}
