/// A protobuf message with a hand-written codec.
///
/// Conformers implement `serializedSize`, `encode(to:)` (fields in field-number order, proto3
/// defaults skipped) and `decodeField`, which handles one known field and returns false for a
/// field it does not know; unknown fields are skipped.
public protocol ProtoMessage: Sendable, Equatable {
    init()
    var serializedSize: Int { get }
    func encode(to writer: inout ProtoWriter)
    /// Decodes one occurrence of `field`; returns false if the field is unknown to this message.
    mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool
}

extension ProtoMessage {
    @inlinable
    public init(reading reader: inout ProtoReader) throws(ProtoDecodingError) {
        self.init()
        try merge(from: &reader)
    }

    @inlinable
    public mutating func merge(from reader: inout ProtoReader) throws(ProtoDecodingError) {
        while let (field, wireType) = try reader.readTag() {
            if try !decodeField(field, wireType, &reader) {
                try reader.skip(wireType, field: field)
            }
        }
    }

    public init(serializedBytes bytes: some ContiguousBytes) throws(ProtoDecodingError) {
        self = try ProtoReader.reading(bytes) { (reader: inout ProtoReader) throws(ProtoDecodingError) in
            try Self(reading: &reader)
        }
    }

    public init(serializedBuffer buffer: UnsafeRawBufferPointer) throws(ProtoDecodingError) {
        var reader = ProtoReader(buffer)
        try self.init(reading: &reader)
    }

    public func serializedBytes() -> [UInt8] {
        var writer = ProtoWriter(capacity: serializedSize)
        encode(to: &writer)
        return writer.bytes
    }
}

/// Stand-in for Foundation's ContiguousBytes so this module needs no Foundation.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}
