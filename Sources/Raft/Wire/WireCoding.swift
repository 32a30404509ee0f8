/// Minimal protobuf wire primitives for the Raft codec, so the core depends on nothing.

/// Why bytes could not be decoded.
public enum RaftWireError: Error, Sendable, Hashable {
    case truncated
    case malformedVarint
    /// A field arrived with a wire type its schema does not allow.
    case wrongWireType(field: Int)
    case unknownEnumValue(field: Int, value: UInt64)
    /// Valid etcd data this implementation does not support (joint-consensus membership).
    case unsupported(String)
    case nestingTooDeep
}

enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

struct WireWriter {
    var bytes: [UInt8] = []

    static func varintSize(_ value: UInt64) -> Int {
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }

    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func writeTag(_ field: Int, _ type: WireType) {
        writeVarint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    /// Writes a varint field unless it holds the default (zero).
    mutating func writeUInt64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        writeTag(field, .varint)
        writeVarint(value)
    }

    mutating func writeBool(_ field: Int, _ value: Bool) {
        guard value else { return }
        writeTag(field, .varint)
        bytes.append(1)
    }

    /// Writes a bytes field unless it is empty.
    mutating func writeBytes(_ field: Int, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Writes a nested message, always (presence is meaningful).
    mutating func writeMessage(_ field: Int, _ body: (inout WireWriter) -> Void) {
        var nested = WireWriter()
        body(&nested)
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(nested.bytes.count))
        bytes.append(contentsOf: nested.bytes)
    }
}

struct WireReader {
    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    let depth: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes, from: 0, to: bytes.count, depth: 0)
    }

    private init(_ bytes: [UInt8], from start: Int, to end: Int, depth: Int) {
        self.bytes = bytes
        position = start
        self.end = end
        self.depth = depth
    }

    var isAtEnd: Bool { position >= end }

    mutating func readVarint() throws(RaftWireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint }
        }
    }

    /// The next field's number and wire type, or nil at the end.
    mutating func readTag() throws(RaftWireError) -> (field: Int, type: WireType)? {
        guard !isAtEnd else { return nil }
        let key = try readVarint()
        guard let type = WireType(rawValue: UInt8(key & 7)) else { throw .wrongWireType(field: Int(key >> 3)) }
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw .wrongWireType(field: Int(truncatingIfNeeded: field)) }
        return (Int(field), type)
    }

    mutating func readUInt64(_ field: Int, _ type: WireType) throws(RaftWireError) -> UInt64 {
        guard type == .varint else { throw .wrongWireType(field: field) }
        return try readVarint()
    }

    mutating func readBool(_ field: Int, _ type: WireType) throws(RaftWireError) -> Bool {
        try readUInt64(field, type) != 0
    }

    private mutating func readLength(_ field: Int, _ type: WireType) throws(RaftWireError) -> Int {
        guard type == .lengthDelimited else { throw .wrongWireType(field: field) }
        let length = try readVarint()
        guard length <= UInt64(end - position) else { throw .truncated }
        return Int(length)
    }

    mutating func readBytes(_ field: Int, _ type: WireType) throws(RaftWireError) -> [UInt8] {
        let length = try readLength(field, type)
        defer { position += length }
        return Array(bytes[position..<position + length])
    }

    /// A reader over a nested message's bytes; the outer reader moves past them.
    mutating func nested(_ field: Int, _ type: WireType) throws(RaftWireError) -> WireReader {
        guard depth < 16 else { throw .nestingTooDeep }
        let length = try readLength(field, type)
        defer { position += length }
        return WireReader(bytes, from: position, to: position + length, depth: depth + 1)
    }

    /// Packed (proto3) or unpacked (proto2, etcd's choice) repeated varints.
    mutating func readRepeatedUInt64(_ field: Int, _ type: WireType, into values: inout [UInt64]) throws(RaftWireError) {
        if type == .lengthDelimited {
            var packed = try nested(field, type)
            while !packed.isAtEnd { values.append(try packed.readVarint()) }
        } else {
            values.append(try readUInt64(field, type))
        }
    }

    mutating func skip(_ field: Int, _ type: WireType) throws(RaftWireError) {
        switch type {
        case .varint: _ = try readVarint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: position += try readLength(field, type)
        }
    }

    private mutating func advance(_ count: Int) throws(RaftWireError) {
        guard end - position >= count else { throw .truncated }
        position += count
    }
}
