/// Command-line parsing with Go's `flag` package rules, which etcd uses: `-f` and `--f` are the
/// same; values come as `-f=v` or `-f v`; a boolean flag takes no separate value (`-f`,
/// `-f=false`); parsing stops at `--` or at the first argument that is not a flag.
struct FlagParser {
    enum Kind: Sendable, Equatable {
        case string, bool, int, uint, uint32, int64, uint64, duration
        /// Comma-separated URLs.
        case urls
        /// Comma-separated strings.
        case strings
        /// One of a fixed set of values.
        case choice([String])
    }

    struct Spec: Sendable {
        var name: String
        var kind: Kind
        var defaultValue: String
        var help: String
    }

    enum Failure: Error, Equatable {
        /// Go: `flag provided but not defined: -name`.
        case undefined(String)
        /// Go: `invalid value "v" for flag -name: reason`.
        case invalidValue(flag: String, value: String, reason: String)
        /// Go: `invalid boolean value "v" for -name: parse error`.
        case invalidBool(flag: String, value: String)
        /// Go: `flag needs an argument: -name`.
        case missingValue(String)
        /// Go: `bad flag syntax: ---x`.
        case badSyntax(String)
        case help

        var message: String {
            switch self {
            case .undefined(let name): return "flag provided but not defined: -\(name)"
            case .invalidValue(let flag, let value, let reason): return "invalid value \"\(value)\" for flag -\(flag): \(reason)"
        case .invalidBool(let flag, let value): return "invalid boolean value \"\(value)\" for -\(flag): parse error"
            case .missingValue(let name): return "flag needs an argument: -\(name)"
            case .badSyntax(let arg): return "bad flag syntax: \(arg)"
            case .help: return ""
            }
        }
    }

    let specs: [String: Spec]

