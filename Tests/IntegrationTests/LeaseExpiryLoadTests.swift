import Foundation
import Testing

/// Expired leases are revoked promptly while writers keep the server busy: 100 leases of the
/// minimum TTL, each with a key, expire beside 20 writers putting as fast as they can, and
/// every key's DELETE reaches a watcher well within a second of its lease's expiry.
@Suite struct LeaseExpiryLoadTests {
    struct Outcome: Decodable {
        var leases: Int
        var deleted: Int
        var max_ms: Double
        var writes_per_second: Double
    }

    @Test func expiryIsPromptUnderLoad() throws {
        guard let tool = Binaries.goTool("watchload") else {
            Issue.record("watchload not built; run `make test` (GO_TOOLS)")
            return
        }
        let server = ServerProcess(binary: Binaries.releaseEtcd, name: "expiry")
        try server.start()
        defer { server.stop() }
        let result = try run(tool, ["-endpoint", server.endpoint, "-mode", "expiry", "-leases", "100", "-clients", "20"])
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.deleted == 100, "every leased key is deleted")
        // Lateness is measured from the grant request's send time plus the TTL, so it includes
        // the grant's round trip: an upper bound on how late the server revoked.
        #expect(outcome.max_ms < 1000, "latest DELETE came \(outcome.max_ms) ms after expiry")
        #expect(outcome.writes_per_second > 100, "the writers kept the server busy")
    }
}
