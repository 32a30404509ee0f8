import GRPC
import HTTP2
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TLS

/// Runs connection work on a NIO event loop.
final class EventLoopExecutor: CallExecutor {
    let eventLoop: EventLoop

    init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    var inExecutor: Bool { eventLoop.inEventLoop }

    func execute(_ work: @escaping @Sendable () -> Void) {
        eventLoop.execute(work)
    }

    func schedule(afterNanoseconds delay: UInt64, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let task = eventLoop.scheduleTask(in: .nanoseconds(Int64(clamping: delay))) { work() }
        return { task.cancel() }
    }
}

/// Serves one client connection. The first bytes decide the protocol: the HTTP/2 connection
/// preface selects gRPC (h2c with prior knowledge, or h2 after TLS), anything else is HTTP/1.1.
///
/// Output is pulled from nghttp2 only while the channel is writable, so the socket buffer stays
/// small and nghttp2's per-stream scheduling decides which stream's DATA goes next.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case sniffing(ByteBuffer)
        case http2(GRPCConnection)
        case http1(HTTP1Connection)
        case closed
    }

    private static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Bytes produced per write before checking writability again.
    private static let outputChunkBytes = 64 << 10

    private var state: State = .sniffing(ByteBuffer())
    private let configuration: GRPCServerConfiguration
    private let router: Router
    private let httpHandler: HTTPHandler
    private var context: ChannelHandlerContext?
    private var flushScheduled = false
    private let connections: ConnectionRegistry
    /// The client certificate's common name, once TLS is established.
    private var clientCommonName: String?

    init(configuration: GRPCServerConfiguration, router: Router, httpHandler: @escaping HTTPHandler,
         connections: ConnectionRegistry) {
        self.configuration = configuration
        self.router = router
        self.httpHandler = httpHandler
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        connections.add(self, on: context.eventLoop)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch state {
        case .sniffing(var pending):
            pending.writeBuffer(&buffer)
            let prefix = pending.readableBytesView.prefix(Self.preface.count)
            if !Self.preface.starts(with: prefix) {
                startHTTP1(context: context, initial: pending)
            } else if prefix.count == Self.preface.count {
                startHTTP2(context: context, initial: pending)
            } else {
                state = .sniffing(pending)
            }
        case .http2(let connection):
            receive(buffer, into: connection, context: context)
        case .http1(let connection):
            connection.receive(buffer)
        case .closed:
            break
        }
    }

    private func startHTTP2(context: ChannelHandlerContext, initial: ByteBuffer) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        do {
            let connection = try GRPCConnection(
                configuration: configuration, router: router, executor: EventLoopExecutor(context.eventLoop),
                clientCommonName: clientCommonName, clock: { NIODeadline.now().uptimeNanoseconds },
                onOutputPending: { eventLoop.execute { loopBound.value.flushOutput() } })
            state = .http2(connection)
            receive(initial, into: connection, context: context)
        } catch {
            state = .closed
            context.close(promise: nil)
        }
    }

    private func startHTTP1(context: ChannelHandlerContext, initial: ByteBuffer) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let connection = HTTP1Connection(handler: httpHandler, eventLoop: context.eventLoop,
                                         clientCommonName: clientCommonName,
                                         write: { bytes, close in loopBound.value.writeHTTP1(bytes, close: close) })
        state = .http1(connection)
        connection.receive(initial)
    }

    private func receive(_ buffer: ByteBuffer, into connection: GRPCConnection, context: ChannelHandlerContext) {
        let failed = buffer.withUnsafeReadableBytes { bytes -> Bool in
            do {
                try connection.receive(bytes)
                return false
            } catch {
                return true
            }
        }
        flushOutput()
        if failed || !connection.isActive {
            closeAfterFlush(context: context)
        }
    }

    /// Moves frames from nghttp2 to the socket while the channel is writable.
    func flushOutput() {
        guard case .http2(let connection) = state, let context else { return }
        var wrote = false
        while context.channel.isWritable {
            var out = context.channel.allocator.buffer(capacity: Self.outputChunkBytes)
            let produced: Int
            do {
                produced = try connection.produceOutput(limit: Self.outputChunkBytes) { out.writeBytes($0) }
            } catch {
                closeAfterFlush(context: context)
                return
            }
            if produced == 0 { break }
            context.write(wrapOutboundOut(out), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
        if !connection.isActive {
            closeAfterFlush(context: context)
        }
    }

    private func closeAfterFlush(context: ChannelHandlerContext) {
        if case .closed = state { return }
        if case .http2(let connection) = state {
            // Send whatever nghttp2 still has (e.g. GOAWAY) before closing.
            var out = context.channel.allocator.buffer(capacity: 1024)
            _ = try? connection.produceOutput(limit: 1 << 20) { out.writeBytes($0) }
            connection.close()
            if out.readableBytes > 0 {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        }
        state = .closed
        context.close(promise: nil)
    }

    func writeHTTP1(_ bytes: [UInt8], close: Bool) {
        guard let context else { return }
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        if close {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? TLSEstablished {
            clientCommonName = established.peerCertificate.map(\.commonName)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flushOutput() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.remove(self)
        switch state {
        case .http2(let connection): connection.close()
        case .http1(let connection): connection.close()
        default: break
        }
        state = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeAfterFlush(context: context)
    }

    /// Graceful shutdown: HTTP/2 clients get GOAWAY, HTTP/1 connections close when idle.
    func beginShutdown() {
        switch state {
        case .http2(let connection):
            connection.goAway()
        case .http1(let connection):
            connection.closeWhenIdle()
        case .sniffing:
            context?.close(promise: nil)
        case .closed:
            break
        }
    }
}

/// Every open connection, for graceful shutdown.
final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NIOLock()
    private var handlers: [ObjectIdentifier: (ConnectionHandler, EventLoop)] = [:]

    func add(_ handler: ConnectionHandler, on eventLoop: EventLoop) {
        lock.withLock { handlers[ObjectIdentifier(handler)] = (handler, eventLoop) }
    }

    func remove(_ handler: ConnectionHandler) {
        _ = lock.withLock { handlers.removeValue(forKey: ObjectIdentifier(handler)) }
    }

    func shutdownAll() {
        let all = lock.withLock { Array(handlers.values) }
        for (handler, eventLoop) in all {
            eventLoop.execute { handler.beginShutdown() }
        }
    }

    var count: Int { lock.withLock { handlers.count } }
}
