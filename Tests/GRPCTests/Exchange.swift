import GRPC
import HTTP2TestSupport

/// Moves bytes between a client and a gRPC connection until neither has anything to say.
func exchange(_ client: TestClient, _ connection: GRPCConnection) throws {
    for _ in 0..<1000 {
        let toServer = client.output()
        if !toServer.isEmpty { try toServer.withUnsafeBytes { try connection.receive($0) } }
        var toClient: [UInt8] = []
        _ = try connection.produceOutput(limit: 1 << 20) { toClient.append(contentsOf: $0) }
        if !toClient.isEmpty { client.receive(toClient) }
        if toServer.isEmpty && toClient.isEmpty { return }
    }
}
