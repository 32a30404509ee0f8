import Dispatch
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import TLS

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
         check: TLSHandler.Check? = nil, queue: DispatchQueue? = nil) throws {
        let failures = self.failures
        try client.pipeline.syncOperations.addHandlers([
            TLSHandler(session: clientContext.makeSession(serverName: "localhost"), isClient: true, handshakeQueue: queue),
            clientCollector,
        ])
        try server.pipeline.syncOperations.addHandlers([
            TLSHandler(session: serverContext.makeSession(), isClient: false, handshakeQueue: queue, afterHandshake: check,
                       onFailure: { rejection in failures.list.withLock { $0.append(rejection.error.description) } }),
            serverCollector,
        ])
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    }

    /// Moves bytes both ways until both sides are quiet (handshake steps offloaded to a queue
    /// come back through the event loops, which run here too).
    func pump() throws {
        var quiet = 0
        for _ in 0..<2000 {
            client.embeddedEventLoop.run()
            server.embeddedEventLoop.run()
            var moved = false
            while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                moved = true
                if server.isActive { try server.writeInbound(bytes) }
            }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                moved = true
                if client.isActive { try client.writeInbound(bytes) }
            }
            if moved {
                quiet = 0
            } else {
                quiet += 1
                if quiet > 20 { return }
                usleep(1000)
            }
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

    @Test func handshakesOffTheEventLoopCarryTheSameData() throws {
        let queue = DispatchQueue(label: "test-handshakes", attributes: .concurrent)
        let pair = try ChannelPair(client: Fixtures.client(), server: Fixtures.server(), queue: queue)
        let early = pair.client.writeAndFlush(ByteBuffer(string: "early bytes"))
        try pair.pump()
        try early.wait()
        #expect(pair.serverCollector.received == Array("early bytes".utf8))
        #expect(pair.serverCollector.established?.peerCertificate?.commonName == "client1")
        try pair.server.writeAndFlush(ByteBuffer(string: "reply")).wait()
        try pair.pump()
        #expect(pair.clientCollector.received == Array("reply".utf8))

        let refused = try ChannelPair(client: Fixtures.client(nil), server: Fixtures.server(), queue: queue)
        try refused.pump()
        #expect(refused.failures.all == ["tls: client didn't provide a certificate"])
        #expect(!refused.server.isActive)
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
