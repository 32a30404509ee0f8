import Foundation
import Testing

/// Leases through the Go client, as service-discovery systems use them.
/// Serialized: the expiry test's writers would eat into the registration test's timing margin.
@Suite(.serialized) struct GoClientLeaseTests {
    struct Registration: Decodable {
        var ok: Bool
        var kept_alive: Bool
        var gone: Bool
        var deleted_after_stop_ms: [Double]
    }

    struct Expiry: Decodable {
        var leases: Int
        var deleted: Int
        var max_ms: Double
        var writes_per_second: Double
    }

    /// A service registers its key under a 2 s lease and keeps the lease alive with the client's
    /// KeepAlive stream; the key outlives its TTL. When the service's client goes away, the key
    /// vanishes within the TTL and a second, with a DELETE to each of two watchers.
    @Test func serviceRegistration() throws {
        guard let result = try watchload("registration", timeout: 120) else { return }
        let outcome = try result.summary(as: Registration.self)
        #expect(outcome.kept_alive, "keep-alives held the key past its TTL")
        #expect(outcome.gone)
        #expect(outcome.deleted_after_stop_ms.count == 2, "both watchers saw the DELETE")
        #expect(outcome.deleted_after_stop_ms.allSatisfy { $0 <= 3000 }, "\(outcome.deleted_after_stop_ms)")
        #expect(outcome.ok)
    }

    /// Expired leases are revoked promptly while writers keep the server busy: 100 leases of the
    /// minimum TTL, each with a key, expire beside 20 writers putting as fast as they can, and
    /// every key's DELETE reaches a watcher well within a second of its lease's expiry.
    @Test func expiryIsPromptUnderLoad() throws {
        guard let result = try watchload("expiry", ["-leases", "100", "-clients", "20"], timeout: 120) else { return }
        let outcome = try result.summary(as: Expiry.self)
        #expect(outcome.deleted == 100, "every leased key is deleted")
        // Lateness is measured from the grant request's send time plus the TTL, so it includes
        // the grant's round trip: an upper bound on how late the server revoked.
        #expect(outcome.max_ms < 1000, "latest DELETE came \(outcome.max_ms) ms after expiry")
        #expect(outcome.writes_per_second > 100, "the writers kept the server busy")
    }
}
