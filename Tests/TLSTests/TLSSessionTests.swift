import COpenSSL
import Foundation
import Testing
@testable import TLS

/// Certificates made by Fixtures/make-fixtures.sh.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { directory + "/" + name }

    static func pair(_ name: String) -> KeyPairFiles {
        KeyPairFiles(certFile: path("\(name).pem"), keyFile: path("\(name)-key.pem"))
    }

    static func server(_ adjust: (inout TLSSettings) -> Void = { _ in }) throws -> TLSContext {
        var settings = TLSSettings(keyPair: pair("server"), trustedCAFile: path("ca.pem"), verifyPeer: true,
                                   applicationProtocols: ["h2", "http/1.1"])
        adjust(&settings)
        return try TLSContext(role: .server, settings: settings)
    }

    static func client(_ name: String? = "client", _ adjust: (inout TLSSettings) -> Void = { _ in }) throws -> TLSContext {
        var settings = TLSSettings(keyPair: name.map(pair), trustedCAFile: path("ca.pem"), verifyPeer: true,
                                   applicationProtocols: ["h2"])
        adjust(&settings)
        return try TLSContext(role: .client, settings: settings)
    }
}

/// Two sessions joined by memory: what one writes, the other is fed.
struct Link {
    let client: TLSSession
    let server: TLSSession

    init(client: TLSContext, server: TLSContext, serverName: String? = "localhost") throws {
        self.client = try client.makeSession(serverName: serverName)
        self.server = try server.makeSession()
    }

    /// Runs both handshakes until neither moves; returns how each ended.
    func handshake() -> (client: TLSSession.HandshakeProgress, server: TLSSession.HandshakeProgress) {
        var clientProgress = client.handshake()
        var serverProgress = TLSSession.HandshakeProgress.needsInput
        for _ in 0..<20 {
            let toServer = client.takeOutput()
            if !toServer.isEmpty {
                toServer.withUnsafeBytes { server.feed($0) }
                serverProgress = server.handshake()
            }
            let toClient = server.takeOutput()
            if !toClient.isEmpty {
                toClient.withUnsafeBytes { client.feed($0) }
                clientProgress = client.handshake()
            }
            if toServer.isEmpty && toClient.isEmpty { break }
        }
        return (clientProgress, serverProgress)
    }

    /// Sends `bytes` from `from` to `to` and returns what `to` decrypted.
    static func send(_ bytes: [UInt8], from: TLSSession, to: TLSSession) throws -> [UInt8] {
        try bytes.withUnsafeBytes { buffer in try from.write(buffer) }
        from.takeOutput().withUnsafeBytes { to.feed($0) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let result = chunk.withUnsafeMutableBytes { to.read(into: $0) }
            guard case .data(let count) = result else { break }
            received += chunk.prefix(count)
        }
        // Reading can produce output (TLS 1.3 tickets): hand it back.
        to.takeOutput().withUnsafeBytes { from.feed($0) }
        return received
    }
}

@Suite struct TLSSessionTests {
    @Test func mutualTLSCarriesDataBothWaysWithALPN() throws {
        let link = try Link(client: Fixtures.client(), server: Fixtures.server())
        let (client, server) = link.handshake()
        #expect(client == .done)
        #expect(server == .done)
        #expect(link.server.applicationProtocol == "h2")
        #expect(link.client.applicationProtocol == "h2")
        #expect(link.server.peerCertificate?.commonName == "client1")
        #expect(link.client.peerCertificate?.commonName == "server")
        #expect(link.server.requestedServerName == "localhost")
        #expect(link.server.negotiated.hasPrefix("TLSv1.3 "))

        let big = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(try Link.send(big, from: link.client, to: link.server) == big)
        #expect(try Link.send(Array("pong".utf8), from: link.server, to: link.client) == Array("pong".utf8))
    }

    @Test func aServerRequiringCertificatesRefusesAClientWithout() throws {
        let link = try Link(client: Fixtures.client(nil), server: Fixtures.server())
        let (_, server) = link.handshake()
        #expect(server == .failed(TLSError("tls: client didn't provide a certificate")))
    }

    @Test func aClientCertificateFromAnotherCAIsRefused() throws {
        let link = try Link(client: Fixtures.client("stranger"), server: Fixtures.server())
        let (_, server) = link.handshake()
        #expect(server == .failed(TLSError("tls: failed to verify client certificate: x509: certificate signed by unknown authority")))
    }

    @Test func aServerWithoutClientAuthAcceptsAnyClient() throws {
        let link = try Link(client: Fixtures.client(nil), server: Fixtures.server { $0.verifyPeer = false })
        let (client, server) = link.handshake()
        #expect(client == .done)
        #expect(server == .done)
        #expect(link.server.peerCertificate == nil)
    }

