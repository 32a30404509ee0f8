import Foundation

/// etcd's simple tokens (`--auth-token simple`): `<16 random letters>.<raft index>`, assigned
/// on every member when the Authenticate entry applies, kept only in memory (a restart forgets
/// them), each valid for `--auth-token-ttl` seconds after its last use, on the member that saw
/// the use. A user's tokens go when the user is deleted or its password changes; all go when
/// auth is disabled.
final class SimpleTokens: @unchecked Sendable {
    private let lock = NSLock()
    private var owners: [String: (user: String, expiry: UInt64)] = [:]
    private var active = false
    private let ttlNanoseconds: UInt64
    private let clock: @Sendable () -> UInt64

    static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    init(ttlSeconds: UInt64, clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        // etcd falls back to 300 s for a TTL of 0.
        ttlNanoseconds = min(ttlSeconds == 0 ? 300 : ttlSeconds, UInt64.max / 2_000_000_000) * 1_000_000_000
        self.clock = clock
    }

    /// A fresh token prefix, drawn before the Authenticate is proposed.
    static func prefix() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in letters[Int(generator.next(upperBound: UInt64(letters.count)))] })
    }

    func assign(_ token: String, to user: String) {
        lock.withLock {
            let now = clock()
            owners = owners.filter { $0.value.expiry > now }
            owners[token] = (user, now + ttlNanoseconds)
        }
    }

    /// The user a live token names, its life extended; nil for an unknown or expired token.
    func user(for token: String) -> String? {
        lock.withLock {
            let now = clock()
            guard let owner = owners[token], owner.expiry > now else {
                owners[token] = nil
                return nil
            }
            owners[token] = (owner.user, now + ttlNanoseconds)
            return owner.user
        }
    }

    /// The raft index a token was assigned at (the member must have applied it to know it).
    static func index(of token: String) -> UInt64? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        return UInt64(parts[1])
    }

    func invalidate(user: String) {
        lock.withLock { owners = owners.filter { $0.value.user != user } }
    }

    func enable() { lock.withLock { active = true } }

    func disable() {
        lock.withLock {
            active = false
            owners = [:]
        }
    }
}
