import HTTP2
import Synchronization

/// Runs work on the thread that owns a connection (its event loop). The transport provides it.
public protocol CallExecutor: AnyObject, Sendable {
    var inExecutor: Bool { get }
    func execute(_ work: @escaping @Sendable () -> Void)
    /// Runs `work` after a delay; the returned closure cancels it.
    func schedule(afterNanoseconds delay: UInt64, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void
}

/// Events of a streaming call, delivered on the connection's executor.
public protocol StreamingCallDelegate: AnyObject {
    func received(_ message: [UInt8])
    /// The client half-closed its side.
    func receivedEnd()
    /// The call ended without the server finishing it: client reset, deadline, connection loss.
    func cancelled()
}

/// Where a call's response goes: an HTTP/2 stream (`GRPCConnection`) or an in-process caller
/// (`LocalCall`). Called on the call's executor.
protocol CallSink: AnyObject {
    /// The response headers, once, before the first message.
    func sendHeaders(_ call: ServerCall)
    /// One or more length-prefixed messages.
    func sendMessages(_ call: ServerCall, framed: [UInt8])
    /// The end of the call.
    func finish(_ call: ServerCall, status: GRPCStatus)
}

/// One RPC, on an HTTP/2 stream or in-process. Handlers may call `send`, `finish` and
/// `respond` from any thread; the work hops to the call's executor.
public final class ServerCall: @unchecked Sendable {
    public let path: String
    /// Request headers other than the HTTP/2 pseudo-headers.
    public let metadata: [HeaderField]
    let stream: Int32
    public let executor: CallExecutor
    weak var sink: CallSink?
    /// The common name of the client's verified TLS certificate (etcd's user for
    /// --client-cert-auth), when the connection has one.
    public let clientCommonName: String?
    let observer: CallObserver?

    // Confined to the executor.
    var headersSent = false
    var isFinished = false
    var delegate: StreamingCallDelegate?
    var cancelDeadline: (@Sendable () -> Void)?
    /// Runs when the client goes away or its deadline passes before the server finished.
    var cancelHandler: (@Sendable () -> Void)?
    /// When the client's deadline (`grpc-timeout`) passes, in monotonic nanoseconds.
    public internal(set) var deadline: UInt64?
    var unaryRequest: [UInt8]?
    var deframer: MessageDeframer
    /// Bytes handed to `send` that HTTP/2 has not taken yet; readable from any thread.
    private let outstanding = OutstandingBytes()

    init(path: String, metadata: [HeaderField], stream: Int32, executor: CallExecutor, sink: CallSink,
         maxMessageBytes: Int, clientCommonName: String?, observer: CallObserver?) {
        self.path = path
        self.metadata = metadata
        self.stream = stream
        self.executor = executor
        self.sink = sink
        self.deframer = MessageDeframer(maxMessageBytes: maxMessageBytes)
        self.clientCommonName = clientCommonName
        self.observer = observer
    }

    public func metadataValue(_ name: String) -> String? {
        metadata.first { $0.name == name }?.value
    }

    /// Sends one response message.
    public func send(_ message: [UInt8]) {
        sendFramed(MessageFraming.frame(message))
    }

    /// Sends a message already carrying its 5-byte gRPC prefix (or several, concatenated).
    public func sendFramed(_ framed: [UInt8]) {
        outstanding.add(framed.count)
        onExecutor { call in
            guard !call.isFinished, let sink = call.sink else {
                call.outstanding.add(-framed.count)
                return
            }
            if !call.headersSent {
                call.headersSent = true
                sink.sendHeaders(call)
            }
            call.observer?.messageSent(call.path, bytes: max(framed.count - MessageFraming.prefixSize, 0))
            sink.sendMessages(call, framed: framed)
        }
    }

    /// Ends the call with `status`.
    public func finish(_ status: GRPCStatus) {
        onExecutor { call in call.finishOnExecutor(status) }
    }

    /// Ends a call from the server side, telling a streaming call's delegate it is over (as if
    /// the client had gone): etcd cancels streams this way when the member loses its leader.
    public func abort(_ status: GRPCStatus) {
        onExecutor { call in
            guard !call.isFinished else { return }
            let delegate = call.delegate
            call.delegate = nil
            call.finishOnExecutor(status)
            delegate?.cancelled()
        }
    }

