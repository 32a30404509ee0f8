import ProtoWire

// Watch service messages of package etcdserverpb (Protos/etcdserverpb.proto).

/// etcdserverpb.WatchRequest: one message on the client side of a watch stream.
public struct WatchRequest: ProtoMessage {
    /// The `request_union` oneof.
    public enum RequestUnion: Equatable, Sendable {
        case createRequest(WatchCreateRequest)
        case cancelRequest(WatchCancelRequest)
        case progressRequest(WatchProgressRequest)
    }

    public var requestUnion: RequestUnion?

    public init() {}

    public init(_ requestUnion: RequestUnion?) {
        self.requestUnion = requestUnion
    }

    public var serializedSize: Int {
        switch requestUnion {
        case nil: 0
        case .createRequest(let message): ProtoSize.message(1, message)
        case .cancelRequest(let message): ProtoSize.message(2, message)
        case .progressRequest(let message): ProtoSize.message(3, message)
        }
    }

    public func encode(to writer: inout ProtoWriter) {
        switch requestUnion {
        case nil: break
        case .createRequest(let message): writer.writeMessage(1, message)
        case .cancelRequest(let message): writer.writeMessage(2, message)
        case .progressRequest(let message): writer.writeMessage(3, message)
        }
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        // A repeated occurrence of the member already set merges into it; another member replaces it.
        switch field {
        case 1:
            var message = WatchCreateRequest()
            if case .createRequest(let current)? = requestUnion { message = current }
            requestUnion = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            requestUnion = .createRequest(message)
        case 2:
            var message = WatchCancelRequest()
            if case .cancelRequest(let current)? = requestUnion { message = current }
            requestUnion = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            requestUnion = .cancelRequest(message)
        case 3:
            var message = WatchProgressRequest()
            if case .progressRequest(let current)? = requestUnion { message = current }
            requestUnion = nil
            try reader.mergeMessage(wireType, field: field, into: &message)
            requestUnion = .progressRequest(message)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.WatchCreateRequest
public struct WatchCreateRequest: ProtoMessage {
    public enum FilterType: Int32, Sendable {
        /// NOPUT: drop put events.
        case noPut = 0
        /// NODELETE: drop delete events.
        case noDelete = 1
    }

    public var key: [UInt8] = []
    public var rangeEnd: [UInt8] = []
    public var startRevision: Int64 = 0
    public var progressNotify: Bool = false
    /// Raw enum values, unknown ones included; see `filters`.
    public var filtersRaw: [Int32] = []
    public var prevKV: Bool = false
    public var watchID: Int64 = 0
    public var fragment: Bool = false

    /// The filters this server knows; values it does not know are left out.
    public var filters: [FilterType] {
        get { filtersRaw.compactMap(FilterType.init(rawValue:)) }
        set { filtersRaw = newValue.map(\.rawValue) }
    }

    public init() {}

    public init(key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0,
                progressNotify: Bool = false, filters: [FilterType] = [], prevKV: Bool = false,
                watchID: Int64 = 0, fragment: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
        self.progressNotify = progressNotify
        self.filtersRaw = filters.map(\.rawValue)
        self.prevKV = prevKV
        self.watchID = watchID
        self.fragment = fragment
    }

    public var serializedSize: Int {
        ProtoSize.bytes(1, key) + ProtoSize.bytes(2, rangeEnd) + ProtoSize.int64(3, startRevision)
            + ProtoSize.bool(4, progressNotify) + ProtoSize.packedInt32(5, filtersRaw)
            + ProtoSize.bool(6, prevKV) + ProtoSize.int64(7, watchID) + ProtoSize.bool(8, fragment)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeBytes(1, key)
        writer.writeBytes(2, rangeEnd)
        writer.writeInt64(3, startRevision)
        writer.writeBool(4, progressNotify)
        writer.writePackedInt32(5, filtersRaw)
        writer.writeBool(6, prevKV)
        writer.writeInt64(7, watchID)
        writer.writeBool(8, fragment)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: key = try reader.readBytes(wireType, field: field)
        case 2: rangeEnd = try reader.readBytes(wireType, field: field)
        case 3: startRevision = try reader.readInt64(wireType, field: field)
        case 4: progressNotify = try reader.readBool(wireType, field: field)
        case 5: try reader.readPackedInt32(wireType, field: field, into: &filtersRaw)
        case 6: prevKV = try reader.readBool(wireType, field: field)
        case 7: watchID = try reader.readInt64(wireType, field: field)
        case 8: fragment = try reader.readBool(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.WatchCancelRequest
public struct WatchCancelRequest: ProtoMessage {
    public var watchID: Int64 = 0

    public init() {}

    public init(watchID: Int64) {
        self.watchID = watchID
    }

    public var serializedSize: Int { ProtoSize.int64(1, watchID) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, watchID)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: watchID = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }
}

/// etcdserverpb.WatchProgressRequest: asks for a progress notification on every watcher of the stream.
public struct WatchProgressRequest: EmptyMessage {
    public init() {}
}

/// etcdserverpb.WatchResponse: one message on the server side of a watch stream.
public struct WatchResponse: ProtoMessage {
    public var header: ResponseHeader?
    public var watchID: Int64 = 0
    public var created: Bool = false
    public var canceled: Bool = false
    /// Set when the requested start revision has been compacted away.
    public var compactRevision: Int64 = 0
    public var cancelReason: String = ""
    /// More events of the same revision follow in the next response.
    public var fragment: Bool = false
    public var events: [Event] = []

    public init() {}

    public init(header: ResponseHeader?, watchID: Int64, created: Bool = false, canceled: Bool = false,
                compactRevision: Int64 = 0, cancelReason: String = "", fragment: Bool = false,
                events: [Event] = []) {
        self.header = header
        self.watchID = watchID
        self.created = created
        self.canceled = canceled
        self.compactRevision = compactRevision
        self.cancelReason = cancelReason
        self.fragment = fragment
        self.events = events
    }

    public var serializedSize: Int {
        ProtoSize.message(1, header) + ProtoSize.int64(2, watchID) + ProtoSize.bool(3, created)
            + ProtoSize.bool(4, canceled) + ProtoSize.int64(5, compactRevision)
            + ProtoSize.string(6, cancelReason) + ProtoSize.bool(7, fragment)
            + ProtoSize.messages(11, events)
    }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
        writer.writeInt64(2, watchID)
        writer.writeBool(3, created)
        writer.writeBool(4, canceled)
        writer.writeInt64(5, compactRevision)
        writer.writeString(6, cancelReason)
        writer.writeBool(7, fragment)
        writer.writeMessages(11, events)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case 1: try reader.mergeMessage(wireType, field: field, into: &header)
        case 2: watchID = try reader.readInt64(wireType, field: field)
        case 3: created = try reader.readBool(wireType, field: field)
        case 4: canceled = try reader.readBool(wireType, field: field)
        case 5: compactRevision = try reader.readInt64(wireType, field: field)
        case 6: cancelReason = try reader.readString(wireType, field: field)
        case 7: fragment = try reader.readBool(wireType, field: field)
        case 11: events.append(try reader.readMessage(wireType, field: field))
        default: return false
        }
        return true
    }
}
