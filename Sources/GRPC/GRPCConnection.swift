import Dispatch
import HTTP2

/// What a server counts about its calls (grpc-go's server metrics).
public protocol CallObserver: Sendable {
    func callStarted(_ path: String)
    func messageReceived(_ path: String, bytes: Int)
    func messageSent(_ path: String, bytes: Int)
    func callFinished(_ path: String, code: GRPCStatus.Code)
}

/// Maps method paths (`/package.Service/Method`) to handlers.
public struct Router: Sendable {
    public enum Handler: Sendable {
        /// Gets the call and its single request message; completes with `call.respond`.
        case unary(@Sendable (ServerCall, [UInt8]) -> Void)
        /// Client and server streaming (covers server-streaming calls too). Runs on the
        /// connection's executor; the returned delegate receives the messages.
        case streaming(@Sendable (ServerCall) -> StreamingCallDelegate)
    }

    var handlers: [String: Handler] = [:]
    var services: Set<String> = []
    /// Checked before every call is dispatched (a server's interceptor): a status refuses it.
    /// Gets the path, the call and whether it streams.
    public var admission: (@Sendable (String, ServerCall, Bool) -> GRPCStatus?)?
    /// Counts calls and messages.
    public var observer: CallObserver?

    public init() {}

    /// Starts a call whose headers arrived: the method must exist, admission must allow it,
    /// the client's deadline is armed, and a streaming handler gets the call now (a unary one
    /// runs once the request is complete).
    func start(_ call: ServerCall, method: String, timeout: String?, executor: CallExecutor) {
        guard method == "POST" else {
            call.finishOnExecutor(GRPCStatus(.internal, "malformed method \(method)"))
            return
        }
        guard let handler = handlers[call.path] else {
            call.finishOnExecutor(unknownMethodStatus(call.path))
            return
        }
        observer?.callStarted(call.path)
        if let admission {
            let streaming: Bool
            if case .streaming = handler { streaming = true } else { streaming = false }
            if let refusal = admission(call.path, call, streaming) {
                call.finishOnExecutor(refusal)
                return
            }
        }
        if let timeout, let nanoseconds = GRPCConnection.parseTimeout(timeout) {
            call.deadline = DispatchTime.now().uptimeNanoseconds &+ nanoseconds
            call.cancelDeadline = executor.schedule(afterNanoseconds: nanoseconds) { [weak call] in
                guard let call, !call.isFinished else { return }
                let delegate = call.delegate
                call.delegate = nil
                let cancel = call.cancelHandler
                call.finishOnExecutor(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
                delegate?.cancelled()
                cancel?()
            }
        }
        if case .streaming(let start) = handler {
            call.delegate = start(call)
        }
    }

    /// Every registered method path.
    public var paths: [String] { Array(handlers.keys) }

    public mutating func register(_ path: String, _ handler: Handler) {
        handlers[path] = handler
        if let service = Router.serviceName(path) { services.insert(service) }
    }

    static func serviceName(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty else { return nil }
        return String(parts[1])
    }

    /// grpc-go's status for a path with no handler.
    func unknownMethodStatus(_ path: String) -> GRPCStatus {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty else {
            return GRPCStatus(.unimplemented, "malformed method name: \"\(path)\"")
        }
        if services.contains(String(parts[1])) {
            return GRPCStatus(.unimplemented, "unknown method \(parts[2]) for service \(parts[1])")
        }
        return GRPCStatus(.unimplemented, "unknown service \(parts[1])")
    }
}

/// A plain (non-gRPC) HTTP request, over HTTP/1.1 or HTTP/2.
public struct PlainHTTPRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [HeaderField]
    public var body: [UInt8]
    /// The common name of the client's verified TLS certificate, when it presented one.
    public var clientCommonName: String?

    public init(method: String, path: String, headers: [HeaderField], body: [UInt8], clientCommonName: String? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.clientCommonName = clientCommonName
    }

    /// The first value of a header (names are lower case).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}

/// Where a plain HTTP handler writes its answer, from any thread: a whole response, or a
/// stream (chunked on HTTP/1.1, DATA frames on HTTP/2) begun with `startStream`, fed with
/// `write` and ended with `endStream`.
public protocol PlainHTTPResponder: Sendable {
    func respond(_ response: PlainHTTPResponse)
    func startStream(status: Int, headers: [HeaderField])
    func write(_ bytes: [UInt8])
    func endStream(trailers: [HeaderField])
    /// Runs once if the client goes away before the response ended (at once if it already has).
    func onCancel(_ handler: @escaping @Sendable () -> Void)
}

/// Serves a plain HTTP request.
public typealias PlainHTTPHandler = @Sendable (PlainHTTPRequest, PlainHTTPResponder) -> Void

public struct PlainHTTPResponse: Sendable {
    public var status: Int
    public var headers: [HeaderField]
    public var body: [UInt8]

