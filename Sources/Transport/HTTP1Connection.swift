import Foundation
import GRPC
import HTTP2
import NIOCore

/// Serves a plain HTTP request (HTTP/1.1, or HTTP/2 without gRPC).
public typealias HTTPHandler = PlainHTTPHandler

/// A small HTTP/1.1 server connection: request line, headers, a body by Content-Length or
/// chunked, keep-alive, one request at a time; responses whole or streamed (chunked). Enough
/// for /health, /version, /metrics and the JSON gateway.
final class HTTP1Connection: @unchecked Sendable {
    private let handler: HTTPHandler
    private let eventLoop: EventLoop
    private let write: ([UInt8], Bool) -> Void
    private let clientCommonName: String?
    private var buffer: [UInt8] = []
    /// The request being answered, if any.
    private var current: HTTP1Responder?
    private var closing = false
    private var closed = false

    static let maxHeaderBytes = 64 << 10
    static let maxBodyBytes = 8 << 20

    init(handler: @escaping HTTPHandler, eventLoop: EventLoop, clientCommonName: String?,
         write: @escaping ([UInt8], Bool) -> Void) {
        self.handler = handler
        self.eventLoop = eventLoop
        self.clientCommonName = clientCommonName
        self.write = write
    }

    func receive(_ bytes: ByteBuffer) {
        buffer.append(contentsOf: bytes.readableBytesView)
        processNext()
    }

    /// The connection is gone: a response still being written is cancelled.
    func close() {
        closed = true
        current?.cancelled()
        current = nil
    }

    func closeWhenIdle() {
        closing = true
        if current == nil { write([], true) }
    }

    private func processNext() {
        guard current == nil, !closed else { return }
        switch parse() {
        case .incomplete:
            return
        case .invalid(let status):
            let body = Array("\(status) \(HTTP1Connection.reason(status))".utf8)
            send(HTTP1Connection.head(status: status, headers: [HeaderField("content-type", "text/plain; charset=utf-8")],
                                      framing: .length(body.count), keepAlive: false) + body, close: true)
        case .request(let request, let keepAlive):
            let responder = HTTP1Responder(connection: NIOLoopBound(self, eventLoop: eventLoop), eventLoop: eventLoop,
                                           keepAlive: keepAlive, isHead: request.method == "HEAD")
            current = responder
            handler(request, responder)
        }
    }

    /// Called on the event loop when `responder` wrote its last byte.
    fileprivate func finished(_ responder: HTTP1Responder, keepAlive: Bool) {
        guard current === responder else { return }
        current = nil
        if !keepAlive || closing {
            closed = true
            write([], true)
            return
        }
        processNext()
    }

    fileprivate func send(_ bytes: [UInt8], close: Bool = false) {
        guard !closed || close else { return }
        write(bytes, close)
        if close { closed = true }
    }

    // MARK: Parsing

    private enum ParseResult {
        case incomplete
        case invalid(Int)
        case request(PlainHTTPRequest, keepAlive: Bool)
    }

    private func parse() -> ParseResult {
        guard let headerEnd = findHeaderEnd() else {
            return buffer.count > HTTP1Connection.maxHeaderBytes ? .invalid(431) : .incomplete
        }
        let head = String(decoding: buffer[0..<headerEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .invalid(400) }
        var headers: [HeaderField] = []
        var contentLength = 0
        var chunked = false
        var keepAlive = requestLine[2] == "HTTP/1.1"
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(400) }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(HeaderField(name, value))
            switch name {
            case "content-length":
                guard let n = Int(value), n >= 0 else { return .invalid(400) }
                contentLength = n
            case "transfer-encoding":
                switch value.lowercased() {
                case "chunked": chunked = true
                case "identity": break
                default: return .invalid(501)
                }
            case "connection":
                let v = value.lowercased()
                if v == "close" { keepAlive = false } else if v == "keep-alive" { keepAlive = true }
            default:
                break
            }
        }
        let bodyStart = headerEnd + 4
        let body: [UInt8]
        let consumed: Int
        if chunked {
            switch dechunk(from: bodyStart) {
            case .incomplete: return .incomplete
            case .invalid: return .invalid(400)
            case .complete(let bytes, let end):
                body = bytes
                consumed = end
            }
        } else {
            guard contentLength <= HTTP1Connection.maxBodyBytes else { return .invalid(413) }
            guard buffer.count >= bodyStart + contentLength else { return .incomplete }
            body = Array(buffer[bodyStart..<(bodyStart + contentLength)])
            consumed = bodyStart + contentLength
        }
        buffer.removeFirst(consumed)
        return .request(PlainHTTPRequest(method: String(requestLine[0]), path: String(requestLine[1]),
                                         headers: headers, body: body, clientCommonName: clientCommonName),
                        keepAlive: keepAlive)
    }

    private enum Dechunked {
        case incomplete
        case invalid
        case complete([UInt8], end: Int)
    }

    /// A chunked body starting at `start`: the whole of it (the request is answered once the
    /// body ended, as Go's server in effect does) and where it ends, trailers included.
    private func dechunk(from start: Int) -> Dechunked {
        var body: [UInt8] = []
        var cursor = start
        while true {
            guard let lineEnd = findCRLF(from: cursor) else {
                return buffer.count - start > HTTP1Connection.maxBodyBytes + 4096 ? .invalid : .incomplete
            }
            let sizeText = String(decoding: buffer[cursor..<lineEnd], as: UTF8.self)
                .split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { return .invalid }
            cursor = lineEnd + 2
            if size == 0 {
                // Trailers, then an empty line.
                while true {
                    guard let end = findCRLF(from: cursor) else { return .incomplete }
                    if end == cursor { return .complete(body, end: end + 2) }
                    cursor = end + 2
                }
            }
            guard body.count + size <= HTTP1Connection.maxBodyBytes else { return .invalid }
            guard buffer.count >= cursor + size + 2 else { return .incomplete }
            body += buffer[cursor..<(cursor + size)]
            guard buffer[cursor + size] == 13, buffer[cursor + size + 1] == 10 else { return .invalid }
            cursor += size + 2
        }
    }

    private func findCRLF(from start: Int) -> Int? {
        guard buffer.count >= start + 2 else { return nil }
        var i = start
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func findHeaderEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    // MARK: Writing

    enum Framing {
        case length(Int)
        case chunked(trailerNames: [String])
    }

    /// A response head as Go's server writes one: status line, the handler's headers, Date,
    /// then the framing.
    static func head(status: Int, headers: [HeaderField], framing: Framing, keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for header in headers { text += "\(canonicalName(header.name)): \(header.value)\r\n" }
        switch framing {
        case .length(let count):
            text += "Date: \(httpDate())\r\n"
            text += "Content-Length: \(count)\r\n"
        case .chunked(let trailerNames):
            if !trailerNames.isEmpty { text += "Trailer: \(trailerNames.map(canonicalName).joined(separator: ", "))\r\n" }
            text += "Date: \(httpDate())\r\n"
            text += "Transfer-Encoding: chunked\r\n"
        }
        if !keepAlive { text += "Connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 412: return "Precondition Failed"
        case 413: return "Request Entity Too Large"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status"
        }
    }
}

