import ProtoWire

// Cluster service messages of package etcdserverpb (Protos/etcdserverpb.proto).

/// etcdserverpb.Member
public struct Member: ProtoMessage {
    public var id: UInt64 = 0
    /// Empty until the member has started and published its name.
    public var name: String = ""
    public var peerURLs: [String] = []
    public var clientURLs: [String] = []
    public var isLearner: Bool = false

    public init() {}

    public init(id: UInt64, name: String = "", peerURLs: [String] = [], clientURLs: [String] = [],
                isLearner: Bool = false) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
        self.isLearner = isLearner
    }

    public var serializedSize: Int {
        ProtoSize.uint64(1, id) + ProtoSize.string(2, name) + ProtoSize.repeatedString(3, peerURLs)
            + ProtoSize.repeatedString(4, clientURLs) + ProtoSize.bool(5, isLearner)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, id)
        writer.writeString(2, name)
        writer.writeRepeatedString(3, peerURLs)
        writer.writeRepeatedString(4, clientURLs)
        writer.writeBool(5, isLearner)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        case 2: name = try reader.readString(wireType, field: field)
        case 3: peerURLs.append(try reader.readString(wireType, field: field))
        case 4: clientURLs.append(try reader.readString(wireType, field: field))
        case 5: isLearner = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// A response made of a header (field 1) and the membership after the call (field 2).
public protocol MembersResponse: ProtoMessage {
    var header: ResponseHeader? { get set }
    var members: [Member] { get set }
}

extension MembersResponse {
    public init(header: ResponseHeader?, members: [Member]) {
        self.init()
        self.header = header
        self.members = members
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.messages(2, members) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessages(2, members)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: members.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberAddRequest
public struct MemberAddRequest: ProtoMessage {
    public var peerURLs: [String] = []
    public var isLearner: Bool = false

    public init() {}

    public init(peerURLs: [String], isLearner: Bool = false) {
        self.peerURLs = peerURLs
        self.isLearner = isLearner
    }

    public var serializedSize: Int {
        ProtoSize.repeatedString(1, peerURLs) + ProtoSize.bool(2, isLearner)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeRepeatedString(1, peerURLs)
        writer.writeBool(2, isLearner)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: peerURLs.append(try reader.readString(wireType, field: field))
        case 2: isLearner = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberAddResponse
public struct MemberAddResponse: ProtoMessage {
    public var header: ResponseHeader?
    /// The member just added.
    public var member: Member?
    /// The membership after the change.
    public var members: [Member] = []

    public init() {}

    public init(header: ResponseHeader?, member: Member?, members: [Member]) {
        self.header = header
        self.member = member
        self.members = members
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.message(2, member) + ProtoSize.messages(3, members)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessage(2, member)
        writer.writeMessages(3, members)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: try reader.mergeMessage(wireType, field: field, into: &member)
        case 3: members.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberRemoveRequest
public struct MemberRemoveRequest: ProtoMessage {
    public var id: UInt64 = 0

    public init() {}

    public init(id: UInt64) {
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.uint64(1, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberRemoveResponse
public struct MemberRemoveResponse: MembersResponse {
    public var header: ResponseHeader?
    public var members: [Member] = []
    public init() {}
}

/// etcdserverpb.MemberUpdateRequest
public struct MemberUpdateRequest: ProtoMessage {
    public var id: UInt64 = 0
    public var peerURLs: [String] = []

    public init() {}

    public init(id: UInt64, peerURLs: [String]) {
        self.id = id
        self.peerURLs = peerURLs
    }

    public var serializedSize: Int { ProtoSize.uint64(1, id) + ProtoSize.repeatedString(2, peerURLs) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, id)
        writer.writeRepeatedString(2, peerURLs)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        case 2: peerURLs.append(try reader.readString(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberUpdateResponse
public struct MemberUpdateResponse: MembersResponse {
    public var header: ResponseHeader?
    public var members: [Member] = []
    public init() {}
}

/// etcdserverpb.MemberListRequest
public struct MemberListRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.MemberListResponse
public struct MemberListResponse: MembersResponse {
    public var header: ResponseHeader?
    public var members: [Member] = []
    public init() {}
}

/// etcdserverpb.MemberPromoteRequest
public struct MemberPromoteRequest: ProtoMessage {
    public var id: UInt64 = 0

    public init() {}

    public init(id: UInt64) {
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.uint64(1, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MemberPromoteResponse
public struct MemberPromoteResponse: MembersResponse {
    public var header: ResponseHeader?
    public var members: [Member] = []
    public init() {}
}
