import HTTP2
import Synchronization
import Testing
@testable import GRPC

/// Counts what a router's observer sees.
final class CountingObserver: CallObserver, @unchecked Sendable {
    let events = Mutex<[String]>([])
    func callStarted(_ path: String) { events.withLock { $0.append("started \(path)") } }
    func messageReceived(_ path: String, bytes: Int) { events.withLock { $0.append("received \(path)") } }
    func messageSent(_ path: String, bytes: Int) { events.withLock { $0.append("sent \(path)") } }
    func callFinished(_ path: String, code: GRPCStatus.Code) { events.withLock { $0.append("finished \(path) \(code.rawValue)") } }
}

/// The echo handlers a router made.
final class EchoRegistry: @unchecked Sendable {
    var delegates: [EchoDelegate] = []
}

/// What a local call delivered.
final class Outcome: @unchecked Sendable {
    var messages: [[UInt8]] = []
    var status: GRPCStatus?
}

@Suite struct LocalCallTests {
    func router(observer: CallObserver? = nil, echoes: EchoRegistry? = nil) -> Router {
        var router = Router()
        router.observer = observer
        router.register("/test.Svc/Upper", .unary { call, request in
            call.respond(.success(request.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }))
        })
        router.register("/test.Svc/Echo", .streaming { call in
            let delegate = EchoDelegate(call: call)
            echoes?.delegates.append(delegate)
            return delegate
        })
        return router
    }

    func call(_ router: Router, _ path: String, outcome: Outcome) -> LocalCall {
        LocalCall(router: router, path: path, metadata: [], executor: ManualExecutor(),
                  onMessage: { outcome.messages.append($0) }, onFinish: { outcome.status = $0 })
    }

    @Test func unaryCallsRunTheSameHandlers() {
        let observer = CountingObserver()
        let outcome = Outcome()
        let local = call(router(observer: observer), "/test.Svc/Upper", outcome: outcome)
        local.start()
        local.send(Array("abc".utf8))
        local.closeSend()
        #expect(outcome.messages == [Array("ABC".utf8)])
        #expect(outcome.status?.code == .ok)
        #expect(observer.events.withLock { $0 } == ["started /test.Svc/Upper", "received /test.Svc/Upper",
                                                    "sent /test.Svc/Upper", "finished /test.Svc/Upper 0"])
    }

    @Test func streamingCallsEchoAndCancel() {
        let echoes = EchoRegistry()
        let outcome = Outcome()
        let local = call(router(echoes: echoes), "/test.Svc/Echo", outcome: outcome)
        local.start()
        local.send([1])
        local.send([2, 3])
        #expect(outcome.messages == [[1], [2, 3]])
        #expect(outcome.status == nil)
        local.cancel()
        #expect(echoes.delegates.first?.cancelledCount == 1)
        // Nothing after the cancel reaches the handler.
        local.send([4])
        #expect(outcome.messages.count == 2)
    }

    @Test func unknownMethodsGetGRPCsStatus() {
        let outcome = Outcome()
        let local = call(router(), "/test.Svc/Nope", outcome: outcome)
        local.start()
        #expect(outcome.status == GRPCStatus(.unimplemented, "unknown method Nope for service test.Svc"))
        let missingRequest = Outcome()
        let empty = call(router(), "/test.Svc/Upper", outcome: missingRequest)
        empty.start()
        empty.closeSend()
        #expect(missingRequest.status == GRPCStatus(.internal, "grpc: error while reading request: EOF"))
    }

    @Test func deadlinesEndLocalCalls() {
        let outcome = Outcome()
        let executor = ManualExecutor()
        var router = Router()
        router.register("/test.Svc/Hang", .unary { _, _ in })
        let local = LocalCall(router: router, path: "/test.Svc/Hang", metadata: [], executor: executor,
                              onMessage: { outcome.messages.append($0) }, onFinish: { outcome.status = $0 })
        local.start(timeout: "5S")
        local.send([1])
        local.closeSend()
        #expect(outcome.status == nil)
        executor.fireTimers()
        #expect(outcome.status == GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
    }
}
