import ProtoWire

// KV service messages of package etcdserverpb (Protos/etcdserverpb.proto), plus ResponseHeader,
// which every etcdserverpb response carries.

/// etcdserverpb.ResponseHeader: which member answered, and at which store revision.
public struct ResponseHeader: ProtoMessage, Hashable {
    public var clusterID: UInt64 = 0
    public var memberID: UInt64 = 0
    public var revision: Int64 = 0
    public var raftTerm: UInt64 = 0

    public init() {}

    public init(clusterID: UInt64, memberID: UInt64, revision: Int64, raftTerm: UInt64) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.revision = revision
        self.raftTerm = raftTerm
    }

    public var serializedSize: Int {
        ProtoSize.uint64(1, clusterID) + ProtoSize.uint64(2, memberID) + ProtoSize.int64(3, revision)
            + ProtoSize.uint64(4, raftTerm)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeUInt64(1, clusterID)
        writer.writeUInt64(2, memberID)
        writer.writeInt64(3, revision)
        writer.writeUInt64(4, raftTerm)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: clusterID = try reader.readUInt64(wireType, field: field)
        case 2: memberID = try reader.readUInt64(wireType, field: field)
        case 3: revision = try reader.readInt64(wireType, field: field)
        case 4: raftTerm = try reader.readUInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.RangeRequest
public struct RangeRequest: ProtoMessage {
    public enum SortOrder: Int32, Sendable {
        /// NONE in the schema; renamed so that it cannot be mistaken for `Optional.none`.
        case unsorted = 0
        case ascend = 1
        case descend = 2
    }

    public enum SortTarget: Int32, Sendable {
        case key = 0
        case version = 1
        case create = 2
        case mod = 3
        case value = 4
    }

    public var key: [UInt8] = []
    public var rangeEnd: [UInt8] = []
    public var limit: Int64 = 0
    public var revision: Int64 = 0
    public var sortOrderRaw: Int32 = 0
    public var sortTargetRaw: Int32 = 0
    public var serializable: Bool = false
    public var keysOnly: Bool = false
    public var countOnly: Bool = false
    public var minModRevision: Int64 = 0
    public var maxModRevision: Int64 = 0
    public var minCreateRevision: Int64 = 0
    public var maxCreateRevision: Int64 = 0

    public var sortOrder: SortOrder? {
        get { SortOrder(rawValue: sortOrderRaw) }
        set { sortOrderRaw = newValue?.rawValue ?? 0 }
    }

    public var sortTarget: SortTarget? {
        get { SortTarget(rawValue: sortTargetRaw) }
        set { sortTargetRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0,
                sortOrder: SortOrder = .unsorted, sortTarget: SortTarget = .key,
                serializable: Bool = false, keysOnly: Bool = false, countOnly: Bool = false,
                minModRevision: Int64 = 0, maxModRevision: Int64 = 0,
                minCreateRevision: Int64 = 0, maxCreateRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.revision = revision
        self.sortOrderRaw = sortOrder.rawValue
        self.sortTargetRaw = sortTarget.rawValue
        self.serializable = serializable
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.minModRevision = minModRevision
        self.maxModRevision = maxModRevision
        self.minCreateRevision = minCreateRevision
        self.maxCreateRevision = maxCreateRevision
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, key) + ProtoSize.bytes(2, rangeEnd) + ProtoSize.int64(3, limit)
            + ProtoSize.int64(4, revision) + ProtoSize.int32(5, sortOrderRaw)
            + ProtoSize.int32(6, sortTargetRaw) + ProtoSize.bool(7, serializable)
            + ProtoSize.bool(8, keysOnly) + ProtoSize.bool(9, countOnly)
            + ProtoSize.int64(10, minModRevision) + ProtoSize.int64(11, maxModRevision)
            + ProtoSize.int64(12, minCreateRevision) + ProtoSize.int64(13, maxCreateRevision)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
        writer.writeBytes(2, rangeEnd)
        writer.writeInt64(3, limit)
        writer.writeInt64(4, revision)
        writer.writeInt32(5, sortOrderRaw)
        writer.writeInt32(6, sortTargetRaw)
        writer.writeBool(7, serializable)
        writer.writeBool(8, keysOnly)
        writer.writeBool(9, countOnly)
        writer.writeInt64(10, minModRevision)
        writer.writeInt64(11, maxModRevision)
        writer.writeInt64(12, minCreateRevision)
        writer.writeInt64(13, maxCreateRevision)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        case 2: rangeEnd = try reader.readBytes(wireType, field: field)
        case 3: limit = try reader.readInt64(wireType, field: field)
        case 4: revision = try reader.readInt64(wireType, field: field)
        case 5: sortOrderRaw = try reader.readInt32(wireType, field: field)
        case 6: sortTargetRaw = try reader.readInt32(wireType, field: field)
        case 7: serializable = try reader.readBool(wireType, field: field)
        case 8: keysOnly = try reader.readBool(wireType, field: field)
        case 9: countOnly = try reader.readBool(wireType, field: field)
        case 10: minModRevision = try reader.readInt64(wireType, field: field)
        case 11: maxModRevision = try reader.readInt64(wireType, field: field)
        case 12: minCreateRevision = try reader.readInt64(wireType, field: field)
        case 13: maxCreateRevision = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.RangeResponse
public struct RangeResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var kvs: [KeyValue] = []
    /// The limit cut the result short.
    public var more: Bool = false
    /// Keys in the range, regardless of the limit.
    public var count: Int64 = 0

    public init() {}

    public init(header: ResponseHeader?, kvs: [KeyValue] = [], more: Bool = false, count: Int64 = 0) {
        self.header = header
        self.kvs = kvs
        self.more = more
        self.count = count
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.messages(2, kvs) + ProtoSize.bool(3, more)
            + ProtoSize.int64(4, count)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessages(2, kvs)
        writer.writeBool(3, more)
        writer.writeInt64(4, count)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: kvs.append(try reader.readMessage(wireType, field: field))
        case 3: more = try reader.readBool(wireType, field: field)
        case 4: count = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.PutRequest
public struct PutRequest: ProtoMessage {
    public var key: [UInt8] = []
    public var value: [UInt8] = []
    public var lease: Int64 = 0
    public var prevKV: Bool = false
    public var ignoreValue: Bool = false
    public var ignoreLease: Bool = false

    public init() {}

    public init(key: [UInt8], value: [UInt8] = [], lease: Int64 = 0, prevKV: Bool = false,
                ignoreValue: Bool = false, ignoreLease: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, key) + ProtoSize.bytes(2, value) + ProtoSize.int64(3, lease)
            + ProtoSize.bool(4, prevKV) + ProtoSize.bool(5, ignoreValue) + ProtoSize.bool(6, ignoreLease)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
        writer.writeBytes(2, value)
        writer.writeInt64(3, lease)
        writer.writeBool(4, prevKV)
        writer.writeBool(5, ignoreValue)
        writer.writeBool(6, ignoreLease)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        case 2: value = try reader.readBytes(wireType, field: field)
        case 3: lease = try reader.readInt64(wireType, field: field)
        case 4: prevKV = try reader.readBool(wireType, field: field)
        case 5: ignoreValue = try reader.readBool(wireType, field: field)
        case 6: ignoreLease = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.PutResponse
public struct PutResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var prevKV: KeyValue?

    public init() {}

    public init(header: ResponseHeader?, prevKV: KeyValue? = nil) {
        self.header = header
        self.prevKV = prevKV
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.message(2, prevKV)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeMessage(2, prevKV)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: try reader.mergeMessage(wireType, field: field, into: &prevKV)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.DeleteRangeRequest
public struct DeleteRangeRequest: ProtoMessage {
    public var key: [UInt8] = []
    public var rangeEnd: [UInt8] = []
    public var prevKV: Bool = false

    public init() {}

    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, key) + ProtoSize.bytes(2, rangeEnd) + ProtoSize.bool(3, prevKV)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
        writer.writeBytes(2, rangeEnd)
        writer.writeBool(3, prevKV)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        case 2: rangeEnd = try reader.readBytes(wireType, field: field)
        case 3: prevKV = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.DeleteRangeResponse
public struct DeleteRangeResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var deleted: Int64 = 0
    public var prevKVs: [KeyValue] = []

    public init() {}

    public init(header: ResponseHeader?, deleted: Int64 = 0, prevKVs: [KeyValue] = []) {
        self.header = header
        self.deleted = deleted
        self.prevKVs = prevKVs
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.int64(2, deleted) + ProtoSize.messages(3, prevKVs)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeInt64(2, deleted)
        writer.writeMessages(3, prevKVs)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: deleted = try reader.readInt64(wireType, field: field)
        case 3: prevKVs.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.RequestOp: one operation of a transaction.
public struct RequestOp: ProtoMessage {
    /// The `request` oneof.
    public enum Request: Equatable, Sendable {
        case requestRange(RangeRequest)
        case requestPut(PutRequest)
        case requestDeleteRange(DeleteRangeRequest)
        case requestTxn(TxnRequest)
    }

    public var request: Request?

    public init() {}

    public init(_ request: Request?) {
        self.request = request
    }

    public var serializedSize: Int {
        switch request {
        case nil: 0
        case .requestRange(let message): ProtoSize.message(1, message)
        case .requestPut(let message): ProtoSize.message(2, message)
        case .requestDeleteRange(let message): ProtoSize.message(3, message)
        case .requestTxn(let message): ProtoSize.message(4, message)
        }
    }

    public func encode(to writer: inout ProtoWriter) {
        switch request {
        case nil: break
        case .requestRange(let message): writer.writeMessage(1, message)
        case .requestPut(let message): writer.writeMessage(2, message)
        case .requestDeleteRange(let message): writer.writeMessage(3, message)
        case .requestTxn(let message): writer.writeMessage(4, message)
        }
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        // A repeated occurrence of the member already set merges into it; another member replaces it.
        switch field {
        case 1:
            var message = RangeRequest()
            if case .requestRange(let current)? = request { message = current }
            request = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            request = .requestRange(message)
        case 2:
            var message = PutRequest()
            if case .requestPut(let current)? = request { message = current }
            request = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            request = .requestPut(message)
        case 3:
            var message = DeleteRangeRequest()
            if case .requestDeleteRange(let current)? = request { message = current }
            request = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            request = .requestDeleteRange(message)
        case 4:
            var message = TxnRequest()
            if case .requestTxn(let current)? = request { message = current }
            request = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            request = .requestTxn(message)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.ResponseOp: the result of one RequestOp.
public struct ResponseOp: ProtoMessage {
    /// The `response` oneof.
    public enum Response: Equatable, Sendable {
        case responseRange(RangeResponse)
        case responsePut(PutResponse)
        case responseDeleteRange(DeleteRangeResponse)
        case responseTxn(TxnResponse)
    }

    public var response: Response?

    public init() {}

    public init(_ response: Response?) {
        self.response = response
    }

    public var serializedSize: Int {
        switch response {
        case nil: 0
        case .responseRange(let message): ProtoSize.message(1, message)
        case .responsePut(let message): ProtoSize.message(2, message)
        case .responseDeleteRange(let message): ProtoSize.message(3, message)
        case .responseTxn(let message): ProtoSize.message(4, message)
        }
    }

    public func encode(to writer: inout ProtoWriter) {
        switch response {
        case nil: break
        case .responseRange(let message): writer.writeMessage(1, message)
        case .responsePut(let message): writer.writeMessage(2, message)
        case .responseDeleteRange(let message): writer.writeMessage(3, message)
        case .responseTxn(let message): writer.writeMessage(4, message)
        }
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1:
            var message = RangeResponse()
            if case .responseRange(let current)? = response { message = current }
            response = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            response = .responseRange(message)
        case 2:
            var message = PutResponse()
            if case .responsePut(let current)? = response { message = current }
            response = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            response = .responsePut(message)
        case 3:
            var message = DeleteRangeResponse()
            if case .responseDeleteRange(let current)? = response { message = current }
            response = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            response = .responseDeleteRange(message)
        case 4:
            var message = TxnResponse()
            if case .responseTxn(let current)? = response { message = current }
            response = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            response = .responseTxn(message)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.Compare: a transaction guard on a key or on every key of a range.
public struct Compare: ProtoMessage {
    public enum CompareResult: Int32, Sendable {
        case equal = 0
        case greater = 1
        case less = 2
        case notEqual = 3
    }

    public enum CompareTarget: Int32, Sendable {
        case version = 0
        case create = 1
        case mod = 2
        case value = 3
        case lease = 4
    }

    /// The `target_union` oneof: the operand. A member that is set is encoded even when zero.
    public enum TargetUnion: Equatable, Sendable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public var resultRaw: Int32 = 0
    public var targetRaw: Int32 = 0
    public var key: [UInt8] = []
    public var targetUnion: TargetUnion?
    public var rangeEnd: [UInt8] = []

    public var result: CompareResult? {
        get { CompareResult(rawValue: resultRaw) }
        set { resultRaw = newValue?.rawValue ?? 0 }
    }

    public var target: CompareTarget? {
        get { CompareTarget(rawValue: targetRaw) }
        set { targetRaw = newValue?.rawValue ?? 0 }
    }

    public init() {}

    public init(result: CompareResult, target: CompareTarget, key: [UInt8],
                targetUnion: TargetUnion?, rangeEnd: [UInt8] = []) {
        self.resultRaw = result.rawValue
        self.targetRaw = target.rawValue
        self.key = key
        self.targetUnion = targetUnion
        self.rangeEnd = rangeEnd
    }

    public var serializedSize: Int {
        var size = ProtoSize.int32(1, resultRaw) + ProtoSize.int32(2, targetRaw) + ProtoSize.bytes(3, key)
        switch targetUnion {
        case nil: break
        case .version(let value): size += ProtoSize.int64Always(4, value)
        case .createRevision(let value): size += ProtoSize.int64Always(5, value)
        case .modRevision(let value): size += ProtoSize.int64Always(6, value)
        case .value(let value): size += ProtoSize.bytesAlways(7, value)
        case .lease(let value): size += ProtoSize.int64Always(8, value)
        }
        return size + ProtoSize.bytes(64, rangeEnd)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt32(1, resultRaw)
        writer.writeInt32(2, targetRaw)
        writer.writeBytes(3, key)
        switch targetUnion {
        case nil: break
        case .version(let value): writer.writeInt64Always(4, value)
        case .createRevision(let value): writer.writeInt64Always(5, value)
        case .modRevision(let value): writer.writeInt64Always(6, value)
        case .value(let value): writer.writeBytesAlways(7, value)
        case .lease(let value): writer.writeInt64Always(8, value)
        }
        writer.writeBytes(64, rangeEnd)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: resultRaw = try reader.readInt32(wireType, field: field)
        case 2: targetRaw = try reader.readInt32(wireType, field: field)
        case 3: key = try reader.readBytes(wireType, field: field)
        case 4: targetUnion = .version(try reader.readInt64(wireType, field: field))
        case 5: targetUnion = .createRevision(try reader.readInt64(wireType, field: field))
        case 6: targetUnion = .modRevision(try reader.readInt64(wireType, field: field))
        case 7: targetUnion = .value(try reader.readBytes(wireType, field: field))
        case 8: targetUnion = .lease(try reader.readInt64(wireType, field: field))
        case 64: rangeEnd = try reader.readBytes(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.TxnRequest: if every compare holds run `success`, otherwise `failure`.
public struct TxnRequest: ProtoMessage {
    public var compare: [Compare] = []
    public var success: [RequestOp] = []
    public var failure: [RequestOp] = []

    public init() {}

    public init(compare: [Compare], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    public var serializedSize: Int {
        ProtoSize.messages(1, compare) + ProtoSize.messages(2, success) + ProtoSize.messages(3, failure)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessages(1, compare)
        writer.writeMessages(2, success)
        writer.writeMessages(3, failure)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: compare.append(try reader.readMessage(wireType, field: field))
        case 2: success.append(try reader.readMessage(wireType, field: field))
        case 3: failure.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.TxnResponse
public struct TxnResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var succeeded: Bool = false
    /// One per operation of the branch that ran, in order.
    public var responses: [ResponseOp] = []

    public init() {}

    public init(header: ResponseHeader?, succeeded: Bool, responses: [ResponseOp] = []) {
        self.header = header
        self.succeeded = succeeded
        self.responses = responses
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.bool(2, succeeded) + ProtoSize.messages(3, responses)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeBool(2, succeeded)
        writer.writeMessages(3, responses)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: succeeded = try reader.readBool(wireType, field: field)
        case 3: responses.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}

/// etcdserverpb.CompactionRequest
public struct CompactionRequest: ProtoMessage {
    public var revision: Int64 = 0
    /// Answer only once the compaction has reached the backend.
    public var physical: Bool = false

    public init() {}

    public init(revision: Int64, physical: Bool = false) {
        self.revision = revision
        self.physical = physical
    }

    public var serializedSize: Int {
        ProtoSize.int64(1, revision) + ProtoSize.bool(2, physical)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, revision)
        writer.writeBool(2, physical)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: revision = try reader.readInt64(wireType, field: field)
        case 2: physical = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.CompactionResponse
public struct CompactionResponse: HeaderOnlyResponse {
    public var header: ResponseHeader?
    public init() {}
}
