import NIOCore

/// What a listener needs to serve TLS: the context, whether plaintext is served on the same
/// port too (etcd's http:// and https:// URLs naming one address), a handshake deadline (the
/// peer port's) and where refusals are reported.
public struct TLSServing: Sendable {
    public let context: TLSContext
    public var alsoPlaintext: Bool
    public var handshakeTimeout: TimeAmount?
    public var onRejected: TLSHandler.FailureReport?

    public init(context: TLSContext, alsoPlaintext: Bool = false, handshakeTimeout: TimeAmount? = nil,
                onRejected: TLSHandler.FailureReport? = nil) {
        self.context = context
        self.alsoPlaintext = alsoPlaintext
        self.handshakeTimeout = handshakeTimeout
        self.onRejected = onRejected
    }

    /// Puts TLS, or the sniffer choosing between TLS and plaintext, at the front of a new
    /// connection's pipeline.
    public func install(on channel: Channel) throws {
        if alsoPlaintext {
            try channel.pipeline.syncOperations.addHandler(PlaintextOrTLSSniffer(serving: self), position: .first)
        } else if let handler = makeHandler(channel: channel) {
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }
    }

    /// A server TLS handler, or nil (the failure reported, the channel closed) when no session
    /// can be made: the certificate files are missing or unusable.
    func makeHandler(channel: Channel) -> TLSHandler? {
        do {
            let session = try context.makeSession()
            let context = self.context
            return TLSHandler(session: session, isClient: false, handshakeTimeout: handshakeTimeout,
                              handshakeQueue: TLSHandler.sharedHandshakeQueue,
                              afterHandshake: { session, remote in
                                  context.checkAfterHandshake(session, remoteAddress: remote?.ipAddress)
                              },
                              onFailure: onRejected)
        } catch {
            let tlsError = error as? TLSError ?? TLSError("\(error)")
            onRejected?(TLSRejection(error: tlsError, serverName: "", remoteAddress: channel.remoteAddress,
                                     peerCertificate: nil))
            channel.close(promise: nil)
            return nil
        }
    }
}

/// Looks at a connection's first byte: a TLS handshake record (0x16) gets TLS, anything else
/// goes on as plaintext.
final class PlaintextOrTLSSniffer: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let serving: TLSServing

    init(serving: TLSServing) {
        self.serving = serving
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.readableBytesView.first else { return }
        if first == 0x16 {
            guard let handler = serving.makeHandler(channel: context.channel) else { return }
            do {
                try context.pipeline.syncOperations.addHandler(handler, position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
