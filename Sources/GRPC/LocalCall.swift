import Dispatch
import HTTP2
import Synchronization

/// A call made in-process, as etcd's JSON gateway makes its calls to its own gRPC server: the
/// same router, admission, deadlines and handlers as a call over HTTP/2, with the messages
/// handed over directly. Start it, `send` request messages, `closeSend`; responses and the
/// status arrive on the executor through the callbacks.
public final class LocalCall: CallSink, @unchecked Sendable {
    public let path: String
    private let router: Router
    private let executor: CallExecutor
    private let onMessage: @Sendable ([UInt8]) -> Void
    private let onFinish: @Sendable (GRPCStatus) -> Void
    private var call: ServerCall?
    private var responses = MessageDeframer(maxMessageBytes: Int.max)
    /// Kept alive until the call ends: the server side holds only a weak reference.
    private var keepAlive: LocalCall?

    public init(router: Router, path: String, metadata: [HeaderField], executor: CallExecutor,
                clientCommonName: String? = nil,
                onMessage: @escaping @Sendable ([UInt8]) -> Void, onFinish: @escaping @Sendable (GRPCStatus) -> Void) {
        self.router = router
        self.path = path
        self.executor = executor
        self.onMessage = onMessage
        self.onFinish = onFinish
        let call = ServerCall(path: path, metadata: metadata, stream: 0, executor: executor, sink: self,
                              maxMessageBytes: Int.max, clientCommonName: clientCommonName, observer: router.observer)
        self.call = call
        keepAlive = self
    }

    /// Dispatches the call; `timeout` is a grpc-timeout value ("5S").
    public func start(timeout: String? = nil) {
        run { local, call in local.router.start(call, method: "POST", timeout: timeout, executor: local.executor) }
    }

    /// One request message.
    public func send(_ message: [UInt8]) {
        run { _, call in
            guard !call.isFinished else { return }
            call.receive(message)
        }
    }

    /// The caller sent its last message.
    public func closeSend() {
        run { local, call in call.receiveEnd(local.router) }
    }

    /// The caller went away.
    public func cancel() {
        run { local, call in
            call.cancelOnExecutor()
            local.release()
        }
    }

    private func run(_ work: @escaping @Sendable (LocalCall, ServerCall) -> Void) {
        let body: @Sendable () -> Void = { [self] in
            guard let call else { return }
            work(self, call)
        }
        if executor.inExecutor { body() } else { executor.execute(body) }
    }

    private func release() {
        call = nil
        keepAlive = nil
    }

    // MARK: CallSink

    func sendHeaders(_ call: ServerCall) {}

    func sendMessages(_ call: ServerCall, framed: [UInt8]) {
        framed.withUnsafeBytes { responses.append($0) }
        call.dataSent(framed.count)
        while let message = try? responses.next() {
            onMessage(message)
        }
    }

    func finish(_ call: ServerCall, status: GRPCStatus) {
        onFinish(status)
        release()
    }
}

/// A flag a scheduled task checks before it runs.
private final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isCancelled: Bool { flag.load(ordering: .acquiring) }
    func cancel() { flag.store(true, ordering: .releasing) }
}

/// Runs a call's work on a serial dispatch queue (for in-process calls, which have no
/// connection thread of their own).
public final class SerialQueueExecutor: CallExecutor, @unchecked Sendable {
    private let queue: DispatchQueue
    private let key = DispatchSpecificKey<ObjectIdentifier>()

    public init(label: String) {
        queue = DispatchQueue(label: label)
        queue.setSpecific(key: key, value: ObjectIdentifier(self))
    }

    public var inExecutor: Bool { DispatchQueue.getSpecific(key: key) == ObjectIdentifier(self) }

    public func execute(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    public func schedule(afterNanoseconds delay: UInt64, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let box = CancelFlag()
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: delay))) {
            if !box.isCancelled { work() }
        }
        return { box.cancel() }
    }
}
