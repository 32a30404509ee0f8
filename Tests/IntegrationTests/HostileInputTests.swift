import Foundation
import Testing

/// Malformed messages and frames get gRPC or HTTP/2 errors, never a crash.
@Suite struct HostileInputTests {
    static let script = Binaries.script("hostile_input.py")

    struct Outcome: Decodable {
        var codes: [String: Int]
        var alive: Bool
    }

    @Test func malformedInputNeverCrashesTheServer() throws {
        let server = ServerProcess(name: "hostile")
        try server.start()
        defer { server.stop() }
        let result = try run(Binaries.python, [HostileInputTests.script, server.endpoint, "7"])
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.alive)
        // Undecodable bodies are INTERNAL (grpc-go's unmarshalling error), unknown methods
        // UNIMPLEMENTED; the connection is never dropped under the client (UNAVAILABLE).
        #expect(outcome.codes["UNAVAILABLE"] == nil, "\(outcome.codes)")
        #expect((outcome.codes["INTERNAL"] ?? 0) > 0)
        #expect((outcome.codes["UNIMPLEMENTED"] ?? 0) > 0)
        #expect(server.process?.isRunning == true)
    }
}
