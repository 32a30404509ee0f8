import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TLS

/// Where a peer URL points.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isTLS: Bool

    /// `http://host:port` or `https://host:port`; nil for anything else.
    public init?(url: String) {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port,
              components.scheme == "http" || components.scheme == "https" else { return nil }
        self.host = host
        self.port = port
        self.isTLS = components.scheme == "https"
    }

    public var description: String { "\(host):\(port)" }
}

public enum PeerHTTPError: Error, CustomStringConvertible, Sendable {
    case badURL(String)
    case timeout
    case closed
    case status(Int, String)

    public var description: String {
        switch self {
        case .badURL(let url): return "bad peer URL \(url)"
        case .timeout: return "i/o timeout"
        case .closed: return "connection closed"
        case .status(let code, let body): return "unexpected http status \(code) (\(body))"
        }
    }
}

/// HTTP/1.1 requests to peers: one-shot requests (pipeline messages, `/members`, `/version`,
/// lease forwarding), and streams (the long-lived GETs that carry Raft messages to us, and
/// snapshot uploads).
public final class PeerHTTPClient: Sendable {
    public let group: EventLoopGroup
    /// etcd's peer dial timeout is a second plus an election timeout.
    let connectTimeout: TimeAmount
    /// How https peer URLs are dialed.
    let tls: TLSContext?

    public init(group: EventLoopGroup, connectTimeout: TimeAmount = .seconds(2), tls: TLSContext? = nil) {
        self.group = group
        self.connectTimeout = connectTimeout
        self.tls = tls
    }

    /// Connects to `address`: TLS first when the URL is https, then HTTP/1.1, then `handlers`.
    private func connect(_ address: PeerAddress, on eventLoop: EventLoop, noDelay: Bool = true,
                         handlers: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void) -> EventLoopFuture<Channel> {
        let tls = self.tls
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: noDelay ? 1 : 0)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if address.isTLS {
                        guard let tls else { throw PeerHTTPError.badURL("https://\(address)") }
                        let session = try tls.makeSession(serverName: address.host)
                        try channel.pipeline.syncOperations.addHandler(
                            TLSHandler(session: session, isClient: true, handshakeQueue: TLSHandler.sharedHandshakeQueue))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try handlers(channel.pipeline.syncOperations)
                }
            }
            .connect(host: address.host, port: address.port)
    }

    /// Sends one request on a new connection and collects the whole response.
    public func request(_ url: String, method: HTTPMethod, path: String, headers: [(String, String)] = [],
                        body: [UInt8] = [], timeout: TimeAmount) -> EventLoopFuture<PeerResponse> {
        let eventLoop = group.next()
        guard let address = PeerAddress(url: url) else {
            return eventLoop.makeFailedFuture(PeerHTTPError.badURL(url))
        }
        let promise = eventLoop.makePromise(of: PeerResponse.self)
        connect(address, on: eventLoop) { try $0.addHandler(OneShotHandler(promise: promise)) }.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
                head.headers.add(name: "Host", value: address.description)
                head.headers.add(name: "User-Agent", value: "Go-http-client/1.1")
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                head.headers.add(name: "Content-Length", value: String(body.count))
                head.headers.add(name: "Connection", value: "close")
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                if !body.isEmpty {
                    channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
                }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                    promise.fail(PeerHTTPError.timeout)
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { _ in
                    deadline.cancel()
                    channel.close(promise: nil)
                }
            }
        }
        return promise.futureResult
    }

    /// Opens a GET that the remote answers with a never-ending body. `onHead` sees the status
    /// and headers (return false to close), `onBody` every chunk; `onClose` runs once when the
    /// connection ends, for whatever reason. The read deadline closes a silent connection.
    public func openStream(_ url: String, path: String, headers: [(String, String)], readTimeout: TimeAmount,
                           onHead: @escaping @Sendable (Int, PeerRequestHead) -> Bool,
                           onBody: @escaping @Sendable (ByteBuffer) -> Bool,
                           onClose: @escaping @Sendable (Error?) -> Void) {
        let eventLoop = group.next()
        guard let address = PeerAddress(url: url) else {
            onClose(PeerHTTPError.badURL(url))
            return
        }
        connect(address, on: eventLoop) { pipeline in
            try pipeline.addHandler(IdleStateHandler(readTimeout: readTimeout), position: .first)
            try pipeline.addHandler(StreamResponseHandler(onHead: onHead, onBody: onBody, onClose: onClose))
        }.whenComplete { result in
            switch result {
            case .failure(let error):
                onClose(error)
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                head.headers.add(name: "Host", value: address.description)
                head.headers.add(name: "User-Agent", value: "Go-http-client/1.1")
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
    }

    /// POSTs a body produced piece by piece (a snapshot: the message, then the database) with
    /// chunked encoding; `nextChunk` is called off the event loop until it returns nil.
    public func upload(_ url: String, path: String, headers: [(String, String)], timeout: TimeAmount,
                       nextChunk: @escaping @Sendable () throws -> [UInt8]?) -> EventLoopFuture<PeerResponse> {
        let eventLoop = group.next()
        guard let address = PeerAddress(url: url) else {
            return eventLoop.makeFailedFuture(PeerHTTPError.badURL(url))
        }
        let promise = eventLoop.makePromise(of: PeerResponse.self)
        connect(address, on: eventLoop, noDelay: false) { try $0.addHandler(OneShotHandler(promise: promise)) }
            .whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: address.description)
                head.headers.add(name: "User-Agent", value: "Go-http-client/1.1")
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                head.headers.add(name: "Transfer-Encoding", value: "chunked")
                channel.writeAndFlush(HTTPClientRequestPart.head(head), promise: nil)
                // Read the body on a plain thread, waiting for each chunk to be written, so
                // a large database never sits in memory.
                Thread.detachNewThread {
                    do {
                        while let chunk = try nextChunk() {
                            if chunk.isEmpty { continue }
                            try channel.writeAndFlush(HTTPClientRequestPart.body(
                                .byteBuffer(channel.allocator.buffer(bytes: chunk)))).wait()
                        }
                        try channel.writeAndFlush(HTTPClientRequestPart.end(nil)).wait()
                        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                            promise.fail(PeerHTTPError.timeout)
                        }
                        promise.futureResult.whenComplete { _ in deadline.cancel() }
                    } catch {
                        promise.fail(error)
                    }
                }
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        return promise.futureResult
    }
}

