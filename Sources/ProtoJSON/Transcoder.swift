import ProtoWire

/// Protobuf wire bytes to and from JSON, as etcd's grpc-gateway does it (golang/protobuf's
/// jsonpb with the proto field names): fields in declaration order, zero values left out,
/// 64-bit integers as strings, bytes as base64, enums by name. Input is lenient the way jsonpb
/// is: either field name spelling, numbers as strings, unknown fields ignored; its errors
/// are Go's.
public struct ProtoJSON: Sendable {
    public let schema: ProtoSchema

    public init(schema: ProtoSchema) {
        self.schema = schema
    }

    // MARK: Wire to JSON

    /// The JSON text of a serialized message.
    public func json(fromWire bytes: [UInt8], message name: String) throws -> String {
        var out = ""
        try writeMessage(bytes, name, into: &out)
        return out
    }

    /// A field's raw occurrences on the wire.
    private enum Raw {
        case varint(UInt64)
        case bytes([UInt8])
    }

    private func writeMessage(_ bytes: [UInt8], _ name: String, into out: inout String) throws {
        guard let message = schema.messages[name] else {
            out += "{}"
            return
        }
        let occurrences = try bytes.withUnsafeBytes { buffer in
            try fields(buffer, message)
        }
        out += "{"
        var first = true
        for field in message.fields {
            guard var values = occurrences[field.number], !values.isEmpty else { continue }
            if !field.repeated {
                values = [values[values.count - 1]]
                if !field.inOneof, isDefault(values[0], field) { continue }
            }
            if !first { out += "," }
            first = false
            out += quote(field.name) + ":"
            if field.repeated { out += "[" }
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                try writeValue(value, field, into: &out)
            }
            if field.repeated { out += "]" }
        }
        out += "}"
    }

    /// Every known field's occurrences, in wire order; packed repeated varints unpacked.
    private func fields(_ buffer: UnsafeRawBufferPointer, _ message: MessageSchema) throws -> [Int: [Raw]] {
        var occurrences: [Int: [Raw]] = [:]
        var reader = ProtoReader(buffer)
        while let (number, wireType) = try reader.readTag() {
            guard let field = message.byNumber[number] else {
                try reader.skip(wireType, field: number)
                continue
            }
            switch wireType {
            case .varint:
                occurrences[number, default: []].append(.varint(try reader.readVarint()))
            case .lengthDelimited:
                let bytes = try reader.readBytes()
                if field.repeated && field.isScalarVarint {
                    // Packed varints.
                    try bytes.withUnsafeBytes { packed in
                        var inner = ProtoReader(packed)
                        while !inner.isAtEnd { occurrences[number, default: []].append(.varint(try inner.readVarint())) }
                    }
                } else {
                    occurrences[number, default: []].append(.bytes(bytes))
                }
            default:
                try reader.skip(wireType, field: number)
            }
        }
        return occurrences
    }

    private func isDefault(_ raw: Raw, _ field: FieldSchema) -> Bool {
        switch (raw, field.kind) {
        case (.varint(let value), _): return value == 0
        case (.bytes(let bytes), .string), (.bytes(let bytes), .bytes): return bytes.isEmpty
        case (.bytes, _): return false  // a present message is written, even empty
        }
    }

    private func writeValue(_ raw: Raw, _ field: FieldSchema, into out: inout String) throws {
        switch (field.kind, raw) {
        case (.int64, .varint(let value)): out += "\"\(Int64(bitPattern: value))\""
        case (.uint64, .varint(let value)): out += "\"\(value)\""
        case (.int32, .varint(let value)): out += "\(Int32(truncatingIfNeeded: Int64(bitPattern: value)))"
        case (.uint32, .varint(let value)): out += "\(UInt32(truncatingIfNeeded: value))"
        case (.bool, .varint(let value)): out += value != 0 ? "true" : "false"
        case (.enumeration(let name), .varint(let value)):
            let number = Int32(truncatingIfNeeded: Int64(bitPattern: value))
            if let label = schema.enums[name]?.name(of: number) { out += quote(label) } else { out += "\(number)" }
        case (.string, .bytes(let bytes)): out += quote(String(decoding: bytes, as: UTF8.self))
        case (.bytes, .bytes(let bytes)): out += "\"" + base64Encode(bytes) + "\""
        case (.message(let name), .bytes(let bytes)): try writeMessage(bytes, name, into: &out)
        default: throw ProtoDecodingError.truncated  // the wire type does not fit the field
        }
    }

    // MARK: JSON to wire

    /// Serializes a JSON value (an object, or null for an empty message) as `message`.
    public func wire(fromJSON value: JSONValue, message name: String) throws(JSONError) -> [UInt8] {
        var writer = ProtoWriter()
        try encodeMessage(value, name, into: &writer)
        return writer.bytes
    }

    private func encodeMessage(_ value: JSONValue, _ name: String, into writer: inout ProtoWriter) throws(JSONError) {
        let members: [(String, JSONValue)]
        switch value {
        case .null: return
        case .object(let list): members = list
        default: throw JSONError("json: cannot unmarshal \(value.goKind) into Go value of type map[string]json.RawMessage")
        }
        guard let message = schema.messages[name] else { return }
        // Later duplicates win, as in a Go map; fields are then taken in declaration order.
        var byName: [String: JSONValue] = [:]
        for (key, member) in members { byName[key] = member }
        var chosen: [(FieldSchema, JSONValue)] = []
        for field in message.fields {
            guard let member = byName[field.name] ?? byName[field.jsonName] else { continue }
            if case .null = member { continue }
            chosen.append((field, member))
        }
        for (field, member) in chosen.sorted(by: { $0.0.number < $1.0.number }) {
            try encodeField(member, field, into: &writer)
        }
    }

    private func encodeField(_ value: JSONValue, _ field: FieldSchema, into writer: inout ProtoWriter) throws(JSONError) {
        guard field.repeated else {
            try encodeSingle(value, field, into: &writer, always: field.inOneof)
            return
        }
        let elements: [JSONValue]
        switch value {
        case .array(let list): elements = list
        default: throw JSONError("json: cannot unmarshal \(value.goKind) into Go value of type []json.RawMessage")
        }
        if field.isScalarVarint {
            var packed = ProtoWriter()
            for element in elements { packed.writeVarint(try varint(element, field)) }
            if !packed.bytes.isEmpty {
                writer.writeTag(field.number, .lengthDelimited)
                writer.writeVarint(UInt64(packed.bytes.count))
                writer.bytes += packed.bytes
            }
        } else {
            for element in elements { try encodeSingle(element, field, into: &writer, always: true) }
        }
    }

    private func encodeSingle(_ value: JSONValue, _ field: FieldSchema, into writer: inout ProtoWriter,
                              always: Bool) throws(JSONError) {
        switch field.kind {
        case .string:
            guard case .string(let text) = value else { throw typeError(value, "string") }
            let bytes = Array(text.utf8)
            if bytes.isEmpty && !always { return }
            writeDelimited(field.number, bytes, into: &writer)
        case .bytes:
            guard case .string(let text) = value else { throw typeError(value, "[]uint8") }
            let bytes = try base64Decode(Array(text.utf8))
            if bytes.isEmpty && !always { return }
            writeDelimited(field.number, bytes, into: &writer)
        case .message(let name):
            var nested = ProtoWriter()
            try encodeMessage(value, name, into: &nested)
            writeDelimited(field.number, nested.bytes, into: &writer)
        default:
            let number = try varint(value, field)
            if number == 0 && !always { return }
            writer.writeTag(field.number, .varint)
            writer.writeVarint(number)
        }
    }

    private func writeDelimited(_ number: Int, _ bytes: [UInt8], into writer: inout ProtoWriter) {
        writer.writeTag(number, .lengthDelimited)
        writer.writeVarint(UInt64(bytes.count))
        writer.bytes += bytes
    }

    /// A varint field's value, with jsonpb's rules and Go's errors.
    private func varint(_ value: JSONValue, _ field: FieldSchema) throws(JSONError) -> UInt64 {
        switch field.kind {
        case .bool:
            guard case .bool(let flag) = value else { throw typeError(value, "bool") }
            return flag ? 1 : 0
        case .enumeration(let name):
            let enumSchema = schema.enums[name]
            let goName = enumSchema?.goName ?? name
            if case .string(let label) = value {
                guard let number = enumSchema?.number(of: label) else {
                    throw JSONError("unknown value \(quote(label)) for enum \(goName)")
                }
                return UInt64(bitPattern: Int64(number))
            }
            return UInt64(bitPattern: Int64(try integer(value, goType: goName, range: Int64(Int32.min)...Int64(Int32.max))))
        case .int64:
            return UInt64(bitPattern: try integer(unquoted(value), goType: "int64", range: Int64.min...Int64.max))
        case .int32:
            return UInt64(bitPattern: try integer(unquoted(value), goType: "int32", range: Int64(Int32.min)...Int64(Int32.max)))
        case .uint64:
            return try unsigned(unquoted(value), goType: "uint64", max: UInt64.max)
        case .uint32:
            return try unsigned(unquoted(value), goType: "uint32", max: UInt64(UInt32.max))
        default:
            throw typeError(value, "\(field.kind)")
        }
    }

    /// jsonpb accepts numbers as strings: the quotes are dropped and the rest parsed as JSON.
    private func unquoted(_ value: JSONValue) throws(JSONError) -> JSONValue {
        guard case .string(let text) = value else { return value }
        var reader = JSONReader(Array(text.utf8))
        if reader.isAtEnd() { throw JSONError("unexpected end of JSON input") }
        let inner: JSONValue?
        do {
            inner = try reader.next()
        } catch let error where error == .unexpectedEOF {
            throw JSONError("unexpected end of JSON input")
        }
        guard let inner else { throw JSONError("unexpected end of JSON input") }
        if !reader.isAtEnd(), let trailing = reader.nextByte {
            throw JSONError("invalid character \(quoteCharacter(trailing)) after top-level value")
        }
        return inner
    }

    private func integer(_ value: JSONValue, goType: String, range: ClosedRange<Int64>) throws(JSONError) -> Int64 {
        guard case .number(let text) = value else { throw typeError(value, goType) }
        guard let number = Int64(text), range.contains(number) else {
            throw JSONError("json: cannot unmarshal number \(text) into Go value of type \(goType)")
        }
        return number
    }

    private func unsigned(_ value: JSONValue, goType: String, max: UInt64) throws(JSONError) -> UInt64 {
        guard case .number(let text) = value else { throw typeError(value, goType) }
        guard let number = UInt64(text), number <= max else {
            throw JSONError("json: cannot unmarshal number \(text) into Go value of type \(goType)")
        }
        return number
    }

    private func typeError(_ value: JSONValue, _ goType: String) -> JSONError {
        JSONError("json: cannot unmarshal \(value.goKind) into Go value of type \(goType)")
    }
}

