import Dispatch
import NIOCore

/// Fired inbound once the handshake, and a server's after-handshake checks, succeeded.
public struct TLSEstablished: Sendable {
    /// What ALPN chose, if anything.
    public var applicationProtocol: String?
    /// The other side's leaf certificate, when it sent one.
    public var peerCertificate: Certificate?
}

/// A connection refused during or right after its handshake, for the listener's log.
public struct TLSRejection: Sendable {
    public var error: TLSError
    /// The name the client asked for (SNI), "" when none.
    public var serverName: String
    public var remoteAddress: SocketAddress?
    /// The other side's leaf certificate, when it was refused for what it says (its names, its
    /// serial) rather than for failing the handshake.
    public var peerCertificate: Certificate?
}

/// TLS on a NIO channel, through a `TLSSession`: ciphertext below, plaintext above. Writes made
/// before the handshake finished wait for it. A failed handshake is reported once, to
/// `onFailure` (the listener's "rejected connection" log) and as an inbound error, and the
/// channel is closed.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public typealias FailureReport = @Sendable (TLSRejection) -> Void
    public typealias Check = @Sendable (_ session: TLSSession, _ remote: SocketAddress?) -> TLSError?

    private enum State {
        case handshaking
        case established
        case closed
    }

    private static let plaintextChunk = 16 << 10

    public let session: TLSSession
    private let isClient: Bool
    private let afterHandshake: Check?
    private let onFailure: FailureReport?
    private let handshakeTimeout: TimeAmount?
    private var state = State.handshaking
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var pendingFlush = false
    private var timeout: Scheduled<Void>?
    private var started = false
    /// Where handshake steps run (signing and verifying are TLS's expensive part); nil runs
    /// them on the event loop.
    private let handshakeQueue: DispatchQueue?
    /// A handshake step is running on the queue: the session belongs to it until it is done.
    private var stepInFlight = false
    /// Bytes that arrived during a step, fed once it is done.
    private var pendingInput: [ByteBuffer] = []
    /// Work that touches the session, waiting for the step in flight.
    private var afterStep: [() -> Void] = []

    /// A queue shared by servers' and dialers' handshakes.
    public static let sharedHandshakeQueue = DispatchQueue(label: "tls-handshakes", qos: .userInitiated, attributes: .concurrent)

    public init(session: TLSSession, isClient: Bool, handshakeTimeout: TimeAmount? = nil, handshakeQueue: DispatchQueue? = nil,
                afterHandshake: Check? = nil, onFailure: FailureReport? = nil) {
        self.session = session
        self.isClient = isClient
        self.handshakeTimeout = handshakeTimeout
        self.handshakeQueue = handshakeQueue
        self.afterHandshake = afterHandshake
        self.onFailure = onFailure
    }

    /// Runs `work` now, or once the handshake step in flight is done.
    private func whenSessionIdle(_ work: @escaping () -> Void) {
        if stepInFlight { afterStep.append(work) } else { work() }
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let handshakeTimeout {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let (handler, context) = loopBound.value
                guard case .handshaking = handler.state else { return }
                let local = context.channel.localAddress.map(describe) ?? "?"
                let remote = context.channel.remoteAddress.map(describe) ?? "?"
                handler.whenSessionIdle {
                    handler.fail(TLSError("read tcp \(local)->\(remote): i/o timeout"), context: context)
                }
            }
        }
        if isClient { advanceHandshake(context: context) }
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .closed = state else {
            let buffer = unwrapInboundIn(data)
            if stepInFlight {
                pendingInput.append(buffer)
                return
            }
            buffer.withUnsafeReadableBytes { session.feed($0) }
            switch state {
            case .handshaking: advanceHandshake(context: context)
            case .established: readPlaintext(context: context)
            case .closed: break
            }
            return
        }
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        let remote = context.channel.remoteAddress
        guard let handshakeQueue else {
            let progress = session.handshake()
            return handshakeStepDone(progress, check: progress == .done ? afterHandshake?(session, remote) : nil,
                                     context: context)
        }
        stepInFlight = true
        let session = self.session
        let afterHandshake = self.afterHandshake
        let eventLoop = context.eventLoop
        let loopBound = NIOLoopBound((self, context), eventLoop: eventLoop)
        handshakeQueue.async {
            let progress = session.handshake()
            // The after-handshake checks (a CRL read, a DNS lookup) stay off the event loop too.
            let check = progress == .done ? afterHandshake?(session, remote) : nil
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.stepInFlight = false
                let waiting = handler.afterStep
                handler.afterStep = []
                if case .closed = handler.state {
                    for work in waiting { work() }
                    return
                }
                // Bytes that arrived meanwhile belong after this step's.
                let input = handler.pendingInput
                handler.pendingInput = []
                for buffer in input { buffer.withUnsafeReadableBytes { session.feed($0) } }
                handler.handshakeStepDone(progress, check: check, context: context)
                // Input that arrived during the step may be what the next one needs.
                if case .needsInput = progress, !input.isEmpty, case .handshaking = handler.state {
                    handler.advanceHandshake(context: context)
                }
                for work in waiting { work() }
            }
        }
    }

    private func handshakeStepDone(_ progress: TLSSession.HandshakeProgress, check: TLSError?, context: ChannelHandlerContext) {
        switch progress {
        case .needsInput:
            writeCiphertext(context: context, promise: nil, flush: true)
        case .failed(let error):
            writeCiphertext(context: context, promise: nil, flush: true)  // the alert
            // Only the allowed-name check names the refused certificate (as etcd logs it).
            fail(error, context: context, certificate: session.verificationFailure == nil ? nil : session.rejectedCertificate)
        case .done:
            writeCiphertext(context: context, promise: nil, flush: true)
            if let error = check {
                session.shutdown()
                writeCiphertext(context: context, promise: nil, flush: true)
                fail(error, context: context, certificate: session.peerCertificate)
                return
            }
            timeout?.cancel()
            state = .established
            context.fireUserInboundEventTriggered(
                TLSEstablished(applicationProtocol: session.applicationProtocol, peerCertificate: session.peerCertificate))
            let writes = pendingWrites
            pendingWrites = []
            for (buffer, promise) in writes { encrypt(buffer, context: context, promise: promise) }
            if pendingFlush || !writes.isEmpty {
                pendingFlush = false
                context.flush()
            }
            readPlaintext(context: context)
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        while case .established = state {
            var buffer = context.channel.allocator.buffer(capacity: Self.plaintextChunk)
            var result = TLSSession.ReadResult.needsInput
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.plaintextChunk) { bytes in
                result = session.read(into: bytes)
                if case .data(let count) = result { return count }
                return 0
            }
            switch result {
            case .data:
                context.fireChannelRead(wrapInboundOut(buffer))
            case .needsInput:
                // Reading can produce output too (TLS 1.3 tickets, key updates).
                writeCiphertext(context: context, promise: nil, flush: true)
                return
            case .closed:
                session.shutdown()
                writeCiphertext(context: context, promise: nil, flush: true)
                state = .closed
                context.close(promise: nil)
                return
            case .failed(let error):
                fail(error, context: context)
                return
            }
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if case .handshaking = state, started {
            state = .closed
            whenSessionIdle { [self] in report(TLSError("EOF"), context: context) }
        }
        state = .closed
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(ChannelError.ioOnClosedChannel) }
        context.fireChannelInactive()
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .handshaking: pendingWrites.append((buffer, promise))
        case .established: encrypt(buffer, context: context, promise: promise)
        case .closed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .handshaking: pendingFlush = true
        case .established: context.flush()
        case .closed: break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, case .established = state {
            state = .closed
            session.shutdown()
            writeCiphertext(context: context, promise: nil, flush: true)
        }
        context.close(mode: mode, promise: promise)
    }

    private func encrypt(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(TLSError) in try session.write(bytes) }
        } catch {
            promise?.fail(error)
            fail(error, context: context)
            return
        }
        writeCiphertext(context: context, promise: promise, flush: false)
    }

    private func writeCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?, flush: Bool) {
        let pending = session.pendingOutput
        guard pending > 0 else {
            promise?.succeed()
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { session.takeOutput(into: $0) }
        context.write(wrapOutboundOut(buffer), promise: promise)
        if flush { context.flush() }
    }

    // MARK: Failure

    private func fail(_ error: TLSError, context: ChannelHandlerContext, certificate: Certificate? = nil) {
        timeout?.cancel()
        if case .closed = state { return }  // reported already
        state = .closed
        report(error, context: context, certificate: certificate)
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(error) }
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func report(_ error: TLSError, context: ChannelHandlerContext, certificate: Certificate? = nil) {
        onFailure?(TLSRejection(error: error, serverName: session.requestedServerName,
                                remoteAddress: context.channel.remoteAddress, peerCertificate: certificate))
    }
}

/// "127.0.0.1:2379" (IPv6 in brackets), as Go prints addresses.
public func describe(_ address: SocketAddress) -> String {
    guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
    return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
}