    /// Completes a unary call.
    public func respond(_ result: Result<[UInt8], GRPCStatus>) {
        // Frame on the caller's thread: copying a large response must not hold up the
        // connection's thread, which serves every other stream on it.
        let framed = result.map { MessageFraming.frame($0) }
        onExecutor { call in
            switch framed {
            case .success(let framed):
                guard !call.isFinished, let sink = call.sink else { return }
                call.headersSent = true
                sink.sendHeaders(call)
                call.observer?.messageSent(call.path, bytes: max(framed.count - MessageFraming.prefixSize, 0))
                sink.sendMessages(call, framed: framed)
                call.finishOnExecutor(.ok)
            case .failure(let status):
                call.finishOnExecutor(status)
            }
        }
    }

    /// Bytes of response messages sent but not yet taken by HTTP/2, from any thread: a reader
    /// that does not keep up makes this grow (slow-reader detection).
    public var outstandingBytes: Int { outstanding.value }

    func dataSent(_ count: Int) { outstanding.add(-count) }

    /// Runs `handler` if the call is cancelled (the client leaves, its deadline passes) before
    /// the server finishes it: unary handlers that wait use it to stop waiting.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        onExecutor { call in
            if call.isFinished { return }
            call.cancelHandler = handler
        }
    }

    /// Attaches the delegate of a streaming call; must run on the executor (handlers do it
    /// from the streaming-handler factory, which runs there).
    public func setDelegate(_ delegate: StreamingCallDelegate) {
        precondition(executor.inExecutor)
        self.delegate = delegate
    }

    func finishOnExecutor(_ status: GRPCStatus) {
        guard !isFinished, let sink else { return }
        isFinished = true
        cancelHandler = nil
        cancelDeadline?()
        observer?.callFinished(path, code: status.code)
        sink.finish(self, status: status)
    }

    /// The stream went away before the server finished.
    func cancelOnExecutor() {
        outstanding.reset()
        guard !isFinished else { return }
        isFinished = true
        cancelDeadline?()
        observer?.callFinished(path, code: .cancelled)
        let delegate = self.delegate
        self.delegate = nil
        delegate?.cancelled()
        runCancelHandler()
    }

    func runCancelHandler() {
        let handler = cancelHandler
        cancelHandler = nil
        handler?()
    }

    // MARK: Requests (on the executor)

    /// A request message arrived.
    func receive(_ message: [UInt8]) {
        observer?.messageReceived(path, bytes: message.count)
        if let delegate {
            delegate.received(message)
        } else if unaryRequest == nil {
            unaryRequest = message
        }
    }

    /// The client half-closed: a streaming call's delegate hears of it, a unary call runs.
    func receiveEnd(_ router: Router) {
        guard !isFinished else { return }
        if let delegate {
            delegate.receivedEnd()
            return
        }
        guard case .unary(let handle)? = router.handlers[path] else { return }
        if deframer.hasPartialMessage {
            finishOnExecutor(GRPCStatus(.internal, "grpc: failed to unmarshal the received message: unexpected EOF"))
            return
        }
        guard let request = unaryRequest else {
            finishOnExecutor(GRPCStatus(.internal, "grpc: error while reading request: EOF"))
            return
        }
        unaryRequest = nil
        handle(self, request)
    }

    /// Ends the call because of bad input, telling a streaming handler it is gone.
    func fail(_ status: GRPCStatus) {
        let delegate = self.delegate
        self.delegate = nil
        finishOnExecutor(status)
        delegate?.cancelled()
    }

    public var isCancelledOrFinished: Bool { isFinished }

    private func onExecutor(_ work: @escaping @Sendable (ServerCall) -> Void) {
        if executor.inExecutor {
            work(self)
        } else {
            executor.execute { [self] in work(self) }
        }
    }
}

/// A byte counter shared between the connection's thread and the threads that send.
final class OutstandingBytes: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ delta: Int) {
        count.wrappingAdd(delta, ordering: .sequentiallyConsistent)
    }

    func reset() {
        count.store(0, ordering: .sequentiallyConsistent)
    }

    var value: Int { count.load(ordering: .sequentiallyConsistent) }
}
