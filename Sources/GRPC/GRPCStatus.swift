/// A gRPC status: a code and a message, sent in the `grpc-status` and `grpc-message` trailers.
public struct GRPCStatus: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: Int, Sendable {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16

        /// The name Go's gRPC prints (`codes.Code.String`), as in "rpc error: code = ... desc = ...".
        public var goName: String {
            switch self {
            case .ok: return "OK"
            case .cancelled: return "Canceled"
            case .internal: return "Internal"
            default:
                let name = "\(self)"
                return name.prefix(1).uppercased() + name.dropFirst()
            }
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static let ok = GRPCStatus(.ok, "")

    public var description: String { "rpc error: code = \(code) desc = \(message)" }

    /// The trailer value for `grpc-message`: bytes outside printable ASCII, and '%', are
    /// percent-encoded (gRPC over HTTP/2 spec).
    public var encodedMessage: String {
        var out = ""
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
