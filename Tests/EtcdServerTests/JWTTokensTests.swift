import Foundation
import Testing
@testable import EtcdServer

/// etcd's JWT tokens: each method signs and verifies; tampering, another key, another method
/// and expiry are refused; etcd's option parsing.
@Suite struct JWTTokensTests {
    /// Keys for the whole suite, in one directory removed when the process exits.
    static let directory: String = {
        var template = Array("/tmp/jwt-test-XXXXXX".utf8CString)
        let made = String(cString: mkdtemp(&template)!)
        atexit { try? FileManager.default.removeItem(atPath: JWTTokensTests.directory) }
        return made
    }()

    /// Makes a key pair with the openssl tool: (private, public) paths.
    static func keyPair(_ name: String, _ generate: [String]) throws -> (String, String) {
        let privatePath = directory + "/\(name).pem", publicPath = directory + "/\(name).pub"
        for arguments in [generate + ["-out", privatePath], ["pkey", "-in", privatePath, "-pubout", "-out", publicPath]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "openssl \(arguments)")
        }
        return (privatePath, publicPath)
    }

    @Test(arguments: ["RS256", "PS384", "ES256", "ES384", "ES512", "HS256", "HS512"])
    func signsAndVerifies(_ method: String) throws {
        let generate: [String]
        switch method.prefix(2) {
        case "ES":
            let curve = ["ES256": "P-256", "ES384": "P-384", "ES512": "P-521"][method]!
            generate = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:\(curve)"]
        default:
            generate = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        }
        let (privateKey, publicKey) = try Self.keyPair(method, generate)
        let tokens = try #require(try JWTTokens.parse("jwt,sign-method=\(method),priv-key=\(privateKey),pub-key=\(publicKey),ttl=1m"))
        let now = Date()
        let token = try tokens.assign(username: "alice", revision: 7, now: now)
        #expect(tokens.info(token, now: now) == AuthInfo(username: "alice", revision: 7))
        #expect(tokens.info(token, now: now.addingTimeInterval(61)) == nil, "expired")
        var tampered = Array(token)
        let middle = token.firstIndex(of: ".")!.utf16Offset(in: token) + 3
        tampered[middle] = tampered[middle] == "A" ? "B" : "A"
        #expect(tokens.info(String(tampered), now: now) == nil)
        #expect(tokens.info("a.b.c", now: now) == nil && tokens.info("", now: now) == nil)
        if method.hasPrefix("HS") { return }
        // A verify-only member reads tokens but cannot sign them.
        let verifier = try #require(try JWTTokens.parse("jwt,sign-method=\(method),pub-key=\(publicKey)"))
        #expect(verifier.info(token, now: now)?.username == "alice")
        #expect(throws: EtcdError.self) { try verifier.assign(username: "alice", revision: 1) }
    }

    @Test func anotherKeyOrMethodIsRefused() throws {
        let (first, firstPublic) = try Self.keyPair("one", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        let (_, secondPublic) = try Self.keyPair("two", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        let signer = try #require(try JWTTokens.parse("jwt,sign-method=RS256,priv-key=\(first),pub-key=\(firstPublic)"))
        let token = try signer.assign(username: "u", revision: 1)
        let other = try #require(try JWTTokens.parse("jwt,sign-method=RS256,pub-key=\(secondPublic)"))
        #expect(other.info(token) == nil)
        let otherMethod = try #require(try JWTTokens.parse("jwt,sign-method=RS512,pub-key=\(firstPublic)"))
        #expect(otherMethod.info(token) == nil)
    }

    /// etcd's own e2e suite gives a certificate as `pub-key` (Go's jwt reads its public key).
    @Test func certificateServesAsThePublicKey() throws {
        let (key, _) = try Self.keyPair("cert", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        let certificate = Self.directory + "/cert.crt"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["req", "-x509", "-key", key, "-subj", "/CN=jwt", "-days", "1", "-out", certificate]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let tokens = try #require(try JWTTokens.parse("jwt,pub-key=\(certificate),priv-key=\(key),sign-method=RS256,ttl=1s"))
        let verifier = try #require(try JWTTokens.parse("jwt,pub-key=\(certificate),sign-method=RS256"))
        #expect(verifier.info(try tokens.assign(username: "cn", revision: 2))?.username == "cn")
    }

    @Test func optionsParseAsEtcdParsesThem() throws {
        // An empty HMAC secret would let anyone sign.
        let empty = Self.directory + "/empty.key"
        FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: ConfigError.invalid("auth: invalid auth options")) { try JWTTokens.parse("jwt,sign-method=HS256,priv-key=\(empty)") }
        #expect(try JWTTokens.parse("simple") == nil)
        #expect(try JWTTokens.parse("simple,anything=1") == nil)
        for bad in ["jwt", "foo", "jwt,sign-method=XX256,priv-key=/nonexistent", "jwt,sign-method", "jwt,ttl=5m,ttl=6m",
                    "jwt,sign-method=RS256", "jwt,sign-method=RS256,priv-key=/nonexistent", "jwt,sign-method=RS256,pub-key=x,ttl=300"] {
            #expect(throws: ConfigError.invalid("auth: invalid auth options"), "\(bad)") { try JWTTokens.parse(bad) }
        }
    }
}