    @Test func plaintextIsNotATLSHandshake() throws {
        let server = try Fixtures.server().makeSession()
        Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { server.feed($0) }
        #expect(server.handshake() == .failed(TLSError("tls: first record does not look like a TLS handshake")))
        let h2 = try Fixtures.server().makeSession()
        Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8).withUnsafeBytes { h2.feed($0) }
        #expect(h2.handshake() == .failed(TLSError("tls: first record does not look like a TLS handshake")))
    }

    @Test func theClientVerifiesTheServersName() throws {
        let wrongName = try Link(client: Fixtures.client(), server: Fixtures.server(), serverName: "10.9.8.7")
        let (client, _) = wrongName.handshake()
        #expect(client == .failed(TLSError("x509: certificate is valid for localhost, 127.0.0.1, not 10.9.8.7")))

        let byIP = try Link(client: Fixtures.client(), server: Fixtures.server(), serverName: "127.0.0.1")
        #expect(byIP.handshake().client == .done)
        #expect(byIP.server.requestedServerName == "", "no SNI for an IP address")

        let untrusted = try Link(client: Fixtures.client { $0.trustedCAFile = Fixtures.path("other-ca.pem") },
                                 server: Fixtures.server())
        #expect(untrusted.handshake().client == .failed(TLSError("x509: certificate signed by unknown authority")))

        let skipVerify = try Link(client: Fixtures.client { $0.trustedCAFile = nil; $0.verifyPeer = false },
                                  server: Fixtures.server())
        #expect(skipVerify.handshake().client == .done)
    }

    @Test func theAllowedCommonNameRefusesOthersWithBadCertificate() throws {
        let allowed = try Link(client: Fixtures.client("server"),
                               server: Fixtures.server { $0.allowedCommonName = "server" })
        #expect(allowed.handshake() == (.done, .done))

        let refused = try Link(client: Fixtures.client("server2"),
                               server: Fixtures.server { $0.allowedCommonName = "server" })
        let (client, server) = refused.handshake()
        #expect(server == .failed(TLSError("client certificate authentication failed")))
        // TLS 1.3: the client learns of it on its next read.
        if client == .done {
            var byte = [UInt8](repeating: 0, count: 1)
            let result = byte.withUnsafeMutableBytes { refused.client.read(into: $0) }
            #expect(result == .failed(TLSError("remote error: tls: bad certificate")))
        } else {
            #expect(client == .failed(TLSError("remote error: tls: bad certificate")))
        }
    }

    @Test func theAllowedHostnameChecksTheOtherSidesNames() throws {
        let allowed = try Link(client: Fixtures.client("server"),
                               server: Fixtures.server { $0.allowedHostname = "localhost" })
        #expect(allowed.handshake() == (.done, .done))
        let refused = try Link(client: Fixtures.client("server"),
                               server: Fixtures.server { $0.allowedHostname = "example.com" })
        #expect(refused.handshake().server == .failed(TLSError("client certificate authentication failed")))
        // The dialer applies it to the server's certificate too.
        let dialer = try Link(client: Fixtures.client("server") { $0.allowedHostname = "example.com" },
                              server: Fixtures.server())
        #expect(dialer.handshake().client == .failed(TLSError("client certificate authentication failed")))
    }

    @Test func theCRLIsReadForEveryConnectionAndChecksSerials() throws {
        let directory = NSTemporaryDirectory() + "tls-crl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crl = directory + "/active.crl"
        try FileManager.default.copyItem(atPath: Fixtures.path("revoked.crl"), toPath: crl)
        let server = try Fixtures.server { $0.crlFile = crl }

        let revoked = try Link(client: Fixtures.client("revoked"), server: server)
        #expect(revoked.handshake() == (.done, .done), "the CRL is checked after the handshake")
        let serial = try #require(revoked.server.peerCertificate).serialBytes
        #expect(!serial.isEmpty)
        let hex = serial.map { String(format: "%02x", $0) }.joined()
        #expect(server.checkAfterHandshake(revoked.server, remoteAddress: "127.0.0.1")
                == TLSError("transport: certificate serial \(hex) revoked"))

        let good = try Link(client: Fixtures.client(), server: server)
        #expect(good.handshake() == (.done, .done))
        #expect(server.checkAfterHandshake(good.server, remoteAddress: "127.0.0.1") == nil)

        // Without the file, everyone with a certificate is refused.
        try FileManager.default.removeItem(atPath: crl)
        #expect(server.checkAfterHandshake(good.server, remoteAddress: "127.0.0.1")
                == TLSError("open \(crl): no such file or directory"))
    }

    @Test func clientAddressMustMatchTheCertificatesIPs() throws {
        let server = try Fixtures.server { $0.checkClientAddress = true }
        let link = try Link(client: Fixtures.client("server"), server: server)
        #expect(link.handshake() == (.done, .done))
        #expect(server.checkAfterHandshake(link.server, remoteAddress: "127.0.0.1") == nil)
        #expect(server.checkAfterHandshake(link.server, remoteAddress: "127.0.0.2")
                == TLSError("x509: certificate is valid for 127.0.0.1, not 127.0.0.2"))
        // A certificate without alternative names passes.
        let plain = try Link(client: Fixtures.client("client"), server: server)
        #expect(plain.handshake() == (.done, .done))
        #expect(server.checkAfterHandshake(plain.server, remoteAddress: "127.0.0.2") == nil)
    }

    @Test func certificateFilesAreReloadedWhenReplaced() throws {
        let directory = NSTemporaryDirectory() + "tls-reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manager = FileManager.default
        try manager.copyItem(atPath: Fixtures.path("server.pem"), toPath: directory + "/cert.pem")
        try manager.copyItem(atPath: Fixtures.path("server-key.pem"), toPath: directory + "/key.pem")
        let server = try Fixtures.server { $0.keyPair = KeyPairFiles(certFile: directory + "/cert.pem", keyFile: directory + "/key.pem") }

        let first = try Link(client: Fixtures.client(), server: server)
        #expect(first.handshake() == (.done, .done))
        #expect(first.client.peerCertificate?.commonName == "server")

        // Replace both files (as an operator's cert rotation would), then hand over the new pair.
        try manager.removeItem(atPath: directory + "/cert.pem")
        try manager.removeItem(atPath: directory + "/key.pem")
        try manager.copyItem(atPath: Fixtures.path("server2.pem"), toPath: directory + "/cert.pem")
        #expect(throws: TLSError("open \(directory)/key.pem: no such file or directory")) { try server.makeSession() }
        try manager.copyItem(atPath: Fixtures.path("server-key.pem"), toPath: directory + "/key.pem")
        #expect(throws: TLSError("tls: private key does not match public key")) { try server.makeSession() }
        try manager.removeItem(atPath: directory + "/key.pem")
        try manager.copyItem(atPath: Fixtures.path("server2-key.pem"), toPath: directory + "/key.pem")
        let second = try Link(client: Fixtures.client(), server: server)
        #expect(second.handshake() == (.done, .done))
        #expect(second.client.peerCertificate?.commonName == "other-peer")
    }

    @Test func cipherSuitesLimitTLS12Only() throws {
        let server = try Fixtures.server { $0.cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] }
        // TLS 1.3 is untouched by the list.
        let modern = try Link(client: Fixtures.client(), server: server)
        #expect(modern.handshake() == (.done, .done))
        #expect(modern.server.negotiated.hasPrefix("TLSv1.3"))
        // A TLS 1.2 client offering only another suite finds nothing in common.
        let old = try Fixtures.client { $0.cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] }
        #expect(copenssl_ctx_set_max_tls12(old.context) == 1)
        let mismatch = try Link(client: old, server: server)
        #expect(mismatch.handshake().server == .failed(TLSError("tls: no cipher suite supported by both client and server")))
        let matching = try Fixtures.client { $0.cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] }
        #expect(copenssl_ctx_set_max_tls12(matching.context) == 1)
        let twelve = try Link(client: matching, server: server)
        #expect(twelve.handshake() == (.done, .done))
        #expect(twelve.server.negotiated == "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    }

    @Test func etcdsCipherSuiteNames() {
        #expect(CipherSuites.firstUnknown(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_FOO"]) == "TLS_FOO")
        #expect(CipherSuites.firstUnknown(["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"]) == nil)
        #expect(CipherSuites.openSSLName(for: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305") == "ECDHE-RSA-CHACHA20-POLY1305")
        #expect(CipherSuites.openSSLName(for: "TLS_AES_128_GCM_SHA256") == nil)
        #expect(!CipherSuites.satisfiesHTTP2(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]))
        #expect(CipherSuites.satisfiesHTTP2(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]))
    }

    @Test func alpnPicksTheServersFirstChoiceAndRefusesStrangers() throws {
        let http1 = try Link(client: Fixtures.client { $0.applicationProtocols = ["http/1.1"] }, server: Fixtures.server())
        #expect(http1.handshake() == (.done, .done))
        #expect(http1.server.applicationProtocol == "http/1.1")
        let both = try Link(client: Fixtures.client { $0.applicationProtocols = ["http/1.1", "h2"] }, server: Fixtures.server())
        #expect(both.handshake() == (.done, .done))
        #expect(both.server.applicationProtocol == "h2")
        let none = try Link(client: Fixtures.client { $0.applicationProtocols = [] }, server: Fixtures.server())
        #expect(none.handshake() == (.done, .done))
        #expect(none.server.applicationProtocol == nil)
        let stranger = try Link(client: Fixtures.client { $0.applicationProtocols = ["spdy/3"] }, server: Fixtures.server())
        #expect(stranger.handshake().client == .failed(TLSError("remote error: tls: no application protocol")))
    }
}