// MARK: Go's string escaping and base64

/// A JSON string literal as Go's encoding/json writes it (HTML-safe).
public func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "<": out += "\\u003c"
        case ">": out += "\\u003e"
        case "&": out += "\\u0026"
        case "\u{2028}": out += "\\u2028"
        case "\u{2029}": out += "\\u2029"
        default:
            if scalar.value < 0x20 {
                out += "\\u00" + String(scalar.value, radix: 16).leftPadded(2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

private let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

/// Standard base64 with padding.
public func base64Encode(_ bytes: some Collection<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var iterator = bytes.makeIterator()
    while let a = iterator.next() {
        let b = iterator.next()
        let c = iterator.next()
        out.append(base64Alphabet[Int(a >> 2)])
        out.append(base64Alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
        out.append(b == nil ? UInt8(ascii: "=") : base64Alphabet[Int(((b ?? 0) & 0x0F) << 2 | (c ?? 0) >> 6)])
        out.append(c == nil ? UInt8(ascii: "=") : base64Alphabet[Int((c ?? 0) & 0x3F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Standard base64 with padding, as Go's base64.StdEncoding decodes it (line breaks
/// ignored); the error names the first offending byte as Go does.
public func base64Decode(_ input: [UInt8]) throws(JSONError) -> [UInt8] {
    var values: [(value: UInt8, position: Int)] = []
    var padding: [Int] = []
    for (position, byte) in input.enumerated() {
        if byte == 0x0A || byte == 0x0D { continue }
        if byte == UInt8(ascii: "=") {
            padding.append(position)
            continue
        }
        guard padding.isEmpty, let value = base64Value(byte) else {
            throw JSONError("illegal base64 data at input byte \(padding.first ?? position)")
        }
        values.append((value, position))
    }
    let remainder = values.count % 4
    let quantumStart = values.count - remainder
    // A final partial quantum needs exactly the padding that completes it.
    if remainder == 1 || (remainder > 0 && remainder + padding.count != 4) || (remainder == 0 && !padding.isEmpty) {
        let at = quantumStart < values.count ? values[quantumStart].position : (padding.first ?? input.count)
        throw JSONError("illegal base64 data at input byte \(remainder == 0 ? at : at)")
    }
    var out: [UInt8] = []
    out.reserveCapacity(values.count * 3 / 4)
    var index = 0
    while index + 4 <= values.count {
        let (a, b, c, d) = (values[index].value, values[index + 1].value, values[index + 2].value, values[index + 3].value)
        out += [a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]
        index += 4
    }
    if remainder == 2 {
        out.append(values[index].value << 2 | values[index + 1].value >> 4)
    } else if remainder == 3 {
        let (a, b, c) = (values[index].value, values[index + 1].value, values[index + 2].value)
        out += [a << 2 | b >> 4, b << 4 | c >> 2]
    }
    return out
}

private func base64Value(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
    case UInt8(ascii: "+"): return 62
    case UInt8(ascii: "/"): return 63
    default: return nil
    }
}
