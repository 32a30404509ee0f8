/// Leases: time-to-live grants that keys attach to.
///
/// The lessor keeps each lease's granted TTL, its expiry and its attached keys in memory. It does
/// no I/O and reads no clock of its own (the caller injects a monotonic clock in nanoseconds),
/// and it never touches the key-value store: revoking a lease returns the keys to delete, and the
/// caller deletes them. Grants, revokes and attachments change only as log entries are applied;
/// renewals (keep-alives) and expiry checks come from the serving side.
public final class Lessor: @unchecked Sendable {
    public typealias ID = Int64

    /// Leases may not be granted for longer than this (etcd's MaxLeaseTTL).
    public static let maxTTLSeconds: Int64 = 9_000_000_000

    public enum Failure: Error, Equatable, Sendable {
        case notFound
        case exists
        case ttlTooLarge
    }

    struct Lease {
        var ttlSeconds: Int64
        /// Monotonic nanoseconds at which the lease expires.
        var expiry: UInt64
        var keys: Set<[UInt8]> = []
        /// A revoke for this lease has been proposed and not applied yet.
        var revoking = false
    }

    public struct Snapshot: Sendable, Equatable {
        public var id: ID
        public var grantedTTL: Int64
        /// Whole seconds left, truncated (negative once expired).
        public var remainingTTL: Int64
        public var keys: [[UInt8]]
    }

    /// A lease as persisted: its ID and granted TTL.
    public struct Record: Sendable, Equatable {
        public var id: ID
        public var ttlSeconds: Int64

        public init(id: ID, ttlSeconds: Int64) {
            self.id = id
            self.ttlSeconds = ttlSeconds
        }
    }

    public let minTTLSeconds: Int64
    private let clock: @Sendable () -> UInt64
    private let lock = Lock()
    private var leases: [ID: Lease] = [:]

    public init(minTTLSeconds: Int64, clock: @escaping @Sendable () -> UInt64) {
        self.minTTLSeconds = minTTLSeconds
        self.clock = clock
    }

    private func expiry(afterSeconds ttl: Int64) -> UInt64 {
        let (product, overflow) = UInt64(clamping: ttl).multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, overflow2) = clock().addingReportingOverflow(product)
        return overflow || overflow2 ? UInt64.max : sum
    }

    // MARK: applied changes

    /// Grants a lease; a TTL below the minimum is raised to it. Returns the granted TTL.
    public func grant(id: ID, ttlSeconds: Int64) throws(Failure) -> Int64 {
        if ttlSeconds > Lessor.maxTTLSeconds { throw .ttlTooLarge }
        let ttl = max(ttlSeconds, minTTLSeconds)
        try lock.withLock { () throws(Failure) in
            guard leases[id] == nil else { throw .exists }
            leases[id] = Lease(ttlSeconds: ttl, expiry: expiry(afterSeconds: ttl))
        }
        return ttl
    }

    /// Removes a lease; returns its keys, sorted, for the caller to delete in one transaction.
    public func revoke(id: ID) throws(Failure) -> [[UInt8]] {
        try lock.withLock { () throws(Failure) in
            guard let lease = leases.removeValue(forKey: id) else { throw .notFound }
            return lease.keys.sorted { $0.lexicographicallyPrecedes($1) }
        }
    }

    public func attach(_ key: [UInt8], to id: ID) {
        lock.withLock { _ = leases[id]?.keys.insert(key) }
    }

    public func detach(_ key: [UInt8], from id: ID) {
        lock.withLock { _ = leases[id]?.keys.remove(key) }
    }

    /// Restores persisted leases after a restart: every lease gets its full TTL again, plus
    /// `extraNanoseconds` (etcd adds an election timeout when a leader takes over its leases).
    public func restore(_ records: [Record], attachments: [(key: [UInt8], lease: ID)], extraNanoseconds: UInt64 = 0) {
        lock.withLock {
            for record in records {
                let expiry = expiry(afterSeconds: record.ttlSeconds)
                leases[record.id] = Lease(ttlSeconds: record.ttlSeconds,
                                          expiry: expiry.addingReportingOverflow(extraNanoseconds).overflow ? .max : expiry + extraNanoseconds)
            }
            for (key, id) in attachments { leases[id]?.keys.insert(key) }
        }
    }

    // MARK: leadership

    /// This member became the leader (the primary lessor): every lease expires a full TTL plus
    /// `extraNanoseconds` from now (etcd extends by an election timeout, so clients have time
    /// to find the new leader).
    public func promote(extraNanoseconds: UInt64) {
        lock.withLock {
            for id in leases.keys {
                let expiry = expiry(afterSeconds: leases[id]!.ttlSeconds)
                let (extended, overflow) = expiry.addingReportingOverflow(extraNanoseconds)
                leases[id]!.expiry = overflow ? .max : extended
                leases[id]!.revoking = false
            }
        }
    }

    /// This member stopped leading: nothing expires here until it leads again.
    public func demote() {
        lock.withLock {
            for id in leases.keys { leases[id]!.expiry = .max }
        }
    }

    // MARK: serving side

    public func exists(_ id: ID) -> Bool {
        lock.withLock { leases[id] != nil }
    }

    public enum RenewResult: Equatable, Sendable {
        /// Renewed: the lease now expires a full TTL from now.
        case renewed(ttlSeconds: Int64)
        case notFound
        /// Expired and waiting for its revoke to be applied.
        case expired
    }

    /// A keep-alive: extends the lease to a full TTL from now.
    public func renew(_ id: ID) -> RenewResult {
        lock.withLock {
            guard var lease = leases[id] else { return .notFound }
            if lease.expiry <= clock() { return .expired }
            lease.expiry = expiry(afterSeconds: lease.ttlSeconds)
            leases[id] = lease
            return .renewed(ttlSeconds: lease.ttlSeconds)
        }
    }

    public func snapshot(_ id: ID) -> Snapshot? {
        lock.withLock {
            guard let lease = leases[id] else { return nil }
            let now = clock()
            let remaining = lease.expiry >= now ? Int64((lease.expiry - now) / 1_000_000_000)
                : -Int64((now - lease.expiry) / 1_000_000_000)
            return Snapshot(id: id, grantedTTL: lease.ttlSeconds, remainingTTL: remaining,
                            keys: lease.keys.sorted { $0.lexicographicallyPrecedes($1) })
        }
    }

    /// Every lease, soonest expiry first (etcd's order).
    public func ids() -> [ID] {
        lock.withLock { leases.sorted { ($0.value.expiry, $0.key) < ($1.value.expiry, $1.key) }.map(\.key) }
    }

    /// Leases past their expiry that no revoke is pending for; they are marked as being revoked.
    public func takeExpired(limit: Int) -> [ID] {
        lock.withLock {
            let now = clock()
            var expired: [ID] = []
            for (id, lease) in leases where !lease.revoking && lease.expiry <= now {
                expired.append(id)
                if expired.count == limit { break }
            }
            for id in expired { leases[id]?.revoking = true }
            return expired
        }
    }

    /// A proposed revoke did not take effect; the lease may be picked up again.
    public func revokeFailed(_ id: ID) {
        lock.withLock { leases[id]?.revoking = false }
    }

    /// Nanoseconds until the earliest expiry of a lease not being revoked (nil: none).
    public func nanosecondsUntilNextExpiry() -> UInt64? {
        lock.withLock {
            let now = clock()
            return leases.values.filter { !$0.revoking }.map { $0.expiry > now ? $0.expiry - now : 0 }.min()
        }
    }
}

/// A mutex usable without Foundation.
final class Lock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

#if canImport(Glibc)
import Glibc
#endif
