import ProtoWire

// Lease service messages of package etcdserverpb (Protos/etcdserverpb.proto). TTLs are seconds.

/// etcdserverpb.LeaseGrantRequest
public struct LeaseGrantRequest: ProtoMessage {
    public var ttl: Int64 = 0
    /// 0: the server picks the ID.
    public var id: Int64 = 0

    public init() {}

    public init(ttl: Int64, id: Int64 = 0) {
        self.ttl = ttl
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.int64(1, ttl) + ProtoSize.int64(2, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, ttl)
        writer.writeInt64(2, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: ttl = try reader.readInt64(wireType, field: field)
        case 2: id = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseGrantResponse
public struct LeaseGrantResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var id: Int64 = 0
    public var ttl: Int64 = 0
    public var error: String = ""

    public init() {}

    public init(header: ResponseHeader?, id: Int64, ttl: Int64, error: String = "") {
        self.header = header
        self.id = id
        self.ttl = ttl
        self.error = error
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.int64(2, id) + ProtoSize.int64(3, ttl)
            + ProtoSize.string(4, error)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeInt64(2, id)
        writer.writeInt64(3, ttl)
        writer.writeString(4, error)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: id = try reader.readInt64(wireType, field: field)
        case 3: ttl = try reader.readInt64(wireType, field: field)
        case 4: error = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseRevokeRequest
public struct LeaseRevokeRequest: ProtoMessage {
    public var id: Int64 = 0

    public init() {}

    public init(id: Int64) {
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.int64(1, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseRevokeResponse
public struct LeaseRevokeResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.LeaseCheckpoint: a lease's remaining time, recorded so a new leader does not extend it.
public struct LeaseCheckpoint: ProtoMessage {
    public var id: Int64 = 0
    public var remainingTTL: Int64 = 0

    public init() {}

    public init(id: Int64, remainingTTL: Int64) {
        self.id = id
        self.remainingTTL = remainingTTL
    }

    public var serializedSize: Int { ProtoSize.int64(1, id) + ProtoSize.int64(2, remainingTTL) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, id)
        writer.writeInt64(2, remainingTTL)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readInt64(wireType, field: field)
        case 2: remainingTTL = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseCheckpointRequest
public struct LeaseCheckpointRequest: ProtoMessage {
    public var checkpoints: [LeaseCheckpoint] = []

    public init() {}

    public init(checkpoints: [LeaseCheckpoint]) {
        self.checkpoints = checkpoints
    }

    public var serializedSize: Int { ProtoSize.messages(1, checkpoints) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessages(1, checkpoints)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: checkpoints.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseCheckpointResponse
public struct LeaseCheckpointResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.LeaseKeepAliveRequest
public struct LeaseKeepAliveRequest: ProtoMessage {
    public var id: Int64 = 0

    public init() {}

    public init(id: Int64) {
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.int64(1, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseKeepAliveResponse
public struct LeaseKeepAliveResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var id: Int64 = 0
    /// The renewed TTL; <= 0 when the lease no longer exists.
    public var ttl: Int64 = 0

    public init() {}

    public init(header: ResponseHeader?, id: Int64, ttl: Int64) {
        self.header = header
        self.id = id
        self.ttl = ttl
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.int64(2, id) + ProtoSize.int64(3, ttl)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeInt64(2, id)
        writer.writeInt64(3, ttl)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: id = try reader.readInt64(wireType, field: field)
        case 3: ttl = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseTimeToLiveRequest
public struct LeaseTimeToLiveRequest: ProtoMessage {
    public var id: Int64 = 0
    /// Also list the keys attached to the lease.
    public var keys: Bool = false

    public init() {}

    public init(id: Int64, keys: Bool = false) {
        self.id = id
        self.keys = keys
    }

    public var serializedSize: Int { ProtoSize.int64(1, id) + ProtoSize.bool(2, keys) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, id)
        writer.writeBool(2, keys)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readInt64(wireType, field: field)
        case 2: keys = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseTimeToLiveResponse
public struct LeaseTimeToLiveResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var id: Int64 = 0
    /// Seconds left; -1 when the lease does not exist.
    public var ttl: Int64 = 0
    public var grantedTTL: Int64 = 0
    public var keys: [[UInt8]] = []

    public init() {}

    public init(header: ResponseHeader?, id: Int64, ttl: Int64, grantedTTL: Int64, keys: [[UInt8]] = []) {
        self.header = header
        self.id = id
        self.ttl = ttl
        self.grantedTTL = grantedTTL
        self.keys = keys
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.int64(2, id) + ProtoSize.int64(3, ttl)
            + ProtoSize.int64(4, grantedTTL) + ProtoSize.repeatedBytes(5, keys)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeInt64(2, id)
        writer.writeInt64(3, ttl)
        writer.writeInt64(4, grantedTTL)
        writer.writeRepeatedBytes(5, keys)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: id = try reader.readInt64(wireType, field: field)
        case 3: ttl = try reader.readInt64(wireType, field: field)
        case 4: grantedTTL = try reader.readInt64(wireType, field: field)
        case 5: keys.append(try reader.readBytes(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseLeasesRequest
public struct LeaseLeasesRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.LeaseStatus
public struct LeaseStatus: ProtoMessage {
    public var id: Int64 = 0

    public init() {}

    public init(id: Int64) {
        self.id = id
    }

    public var serializedSize: Int { ProtoSize.int64(1, id) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, id)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: id = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.LeaseLeasesResponse
public struct LeaseLeasesResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var leases: [LeaseStatus] = []

    public init() {}

    public init(header: ResponseHeader?, leases: [LeaseStatus]) {
        self.header = header
        self.leases = leases
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.messages(2, leases) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessages(2, leases)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: leases.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}
