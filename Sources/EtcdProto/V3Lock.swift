import ProtoWire

// Lock service messages of package v3lockpb (Protos/v3lock.proto). None of their names collide
// with another package's, so they carry no prefix.

/// v3lockpb.LockRequest
public struct LockRequest: ProtoMessage {
    public var name: [UInt8] = []
    /// The lock is released when this lease ends.
    public var lease: Int64 = 0

    public init() {}

    public init(name: [UInt8], lease: Int64) {
        self.name = name
        self.lease = lease
    }

    public var serializedSize: Int { ProtoSize.bytes(1, name) + ProtoSize.int64(2, lease) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
        writer.writeInt64(2, lease)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        case 2: lease = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3lockpb.LockResponse
public struct LockResponse: ProtoMessage {
    public var header: ResponseHeader?
    /// The ownership key; pass it to Unlock.
    public var key: [UInt8] = []

    public init() {}

    public init(header: ResponseHeader?, key: [UInt8]) {
        self.header = header
        self.key = key
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.bytes(2, key) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeBytes(2, key)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: key = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3lockpb.UnlockRequest
public struct UnlockRequest: ProtoMessage {
    public var key: [UInt8] = []

    public init() {}

    public init(key: [UInt8]) {
        self.key = key
    }

    public var serializedSize: Int { ProtoSize.bytes(1, key) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3lockpb.UnlockResponse
public struct UnlockResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}
