import Foundation
import GRPC
import HTTP2
import NIOCore

/// Serves a plain HTTP request (HTTP/1.1, or HTTP/2 without gRPC) and completes with a
/// response, from any thread.
public typealias HTTPHandler = @Sendable (PlainHTTPRequest, @escaping @Sendable (PlainHTTPResponse) -> Void) -> Void

/// A small HTTP/1.1 server connection: request line, headers, a Content-Length body, keep-alive,
/// one request at a time. Enough for /health, /version, /metrics and the JSON gateway.
final class HTTP1Connection: @unchecked Sendable {
    private let handler: HTTPHandler
    private let eventLoop: EventLoop
    private let write: ([UInt8], Bool) -> Void
    private var buffer: [UInt8] = []
    private var busy = false
    private var closing = false
    private var closed = false

    static let maxHeaderBytes = 64 << 10
    static let maxBodyBytes = 8 << 20

    init(handler: @escaping HTTPHandler, eventLoop: EventLoop, write: @escaping ([UInt8], Bool) -> Void) {
        self.handler = handler
        self.eventLoop = eventLoop
        self.write = write
    }

    func receive(_ bytes: ByteBuffer) {
        buffer.append(contentsOf: bytes.readableBytesView)
        processNext()
    }

    func close() { closed = true }

    func closeWhenIdle() {
        closing = true
        if !busy { write([], true) }
    }

    private func processNext() {
        guard !busy, !closed else { return }
        switch parse() {
        case .incomplete:
            return
        case .invalid(let status):
            respond(PlainHTTPResponse(status: status, headers: [HeaderField("content-type", "text/plain; charset=utf-8")],
                                      body: Array("\(status) \(HTTP1Connection.reason(status))".utf8)),
                    keepAlive: false)
        case .request(let request, let keepAlive):
            busy = true
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            let eventLoop = self.eventLoop
            handler(request) { response in
                eventLoop.execute {
                    let connection = loopBound.value
                    connection.busy = false
                    connection.respond(response, keepAlive: keepAlive && !connection.closing, head: request.method == "HEAD")
                    connection.processNext()
                }
            }
        }
    }

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
                if value.lowercased() != "identity" { return .invalid(501) }
            case "connection":
                let v = value.lowercased()
                if v == "close" { keepAlive = false } else if v == "keep-alive" { keepAlive = true }
            default:
                break
            }
        }
        guard contentLength <= HTTP1Connection.maxBodyBytes else { return .invalid(413) }
        let bodyStart = headerEnd + 4
        guard buffer.count >= bodyStart + contentLength else { return .incomplete }
        let body = Array(buffer[bodyStart..<(bodyStart + contentLength)])
        buffer.removeFirst(bodyStart + contentLength)
        return .request(PlainHTTPRequest(method: String(requestLine[0]), path: String(requestLine[1]),
                                         headers: headers, body: body), keepAlive: keepAlive)
    }

    private func findHeaderEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func respond(_ response: PlainHTTPResponse, keepAlive: Bool, head: Bool = false) {
        var text = "HTTP/1.1 \(response.status) \(HTTP1Connection.reason(response.status))\r\n"
        for header in response.headers { text += "\(canonicalName(header.name)): \(header.value)\r\n" }
        text += "Date: \(httpDate())\r\n"
        text += "Content-Length: \(response.body.count)\r\n"
        if !keepAlive { text += "Connection: close\r\n" }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if !head { bytes += response.body }
        write(bytes, !keepAlive)
        if !keepAlive { closed = true }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 413: return "Request Entity Too Large"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

/// `content-type` → `Content-Type`, as Go's HTTP server writes header names.
private func canonicalName(_ name: String) -> String {
    name.split(separator: "-", omittingEmptySubsequences: false)
        .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
        .joined(separator: "-")
}
