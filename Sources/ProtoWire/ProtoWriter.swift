/// Appends protobuf wire data to a byte array. Field helpers follow proto3: a scalar equal to
/// its default is not written, so output matches other proto3 encoders byte for byte when
/// fields are written in field-number order.
public struct ProtoWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable
    public mutating func writeTag(_ field: Int, _ wireType: WireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    @inlinable
    public mutating func writeFixed64(_ value: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    // MARK: proto3 field helpers (defaults are skipped)

    @inlinable
    public mutating func writeUInt64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        writeUInt64Always(field, value)
    }

    @inlinable
    public mutating func writeInt64(_ field: Int, _ value: Int64) {
        writeUInt64(field, UInt64(bitPattern: value))
    }

    /// int32 and enums: negative values are sign-extended to ten bytes, as the spec requires.
    @inlinable
    public mutating func writeInt32(_ field: Int, _ value: Int32) {
        writeUInt64(field, UInt64(bitPattern: Int64(value)))
    }

    @inlinable
    public mutating func writeUInt32(_ field: Int, _ value: UInt32) {
        writeUInt64(field, UInt64(value))
    }

    @inlinable
    public mutating func writeBool(_ field: Int, _ value: Bool) {
        guard value else { return }
        writeTag(field, .varint)
        bytes.append(1)
    }

    @inlinable
    public mutating func writeBytes(_ field: Int, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        writeBytesAlways(field, value)
    }

    /// Writes a length-delimited field even when empty (repeated bytes elements).
    @inlinable
    public mutating func writeBytesAlways(_ field: Int, _ value: [UInt8]) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    @inlinable
    public mutating func writeString(_ field: Int, _ value: String) {
        guard !value.isEmpty else { return }
        writeStringAlways(field, value)
    }

    @inlinable
    public mutating func writeStringAlways(_ field: Int, _ value: String) {
        writeTag(field, .lengthDelimited)
        var copy = value
        copy.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes a singular message field that is present.
    @inlinable
    public mutating func writeMessage<M: ProtoMessage>(_ field: Int, _ message: M) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(message.serializedSize))
        message.encode(to: &self)
    }

    @inlinable
    public mutating func writeMessage<M: ProtoMessage>(_ field: Int, _ message: M?) {
        if let message { writeMessage(field, message) }
    }

    /// Writes a nested message that `body` encodes, even when empty (presence is meaningful).
    /// The body goes to a scratch writer first to learn its length; for types without a
    /// `serializedSize`.
    @inlinable
    public mutating func writeNested(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var nested = ProtoWriter()
        body(&nested)
        writeBytesAlways(field, nested.bytes)
    }

    @inlinable
    public mutating func writeMessages<M: ProtoMessage>(_ field: Int, _ messages: [M]) {
        for message in messages { writeMessage(field, message) }
    }

    // MARK: fields written even when they hold the default
    // Members of a oneof and proto2 optional fields carry presence: once set they are written,
    // whatever their value.

    @inlinable
    public mutating func writeUInt64Always(_ field: Int, _ value: UInt64) {
        writeTag(field, .varint)
        writeVarint(value)
    }

    @inlinable
    public mutating func writeInt64Always(_ field: Int, _ value: Int64) {
        writeUInt64Always(field, UInt64(bitPattern: value))
    }

    @inlinable
    public mutating func writeInt32Always(_ field: Int, _ value: Int32) {
        writeUInt64Always(field, UInt64(bitPattern: Int64(value)))
    }

    @inlinable
    public mutating func writeBoolAlways(_ field: Int, _ value: Bool) {
        writeTag(field, .varint)
        bytes.append(value ? 1 : 0)
    }

    // MARK: repeated fields

    /// Writes every element of a repeated string field, empty strings included.
    @inlinable
    public mutating func writeRepeatedString(_ field: Int, _ values: [String]) {
        for value in values { writeStringAlways(field, value) }
    }

    /// Writes every element of a repeated bytes field, empty elements included.
    @inlinable
    public mutating func writeRepeatedBytes(_ field: Int, _ values: [[UInt8]]) {
        for value in values { writeBytesAlways(field, value) }
    }

    /// Writes a packed repeated int32 or enum field; negative values take ten bytes each.
    @inlinable
    public mutating func writePackedInt32(_ field: Int, _ values: [Int32]) {
        guard !values.isEmpty else { return }
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(ProtoSize.packedInt32Body(values)))
        for value in values { writeVarint(UInt64(bitPattern: Int64(value))) }
    }

    /// Writes a packed repeated varint field.
    @inlinable
    public mutating func writePackedVarints(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(values.reduce(0) { $0 + ProtoSize.varint($1) }))
        for value in values { writeVarint(value) }
    }
}

