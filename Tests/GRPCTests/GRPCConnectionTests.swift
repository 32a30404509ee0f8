import HTTP2TestSupport
import Testing
@testable import GRPC
import HTTP2

/// Runs work immediately, on the caller's thread; timers fire only when the test says so.
final class ManualExecutor: CallExecutor, @unchecked Sendable {
    var timers: [(id: Int, delay: UInt64, work: @Sendable () -> Void)] = []
    private var nextID = 0

    var inExecutor: Bool { true }
    func execute(_ work: @escaping @Sendable () -> Void) { work() }

    func schedule(afterNanoseconds delay: UInt64, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        nextID += 1
        let id = nextID
        timers.append((id, delay, work))
        return { [weak self] in self?.timers.removeAll { $0.id == id } }
    }

    func fireTimers() {
        let due = timers
        timers.removeAll()
        for timer in due { timer.work() }
    }
}

/// Echoes each message back; records the call's end.
final class EchoDelegate: StreamingCallDelegate {
    let call: ServerCall
    var cancelledCount = 0
    init(call: ServerCall) { self.call = call }
    func received(_ message: [UInt8]) { call.send(message) }
    func receivedEnd() { call.finish(.ok) }
    func cancelled() { cancelledCount += 1 }
}

final class Fixture {
    let executor = ManualExecutor()
    var connection: GRPCConnection!
    let client = TestClient()
    var echoDelegates: [EchoDelegate] = []
    nonisolated(unsafe) static var pendingUnary: [ServerCall] = []

    init(maxMessageBytes: Int = 1 << 20) throws {
        var router = Router()
        router.register("/test.Svc/Upper", .unary { call, request in
            call.respond(.success(request.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }))
        })
        router.register("/test.Svc/Hang", .unary { call, _ in Fixture.pendingUnary.append(call) })
        nonisolated(unsafe) let fixture = self
        router.register("/test.Svc/Echo", .streaming { call in
            let delegate = EchoDelegate(call: call)
            fixture.echoDelegates.append(delegate)
            return delegate
        })
        var configuration = GRPCServerConfiguration()
        configuration.maxReceiveMessageBytes = maxMessageBytes
        connection = try GRPCConnection(configuration: configuration, router: router, executor: executor,
                                        clock: { 0 }, onOutputPending: {})
    }

    /// Trailers (or trailers-only headers) of a stream, by name.
    func status(_ stream: Int32) -> (code: String?, message: String?) {
        for case .headers(stream, let fields) in client.events.reversed() {
            if let code = fields.first(where: { $0.name == "grpc-status" }) {
                return (code.value, fields.first { $0.name == "grpc-message" }?.value)
            }
        }
        return (nil, nil)
    }

    func dataBytes(_ stream: Int32) -> Int {
        client.events.reduce(0) { total, event in
            if case .data(stream, let n) = event { return total + n }
            return total
        }
    }
}

@Suite(.serialized) struct GRPCConnectionTests {
    @Test func unaryCallRoundTrip() throws {
        let f = try Fixture()
        let stream = f.client.request(path: "/test.Svc/Upper", body: MessageFraming.frame(Array("hello".utf8)))
        try exchange(f.client, f.connection)
        #expect(f.status(stream).code == "0")
        #expect(f.dataBytes(stream) == 5 + 5)
    }

    @Test func unknownServiceAndMethodUseGRPCTexts() throws {
        let f = try Fixture()
        let service = f.client.request(path: "/nope.Svc/X", body: MessageFraming.frame([]))
        let method = f.client.request(path: "/test.Svc/Nope", body: MessageFraming.frame([]))
        try exchange(f.client, f.connection)
        #expect(f.status(service).code == "12")
        #expect(f.status(service).message == "unknown service nope.Svc")
        #expect(f.status(method).message == "unknown method Nope for service test.Svc")
    }

    @Test func oversizedMessageIsResourceExhausted() throws {
        let f = try Fixture(maxMessageBytes: 100)
        let stream = f.client.request(path: "/test.Svc/Upper", body: MessageFraming.frame([UInt8](repeating: 1, count: 101)))
        try exchange(f.client, f.connection)
        #expect(f.status(stream).code == "8")
        #expect(f.status(stream).message == "grpc: received message larger than max (101 vs. 100)")
    }

    @Test func compressedMessageWithoutEncodingIsRejected() throws {
        let f = try Fixture()
        var framed = MessageFraming.frame([1, 2, 3])
        framed[0] = 1
        let stream = f.client.request(path: "/test.Svc/Upper", body: framed)
        try exchange(f.client, f.connection)
        #expect(f.status(stream).code == "13")
    }

    @Test func deadlineEndsTheCall() throws {
        let f = try Fixture()
        let stream = f.client.request(path: "/test.Svc/Hang", body: MessageFraming.frame([1]),
                                      extraHeaders: [HeaderField("grpc-timeout", "100m")])
        try exchange(f.client, f.connection)
        #expect(f.executor.timers.map(\.delay) == [100_000_000])
        f.executor.fireTimers()
        try exchange(f.client, f.connection)
        #expect(f.status(stream).code == "4")
        #expect(f.status(stream).message == "context deadline exceeded")
        // The handler answering late changes nothing.
        Fixture.pendingUnary.last?.respond(.success([9]))
        try exchange(f.client, f.connection)
        #expect(f.dataBytes(stream) == 0)
    }

    @Test func parsesGRPCTimeouts() {
        #expect(GRPCConnection.parseTimeout("10S") == 10_000_000_000)
        #expect(GRPCConnection.parseTimeout("250m") == 250_000_000)
        #expect(GRPCConnection.parseTimeout("7u") == 7_000)
        #expect(GRPCConnection.parseTimeout("99999999H") != nil)
        #expect(GRPCConnection.parseTimeout("abc") == nil)
        #expect(GRPCConnection.parseTimeout("5") == nil)
    }

    @Test func streamingEchoesEachMessage() throws {
        let f = try Fixture()
        var body: [UInt8] = []
        for word in ["a", "bb", "ccc"] { body += MessageFraming.frame(Array(word.utf8)) }
        let stream = f.client.request(path: "/test.Svc/Echo", body: body)
        try exchange(f.client, f.connection)
        #expect(f.dataBytes(stream) == (5 + 1) + (5 + 2) + (5 + 3))
        #expect(f.status(stream).code == "0")
    }

    @Test func clientResetCancelsTheCall() throws {
        let f = try Fixture()
        let stream = f.client.request(path: "/test.Svc/Echo", endStream: false)
        try exchange(f.client, f.connection)
        #expect(f.echoDelegates.count == 1)
        f.client.reset(stream)
        try exchange(f.client, f.connection)
        #expect(f.echoDelegates[0].cancelledCount == 1)
        #expect(f.connection.activeCallCount == 0)
        // A late response to a cancelled call goes nowhere.
        f.echoDelegates[0].call.send([1, 2, 3])
        try exchange(f.client, f.connection)
        #expect(f.dataBytes(stream) == 0)
    }

    @Test func connectionLossCancelsOpenCalls() throws {
        let f = try Fixture()
        f.client.request(path: "/test.Svc/Echo", endStream: false)
        try exchange(f.client, f.connection)
        f.connection.close()
        #expect(f.echoDelegates[0].cancelledCount == 1)
    }
}
