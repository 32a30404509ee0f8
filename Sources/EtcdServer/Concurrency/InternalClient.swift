import EtcdProto
import GRPC
import HTTP2
import ProtoWire
import Synchronization

/// The member calling its own gRPC services in-process, as etcd's v3client does for the Lock and
/// Election services: requests run through the same handlers (validation, quotas, auth as the
/// original caller, whose metadata travels along), but not through the interceptors or the
/// call metrics, which the outer call already passed.
final class InternalClient: Sendable {
    private let router = Mutex<Router?>(nil)

    /// Hands over the finished router (the services calling back into it are on it too).
    func bind(_ complete: Router) {
        var inner = complete
        inner.admission = nil
        inner.observer = nil
        router.withLock { $0 = inner }
    }

    /// One unary call.
    func call<Response: ProtoMessage>(_ path: String, _ request: some ProtoMessage, metadata: [HeaderField],
                                      as: Response.Type = Response.self) async throws(GRPCStatus) -> Response {
        guard let router = router.withLock({ $0 }) else { throw GRPCStatus(.unavailable, "etcdserver: not ready") }
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8], GRPCStatus>, Never>) in
            let reply = Mutex<[UInt8]?>(nil)
            let call = LocalCall(router: router, path: path, metadata: metadata, executor: SerialQueueExecutor(label: "internal"),
                                 onMessage: { message in reply.withLock { $0 = message } },
                                 onFinish: { status in
                                     if status.code == .ok, let message = reply.withLock({ $0 }) {
                                         continuation.resume(returning: .success(message))
                                     } else {
                                         continuation.resume(returning: .failure(status.code == .ok
                                             ? GRPCStatus(.internal, "no response") : status))
                                     }
                                 })
            call.start()
            call.send(request.serializedBytes())
            call.closeSend()
        }
        switch outcome {
        case .success(let bytes):
            do {
                return try Response(serializedBytes: bytes)
            } catch {
                throw GRPCStatus(.internal, "grpc: failed to unmarshal the received message: \(error)")
            }
        case .failure(let status):
            throw status
        }
    }

    /// A watch: its responses until the stream ends or the consumer stops iterating.
    func watch(_ create: WatchCreateRequest, metadata: [HeaderField]) -> AsyncStream<WatchResponse> {
        AsyncStream { continuation in
            guard let router = router.withLock({ $0 }) else {
                continuation.finish()
                return
            }
            let call = LocalCall(router: router, path: "/etcdserverpb.Watch/Watch", metadata: metadata,
                                 executor: SerialQueueExecutor(label: "internal-watch"),
                                 onMessage: { message in
                                     if let response = try? WatchResponse(serializedBytes: message) {
                                         continuation.yield(response)
                                     }
                                 },
                                 onFinish: { _ in continuation.finish() })
            continuation.onTermination = { _ in call.cancel() }
            call.start()
            var request = WatchRequest()
            request.requestUnion = .createRequest(create)
            call.send(request.serializedBytes())
        }
    }
}
