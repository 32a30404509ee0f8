import Foundation
import Lease

/// Revokes expired leases through the log, like any other write; only the leader does (its
/// lessor is the primary). Wakes at the earliest expiry (at least every 100 ms) so revocation
/// follows expiry closely even under load.
final class LeaseExpiry: @unchecked Sendable {
    private let lessor: Lessor
    private let isLeader: @Sendable () -> Bool
    private let propose: (Int64, @escaping @Sendable (ApplyResult) -> Void) -> Void
    private let condition = NSCondition()
    private var stopped = false
    private var thread: Thread?
    static let revokesPerPass = 1000

    init(lessor: Lessor, isLeader: @escaping @Sendable () -> Bool,
         propose: @escaping (Int64, @escaping @Sendable (ApplyResult) -> Void) -> Void) {
        self.lessor = lessor
        self.isLeader = isLeader
        self.propose = propose
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "lease-expiry"
        self.thread = thread
        thread.start()
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func run() {
        while true {
            let wait = min(lessor.nanosecondsUntilNextExpiry() ?? 100_000_000, 100_000_000)
            let done = condition.withLock { () -> Bool in
                if !stopped && wait > 0 {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(wait) / 1e9))
                }
                return stopped
            }
            if done { return }
            guard isLeader() else { continue }
            for id in lessor.takeExpired(limit: LeaseExpiry.revokesPerPass) {
                let lessor = self.lessor
                propose(id) { result in
                    if case .failure = result { lessor.revokeFailed(id) }
                }
            }
        }
    }
}
