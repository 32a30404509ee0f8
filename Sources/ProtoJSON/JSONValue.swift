/// A JSON value as parsed: object members keep their order, numbers keep their text (64-bit
/// integers must not pass through a Double).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// How Go's encoding/json names the kind in "cannot unmarshal X into ..." errors.
    var goKind: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON problem, worded as Go's encoding/json words it (the gateway's errors quote it).
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    static let unexpectedEOF = JSONError("unexpected EOF")
}

/// Reads JSON values one after another from bytes, as Go's json.Decoder does: leading
/// whitespace is skipped, each call reads one complete value.
public struct JSONReader {
    private let bytes: [UInt8]
    private var position = 0
    /// Nesting allowed before the input is refused (Go allows 10000).
    private static let maximumDepth = 10_000

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether only whitespace is left.
    public mutating func isAtEnd() -> Bool {
        skipWhitespace()
        return position >= bytes.count
    }

    /// The byte the reader stands on, if any.
    public var nextByte: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// The next value; `nil` at the end of the input.
    public mutating func next() throws(JSONError) -> JSONValue? {
        if isAtEnd() { return nil }
        return try value(depth: 0)
    }

    // MARK: Parsing

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func peek() throws(JSONError) -> UInt8 {
        guard position < bytes.count else { throw .unexpectedEOF }
        return bytes[position]
    }

    private mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        skipWhitespace()
        let byte = try peek()
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < JSONReader.maximumDepth else { throw JSONError("exceeded max depth") }
            return try object(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < JSONReader.maximumDepth else { throw JSONError("exceeded max depth") }
            return try array(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw invalid(byte, "looking for beginning of value")
        }
    }

    private mutating func literal(_ word: String) throws(JSONError) {
        for (index, expected) in word.utf8.enumerated() {
            let byte = try peek()
            if byte != expected {
                let quoted = "'" + String(decoding: [expected], as: UTF8.self) + "'"
                throw invalid(byte, index == 0 ? "looking for beginning of value" : "in literal \(word) (expecting \(quoted))")
            }
            position += 1
        }
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        position += 1  // {
        var members: [(String, JSONValue)] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let byte = try peek()
            guard byte == UInt8(ascii: "\"") else { throw invalid(byte, "looking for beginning of object key string") }
            let key = try string()
            skipWhitespace()
            let colon = try peek()
            guard colon == UInt8(ascii: ":") else { throw invalid(colon, "after object key") }
            position += 1
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            let next = try peek()
            position += 1
            if next == UInt8(ascii: "}") { return .object(members) }
            guard next == UInt8(ascii: ",") else {
                position -= 1
                throw invalid(next, "after object key:value pair")
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try value(depth: depth))
            skipWhitespace()
            let next = try peek()
            position += 1
            if next == UInt8(ascii: "]") { return .array(elements) }
            guard next == UInt8(ascii: ",") else {
                position -= 1
                throw invalid(next, "after array element")
            }
        }
    }

    private mutating func number() throws(JSONError) -> String {
        let start = position
        if bytes[position] == UInt8(ascii: "-") {
            position += 1
            let byte = try peek()
            guard isDigit(byte) else { throw invalid(byte, "in numeric literal") }
        }
        if try peek() == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            let byte = try peek()
            guard isDigit(byte) else { throw invalid(byte, "after decimal point in numeric literal") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            let byte = try peek()
            guard isDigit(byte) else { throw invalid(byte, "in exponent of numeric literal") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func string() throws(JSONError) -> String {
        position += 1  // "
        var out: [UInt8] = []
        while true {
            let byte = try peek()
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escape = try peek()
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), position + 1 < bytes.count,
                       bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                        let saved = position
                        position += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = saved
                        }
                    }
                    let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out += Array(String(Character(character)).utf8)
                default:
                    position -= 1
                    throw invalid(escape, "in string escape code")
                }
            default:
                if byte < 0x20 {
                    position -= 1
                    throw invalid(byte, "in string literal")
                }
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = try peek()
            guard let digit = hexDigit(byte) else { throw invalid(byte, "in \\u hexadecimal character escape") }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private func invalid(_ byte: UInt8, _ context: String) -> JSONError {
        JSONError("invalid character \(quoteCharacter(byte)) \(context)")
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Go's quoteChar: 'x', with escapes for quotes and non-printable bytes.
func quoteCharacter(_ byte: UInt8) -> String {
    switch byte {
    case UInt8(ascii: "'"): return "'\\''"
    case UInt8(ascii: "\""): return "'\"'"
    case 0x0A: return "'\\n'"
    case 0x0D: return "'\\r'"
    case 0x09: return "'\\t'"
    case 0x20...0x7E: return "'" + String(decoding: [byte], as: UTF8.self) + "'"
    default:
        if byte < 0x20 || byte == 0x7F { return "'\\x" + String(byte, radix: 16).leftPadded(2) + "'" }
        return "'\\u" + String(byte, radix: 16).leftPadded(4) + "'"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
