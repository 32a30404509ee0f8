import EtcdProto
import GRPC
import ProtoWire

/// Completes a unary call with a message or an error.
struct Responder: Sendable {
    let call: ServerCall

    /// The client's deadline, if it set one: a proposal is abandoned once it passes.
    var deadline: UInt64? { call.deadline }

    func succeed<M: ProtoMessage>(_ message: M) {
        call.respond(.success(message.serializedBytes()))
    }

    func fail(_ error: EtcdError) {
        call.respond(.failure(error.grpcStatus))
    }

    func fail(_ status: GRPCStatus) {
        call.respond(.failure(status))
    }
}

extension Router {
    /// Registers a unary method whose request decodes as `Request`.
    mutating func unary<Request: ProtoMessage>(
        _ path: String, _ type: Request.Type,
        _ handler: @escaping @Sendable (Request, Responder) -> Void
    ) {
        register(path, .unary { call, bytes in
            let responder = Responder(call: call)
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                responder.fail(GRPCStatus(.internal, "grpc: error unmarshalling request: \(error)"))
                return
            }
            handler(request, responder)
        })
    }
}