/// One request's answer on an HTTP/1.1 connection; any thread may write, the bytes go out on
/// the event loop.
final class HTTP1Responder: PlainHTTPResponder, @unchecked Sendable {
    private let connection: NIOLoopBound<HTTP1Connection>
    private let eventLoop: EventLoop
    private let keepAlive: Bool
    private let isHead: Bool
    // Confined to the event loop.
    private var started = false
    private var ended = false
    private var isCancelled = false
    private var trailerNames: [String] = []
    private var cancelHandlers: [@Sendable () -> Void] = []

    init(connection: NIOLoopBound<HTTP1Connection>, eventLoop: EventLoop, keepAlive: Bool, isHead: Bool) {
        self.connection = connection
        self.eventLoop = eventLoop
        self.keepAlive = keepAlive
        self.isHead = isHead
    }

    private func onLoop(_ work: @escaping @Sendable (HTTP1Responder, HTTP1Connection) -> Void) {
        let body: @Sendable () -> Void = { [self] in work(self, connection.value) }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    func respond(_ response: PlainHTTPResponse) {
        onLoop { responder, connection in
            guard !responder.started, !responder.ended, !responder.isCancelled else { return }
            responder.ended = true
            var bytes = HTTP1Connection.head(status: response.status, headers: response.headers,
                                             framing: .length(response.body.count), keepAlive: responder.keepAlive)
            if !responder.isHead { bytes += response.body }
            connection.send(bytes)
            connection.finished(responder, keepAlive: responder.keepAlive)
        }
    }

    func startStream(status: Int, headers: [HeaderField]) {
        onLoop { responder, connection in
            guard !responder.started, !responder.ended, !responder.isCancelled else { return }
            responder.started = true
            // Headers named "trailer" announce the trailers to come, as Go's server does.
            let announced = headers.filter { $0.name == "trailer" }.map(\.value)
            responder.trailerNames = announced
            let others = headers.filter { $0.name != "trailer" }
            connection.send(HTTP1Connection.head(status: status, headers: others, framing: .chunked(trailerNames: announced),
                                                 keepAlive: responder.keepAlive))
        }
    }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        onLoop { responder, connection in
            guard responder.started, !responder.ended, !responder.isCancelled, !responder.isHead else { return }
            connection.send(Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10])
        }
    }

    func endStream(trailers: [HeaderField]) {
        onLoop { responder, connection in
            guard responder.started, !responder.ended, !responder.isCancelled else { return }
            responder.ended = true
            var text = "0\r\n"
            for trailer in trailers { text += "\(canonicalName(trailer.name)): \(trailer.value)\r\n" }
            text += "\r\n"
            connection.send(Array(text.utf8))
            connection.finished(responder, keepAlive: responder.keepAlive)
        }
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        onLoop { responder, _ in
            if responder.isCancelled { handler() } else if !responder.ended { responder.cancelHandlers.append(handler) }
        }
    }

    /// The connection closed before the response ended.
    func cancelled() {
        guard !ended, !isCancelled else { return }
        isCancelled = true
        let handlers = cancelHandlers
        cancelHandlers = []
        for handler in handlers { handler() }
    }
}

/// `content-type` → `Content-Type`, as Go's HTTP server writes header names.
func canonicalName(_ name: String) -> String {
    name.split(separator: "-", omittingEmptySubsequences: false)
        .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
        .joined(separator: "-")
}