    public init(status: Int, headers: [HeaderField] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

public struct GRPCServerConfiguration: Sendable {
    public var http2 = HTTP2Settings()
    /// Largest request message accepted (grpc-go's MaxRecvMsgSize).
    public var maxReceiveMessageBytes = 4 << 20
    /// Serves HTTP/2 requests that are not gRPC (content-type other than application/grpc).
    public var plainHTTPHandler: PlainHTTPHandler?

    public init() {}
}

/// The gRPC server side of one HTTP/2 connection; confined to the connection's executor.
public final class GRPCConnection: HTTP2SessionDelegate {
    let session: HTTP2ServerSession
    let router: Router
    let executor: CallExecutor
    let configuration: GRPCServerConfiguration
    private var calls: [Int32: ServerCall] = [:]
    private var plainRequests: [Int32: PlainHTTPRequest] = [:]
    /// Plain responses still being written, by stream.
    private var plainResponders: [Int32: HTTP2PlainResponder] = [:]
    private let onOutputPending: () -> Void
    private var outputScheduled = false

    static let responseHeaders = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc")]

    /// - Parameter onOutputPending: called on the executor when frames are waiting to be sent;
    ///   the transport then calls `produceOutput` (it may coalesce several requests).
    /// The common name of the client's verified TLS certificate, when it presented one.
    public let clientCommonName: String?

    public init(configuration: GRPCServerConfiguration, router: Router, executor: CallExecutor,
                clientCommonName: String? = nil,
                clock: @escaping () -> UInt64, onOutputPending: @escaping () -> Void) throws {
        self.session = try HTTP2ServerSession(settings: configuration.http2, clock: clock)
        self.clientCommonName = clientCommonName
        self.router = router
        self.executor = executor
        self.configuration = configuration
        self.onOutputPending = onOutputPending
        session.delegate = self
    }

    public func receive(_ bytes: UnsafeRawBufferPointer) throws {
        try session.receive(bytes)
    }

    public func produceOutput(limit: Int, _ emit: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        outputScheduled = false
        return try session.produceOutput(limit: limit, emit)
    }

    public var isActive: Bool { session.isActive }
    public var wantsWrite: Bool { session.wantsWrite }
    public var activeCallCount: Int { calls.count }

    /// Sends GOAWAY (graceful shutdown); in-flight calls continue.
    public func goAway() {
        session.terminate(code: .noError)
        outputPending()
    }

    /// The connection is gone: every open call is cancelled.
    public func close() {
        let open = calls.values
        calls.removeAll()
        for call in open { call.cancelOnExecutor() }
        let responders = plainResponders.values
        plainResponders.removeAll()
        for responder in responders { responder.closed() }
    }

    func outputPending() {
        guard !outputScheduled else { return }
        outputScheduled = true
        onOutputPending()
    }

    // MARK: HTTP2SessionDelegate

    public func streamOpened(_ stream: Int32, headers: [HeaderField]) {
        var method = "", path = "", contentType = "", timeout: String?, encoding: String?
        var metadata: [HeaderField] = []
        for header in headers {
            switch header.name {
            case ":method": method = header.value
            case ":path": path = header.value
            case ":scheme", ":authority": break
            case "content-type": contentType = header.value
            case "grpc-timeout": timeout = header.value
            case "grpc-encoding": encoding = header.value
            default: metadata.append(header)
            }
        }
        guard contentType.hasPrefix("application/grpc") else {
            plainRequests[stream] = PlainHTTPRequest(method: method, path: path, headers: headers, body: [],
                                                     clientCommonName: clientCommonName)
            return
        }
        let call = ServerCall(path: path, metadata: metadata, stream: stream, executor: executor, sink: self,
                              maxMessageBytes: configuration.maxReceiveMessageBytes, clientCommonName: clientCommonName,
                              observer: router.observer)
        calls[stream] = call
        if let encoding, encoding != "identity" {
            call.finishOnExecutor(GRPCStatus(.unimplemented, "grpc: Decompressor is not installed for grpc-encoding \"\(encoding)\""))
            return
        }
        router.start(call, method: method, timeout: timeout, executor: executor)
    }

    public func streamData(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        if plainRequests[stream] != nil {
            plainRequests[stream]!.body.append(contentsOf: bytes)
            return
        }
        guard let call = calls[stream], !call.isFinished else { return }
        call.deframer.append(bytes)
        do {
            while let message = try call.deframer.next() {
                call.receive(message)
                if call.isFinished { return }
            }
        } catch .tooLarge(let length, let limit) {
            call.fail(GRPCStatus(.resourceExhausted, "grpc: received message larger than max (\(length) vs. \(limit))"))
        } catch {
            call.fail(GRPCStatus(.internal, "grpc: compressed flag set with identity or empty encoding"))
        }
    }

    public func streamEnded(_ stream: Int32) {
        if let request = plainRequests.removeValue(forKey: stream) {
            servePlain(request, stream: stream)
            return
        }
        guard let call = calls[stream] else { return }
        call.receiveEnd(router)
    }

    public func streamDataSent(_ stream: Int32, count: Int) {
        calls[stream]?.dataSent(count)
    }

    public func streamClosed(_ stream: Int32, errorCode: UInt32) {
        plainRequests[stream] = nil
        plainResponders.removeValue(forKey: stream)?.closed()
        guard let call = calls.removeValue(forKey: stream) else { return }
        call.cancelOnExecutor()
    }

    private func servePlain(_ request: PlainHTTPRequest, stream: Int32) {
        guard let handler = configuration.plainHTTPHandler else {
            session.sendHeadersOnly(stream, headers: [HeaderField(":status", "404")])
            outputPending()
            return
        }
        let responder = HTTP2PlainResponder(connection: self, stream: stream)
        plainResponders[stream] = responder
        handler(request, responder)
    }

    /// Runs on the executor, for a responder.
    fileprivate func plain(_ stream: Int32, _ work: @escaping @Sendable (GRPCConnection) -> Void) {
        let body: @Sendable () -> Void = { [weak self] in
            guard let self else { return }
            work(self)
        }
        if executor.inExecutor { body() } else { executor.execute(body) }
    }

    fileprivate func plainEnded(_ stream: Int32) {
        plainResponders[stream] = nil
    }

    /// Parses a `grpc-timeout` value (up to 8 digits and a unit) into nanoseconds.
    static func parseTimeout(_ value: String) -> UInt64? {
        guard let unit = value.last, value.count >= 2, value.count <= 9,
              let amount = UInt64(value.dropLast()) else { return nil }
        let scale: UInt64
        switch unit {
        case "H": scale = 3_600_000_000_000
        case "M": scale = 60_000_000_000
        case "S": scale = 1_000_000_000
        case "m": scale = 1_000_000
        case "u": scale = 1_000
        case "n": scale = 1
        default: return nil
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: scale)
        return overflow ? UInt64.max : product
    }
}

extension GRPCConnection: @unchecked Sendable {}

extension GRPCConnection: CallSink {
    func sendHeaders(_ call: ServerCall) {
        session.startResponse(call.stream, headers: GRPCConnection.responseHeaders)
    }

    func sendMessages(_ call: ServerCall, framed: [UInt8]) {
        session.sendData(call.stream, framed)
        outputPending()
    }

    func finish(_ call: ServerCall, status: GRPCStatus) {
        var trailers = [HeaderField("grpc-status", String(status.code.rawValue))]
        if !status.message.isEmpty { trailers.append(HeaderField("grpc-message", status.encodedMessage)) }
        if call.headersSent {
            session.finish(call.stream, trailers: trailers)
        } else {
            session.sendHeadersOnly(call.stream, headers: GRPCConnection.responseHeaders + trailers)
        }
        outputPending()
    }
}

/// A plain response on an HTTP/2 stream.
final class HTTP2PlainResponder: PlainHTTPResponder, @unchecked Sendable {
    private weak var connection: GRPCConnection?
    private let stream: Int32
    // Confined to the connection's executor.
    private var ended = false
    private var cancelled = false
    private var cancelHandlers: [@Sendable () -> Void] = []

    init(connection: GRPCConnection, stream: Int32) {
        self.connection = connection
        self.stream = stream
    }

    func respond(_ response: PlainHTTPResponse) {
        let stream = self.stream
        connection?.plain(stream) { [self] connection in
            guard !ended, !cancelled else { return }
            ended = true
            var headers = [HeaderField(":status", String(response.status))] + response.headers
            if response.body.isEmpty {
                connection.session.sendHeadersOnly(stream, headers: headers)
            } else {
                headers.append(HeaderField("content-length", String(response.body.count)))
                connection.session.startResponse(stream, headers: headers)
                connection.session.sendData(stream, response.body)
                connection.session.finish(stream, trailers: nil)
            }
            connection.plainEnded(stream)
            connection.outputPending()
        }
    }

    func startStream(status: Int, headers: [HeaderField]) {
        let stream = self.stream
        connection?.plain(stream) { [self] connection in
            guard !ended, !cancelled else { return }
            connection.session.startResponse(stream, headers: [HeaderField(":status", String(status))] + headers)
            connection.outputPending()
        }
    }

    func write(_ bytes: [UInt8]) {
        let stream = self.stream
        connection?.plain(stream) { [self] connection in
            guard !ended, !cancelled else { return }
            connection.session.sendData(stream, bytes)
            connection.outputPending()
        }
    }

    func endStream(trailers: [HeaderField]) {
        let stream = self.stream
        connection?.plain(stream) { [self] connection in
            guard !ended, !cancelled else { return }
            ended = true
            connection.session.finish(stream, trailers: trailers.isEmpty ? nil : trailers)
            connection.plainEnded(stream)
            connection.outputPending()
        }
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        guard let connection else { return handler() }
        connection.plain(stream) { [self] _ in
            if cancelled { handler() } else { cancelHandlers.append(handler) }
        }
    }

    /// The stream closed (reset or the connection went away).
    func closed() {
        guard !ended, !cancelled else { return }
        cancelled = true
        let handlers = cancelHandlers
        cancelHandlers = []
        for handler in handlers { handler() }
    }
}
