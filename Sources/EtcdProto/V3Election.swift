import ProtoWire

// Election service messages of package v3electionpb (Protos/v3election.proto). None of their names
// collide with another package's, so they carry no prefix.

/// v3electionpb.CampaignRequest
public struct CampaignRequest: ProtoMessage {
    public var name: [UInt8] = []
    /// The candidacy ends with this lease.
    public var lease: Int64 = 0
    /// Announced once elected.
    public var value: [UInt8] = []

    public init() {}

    public init(name: [UInt8], lease: Int64, value: [UInt8]) {
        self.name = name
        self.lease = lease
        self.value = value
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, name) + ProtoSize.int64(2, lease) + ProtoSize.bytes(3, value)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
        writer.writeInt64(2, lease)
        writer.writeBytes(3, value)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        case 2: lease = try reader.readInt64(wireType, field: field)
        case 3: value = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3electionpb.CampaignResponse
public struct CampaignResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var leader: LeaderKey?

    public init() {}

    public init(header: ResponseHeader?, leader: LeaderKey?) {
        self.header = header
        self.leader = leader
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.message(2, leader) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessage(2, leader)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: try reader.mergeMessage(wireType, field: field, into: &leader)
        default: return false
        }
        return true
    }
}

/// v3electionpb.LeaderKey: proof of leadership, the key a campaign created.
public struct LeaderKey: ProtoMessage, Hashable {
    public var name: [UInt8] = []
    public var key: [UInt8] = []
    /// Creation revision of `key`.
    public var rev: Int64 = 0
    public var lease: Int64 = 0

    public init() {}

    public init(name: [UInt8], key: [UInt8], rev: Int64, lease: Int64) {
        self.name = name
        self.key = key
        self.rev = rev
        self.lease = lease
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, name) + ProtoSize.bytes(2, key) + ProtoSize.int64(3, rev)
            + ProtoSize.int64(4, lease)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
        writer.writeBytes(2, key)
        writer.writeInt64(3, rev)
        writer.writeInt64(4, lease)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        case 2: key = try reader.readBytes(wireType, field: field)
        case 3: rev = try reader.readInt64(wireType, field: field)
        case 4: lease = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3electionpb.LeaderRequest
public struct LeaderRequest: ProtoMessage {
    public var name: [UInt8] = []

    public init() {}

    public init(name: [UInt8]) {
        self.name = name
    }

    public var serializedSize: Int { ProtoSize.bytes(1, name) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, name)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: name = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3electionpb.LeaderResponse
public struct LeaderResponse: ProtoMessage {
    public var header: ResponseHeader?
    /// The leader's key, holding its announced value.
    public var kv: KeyValue?

    public init() {}

    public init(header: ResponseHeader?, kv: KeyValue?) {
        self.header = header
        self.kv = kv
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.message(2, kv) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessage(2, kv)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: try reader.mergeMessage(wireType, field: field, into: &kv)
        default: return false
        }
        return true
    }
}

/// v3electionpb.ResignRequest
public struct ResignRequest: ProtoMessage {
    public var leader: LeaderKey?

    public init() {}

    public init(leader: LeaderKey?) {
        self.leader = leader
    }

    public var serializedSize: Int { ProtoSize.message(1, leader) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, leader)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &leader)
        default: return false
        }
        return true
    }
}

/// v3electionpb.ResignResponse
public struct ResignResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// v3electionpb.ProclaimRequest
public struct ProclaimRequest: ProtoMessage {
    public var leader: LeaderKey?
    public var value: [UInt8] = []

    public init() {}

    public init(leader: LeaderKey?, value: [UInt8]) {
        self.leader = leader
        self.value = value
    }

    public var serializedSize: Int { ProtoSize.message(1, leader) + ProtoSize.bytes(2, value) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, leader)
        writer.writeBytes(2, value)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &leader)
        case 2: value = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// v3electionpb.ProclaimResponse
public struct ProclaimResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}