    init(_ specs: [Spec]) {
        self.specs = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    struct Result {
        /// Flags set on the command line, in order, with their raw values.
        var set: [(name: String, value: String)] = []
        /// Arguments left after the flags.
        var remaining: [String] = []
    }

    func parse(_ arguments: [String]) throws(Failure) -> Result {
        var result = Result()
        var index = 0
        while index < arguments.count {
            let arg = arguments[index]
            guard arg.count >= 2, arg.hasPrefix("-") else { break }
            var body = arg.dropFirst()
            if body.hasPrefix("-") {
                body = body.dropFirst()
                if body.isEmpty {
                    index += 1
                    break  // "--" ends the flags
                }
            }
            if body.hasPrefix("-") || body.hasPrefix("=") { throw .badSyntax(arg) }
            index += 1
            var name = String(body)
            var value: String?
            if let equals = body.firstIndex(of: "=") {
                name = String(body[..<equals])
                value = String(body[body.index(after: equals)...])
            }
            if name == "h" || name == "help" {
                if specs[name] == nil { throw .help }
            }
            guard let spec = specs[name] else { throw .undefined(name) }
            if spec.kind == .bool {
                let raw = value ?? "true"
                guard FlagParser.parseBool(raw) != nil else { throw .invalidBool(flag: name, value: raw) }
                result.set.append((name, raw))
                continue
            }
            if value == nil {
                guard index < arguments.count else { throw .missingValue(name) }
                value = arguments[index]
                index += 1
            }
            try validate(spec, value!)
            result.set.append((name, value!))
        }
        result.remaining = Array(arguments[index...])
        return result
    }

    func validate(_ spec: Spec, _ value: String) throws(Failure) {
        let ok: Bool
        var reason = "parse error"
        switch spec.kind {
        case .string, .strings: ok = true
        case .bool: ok = FlagParser.parseBool(value) != nil
        case .int, .int64: ok = GoInteger.parse(value) != nil
        case .uint, .uint64: ok = GoInteger.parseUnsigned(value) != nil
        case .uint32: ok = GoInteger.parseUnsigned(value).map { $0 <= UInt64(UInt32.max) } ?? false
        case .duration: ok = GoDuration.parse(value) != nil
        case .urls:
            do {
                _ = try URLList.parse(value)
                ok = true
            } catch {
                ok = false
                reason = error.description
            }
        case .choice(let values):
            ok = values.contains(value)
            reason = "invalid value"
        }
        if !ok { throw .invalidValue(flag: spec.name, value: value, reason: reason) }
    }

    static func parseBool(_ value: String) -> Bool? {
        switch value {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}

/// Go's strconv parsing with base 0: decimal, 0x hex, 0o or leading-0 octal, 0b binary, and
/// underscores between digits.
enum GoInteger {
    static func parseUnsigned(_ text: String) -> UInt64? {
        var s = Substring(text)
        guard !s.isEmpty else { return nil }
        var radix = 10
        if s.hasPrefix("0x") || s.hasPrefix("0X") { radix = 16; s = s.dropFirst(2) }
        else if s.hasPrefix("0b") || s.hasPrefix("0B") { radix = 2; s = s.dropFirst(2) }
        else if s.hasPrefix("0o") || s.hasPrefix("0O") { radix = 8; s = s.dropFirst(2) }
        else if s.count > 1 && s.hasPrefix("0") { radix = 8; s = s.dropFirst() }
        let digits = radix == 10 ? s : Substring(s.replacingOccurrences(of: "_", with: ""))
        return UInt64(digits, radix: radix)
    }

    static func parse(_ text: String) -> Int64? {
        if text.hasPrefix("-") {
            guard let magnitude = parseUnsigned(String(text.dropFirst())), magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        let plain = text.hasPrefix("+") ? String(text.dropFirst()) : text
        guard let magnitude = parseUnsigned(plain), magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}

/// Go's time.ParseDuration: a sequence of decimal numbers with units (ns us µs ms s m h).
import Foundation

enum GoDuration {
    static func parse(_ text: String) -> Double? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") || s.hasPrefix("+") {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        var total = 0.0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix { !$0.isNumber && $0 != "." }
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs", "μs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            total += value * scale
        }
        return negative ? -total : total
    }
}

/// URLs as etcd's flags take them: comma-separated, scheme http/https/unix/unixs, a host with
/// a port, no path.
public enum URLList {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Parsed: Sendable, Equatable, Hashable {
        public var scheme: String
        public var host: String
        public var port: Int
        /// Canonical text, as Go's url.URL.String() writes it.
        public var text: String { "\(scheme)://\(hostPort)" }
        public var hostPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
        public var isTLS: Bool { scheme == "https" || scheme == "unixs" }
    }

    public static func parse(_ value: String) throws(Invalid) -> [Parsed] {
        var parsed: [Parsed] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            parsed.append(try parseOne(String(part).trimming(" ")))
        }
        return parsed
    }

    public static func parseOne(_ text: String) throws(Invalid) -> Parsed {
        guard let schemeEnd = text.range(of: "://") else {
            throw Invalid(description: "URL scheme must be http, https, unix, or unixs: \(text)")
        }
        let scheme = String(text[..<schemeEnd.lowerBound])
        guard ["http", "https", "unix", "unixs"].contains(scheme) else {
            throw Invalid(description: "URL scheme must be http, https, unix, or unixs: \(text)")
        }
        var rest = text[schemeEnd.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw Invalid(description: "URL must not contain a path: \(text)") }
        let host: String
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw Invalid(description: "URL address does not have the form \"host:port\": \(text)") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let afterClose = rest[rest.index(after: close)...]
            guard afterClose.hasPrefix(":") else { throw Invalid(description: "URL address does not have the form \"host:port\": \(text)") }
            portText = afterClose.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw Invalid(description: "URL address does not have the form \"host:port\": \(text)")
            }
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        }
        guard let port = Int(portText), port >= 0, port <= 65535 else {
            throw Invalid(description: "URL address does not have the form \"host:port\": \(text)")
        }
        return Parsed(scheme: scheme, host: host, port: port)
    }
}

extension String {
    func trimming(_ set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
