import ProtoWire

// Messages of the proto2 file Protos/etcdserver.proto (package etcdserverpb). Every field has
// explicit presence: nil is absent, and a present field is written even when it holds zero.
//
// Swift names differ from the schema's `Request` and `Metadata`, which are too generic for a
// module imported next to gRPC and server code.

/// etcdserverpb.Request: a v2 store operation, carried in InternalRaftRequest.v2.
public struct V2Request: ProtoMessage {
    public var id: UInt64?
    public var method: String?
    public var path: String?
    public var val: String?
    public var dir: Bool?
    public var prevValue: String?
    public var prevIndex: UInt64?
    public var prevExist: Bool?
    public var expiration: Int64?
    public var wait: Bool?
    public var since: UInt64?
    public var recursive: Bool?
    public var sorted: Bool?
    public var quorum: Bool?
    public var time: Int64?
    public var stream: Bool?
    public var refresh: Bool?

    public init() {}

    public var serializedSize: Int {
        var size = 0
        if let id { size += ProtoSize.uint64Always(1, id) }
        if let method { size += ProtoSize.stringAlways(2, method) }
        if let path { size += ProtoSize.stringAlways(3, path) }
        if let val { size += ProtoSize.stringAlways(4, val) }
        if dir != nil { size += ProtoSize.boolAlways(5) }
        if let prevValue { size += ProtoSize.stringAlways(6, prevValue) }
        if let prevIndex { size += ProtoSize.uint64Always(7, prevIndex) }
        if prevExist != nil { size += ProtoSize.boolAlways(8) }
        if let expiration { size += ProtoSize.int64Always(9, expiration) }
        if wait != nil { size += ProtoSize.boolAlways(10) }
        if let since { size += ProtoSize.uint64Always(11, since) }
        if recursive != nil { size += ProtoSize.boolAlways(12) }
        if sorted != nil { size += ProtoSize.boolAlways(13) }
        if quorum != nil { size += ProtoSize.boolAlways(14) }
        if let time { size += ProtoSize.int64Always(15, time) }
        if stream != nil { size += ProtoSize.boolAlways(16) }
        if refresh != nil { size += ProtoSize.boolAlways(17) }
        return size
    }

    public func encode(to writer: inout ProtoWriter) {
        if let id { writer.writeUInt64Always(1, id) }
        if let method { writer.writeStringAlways(2, method) }
        if let path { writer.writeStringAlways(3, path) }
        if let val { writer.writeStringAlways(4, val) }
        if let dir { writer.writeBoolAlways(5, dir) }
        if let prevValue { writer.writeStringAlways(6, prevValue) }
        if let prevIndex { writer.writeUInt64Always(7, prevIndex) }
        if let prevExist { writer.writeBoolAlways(8, prevExist) }
        if let expiration { writer.writeInt64Always(9, expiration) }
        if let wait { writer.writeBoolAlways(10, wait) }
        if let since { writer.writeUInt64Always(11, since) }
        if let recursive { writer.writeBoolAlways(12, recursive) }
        if let sorted { writer.writeBoolAlways(13, sorted) }
        if let quorum { writer.writeBoolAlways(14, quorum) }
        if let time { writer.writeInt64Always(15, time) }
        if let stream { writer.writeBoolAlways(16, stream) }
        if let refresh { writer.writeBoolAlways(17, refresh) }
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        case 2: method = try reader.readString(wireType, field: field)
        case 3: path = try reader.readString(wireType, field: field)
        case 4: val = try reader.readString(wireType, field: field)
        case 5: dir = try reader.readBool(wireType, field: field)
        case 6: prevValue = try reader.readString(wireType, field: field)
        case 7: prevIndex = try reader.readUInt64(wireType, field: field)
        case 8: prevExist = try reader.readBool(wireType, field: field)
        case 9: expiration = try reader.readInt64(wireType, field: field)
        case 10: wait = try reader.readBool(wireType, field: field)
        case 11: since = try reader.readUInt64(wireType, field: field)
        case 12: recursive = try reader.readBool(wireType, field: field)
        case 13: sorted = try reader.readBool(wireType, field: field)
        case 14: quorum = try reader.readBool(wireType, field: field)
        case 15: time = try reader.readInt64(wireType, field: field)
        case 16: stream = try reader.readBool(wireType, field: field)
        case 17: refresh = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.Metadata: which member wrote a WAL, and in which cluster.
public struct WALMetadata: ProtoMessage, Hashable {
    public var nodeID: UInt64?
    public var clusterID: UInt64?

    public init() {}

    public init(nodeID: UInt64, clusterID: UInt64) {
        self.nodeID = nodeID
        self.clusterID = clusterID
    }

    public var serializedSize: Int {
        var size = 0
        if let nodeID { size += ProtoSize.uint64Always(1, nodeID) }
        if let clusterID { size += ProtoSize.uint64Always(2, clusterID) }
        return size
    }

    public func encode(to writer: inout ProtoWriter) {
        if let nodeID { writer.writeUInt64Always(1, nodeID) }
        if let clusterID { writer.writeUInt64Always(2, clusterID) }
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: nodeID = try reader.readUInt64(wireType, field: field)
        case 2: clusterID = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}
