import Dispatch
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing
@testable import TLS

/// What a server's connections received, across event loop threads.
final class Recording: Sendable {
    let received = Mutex<[UInt8]>([])
    let peerName = Mutex<String?>(nil)
    let failures = Mutex<[String]>([])
}

/// Echoes what it receives with a prefix, recording the bytes and the peer's certificate name.
final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let recording: Recording

    init(_ recording: Recording) { self.recording = recording }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        recording.received.withLock { $0 += bytes }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: Array("echo: ".utf8) + bytes)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEstablished {
            recording.peerName.withLock { $0 = event.peerCertificate?.commonName }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Completes with the first bytes a client receives.
final class Reply: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let first: EventLoopPromise<[UInt8]>

    init(eventLoop: EventLoop) { first = eventLoop.makePromise() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        first.succeed(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }
}

/// Collects what reaches the top of a pipeline.
final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var received: [UInt8] = []
    var established: TLSEstablished?
    var errors: [Error] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEstablished { established = event }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        errors.append(error)
    }
}

final class Failures: Sendable {
    let list = Mutex<[String]>([])
    var all: [String] { list.withLock { $0 } }
}

struct ChannelPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientCollector = Collector()
    let serverCollector = Collector()
    let failures = Failures()

    init(client clientContext: TLSContext, server serverContext: TLSContext,
         check: TLSHandler.Check? = nil) throws {
        let failures = self.failures
        try client.pipeline.syncOperations.addHandlers([
            TLSHandler(session: clientContext.makeSession(serverName: "localhost"), isClient: true),
            clientCollector,
        ])
        try server.pipeline.syncOperations.addHandlers([
            TLSHandler(session: serverContext.makeSession(), isClient: false, afterHandshake: check,
                       onFailure: { rejection in failures.list.withLock { $0.append(rejection.error.description) } }),
            serverCollector,
        ])
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    }

    /// Moves bytes both ways until both sides are quiet.
    func pump() throws {
        for _ in 0..<50 {
            var moved = false
            while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                moved = true
                if server.isActive { try server.writeInbound(bytes) }
            }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                moved = true
                if client.isActive { try client.writeInbound(bytes) }
            }
            if !moved { return }
        }
    }
}

@Suite struct TLSHandlerTests {
    @Test func writesMadeBeforeTheHandshakeArriveAfterIt() throws {
        let pair = try ChannelPair(client: Fixtures.client(), server: Fixtures.server())
        let early = pair.client.writeAndFlush(ByteBuffer(string: "early bytes"))
        try pair.pump()
        try early.wait()
        #expect(pair.serverCollector.received == Array("early bytes".utf8))
        #expect(pair.serverCollector.established?.applicationProtocol == "h2")
        #expect(pair.serverCollector.established?.peerCertificate?.commonName == "client1")
        #expect(pair.clientCollector.established != nil)

        try pair.server.writeAndFlush(ByteBuffer(string: "reply")).wait()
        try pair.pump()
        #expect(pair.clientCollector.received == Array("reply".utf8))

        // close_notify from the client closes the server side.
        pair.client.close(promise: nil)
        try pair.pump()
        #expect(!pair.server.isActive)
    }

    /// Handshake steps on a dispatch queue come back to the channel's event loop, so this runs
    /// over real loopback sockets on a real event loop group (an embedded loop is single-threaded).
    @Test func handshakesOffTheEventLoopCarryTheSameData() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let queue = DispatchQueue(label: "test-handshakes", attributes: .concurrent)
        let serverContext = try Fixtures.server()
        let recording = Recording()
        let listener = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(session: serverContext.makeSession(), isClient: false, handshakeQueue: queue,
                                   onFailure: { rejection in recording.failures.withLock { $0.append(rejection.error.description) } }),
                        Echo(recording),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? listener.close().wait() }
        let port = try #require(listener.localAddress?.port)

        func dial(_ context: TLSContext) throws -> (Channel, Reply) {
            let reply = Reply(eventLoop: group.next())
            let channel = try ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            TLSHandler(session: context.makeSession(serverName: "localhost"), isClient: true, handshakeQueue: queue),
                            reply,
                        ])
                    }
                }
                .connect(host: "127.0.0.1", port: port).wait()
            return (channel, reply)
        }

        // Bytes written before the handshake arrive after it, and the reply comes back.
        let (channel, reply) = try dial(Fixtures.client())
        try channel.writeAndFlush(ByteBuffer(string: "early bytes")).wait()
        #expect(try reply.first.futureResult.wait() == Array("echo: early bytes".utf8))
        #expect(recording.received.withLock { $0 } == Array("early bytes".utf8))
        #expect(recording.peerName.withLock { $0 } == "client1")
        try channel.close().wait()

        // A refused handshake is reported once and the server closes the connection.
        let (refused, refusedReply) = try dial(Fixtures.client(nil))
        refused.writeAndFlush(ByteBuffer(string: "never"), promise: nil)
        try refused.closeFuture.wait()
        for _ in 0..<200 where recording.failures.withLock({ $0.isEmpty }) { usleep(10_000) }
        #expect(recording.failures.withLock { $0 } == ["tls: client didn't provide a certificate"])
        refusedReply.first.fail(ChannelError.eof)
        #expect(recording.received.withLock { $0 } == Array("early bytes".utf8))
    }

    @Test func aRefusedHandshakeIsReportedOnceAndCloses() throws {
        let pair = try ChannelPair(client: Fixtures.client(nil), server: Fixtures.server())
        let early = pair.client.writeAndFlush(ByteBuffer(string: "never"))
        try pair.pump()
        #expect(pair.failures.all == ["tls: client didn't provide a certificate"])
        #expect(!pair.server.isActive)
        #expect(pair.serverCollector.received.isEmpty)
        #expect(pair.serverCollector.established == nil)
        _ = early
    }

    @Test func afterHandshakeChecksCloseTheConnection() throws {
        let pair = try ChannelPair(client: Fixtures.client(), server: Fixtures.server(),
                                   check: { _, _ in TLSError("transport: certificate serial 01 revoked") })
        pair.client.writeAndFlush(ByteBuffer(string: "blocked"), promise: nil)
        try pair.pump()
        #expect(pair.failures.all == ["transport: certificate serial 01 revoked"])
        #expect(!pair.server.isActive)
        #expect(pair.serverCollector.received.isEmpty)
    }

    @Test func aConnectionClosedDuringTheHandshakeIsEOF() throws {
        let pair = try ChannelPair(client: Fixtures.client(), server: Fixtures.server())
        // Only the ClientHello arrives, then the connection drops.
        if let hello = try pair.client.readOutbound(as: ByteBuffer.self) { try pair.server.writeInbound(hello) }
        _ = try pair.server.close().wait()
        #expect(pair.failures.all == ["EOF"])
    }
}
