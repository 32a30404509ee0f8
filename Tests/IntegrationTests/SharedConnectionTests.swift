import Foundation
import Testing

/// A huge response on a connection shared by many requests starves none of them. The Go tool
/// h2stall speaks HTTP/2 frames itself: it asks for a 20 MiB range on one stream and never opens
/// that stream's 64 KiB flow-control window, then runs small gets on other streams of the same
/// connection, each of which must complete; once the window opens, the whole range must arrive.
/// A server writing one response at a time would block the first small get forever. The
/// reference etcd passes the same check, which shows the check asks nothing etcd does not do.
@Suite struct SharedConnectionTests {
    struct Outcome: Decodable {
        var small_gets: Int
        var stalled_bytes: Int
        var big_count: Int
        var big_bytes: Int
    }

    @Test func smallRequestsFinishWhileAHugeRangeIsStalled() throws {
        let server = ServerProcess(name: "shared")
        try server.start()
        defer { server.stop() }
        try check("127.0.0.1:\(server.clientPort)")
    }

    /// The same over client mTLS: TLS sits below HTTP/2, so stream scheduling is unchanged.
    @Test func smallRequestsFinishWhileAHugeRangeIsStalledOverTLS() throws {
        let server = ServerProcess(name: "shared-tls", clientScheme: "https",
                                   extraArguments: ["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("member-key.pem"),
                                                    "--trusted-ca-file", PKI.path("ca.pem"), "--client-cert-auth"])
        try server.start()
        defer { server.stop() }
        try check("localhost:\(server.clientPort)", [PKI.path("ca.pem"), PKI.path("client.pem"), PKI.path("client-key.pem")])
    }

    @Test func theReferencePassesTheSameCheck() throws {
        let reference = try #require(Binaries.referenceEtcd, "the reference etcd is not installed; run `make reference`")
        let server = ServerProcess(binary: reference, name: "shared-ref")
        try server.start()
        defer { server.stop() }
        try check("127.0.0.1:\(server.clientPort)")
    }

    private func check(_ endpoint: String, _ tls: [String] = []) throws {
        let tool = try #require(Binaries.goTool("h2stall"), "h2stall not built; run `make test` (GO_TOOLS)")
        let result = try run(tool, [endpoint, "20"] + tls, timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.small_gets == 50)
        #expect(outcome.stalled_bytes > 0 && outcome.stalled_bytes <= 65535)
        #expect(outcome.big_count == 20)
        #expect(outcome.big_bytes > 20 << 20)
    }
}