/// Collects one response.
private final class OneShotHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<PeerResponse>
    private var response: PeerResponse?

    init(promise: EventLoopPromise<PeerResponse>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            response = PeerResponse(status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) })
        case .body(let bytes):
            response?.body.append(contentsOf: bytes.readableBytesView)
        case .end:
            if let response { promise.succeed(response) }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(PeerHTTPError.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Feeds a streamed response to callbacks; closes on a read timeout.
private final class StreamResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let onHead: @Sendable (Int, PeerRequestHead) -> Bool
    private let onBody: @Sendable (ByteBuffer) -> Bool
    private let onClose: @Sendable (Error?) -> Void
    private var closed = false
    private var failure: Error?
    /// The response head was accepted; bodies of refused responses are ignored.
    private var accepted = false

    init(onHead: @escaping @Sendable (Int, PeerRequestHead) -> Bool, onBody: @escaping @Sendable (ByteBuffer) -> Bool,
         onClose: @escaping @Sendable (Error?) -> Void) {
        self.onHead = onHead
        self.onBody = onBody
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let request = PeerRequestHead(method: "", path: "", headers: head.headers.map { ($0.name, $0.value) })
            accepted = onHead(Int(head.status.code), request)
            if !accepted { context.close(promise: nil) }
        case .body(let bytes):
            guard accepted else { return }
            if !onBody(bytes) {
                accepted = false
                context.close(promise: nil)
            }
        case .end:
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            failure = PeerHTTPError.timeout
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closed {
            closed = true
            onClose(failure)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failure = error
        context.close(promise: nil)
    }
}
