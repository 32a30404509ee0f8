import ProtoWire

// Auth service messages of package etcdserverpb (Protos/etcdserverpb.proto).

/// etcdserverpb.AuthEnableRequest
public struct AuthEnableRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.AuthDisableRequest
public struct AuthDisableRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.AuthenticateRequest
public struct AuthenticateRequest: ProtoMessage {
    public var name: String = ""
    public var password: String = ""

    public init() {}

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }

    public var serializedSize: Int { ProtoSize.string(1, name) + ProtoSize.string(2, password) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeString(2, password)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: password = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserAddRequest
public struct AuthUserAddRequest: ProtoMessage {
    public var name: String = ""
    public var password: String = ""
    public var options: UserAddOptions?

    public init() {}

    public init(name: String, password: String, options: UserAddOptions? = nil) {
        self.name = name
        self.password = password
        self.options = options
    }

    public var serializedSize: Int {
        ProtoSize.string(1, name) + ProtoSize.string(2, password) + ProtoSize.message(3, options)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeString(2, password)
        writer.writeMessage(3, options)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: password = try reader.readString(wireType, field: field)
        case 3: try reader.mergeMessage(wireType, field: field, into: &options)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserGetRequest
public struct AuthUserGetRequest: ProtoMessage {
    public var name: String = ""

    public init() {}

    public init(name: String) {
        self.name = name
    }

    public var serializedSize: Int { ProtoSize.string(1, name) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserDeleteRequest
public struct AuthUserDeleteRequest: ProtoMessage {
    public var name: String = ""

    public init() {}

    public init(name: String) {
        self.name = name
    }

    public var serializedSize: Int { ProtoSize.string(1, name) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserChangePasswordRequest
public struct AuthUserChangePasswordRequest: ProtoMessage {
    public var name: String = ""
    public var password: String = ""

    public init() {}

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }

    public var serializedSize: Int { ProtoSize.string(1, name) + ProtoSize.string(2, password) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeString(2, password)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: password = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserGrantRoleRequest
public struct AuthUserGrantRoleRequest: ProtoMessage {
    public var user: String = ""
    public var role: String = ""

    public init() {}

    public init(user: String, role: String) {
        self.user = user
        self.role = role
    }

    public var serializedSize: Int { ProtoSize.string(1, user) + ProtoSize.string(2, role) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, user)
        writer.writeString(2, role)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: user = try reader.readString(wireType, field: field)
        case 2: role = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserRevokeRoleRequest
public struct AuthUserRevokeRoleRequest: ProtoMessage {
    public var name: String = ""
    public var role: String = ""

    public init() {}

    public init(name: String, role: String) {
        self.name = name
        self.role = role
    }

    public var serializedSize: Int { ProtoSize.string(1, name) + ProtoSize.string(2, role) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeString(2, role)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: role = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleAddRequest
public struct AuthRoleAddRequest: ProtoMessage {
    public var name: String = ""

    public init() {}

    public init(name: String) {
        self.name = name
    }

    public var serializedSize: Int { ProtoSize.string(1, name) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleGetRequest
public struct AuthRoleGetRequest: ProtoMessage {
    public var role: String = ""

    public init() {}

    public init(role: String) {
        self.role = role
    }

    public var serializedSize: Int { ProtoSize.string(1, role) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, role)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: role = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserListRequest
public struct AuthUserListRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.AuthRoleListRequest
public struct AuthRoleListRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.AuthRoleDeleteRequest
public struct AuthRoleDeleteRequest: ProtoMessage {
    public var role: String = ""

    public init() {}

    public init(role: String) {
        self.role = role
    }

    public var serializedSize: Int { ProtoSize.string(1, role) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, role)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: role = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleGrantPermissionRequest
public struct AuthRoleGrantPermissionRequest: ProtoMessage {
    /// The role's name.
    public var name: String = ""
    public var perm: Permission?

    public init() {}

    public init(name: String, perm: Permission?) {
        self.name = name
        self.perm = perm
    }

    public var serializedSize: Int { ProtoSize.string(1, name) + ProtoSize.message(2, perm) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        writer.writeMessage(2, perm)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: try reader.mergeMessage(wireType, field: field, into: &perm)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleRevokePermissionRequest
public struct AuthRoleRevokePermissionRequest: ProtoMessage {
    public var role: String = ""
    public var key: [UInt8] = []
    public var rangeEnd: [UInt8] = []

    public init() {}

    public init(role: String, key: [UInt8], rangeEnd: [UInt8] = []) {
        self.role = role
        self.key = key
        self.rangeEnd = rangeEnd
    }

    public var serializedSize: Int {
        ProtoSize.string(1, role) + ProtoSize.bytes(2, key) + ProtoSize.bytes(3, rangeEnd)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, role)
        writer.writeBytes(2, key)
        writer.writeBytes(3, rangeEnd)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: role = try reader.readString(wireType, field: field)
        case 2: key = try reader.readBytes(wireType, field: field)
        case 3: rangeEnd = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthEnableResponse
public struct AuthEnableResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthDisableResponse
public struct AuthDisableResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthenticateResponse
public struct AuthenticateResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var token: String = ""

    public init() {}

    public init(header: ResponseHeader?, token: String) {
        self.header = header
        self.token = token
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.string(2, token) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeString(2, token)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: token = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserAddResponse
public struct AuthUserAddResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthUserGetResponse
public struct AuthUserGetResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var roles: [String] = []

    public init() {}

    public init(header: ResponseHeader?, roles: [String]) {
        self.header = header
        self.roles = roles
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.repeatedString(2, roles) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeRepeatedString(2, roles)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: roles.append(try reader.readString(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserDeleteResponse
public struct AuthUserDeleteResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthUserChangePasswordResponse
public struct AuthUserChangePasswordResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthUserGrantRoleResponse
public struct AuthUserGrantRoleResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthUserRevokeRoleResponse
public struct AuthUserRevokeRoleResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthRoleAddResponse
public struct AuthRoleAddResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthRoleGetResponse
public struct AuthRoleGetResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var perm: [Permission] = []

    public init() {}

    public init(header: ResponseHeader?, perm: [Permission]) {
        self.header = header
        self.perm = perm
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.messages(2, perm) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessages(2, perm)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: perm.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleListResponse
public struct AuthRoleListResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var roles: [String] = []

    public init() {}

    public init(header: ResponseHeader?, roles: [String]) {
        self.header = header
        self.roles = roles
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.repeatedString(2, roles) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeRepeatedString(2, roles)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: roles.append(try reader.readString(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthUserListResponse
public struct AuthUserListResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var users: [String] = []

    public init() {}

    public init(header: ResponseHeader?, users: [String]) {
        self.header = header
        self.users = users
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.repeatedString(2, users) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeRepeatedString(2, users)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: users.append(try reader.readString(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AuthRoleDeleteResponse
public struct AuthRoleDeleteResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthRoleGrantPermissionResponse
public struct AuthRoleGrantPermissionResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.AuthRoleRevokePermissionResponse
public struct AuthRoleRevokePermissionResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}
