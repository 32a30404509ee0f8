import CCrypt
import Foundation

/// bcrypt password hashes through libxcrypt, in the `$2a$` form Go's bcrypt writes, so users
/// etcd created (and imported data dirs carry) authenticate here and ours authenticate on etcd.
/// Hashing is slow on purpose (2^cost rounds): callers keep it off the apply path and off the
/// event loops.
enum PasswordHash {
    /// etcd's `--bcrypt-cost` bounds (Go's bcrypt.MinCost and MaxCost).
    static let minCost = 4
    static let maxCost = 31
    static let defaultCost = 10

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A new hash of `password` with a random salt.
    static func hash(_ password: String, cost: Int) throws -> String {
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn("$2a$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else {
            throw Failure(description: "bcrypt: cannot make a salt at cost \(cost): \(String(cString: strerror(errno)))")
        }
        let settingText = String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let hashed = run(password, setting: settingText), hashed.hasPrefix("$2a$") else {
            throw Failure(description: "bcrypt: hashing failed")
        }
        return hashed
    }

    /// Whether `password` matches `hash` (any of bcrypt's `$2a$`, `$2b$`, `$2y$` forms).
    static func verify(_ password: String, hash: String) -> Bool {
        guard hash.hasPrefix("$2"), let computed = run(password, setting: hash) else { return false }
        // Compare without stopping at the first difference.
        let a = Array(computed.utf8), b = Array(hash.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// crypt_r with its 32 KiB work area on the heap; nil when libxcrypt refuses the setting
    /// (it answers with a string starting with `*`).
    private static func run(_ password: String, setting: String) -> String? {
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(password, setting, data) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text
    }
}
