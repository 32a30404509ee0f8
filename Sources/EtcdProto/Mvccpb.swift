import ProtoWire

/// mvccpb.KeyValue: a key's state as of one revision.
public struct KeyValue: ProtoMessage, Hashable {
    public var key: [UInt8] = []
    public var createRevision: Int64 = 0
    public var modRevision: Int64 = 0
    public var version: Int64 = 0
    public var value: [UInt8] = []
    public var lease: Int64 = 0

    public init() {}

    public init(key: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64,
                value: [UInt8], lease: Int64) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, key) + ProtoSize.int64(2, createRevision) + ProtoSize.int64(3, modRevision)
            + ProtoSize.int64(4, version) + ProtoSize.bytes(5, value) + ProtoSize.int64(6, lease)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
        writer.writeInt64(2, createRevision)
        writer.writeInt64(3, modRevision)
        writer.writeInt64(4, version)
        writer.writeBytes(5, value)
        writer.writeInt64(6, lease)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        case 2: createRevision = try reader.readInt64(wireType, field: field)
        case 3: modRevision = try reader.readInt64(wireType, field: field)
        case 4: version = try reader.readInt64(wireType, field: field)
        case 5: value = try reader.readBytes(wireType, field: field)
        case 6: lease = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// mvccpb.Event: one change delivered to watchers.
public struct Event: ProtoMessage {
    public enum EventType: Int32, Sendable {
        case put = 0
        case delete = 1
    }

    /// Enums are open in proto3: an unknown number is kept as its raw value.
    public var typeRaw: Int32 = 0
    public var kv: KeyValue?
    public var prevKV: KeyValue?

    public var type: EventType? {
        get { EventType(rawValue: typeRaw) }
        set { typeRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(type: EventType, kv: KeyValue?, prevKV: KeyValue? = nil) {
        self.typeRaw = type.rawValue
        self.kv = kv
        self.prevKV = prevKV
    }

    public var serializedSize: Int {
        ProtoSize.int32(1, typeRaw) + ProtoSize.message(2, kv) + ProtoSize.message(3, prevKV)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt32(1, typeRaw)
        writer.writeMessage(2, kv)
        writer.writeMessage(3, prevKV)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: typeRaw = try reader.readInt32(wireType, field: field)
        case 2: try reader.mergeMessage(wireType, field: field, into: &kv)
        case 3: try reader.mergeMessage(wireType, field: field, into: &prevKV)
        default: return false
        }
        return true
    }
}
