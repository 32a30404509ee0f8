import Foundation
import ProtoJSON
import TLS

/// etcd's JWT tokens (`--auth-token jwt,sign-method=RS256,priv-key=...,pub-key=...,ttl=5m`):
/// signed by whichever member applies the Authenticate, so any member with the keys reads
/// them; they carry the user, the auth revision at sign time and an expiry:
///
///     base64url({"alg":"RS256","typ":"JWT"}).base64url({"exp":..,"revision":..,"username":".."}).signature
///
/// Nothing is kept per token: auth disable, password changes and user deletes do not end
/// them, the auth revision they carry does (`etcdserver: revision of auth store is old`).
final class JWTTokens: Sendable {
    let keys: JWTKeys
    let ttlSeconds: Int64

    init(keys: JWTKeys, ttlSeconds: Int64) {
        self.keys = keys
        self.ttlSeconds = ttlSeconds
    }

    /// `--auth-token`: nil for `simple`, the JWT keys for `jwt,...`; etcd's refusals otherwise
    /// (its server does not start).
    static func parse(_ option: String) throws(ConfigError) -> JWTTokens? {
        let parts = option.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var values: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard pair.count == 2, !pair[1].contains("="), values[pair[0]] == nil else { throw .invalid("auth: invalid auth options") }
            values[pair[0]] = pair[1]
        }
        switch parts[0] {
        case "simple":
            return nil
        case "jwt":
            guard let method = values["sign-method"] else { throw .invalid("auth: invalid auth options") }
            var ttl: Int64 = 300
            if let text = values["ttl"] {
                guard let seconds = GoDuration.parse(text), seconds.isFinite else { throw .invalid("auth: invalid auth options") }
                ttl = Int64(clamping: Int(exactly: seconds.rounded(.down)) ?? Int.max)
            }
            do {
                return JWTTokens(keys: try JWTKeys(algorithm: method, publicKeyFile: values["pub-key"],
                                                   privateKeyFile: values["priv-key"]), ttlSeconds: ttl)
            } catch {
                throw .invalid("auth: invalid auth options")
            }
        default:
            throw .invalid("auth: invalid auth options")
        }
    }

    func assign(username: String, revision: UInt64, now: Date = Date()) throws -> String {
        guard keys.canSign else { throw EtcdError.unmapped("auth: token signing attempted with verify-only key") }
        let header = #"{"alg":"\#(keys.algorithm)","typ":"JWT"}"#
        let expiry = Int64(now.timeIntervalSince1970) + ttlSeconds
        let claims = #"{"exp":\#(expiry),"revision":\#(revision),"username":"# + quote(username) + "}"
        let input = Self.base64URL(Array(header.utf8)) + "." + Self.base64URL(Array(claims.utf8))
        do {
            return input + "." + Self.base64URL(try keys.sign(Array(input.utf8)))
        } catch {
            throw EtcdError.unmapped("auth: failed to sign token: \(error)")
        }
    }

    /// Who a token names and at which auth revision; nil if it is not ours, is tampered with,
    /// uses another method, or has expired.
    func info(_ token: String, now: Date = Date()) -> AuthInfo? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.decode(parts[0]), let claimBytes = Self.decode(parts[1]),
              let signature = Self.decode(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any],
              header["alg"] as? String == keys.algorithm,
              keys.verify(Array("\(parts[0]).\(parts[1])".utf8), signature: signature),
              let claims = try? JSONSerialization.jsonObject(with: Data(claimBytes)) as? [String: Any],
              let username = claims["username"] as? String,
              let revision = (claims["revision"] as? NSNumber)?.uint64Value else { return nil }
        if let expiry = (claims["exp"] as? NSNumber)?.int64Value, Int64(now.timeIntervalSince1970) > expiry { return nil }
        return AuthInfo(username: username, revision: revision)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