@Suite struct SelfSignedCertificateTests {
    @Test func autoTLSCertificateLooksLikeEtcds() throws {
        let (pem, keyPEM) = try SelfSignedCertificate.generate(hosts: ["127.0.0.1", "localhost"], validForDays: 365)
        #expect(keyPEM.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        let certificate = try #require(try Certificate.chain(fromPEM: Array(pem.utf8)).first)
        #expect(certificate.commonName == "")
        let (dns, ips) = certificate.alternativeNames
        #expect(dns == ["localhost"])
        #expect(ips == ["127.0.0.1"])
        #expect(certificate.serialBytes.count <= 16 && !certificate.serialBytes.isEmpty)
        _ = try KeyPair(chain: [certificate], key: PrivateKey.load(pem: Array(keyPEM.utf8)))
    }

    @Test func filesAreMadeOnceAndServeClientsThatSkipVerification() throws {
        let directory = NSTemporaryDirectory() + "autotls-\(UUID().uuidString)/fixtures/peer"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try SelfSignedCertificate.ensure(in: directory, hosts: ["127.0.0.1"])
        #expect(files.created)
        let attributes = try FileManager.default.attributesOfItem(atPath: files.keyFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let again = try SelfSignedCertificate.ensure(in: directory, hosts: ["10.0.0.1"])
        #expect(!again.created)
        #expect(try String(contentsOfFile: files.certFile, encoding: .utf8) == String(contentsOfFile: again.certFile, encoding: .utf8))

        let server = try TLSContext(role: .server, settings: TLSSettings(
            keyPair: KeyPairFiles(certFile: files.certFile, keyFile: files.keyFile)))
        let client = try TLSContext(role: .client, settings: TLSSettings(verifyPeer: false))
        let link = try Link(client: client, server: server, serverName: "127.0.0.1")
        #expect(link.handshake() == (.done, .done))
        // A client that verifies does not trust it.
        let verifying = try TLSContext(role: .client, settings: TLSSettings(verifyPeer: true))
        let refused = try Link(client: verifying, server: server, serverName: "127.0.0.1")
        #expect(refused.handshake().client == .failed(TLSError("x509: certificate signed by unknown authority")))
    }
}

/// Hostile bytes never crash a session: random records, and real handshake messages with bytes
/// flipped, truncated or repeated, end in a refusal (or a wait for more), never in a trap.
@Suite struct TLSFuzzTests {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func randomBytesAreRefused() throws {
        let context = try Fixtures.server()
        var generator = Generator(state: 1)
        var refused = 0
        for round in 0..<500 {
            let session = try context.makeSession()
            var bytes = (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 2 == 0 { bytes[0] = 0x16 }  // looks like a handshake record
            bytes.withUnsafeBytes { session.feed($0) }
            switch session.handshake() {
            case .failed: refused += 1
            case .needsInput: break
            case .done: Issue.record("random bytes completed a handshake (round \(round))")
            }
        }
        #expect(refused > 250, "most random inputs are refused outright: \(refused)")
    }