/// Sizes of encoded fields, used to length-prefix nested messages without encoding twice.
public enum ProtoSize {
    @inlinable
    public static func varint(_ value: UInt64) -> Int {
        // One byte per started group of seven bits; zero still takes one byte.
        let bits = 64 - value.leadingZeroBitCount
        return bits == 0 ? 1 : (bits + 6) / 7
    }

    @inlinable
    public static func tag(_ field: Int) -> Int { varint(UInt64(field) << 3) }

    @inlinable
    public static func uint64(_ field: Int, _ value: UInt64) -> Int {
        value == 0 ? 0 : uint64Always(field, value)
    }

    @inlinable
    public static func int64(_ field: Int, _ value: Int64) -> Int {
        uint64(field, UInt64(bitPattern: value))
    }

    @inlinable
    public static func int32(_ field: Int, _ value: Int32) -> Int {
        uint64(field, UInt64(bitPattern: Int64(value)))
    }

    @inlinable
    public static func uint32(_ field: Int, _ value: UInt32) -> Int { uint64(field, UInt64(value)) }

    @inlinable
    public static func bool(_ field: Int, _ value: Bool) -> Int { value ? tag(field) + 1 : 0 }

    @inlinable
    public static func bytes(_ field: Int, _ value: [UInt8]) -> Int {
        value.isEmpty ? 0 : bytesAlways(field, value)
    }

    @inlinable
    public static func bytesAlways(_ field: Int, _ value: [UInt8]) -> Int {
        tag(field) + varint(UInt64(value.count)) + value.count
    }

    @inlinable
    public static func string(_ field: Int, _ value: String) -> Int {
        value.isEmpty ? 0 : stringAlways(field, value)
    }

    @inlinable
    public static func stringAlways(_ field: Int, _ value: String) -> Int {
        let count = value.utf8.count
        return tag(field) + varint(UInt64(count)) + count
    }

    @inlinable
    public static func message<M: ProtoMessage>(_ field: Int, _ message: M) -> Int {
        let size = message.serializedSize
        return tag(field) + varint(UInt64(size)) + size
    }

    @inlinable
    public static func message<M: ProtoMessage>(_ field: Int, _ message: M?) -> Int {
        guard let message else { return 0 }
        return self.message(field, message)
    }

    @inlinable
    public static func messages<M: ProtoMessage>(_ field: Int, _ messages: [M]) -> Int {
        var total = 0
        for message in messages { total += self.message(field, message) }
        return total
    }

    @inlinable
    public static func uint64Always(_ field: Int, _ value: UInt64) -> Int { tag(field) + varint(value) }

    @inlinable
    public static func int64Always(_ field: Int, _ value: Int64) -> Int {
        uint64Always(field, UInt64(bitPattern: value))
    }

    @inlinable
    public static func int32Always(_ field: Int, _ value: Int32) -> Int {
        uint64Always(field, UInt64(bitPattern: Int64(value)))
    }

    @inlinable
    public static func boolAlways(_ field: Int) -> Int { tag(field) + 1 }

    @inlinable
    public static func repeatedString(_ field: Int, _ values: [String]) -> Int {
        var total = 0
        for value in values { total += stringAlways(field, value) }
        return total
    }

    @inlinable
    public static func repeatedBytes(_ field: Int, _ values: [[UInt8]]) -> Int {
        var total = 0
        for value in values { total += bytesAlways(field, value) }
        return total
    }

    /// Body length of a packed int32 field: the sum of each element's varint size.
    @inlinable
    public static func packedInt32Body(_ values: [Int32]) -> Int {
        var total = 0
        for value in values { total += varint(UInt64(bitPattern: Int64(value))) }
        return total
    }

    @inlinable
    public static func packedInt32(_ field: Int, _ values: [Int32]) -> Int {
        guard !values.isEmpty else { return 0 }
        let body = packedInt32Body(values)
        return tag(field) + varint(UInt64(body)) + body
    }

    @inlinable
    public static func packedVarints(_ field: Int, _ values: [UInt64]) -> Int {
        guard !values.isEmpty else { return 0 }
        let body = values.reduce(0) { $0 + varint($1) }
        return tag(field) + varint(UInt64(body)) + body
    }
}
