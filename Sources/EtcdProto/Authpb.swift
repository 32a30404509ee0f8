import ProtoWire

// Messages of package authpb (Protos/authpb.proto).

/// authpb.UserAddOptions
public struct UserAddOptions: ProtoMessage {
    /// The user has no password and can only authenticate with a client certificate.
    public var noPassword: Bool = false

    public init() {}

    public init(noPassword: Bool) {
        self.noPassword = noPassword
    }

    public var serializedSize: Int { ProtoSize.bool(1, noPassword) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBool(1, noPassword)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: noPassword = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// authpb.User: a user as kept in the auth store.
public struct User: ProtoMessage {
    public var name: [UInt8] = []
    /// Password hash; empty for users without a password.
    public var password: [UInt8] = []
    public var roles: [String] = []
    public var options: UserAddOptions?

    public init() {}

    public init(name: [UInt8] = [], password: [UInt8] = [], roles: [String] = [],
                options: UserAddOptions? = nil) {
        self.name = name
        self.password = password
        self.roles = roles
        self.options = options
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, name) + ProtoSize.bytes(2, password) + ProtoSize.repeatedString(3, roles)
            + ProtoSize.message(4, options)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
        writer.writeBytes(2, password)
        writer.writeRepeatedString(3, roles)
        writer.writeMessage(4, options)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        case 2: password = try reader.readBytes(wireType, field: field)
        case 3: roles.append(try reader.readString(wireType, field: field))
        case 4: try reader.mergeMessage(wireType, field: field, into: &options)
        default: return false
        }
        return true
    }
}

/// authpb.Permission: read and/or write access to a key or a key range.
public struct Permission: ProtoMessage {
    /// authpb.Permission.Type (renamed: `Permission.Type` would name the metatype in Swift).
    public enum PermissionType: Int32, Sendable {
        case read = 0
        case write = 1
        case readWrite = 2
    }

    public var permTypeRaw: Int32 = 0
    public var key: [UInt8] = []
    public var rangeEnd: [UInt8] = []

    public var permType: PermissionType? {
        get { PermissionType(rawValue: permTypeRaw) }
        set { permTypeRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(permType: PermissionType, key: [UInt8] = [], rangeEnd: [UInt8] = []) {
        self.permTypeRaw = permType.rawValue
        self.key = key
        self.rangeEnd = rangeEnd
    }

    public var serializedSize: Int {
        ProtoSize.int32(1, permTypeRaw) + ProtoSize.bytes(2, key) + ProtoSize.bytes(3, rangeEnd)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt32(1, permTypeRaw)
        writer.writeBytes(2, key)
        writer.writeBytes(3, rangeEnd)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: permTypeRaw = try reader.readInt32(wireType, field: field)
        case 2: key = try reader.readBytes(wireType, field: field)
        case 3: rangeEnd = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// authpb.Role: a named set of permissions.
public struct Role: ProtoMessage {
    public var name: [UInt8] = []
    public var keyPermission: [Permission] = []

    public init() {}

    public init(name: [UInt8], keyPermission: [Permission] = []) {
        self.name = name
        self.keyPermission = keyPermission
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, name) + ProtoSize.messages(2, keyPermission)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
        writer.writeMessages(2, keyPermission)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        case 2: keyPermission.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}