    @Test func mutatedClientHellosAreRefusedOrWaited() throws {
        let server = try Fixtures.server()
        let client = try Fixtures.client()
        var generator = Generator(state: 2)
        var outcomes: [String: Int] = [:]
        for round in 0..<400 {
            let hello = try client.makeSession(serverName: "localhost")
            _ = hello.handshake()
            var bytes = hello.takeOutput()
            #expect(!bytes.isEmpty)
            switch round % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
            case 1:
                bytes = Array(bytes.prefix(Int.random(in: 1..<bytes.count, using: &generator)))
            case 2:
                bytes += bytes
            default:
                bytes.insert(contentsOf: (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) },
                             at: Int.random(in: 0..<bytes.count, using: &generator))
            }
            let session = try server.makeSession()
            bytes.withUnsafeBytes { session.feed($0) }
            switch session.handshake() {
            case .failed: outcomes["failed", default: 0] += 1
            case .needsInput: outcomes["waiting", default: 0] += 1
            case .done: outcomes["done", default: 0] += 1
            }
            _ = session.takeOutput()
        }
        #expect(outcomes["done"] == nil, "\(outcomes)")
        #expect((outcomes["failed"] ?? 0) > 0 && (outcomes["waiting"] ?? 0) > 0, "\(outcomes)")
    }
}
