import Foundation
import Testing

/// A huge response on a connection shared by many requests starves none of them: small gets on
/// the same connection complete while a 50 MB range is still being delivered.
@Suite struct SharedConnectionTests {
    static let script = Binaries.script("shared_connection.py")

    struct Outcome: Decodable {
        var big_done: Double
        var big_count: Int
        var small_done: [Double]
        var small_max_latency: Double
    }

    @Test func smallRequestsFinishWhileAHugeRangeStreams() throws {
        let server = ServerProcess(name: "shared")
        try server.start()
        defer { server.stop() }
        try check(run(Binaries.python, [SharedConnectionTests.script, server.endpoint]))
    }

    /// The same over client mTLS: TLS sits below HTTP/2, so stream scheduling is unchanged.
    @Test func smallRequestsFinishWhileAHugeRangeStreamsOverTLS() throws {
        let server = ServerProcess(name: "shared-tls", clientScheme: "https",
                                   extraArguments: ["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("member-key.pem"),
                                                    "--trusted-ca-file", PKI.path("ca.pem"), "--client-cert-auth"])
        try server.start()
        defer { server.stop() }
        try check(run(Binaries.python, [SharedConnectionTests.script, "localhost:\(server.clientPort)", PKI.path("ca.pem"),
                                        PKI.path("client.pem"), PKI.path("client-key.pem")]))
    }

    private func check(_ result: CommandResult) throws {
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.big_count == 50)
        // Small gets kept completing through the second half of the large range's life, when
        // its bytes are on the wire: a connection blocked behind them would complete none.
        let lateHalf = outcome.small_done.filter { $0 > outcome.big_done / 2 && $0 < outcome.big_done }
        #expect(lateHalf.count >= 5, "small gets done at \(outcome.small_done), big range at \(outcome.big_done)")
    }
}
