/// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

public enum ProtoDecodingError: Error, Equatable, Sendable {
    case truncated
    case malformedVarint
    case invalidWireType(UInt8)
    case invalidFieldNumber
    case lengthOutOfRange
    case nestingTooDeep
    case unmatchedEndGroup
    case invalidUTF8
    /// A field arrived with a wire type its declaration does not allow.
    case wrongWireType(field: Int)
    /// A closed (proto2) enum field holds a value its schema does not list.
    case unknownEnumValue(field: Int, value: UInt64)
    /// Well-formed data that this decoder deliberately does not support.
    case unsupported(String)
}

/// Reads protobuf wire data from a borrowed buffer. Every read is bounds-checked and throws
/// on malformed input; nothing here traps on bytes that came from the network or the disk.
public struct ProtoReader {
    @usableFromInline let base: UnsafeRawBufferPointer
    @usableFromInline var position: Int
    @usableFromInline let end: Int
    /// Remaining nesting budget; protobuf implementations conventionally allow 100 levels.
    public var depthBudget: Int

    public static let maximumDepth = 100

    public init(_ buffer: UnsafeRawBufferPointer, depthBudget: Int = ProtoReader.maximumDepth) {
        self.base = buffer
        self.position = 0
        self.end = buffer.count
        self.depthBudget = depthBudget
    }

    @usableFromInline init(base: UnsafeRawBufferPointer, position: Int, end: Int, depthBudget: Int) {
        self.base = base
        self.position = position
        self.end = end
        self.depthBudget = depthBudget
    }

    @inlinable public var isAtEnd: Bool { position >= end }

