import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TLS

/// A request on the peer port, once its head has arrived.
public struct PeerRequestHead: Sendable {
    public var method: String
    /// The path without the query.
    public var path: String
    public var headers: [(name: String, value: String)]

    /// The first value of a header, matched case-insensitively (Go writes canonical names).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// A complete answer to a peer request.
public struct PeerResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Go's `http.Error`: the text and a newline, as plain text.
    public static func text(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) -> PeerResponse {
        PeerResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8"),
                                               ("X-Content-Type-Options", "nosniff")] + headers,
                     body: Array((message + "\n").utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public static func json(_ text: String, headers: [(name: String, value: String)] = []) -> PeerResponse {
        PeerResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }
}

/// Receives a request body as it arrives (the snapshot endpoint: a database may not fit in
/// memory). Calls run on the connection's event loop, in order.
public protocol PeerBodySink: AnyObject, Sendable {
    func receive(_ bytes: ByteBuffer)
    /// The body ended; answer with `respond`, from any thread.
    func finish(_ respond: @escaping @Sendable (PeerResponse) -> Void)
    /// The connection went away first.
    func abort()
}

/// A never-ending response to a stream request, written frame by frame.
public final class PeerStreamWriter: @unchecked Sendable {
    let channel: Channel

    init(channel: Channel) {
        self.channel = channel
    }

    public var eventLoop: EventLoop { channel.eventLoop }

    /// Writes body bytes and flushes; must run on `eventLoop`.
    public func write(_ bytes: [UInt8]) -> EventLoopFuture<Void> {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))))
    }

    public var isWritable: Bool { channel.isWritable }

    public func close() {
        channel.close(promise: nil)
    }

    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
}

/// How the peer port answers each request.
public enum PeerRoute: Sendable {
    /// Read the whole body (up to `maxBodyBytes`), then answer.
    case buffered(maxBodyBytes: Int, @Sendable (PeerRequestHead, [UInt8], @escaping @Sendable (PeerResponse) -> Void) -> Void)
    /// Hand the body to a sink as it arrives.
    case streamedBody(PeerBodySink)
    /// Answer 200 with these headers and keep the response open for `attach`.
    case stream(headers: [(name: String, value: String)], attach: @Sendable (PeerStreamWriter) -> Void)
    /// Answer at once.
    case respond(PeerResponse)
}

/// Picks the route of a request from its head.
public protocol PeerRouter: Sendable {
    func route(_ head: PeerRequestHead) -> PeerRoute
}

/// The peer port: HTTP/1.1 (as etcd's rafthttp), with streaming responses and bodies.
public final class PeerHTTPServer: Sendable {
    public let channel: Channel

    /// `tls` makes the port serve HTTP/1.1 over TLS.
    public static func bind(host: String, port: Int, group: EventLoopGroup, router: PeerRouter,
                            tls: TLSServing? = nil) async throws -> PeerHTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(PeerRequestHandler(router: router))
                    try tls?.install(on: channel)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return PeerHTTPServer(channel: channel)
    }

    private init(channel: Channel) {
        self.channel = channel
    }

    public var localPort: Int? { channel.localAddress?.port }

    public func shutdown() async {
        try? await channel.close()
    }
}

/// One peer connection: routes each request and writes its answer.
final class PeerRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case buffering(PeerRequestHead, maxBytes: Int, body: [UInt8],
                       handle: @Sendable (PeerRequestHead, [UInt8], @escaping @Sendable (PeerResponse) -> Void) -> Void)
        case sinking(PeerBodySink)
        case discarding(PeerResponse)
        /// The response is written from elsewhere (a stream) or pending.
        case answering
    }

    private let router: PeerRouter
    private var state = State.idle
    private var keepAlive = true

    init(router: PeerRouter) {
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let request = PeerRequestHead(method: head.method.rawValue, path: path,
                                          headers: head.headers.map { ($0.name, $0.value) })
            switch router.route(request) {
            case .buffered(let maxBytes, let handle):
                state = .buffering(request, maxBytes: maxBytes, body: [], handle: handle)
            case .streamedBody(let sink):
                state = .sinking(sink)
            case .respond(let response):
                state = .discarding(response)
            case .stream(let headers, let attach):
                state = .answering
                keepAlive = false
                var responseHeaders = HTTPHeaders()
                for (name, value) in headers { responseHeaders.add(name: name, value: value) }
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok,
                                                                               headers: responseHeaders))), promise: nil)
                attach(PeerStreamWriter(channel: context.channel))
            }
        case .body(let bytes):
            switch state {
            case .buffering(let head, let maxBytes, var body, let handle):
                if body.count + bytes.readableBytes > maxBytes {
                    state = .discarding(PeerResponse.text(413, "request body too large"))
                } else {
                    state = .idle
                    body.append(contentsOf: bytes.readableBytesView)
                    state = .buffering(head, maxBytes: maxBytes, body: body, handle: handle)
                }
            case .sinking(let sink):
                sink.receive(bytes)
            default:
                break
            }
        case .end:
            switch state {
            case .buffering(let head, _, let body, let handle):
                state = .answering
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                handle(head, body) { response in
                    loopBound.eventLoop.execute {
                        let (handler, context) = loopBound.value
                        handler.write(response, context: context)
                    }
                }
            case .sinking(let sink):
                state = .answering
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                sink.finish { response in
                    loopBound.eventLoop.execute {
                        let (handler, context) = loopBound.value
                        handler.write(response, context: context)
                    }
                }
            case .discarding(let response):
                state = .answering
                write(response, context: context)
            case .idle, .answering:
                break
            }
        }
    }

    private func write(_ response: PeerResponse, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
        state = .idle
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .sinking(let sink) = state { sink.abort() }
        state = .idle
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
