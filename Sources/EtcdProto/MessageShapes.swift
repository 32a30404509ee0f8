import ProtoWire

// Two shapes recur dozens of times in the etcd API: messages without fields, and responses that
// carry nothing but a ResponseHeader in field 1. Each message is still its own type (the schema
// names them separately and they may grow fields); these protocols only share the codec.

/// A message with no fields. Decoding skips whatever fields arrive.
public protocol EmptyMessage: ProtoMessage {}

extension EmptyMessage {
    public var serializedSize: Int { 0 }

    public func encode(to writer: inout ProtoWriter) {}

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        false
    }
}

/// A response whose only field is `ResponseHeader header = 1`.
public protocol HeaderOnlyResponse: ProtoMessage {
    var header: ResponseHeader? { get set }
}

extension HeaderOnlyResponse {
    public init(header: ResponseHeader?) {
        self.init()
        self.header = header
    }

    public var serializedSize: Int { ProtoSize.message(1, header) }

    public func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, header)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        guard field == 1 else { return false }
        try reader.mergeMessage(wireType, field: field, into: &header)
        return true
    }
}