    @inlinable
    public mutating func readVarint() throws(ProtoDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated }
            let byte = base[position]
            position += 1
            if shift == 63 && byte > 1 { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint }
        }
    }

    /// Reads a field key; returns nil at the end of the buffer.
    @inlinable
    public mutating func readTag() throws(ProtoDecodingError) -> (field: Int, wireType: WireType)? {
        if position >= end { return nil }
        let key = try readVarint()
        let rawType = UInt8(truncatingIfNeeded: key & 7)
        guard let wireType = WireType(rawValue: rawType) else { throw .invalidWireType(rawType) }
        let field = key >> 3
        guard field >= 1, field <= 0x1FFF_FFFF else { throw .invalidFieldNumber }
        return (Int(field), wireType)
    }

    @inlinable
    public mutating func readFixed64() throws(ProtoDecodingError) -> UInt64 {
        guard end - position >= 8 else { throw .truncated }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(base[position + i]) << (8 * UInt64(i)) }
        position += 8
        return value
    }

    @inlinable
    public mutating func readFixed32() throws(ProtoDecodingError) -> UInt32 {
        guard end - position >= 4 else { throw .truncated }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(base[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    @inlinable
    mutating func readLength() throws(ProtoDecodingError) -> Int {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw length > UInt64(Int32.max) ? .lengthOutOfRange : .truncated
        }
        return Int(length)
    }

    @inlinable
    public mutating func readBytes() throws(ProtoDecodingError) -> [UInt8] {
        let length = try readLength()
        let start = position
        position += length
        return [UInt8](UnsafeRawBufferPointer(rebasing: base[start..<(start + length)]))
    }

    @inlinable
    public mutating func readString() throws(ProtoDecodingError) -> String {
        let length = try readLength()
        let start = position
        position += length
        let slice = UnsafeRawBufferPointer(rebasing: base[start..<(start + length)])
        guard let string = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }

    /// Hands the body of a length-delimited field to `body` as a nested reader with one less
    /// level of nesting budget.
    @inlinable
    public mutating func readNested<T>(
        _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> T {
        guard depthBudget > 0 else { throw .nestingTooDeep }
        let length = try readLength()
        var nested = ProtoReader(base: base, position: position, end: position + length,
                                 depthBudget: depthBudget - 1)
        let value = try body(&nested)
        position += length
        return value
    }

    /// Reads a length-delimited field's body with `body`, after checking the field was declared
    /// length-delimited.
    @inlinable
    public mutating func readNested<T>(
        _ wireType: WireType, field: Int, _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> T {
        guard wireType == .lengthDelimited else { throw .wrongWireType(field: field) }
        return try readNested(body)
    }

    /// Runs `body` over a reader of the whole of `bytes`.
    @inlinable
    public static func reading<T>(
        _ bytes: some ContiguousBytes, _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> T {
        // withUnsafeBytes rethrows untyped errors, so the typed error crosses it as a Result.
        let result: Result<T, ProtoDecodingError> = bytes.withUnsafeBytes { buffer in
            var reader = ProtoReader(buffer)
            do throws(ProtoDecodingError) {
                return .success(try body(&reader))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Skips an unknown field's value.
    public mutating func skip(_ wireType: WireType, field: Int) throws(ProtoDecodingError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64:
            guard end - position >= 8 else { throw .truncated }
            position += 8
        case .fixed32:
            guard end - position >= 4 else { throw .truncated }
            position += 4
        case .lengthDelimited:
            let length = try readLength()
            position += length
        case .startGroup:
            guard depthBudget > 0 else { throw .nestingTooDeep }
            depthBudget -= 1
            defer { depthBudget += 1 }
            while true {
                guard let (innerField, innerType) = try readTag() else { throw .truncated }
                if innerType == .endGroup {
                    guard innerField == field else { throw .unmatchedEndGroup }
                    return
                }
                try skip(innerType, field: innerField)
            }
        case .endGroup:
            throw .unmatchedEndGroup
        }
    }

    // MARK: typed scalar helpers; each checks the wire type its declaration requires.

    @inlinable
    public mutating func readUInt64(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> UInt64 {
        guard wireType == .varint else { throw .wrongWireType(field: field) }
        return try readVarint()
    }

    @inlinable
    public mutating func readInt64(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> Int64 {
        Int64(bitPattern: try readUInt64(wireType, field: field))
    }

    @inlinable
    public mutating func readInt32(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> Int32 {
        Int32(truncatingIfNeeded: try readUInt64(wireType, field: field))
    }

    @inlinable
    public mutating func readUInt32(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readUInt64(wireType, field: field))
    }

    @inlinable
    public mutating func readBool(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> Bool {
        try readUInt64(wireType, field: field) != 0
    }

    @inlinable
    public mutating func readBytes(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> [UInt8] {
        guard wireType == .lengthDelimited else { throw .wrongWireType(field: field) }
        return try readBytes()
    }

    @inlinable
    public mutating func readString(_ wireType: WireType, field: Int) throws(ProtoDecodingError) -> String {
        guard wireType == .lengthDelimited else { throw .wrongWireType(field: field) }
        return try readString()
    }

    @inlinable
    public mutating func readMessage<M: ProtoMessage>(
        _ wireType: WireType, field: Int, as type: M.Type = M.self
    ) throws(ProtoDecodingError) -> M {
        try readNested(wireType, field: field) { (nested: inout ProtoReader) throws(ProtoDecodingError) -> M in
            try M(reading: &nested)
        }
    }

    /// Merges a message field into an existing value, as protobuf does when a message field
    /// occurs more than once.
    @inlinable
    public mutating func mergeMessage<M: ProtoMessage>(
        _ wireType: WireType, field: Int, into message: inout M
    ) throws(ProtoDecodingError) {
        try readNested(wireType, field: field) { (nested: inout ProtoReader) throws(ProtoDecodingError) in
            try message.merge(from: &nested)
        }
    }

    /// Merges into an optional message field, starting from the default when absent.
    @inlinable
    public mutating func mergeMessage<M: ProtoMessage>(
        _ wireType: WireType, field: Int, into message: inout M?
    ) throws(ProtoDecodingError) {
        var value = message ?? M()
        try mergeMessage(wireType, field: field, into: &value)
        message = value
    }

    /// Reads a repeated int32 or enum field in either packed or unpacked form.
    @inlinable
    public mutating func readPackedInt32(
        _ wireType: WireType, field: Int, into values: inout [Int32]
    ) throws(ProtoDecodingError) {
        switch wireType {
        case .varint: values.append(Int32(truncatingIfNeeded: try readVarint()))
        case .lengthDelimited:
            try readNested { (nested: inout ProtoReader) throws(ProtoDecodingError) in
                while !nested.isAtEnd { values.append(Int32(truncatingIfNeeded: try nested.readVarint())) }
            }
        default: throw .wrongWireType(field: field)
        }
    }

    /// Reads a repeated varint field in either packed or unpacked form.
    @inlinable
    public mutating func readPackedVarints(
        _ wireType: WireType, field: Int, into values: inout [UInt64]
    ) throws(ProtoDecodingError) {
        switch wireType {
        case .varint: values.append(try readVarint())
        case .lengthDelimited:
            try readNested { (nested: inout ProtoReader) throws(ProtoDecodingError) in
                while !nested.isAtEnd { values.append(try nested.readVarint()) }
            }
        default: throw .wrongWireType(field: field)
        }
    }
}
