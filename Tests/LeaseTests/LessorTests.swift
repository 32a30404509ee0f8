import Testing
@testable import Lease

/// A clock the test moves by hand.
final class TestClock: @unchecked Sendable {
    var now: UInt64 = 1_000_000_000
    func advance(seconds: Double) { now += UInt64(seconds * 1e9) }
}

@Suite struct LessorTests {
    func make(minTTL: Int64 = 2) -> (Lessor, TestClock) {
        let clock = TestClock()
        return (Lessor(minTTLSeconds: minTTL, clock: { clock.now }), clock)
    }

    @Test func grantRaisesTTLToTheMinimumAndRejectsDuplicatesAndHugeTTLs() throws {
        let (lessor, _) = make()
        #expect(try lessor.grant(id: 1, ttlSeconds: 1) == 2)
        #expect(try lessor.grant(id: 2, ttlSeconds: 60) == 60)
        #expect(throws: Lessor.Failure.exists) { try lessor.grant(id: 2, ttlSeconds: 60) }
        #expect(throws: Lessor.Failure.ttlTooLarge) { try lessor.grant(id: 3, ttlSeconds: 9_000_000_001) }
        #expect(lessor.ids().sorted() == [1, 2])
    }

    @Test func timeToLiveCountsDownAndKeepAliveRestartsIt() throws {
        let (lessor, clock) = make()
        _ = try lessor.grant(id: 7, ttlSeconds: 10)
        clock.advance(seconds: 3.5)
        #expect(lessor.snapshot(7)?.remainingTTL == 6)
        #expect(lessor.renew(7) == .renewed(ttlSeconds: 10))
        #expect(lessor.snapshot(7)?.remainingTTL == 10)
        clock.advance(seconds: 10.1)
        #expect(lessor.renew(7) == .expired, "an expired lease is not revived")
        #expect(lessor.renew(99) == .notFound)
    }

    @Test func expiredLeasesAreTakenOnceAndRevokeReturnsSortedKeys() throws {
        let (lessor, clock) = make()
        _ = try lessor.grant(id: 1, ttlSeconds: 5)
        _ = try lessor.grant(id: 2, ttlSeconds: 50)
        lessor.attach(Array("b".utf8), to: 1)
        lessor.attach(Array("a".utf8), to: 1)
        lessor.attach(Array("c".utf8), to: 2)
        lessor.detach(Array("c".utf8), from: 2)
        #expect(lessor.takeExpired(limit: 10).isEmpty)
        #expect(lessor.nanosecondsUntilNextExpiry() == 5_000_000_000)
        clock.advance(seconds: 5)
        #expect(lessor.takeExpired(limit: 10) == [1])
        #expect(lessor.takeExpired(limit: 10).isEmpty, "already being revoked")
        #expect(try lessor.revoke(id: 1) == [Array("a".utf8), Array("b".utf8)])
        #expect(try lessor.revoke(id: 2) == [])
        #expect(throws: Lessor.Failure.notFound) { try lessor.revoke(id: 1) }
    }

    @Test func restoreGivesEveryLeaseItsFullTTLAgain() throws {
        let (lessor, clock) = make()
        clock.advance(seconds: 100)
        lessor.restore([Lessor.Record(id: 5, ttlSeconds: 30)], attachments: [(Array("k".utf8), 5), (Array("x".utf8), 9)])
        let lease = try #require(lessor.snapshot(5))
        #expect(lease.remainingTTL == 30)
        #expect(lease.keys == [Array("k".utf8)])
    }
}
