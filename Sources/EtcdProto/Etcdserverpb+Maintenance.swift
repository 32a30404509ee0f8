import ProtoWire

// Maintenance service messages of package etcdserverpb (Protos/etcdserverpb.proto).

/// etcdserverpb.AlarmType (a top-level enum).
public enum AlarmType: Int32, Sendable {
    /// NONE in the schema; in a GET it means any alarm. Renamed so that it cannot be mistaken for
    /// `Optional.none`.
    case noAlarm = 0
    /// NOSPACE: the backend reached its quota.
    case noSpace = 1
    /// CORRUPT: members' hashes disagree.
    case corrupt = 2
}

/// etcdserverpb.AlarmRequest
public struct AlarmRequest: ProtoMessage {
    public enum AlarmAction: Int32, Sendable {
        case get = 0
        case activate = 1
        case deactivate = 2
    }

    public var actionRaw: Int32 = 0
    /// 0: every member.
    public var memberID: UInt64 = 0
    public var alarmRaw: Int32 = 0

    public var action: AlarmAction? {
        get { AlarmAction(rawValue: actionRaw) }
        set { actionRaw = newValue?.rawValue ?? 0 }
    }

    public var alarm: AlarmType? {
        get { AlarmType(rawValue: alarmRaw) }
        set { alarmRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(action: AlarmAction, memberID: UInt64 = 0, alarm: AlarmType = .noAlarm) {
        self.actionRaw = action.rawValue
        self.memberID = memberID
        self.alarmRaw = alarm.rawValue
    }

    public var serializedSize: Int {
        ProtoSize.int32(1, actionRaw) + ProtoSize.uint64(2, memberID) + ProtoSize.int32(3, alarmRaw)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt32(1, actionRaw)
        writer.writeUInt64(2, memberID)
        writer.writeInt32(3, alarmRaw)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: actionRaw = try reader.readInt32(wireType, field: field)
        case 2: memberID = try reader.readUInt64(wireType, field: field)
        case 3: alarmRaw = try reader.readInt32(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AlarmMember: an alarm raised on one member.
public struct AlarmMember: ProtoMessage, Hashable {
    public var memberID: UInt64 = 0
    public var alarmRaw: Int32 = 0

    public var alarm: AlarmType? {
        get { AlarmType(rawValue: alarmRaw) }
        set { alarmRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(memberID: UInt64, alarm: AlarmType) {
        self.memberID = memberID
        self.alarmRaw = alarm.rawValue
    }

    public var serializedSize: Int { ProtoSize.uint64(1, memberID) + ProtoSize.int32(2, alarmRaw) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, memberID)
        writer.writeInt32(2, alarmRaw)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: memberID = try reader.readUInt64(wireType, field: field)
        case 2: alarmRaw = try reader.readInt32(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.AlarmResponse
public struct AlarmResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var alarms: [AlarmMember] = []

    public init() {}

    public init(header: ResponseHeader?, alarms: [AlarmMember]) {
        self.header = header
        self.alarms = alarms
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.messages(2, alarms) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessages(2, alarms)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: alarms.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.StatusRequest
public struct StatusRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.StatusResponse
public struct StatusResponse: ProtoMessage {
    public var header: ResponseHeader?
    /// Server version, e.g. "3.4.23".
    public var version: String = ""
    /// Backend file size in bytes.
    public var dbSize: Int64 = 0
    public var leader: UInt64 = 0
    public var raftIndex: UInt64 = 0
    public var raftTerm: UInt64 = 0
    public var raftAppliedIndex: UInt64 = 0
    public var errors: [String] = []
    /// Bytes of the backend in use; the rest of `dbSize` is free pages.
    public var dbSizeInUse: Int64 = 0
    public var isLearner: Bool = false

    public init() {}

    public init(header: ResponseHeader?, version: String, dbSize: Int64, leader: UInt64,
                raftIndex: UInt64, raftTerm: UInt64, raftAppliedIndex: UInt64, errors: [String] = [],
                dbSizeInUse: Int64, isLearner: Bool = false) {
        self.header = header
        self.version = version
        self.dbSize = dbSize
        self.leader = leader
        self.raftIndex = raftIndex
        self.raftTerm = raftTerm
        self.raftAppliedIndex = raftAppliedIndex
        self.errors = errors
        self.dbSizeInUse = dbSizeInUse
        self.isLearner = isLearner
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.string(2, version) + ProtoSize.int64(3, dbSize)
            + ProtoSize.uint64(4, leader) + ProtoSize.uint64(5, raftIndex) + ProtoSize.uint64(6, raftTerm)
            + ProtoSize.uint64(7, raftAppliedIndex) + ProtoSize.repeatedString(8, errors)
            + ProtoSize.int64(9, dbSizeInUse) + ProtoSize.bool(10, isLearner)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeString(2, version)
        writer.writeInt64(3, dbSize)
        writer.writeUInt64(4, leader)
        writer.writeUInt64(5, raftIndex)
        writer.writeUInt64(6, raftTerm)
        writer.writeUInt64(7, raftAppliedIndex)
        writer.writeRepeatedString(8, errors)
        writer.writeInt64(9, dbSizeInUse)
        writer.writeBool(10, isLearner)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: version = try reader.readString(wireType, field: field)
        case 3: dbSize = try reader.readInt64(wireType, field: field)
        case 4: leader = try reader.readUInt64(wireType, field: field)
        case 5: raftIndex = try reader.readUInt64(wireType, field: field)
        case 6: raftTerm = try reader.readUInt64(wireType, field: field)
        case 7: raftAppliedIndex = try reader.readUInt64(wireType, field: field)
        case 8: errors.append(try reader.readString(wireType, field: field))
        case 9: dbSizeInUse = try reader.readInt64(wireType, field: field)
        case 10: isLearner = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.DefragmentRequest
public struct DefragmentRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.DefragmentResponse
public struct DefragmentResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.MoveLeaderRequest
public struct MoveLeaderRequest: ProtoMessage {
    public var targetID: UInt64 = 0

    public init() {}

    public init(targetID: UInt64) {
        self.targetID = targetID
    }

    public var serializedSize: Int { ProtoSize.uint64(1, targetID) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, targetID)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: targetID = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.MoveLeaderResponse
public struct MoveLeaderResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}

/// etcdserverpb.HashRequest
public struct HashRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.HashResponse
public struct HashResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var hash: UInt32 = 0

    public init() {}

    public init(header: ResponseHeader?, hash: UInt32) {
        self.header = header
        self.hash = hash
    }

    public var serializedSize: Int { ProtoSize.message(1, header) + ProtoSize.uint32(2, hash) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeUInt32(2, hash)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: hash = try reader.readUInt32(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.HashKVRequest
public struct HashKVRequest: ProtoMessage {
    /// 0: the newest revision.
    public var revision: Int64 = 0

    public init() {}

    public init(revision: Int64) {
        self.revision = revision
    }

    public var serializedSize: Int { ProtoSize.int64(1, revision) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, revision)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: revision = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.HashKVResponse
public struct HashKVResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var hash: UInt32 = 0
    public var compactRevision: Int64 = 0

    public init() {}

    public init(header: ResponseHeader?, hash: UInt32, compactRevision: Int64) {
        self.header = header
        self.hash = hash
        self.compactRevision = compactRevision
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.uint32(2, hash) + ProtoSize.int64(3, compactRevision)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeUInt32(2, hash)
        writer.writeInt64(3, compactRevision)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: hash = try reader.readUInt32(wireType, field: field)
        case 3: compactRevision = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.SnapshotRequest
public struct SnapshotRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.SnapshotResponse: one chunk of a backend snapshot.
public struct SnapshotResponse: ProtoMessage {
    public var header: ResponseHeader?
    /// Bytes still to come after this chunk.
    public var remainingBytes: UInt64 = 0
    public var blob: [UInt8] = []

    public init() {}

    public init(header: ResponseHeader?, remainingBytes: UInt64, blob: [UInt8]) {
        self.header = header
        self.remainingBytes = remainingBytes
        self.blob = blob
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.uint64(2, remainingBytes) + ProtoSize.bytes(3, blob)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeUInt64(2, remainingBytes)
        writer.writeBytes(3, blob)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: remainingBytes = try reader.readUInt64(wireType, field: field)
        case 3: blob = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}
