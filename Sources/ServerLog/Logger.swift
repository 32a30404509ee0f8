#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// etcd-style logging to stderr: zap's JSON lines (`--logger=zap`) or capnslog's text lines
/// (`--logger=capnslog`, the 3.4 default). Tools wait for particular messages, so the key
/// lines keep etcd's wording in both formats.
public final class Logger: @unchecked Sendable {
    public enum Level: Int, Comparable, Sendable {
        case debug = 0, info, warn, error, fatal

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        var zapName: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warn: return "warn"
            case .error: return "error"
            case .fatal: return "fatal"
            }
        }

        var capnslogLetter: String {
            switch self {
            case .debug: return "D"
            case .info: return "I"
            case .warn: return "W"
            case .error: return "E"
            case .fatal: return "C"
            }
        }

        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            case "panic", "fatal", "dpanic": self = .fatal
            default: return nil
            }
        }
    }

    public enum Format: Sendable {
        case zap
        case capnslog
    }

    public let minimumLevel: Level
    public let format: Format
    private let lock = NSLock()
    private let write: @Sendable (String) -> Void

    public init(level: Level, format: Format, write: @escaping @Sendable (String) -> Void = Logger.standardError) {
        self.minimumLevel = level
        self.format = format
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.append(10)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// - Parameters:
    ///   - message: zap's `msg`.
    ///   - fields: zap's structured fields, in order.
    ///   - text: the capnslog line, when it differs from the message and fields.
    ///   - package: capnslog's package name.
    public func log(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, Any> = [:],
                    text: String? = nil, package: String = "etcdserver",
                    file: StaticString = #fileID, line: UInt = #line) {
        guard level >= minimumLevel else { return }
        let rendered: String
        switch format {
        case .zap:
            var json = "{\"level\":\"\(level.zapName)\",\"ts\":\"\(Logger.zapTimestamp())\","
            json += "\"caller\":\(jsonString(Logger.caller(file, line))),\"msg\":\(jsonString(message))"
            for (key, value) in fields {
                json += ",\(jsonString(key)):\(jsonValue(value))"
            }
            json += "}"
            rendered = json
        case .capnslog:
            var body = text ?? message
            if text == nil && !fields.isEmpty {
                body += " (" + fields.map { "\($0.key): \(plainValue($0.value))" }.joined(separator: ", ") + ")"
            }
            rendered = "\(Logger.capnslogTimestamp()) \(level.capnslogLetter) | \(package): \(body)"
        }
        lock.withLock { write(rendered) }
    }

    public func debug(_ message: String, _ fields: KeyValuePairs<String, Any> = [:], text: String? = nil,
                      package: String = "etcdserver", file: StaticString = #fileID, line: UInt = #line) {
        log(.debug, message, fields, text: text, package: package, file: file, line: line)
    }

    public func info(_ message: String, _ fields: KeyValuePairs<String, Any> = [:], text: String? = nil,
                     package: String = "etcdserver", file: StaticString = #fileID, line: UInt = #line) {
        log(.info, message, fields, text: text, package: package, file: file, line: line)
    }

    public func warn(_ message: String, _ fields: KeyValuePairs<String, Any> = [:], text: String? = nil,
                     package: String = "etcdserver", file: StaticString = #fileID, line: UInt = #line) {
        log(.warn, message, fields, text: text, package: package, file: file, line: line)
    }

    public func error(_ message: String, _ fields: KeyValuePairs<String, Any> = [:], text: String? = nil,
                      package: String = "etcdserver", file: StaticString = #fileID, line: UInt = #line) {
        log(.error, message, fields, text: text, package: package, file: file, line: line)
    }

    /// Logs and exits: for states where continuing could lose acknowledged data.
    public func fatal(_ message: String, _ fields: KeyValuePairs<String, Any> = [:], text: String? = nil,
                      package: String = "etcdserver", file: StaticString = #fileID, line: UInt = #line) -> Never {
        log(.fatal, message, fields, text: text, package: package, file: file, line: line)
        exit(1)
    }

    static func caller(_ file: StaticString, _ line: UInt) -> String {
        let path = "\(file)"
        let trimmed = path.split(separator: "/").suffix(2).joined(separator: "/")
        return "\(trimmed):\(line)"
    }

    static func zapTimestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                      Int(ts.tv_nsec / 1_000_000))
    }

    static func capnslogTimestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                      Int(ts.tv_nsec / 1000))
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

private func jsonValue(_ value: Any) -> String {
    switch value {
    case let v as String: return jsonString(v)
    case let v as Bool: return v ? "true" : "false"
    case let v as Int: return String(v)
    case let v as Int64: return String(v)
    case let v as UInt64: return String(v)
    case let v as UInt32: return String(v)
    case let v as Int32: return String(v)
    case let v as Double: return String(v)
    case let v as [String]: return "[" + v.map(jsonString).joined(separator: ",") + "]"
    default: return jsonString("\(value)")
    }
}

private func plainValue(_ value: Any) -> String {
    switch value {
    case let v as [String]: return v.joined(separator: ",")
    default: return "\(value)"
    }
}
