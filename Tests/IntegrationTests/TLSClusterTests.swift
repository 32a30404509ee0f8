import Foundation
import Testing

/// Certificates made with cfssl the way operators make them (Scripts/make_pki.sh), once per run.
enum PKI {
    static let directory: String = {
        let directory = temporaryDirectory("pki")
        let result = try? run("/bin/bash", [Binaries.script("make_pki.sh"), directory])
        precondition(result?.status == 0, "make_pki.sh failed: \(String(describing: result))")
        return directory
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Client and peer mTLS flags for a member presenting `certificate` (member or member2).
    static func memberFlags(_ certificate: String = "member") -> [String] {
        ["--cert-file", path("\(certificate).pem"), "--key-file", path("\(certificate)-key.pem"),
         "--trusted-ca-file", path("ca.pem"), "--client-cert-auth",
         "--peer-cert-file", path("\(certificate).pem"), "--peer-key-file", path("\(certificate)-key.pem"),
         "--peer-trusted-ca-file", path("ca.pem"), "--peer-client-cert-auth"]
    }

    /// etcdctl's flags for a client certificate (client, revoked, stranger) or none.
    static func etcdctlFlags(_ certificate: String? = "client") -> [String] {
        var flags = ["--cacert", path("ca.pem")]
        if let certificate { flags += ["--cert", path("\(certificate).pem"), "--key", path("\(certificate)-key.pem")] }
        return flags
    }

    static func curl(_ url: String, certificate: String? = "client", extra: [String] = []) throws -> CommandResult {
        var arguments = ["-sS", "-m", "5", "--cacert", path("ca.pem")]
        if let certificate { arguments += ["--cert", path("\(certificate).pem"), "--key", path("\(certificate)-key.pem")] }
        return try run("/usr/bin/curl", arguments + extra + [url], timeout: 10)
    }
}

/// etcdctl with explicit TLS flags and short timeouts, for refusals.
private func etcdctlRaw(_ endpoint: String, _ flags: [String], _ arguments: String...) throws -> CommandResult {
    var environment = ProcessInfo.processInfo.environment
    environment["ETCDCTL_API"] = "3"
    return try run(Binaries.etcdctl, ["--endpoints=\(endpoint)", "--dial-timeout=2s", "--command-timeout=3s"] + flags + arguments,
                   environment: environment, timeout: 20)
}

/// Waits until `server`'s log contains `text`.
private func waitForLog(_ server: ServerProcess, _ text: String, timeout: TimeInterval = 10) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if server.log.contains(text) { return true }
        usleep(50_000)
    }
    return false
}

@Suite(.serialized) struct TLSClusterTests {
    @Test func threeMembersWithClientAndPeerMutualTLS() throws {
        let cluster = TestCluster(binaries: Array(repeating: Binaries.etcd, count: 3), clientScheme: "https",
                                  peerScheme: "https", etcdctlFlags: PKI.etcdctlFlags(), extraArguments: PKI.memberFlags())
        try cluster.start()
        defer { cluster.stop() }
        for member in 0..<3 {
            let put = try cluster.etcdctl("put", "k\(member)", "v\(member)", on: member)
            #expect(put.stdout == "OK\n", "\(put)")
        }
        for member in 0..<3 {
            let get = try cluster.etcdctl(["get", "k", "--prefix", "--print-value-only"],
                                          endpoints: cluster.members[member].endpoint)
            #expect(get.stdout == "v0\nv1\nv2\n", "\(get)")
            let serializable = try cluster.etcdctl(["get", "k1", "--consistency=s", "--print-value-only"],
                                                   endpoints: cluster.members[member].endpoint)
            #expect(serializable.stdout == "v1\n")
        }
        let health = try cluster.etcdctl("endpoint", "health", "--cluster")
        #expect(health.status == 0, "\(health)")
        // etcdctl 3.4 prints health results on stderr.
        #expect((health.stdout + health.stderr).components(separatedBy: "is healthy").count - 1 == 3, "\(health)")
        let status = try cluster.etcdctl("endpoint", "status", "--cluster", "-w", "table")
        #expect(status.status == 0, "\(status)")
        #expect(status.stdout.components(separatedBy: " true |").count - 1 == 1, "one leader: \(status)")
        let members = try cluster.etcdctl("member", "list")
        #expect(members.stdout.split(separator: "\n").count == 3)
        for member in cluster.members {
            #expect(members.stdout.contains(", https://127.0.0.1:\(member.peerPort), https://127.0.0.1:\(member.clientPort), false"),
                    "\(members)")
        }
        let grant = try cluster.etcdctl("lease", "grant", "60")
        let leaseID = try #require(grant.stdout.split(separator: " ").dropFirst().first.map(String.init), "\(grant)")
        #expect(try cluster.etcdctl("lease", "timetolive", leaseID, on: 2).stdout.contains("granted with TTL(60s)"))

        let leader = try #require(cluster.waitForLeader())
        let target = (leader + 1) % 3
        let targetID = try #require(cluster.memberID(target))
        let moved = try cluster.etcdctl(["move-leader", String(targetID, radix: 16)],
                                        endpoints: cluster.members[leader].endpoint)
        #expect(moved.stdout.contains("Leadership transferred from"), "\(moved)")

        // curl over https with a client certificate.
        let curl = try PKI.curl("https://127.0.0.1:\(cluster.members[0].clientPort)/health")
        #expect(curl.stdout.contains("\"health\":\"true\""), "\(curl)")

        // A follower killed and restarted reconnects over TLS and catches up.
        let follower = (target + 1) % 3
        cluster.members[follower].kill9()
        #expect(try cluster.etcdctl("put", "while-down", "x", on: target).stdout == "OK\n")
        try cluster.members[follower].start()
        let caughtUp = try cluster.etcdctl(["get", "while-down", "--print-value-only"],
                                           endpoints: cluster.members[follower].endpoint)
        #expect(caughtUp.stdout == "x\n", "\(caughtUp)")
    }

    @Test func clientsWithoutAnAcceptableCertificateAreRefused() throws {
        let directory = temporaryDirectory("crl")
        let crl = directory + "/active.crl"
        try FileManager.default.copyItem(atPath: PKI.path("revoked.crl"), toPath: crl)
        let server = ServerProcess(name: "mtls", clientScheme: "https", etcdctlFlags: PKI.etcdctlFlags(),
                                   extraArguments: ["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("member-key.pem"),
                                                    "--trusted-ca-file", PKI.path("ca.pem"), "--client-cert-auth",
                                                    "--client-crl-file", crl])
        try server.start()
        defer { server.stop() }
        #expect(try etcdctl(server, "put", "k", "v").stdout == "OK\n")
        #expect(server.log.contains("\"msg\":\"starting with client TLS\""))
        #expect(server.log.contains("\"msg\":\"serving client traffic securely\""))

        // No client certificate.
        let bare = try etcdctlRaw(server.endpoint, PKI.etcdctlFlags(nil), "get", "k")
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("context deadline exceeded"), "\(bare)")
        #expect(waitForLog(server, "\"error\":\"tls: client didn't provide a certificate\""), "\(server.log)")

        // A certificate from another CA.
        let stranger = try etcdctlRaw(server.endpoint, PKI.etcdctlFlags("stranger"), "get", "k")
        #expect(stranger.status != 0)
        #expect(waitForLog(server, "tls: failed to verify client certificate: x509: certificate signed by unknown authority"))

        // Plain HTTP on the TLS port.
        let plain = try run("/usr/bin/curl", ["-sS", "-m", "5", "http://127.0.0.1:\(server.clientPort)/health"], timeout: 10)
        #expect(plain.status != 0 && plain.stdout.isEmpty, "\(plain)")
        #expect(waitForLog(server, "tls: first record does not look like a TLS handshake"))

        // A revoked certificate; the CRL is read again for every connection.
        let revoked = try etcdctlRaw(server.endpoint, PKI.etcdctlFlags("revoked"), "get", "k")
        #expect(revoked.status != 0)
        #expect(waitForLog(server, "revoked\""), "\(server.log)")
        #expect(server.log.contains("transport: certificate serial "))
        try FileManager.default.removeItem(atPath: crl)
        try FileManager.default.copyItem(atPath: PKI.path("empty.crl"), toPath: crl)
        let allowed = try etcdctlRaw(server.endpoint, PKI.etcdctlFlags("revoked"), "get", "k", "--print-value-only")
        #expect(allowed.stdout == "v\n", "\(allowed)")

        // The right certificate still works, over curl too.
        #expect(try PKI.curl("https://127.0.0.1:\(server.clientPort)/version").stdout.contains("\"etcdserver\":\"3.4.23\""))
        let noCurlCert = try PKI.curl("https://127.0.0.1:\(server.clientPort)/version", certificate: nil)
        #expect(noCurlCert.status != 0, "\(noCurlCert)")
    }

    @Test func aPeerWithADisallowedCertificateCannotJoin() throws {
        // n1 and n2 admit only CN etcd-member on the peer port; n3 presents other-member.
        let cluster = TestCluster(binaries: Array(repeating: Binaries.etcd, count: 3), peerScheme: "https")
        for (index, member) in cluster.members.enumerated() {
            let certificate = index == 2 ? "member2" : "member"
            member.extraArguments += ["--peer-cert-file", PKI.path("\(certificate).pem"),
                                      "--peer-key-file", PKI.path("\(certificate)-key.pem"),
                                      "--peer-trusted-ca-file", PKI.path("ca.pem"), "--peer-client-cert-auth",
                                      "--peer-cert-allowed-cn", "etcd-member"]
        }
        for member in cluster.members { try member.launch() }
        defer { cluster.stop() }
        try cluster.members[0].waitReady()
        try cluster.members[1].waitReady()
        #expect(try cluster.etcdctl(["put", "k", "v"], endpoints: cluster.members[0].endpoint).stdout == "OK\n")
        #expect(waitForLog(cluster.members[0], "\"error\":\"client certificate authentication failed\""),
                "\(cluster.members[0].log)")
        #expect(waitForLog(cluster.members[2], "remote error: tls: bad certificate"), "\(cluster.members[2].log)")
        #expect(!cluster.members[2].log.contains("\"msg\":\"published local member to cluster through raft\""))
    }

    @Test func autoTLSMakesItsCertificatesOnceAndServesTLS() throws {
        let server = ServerProcess(name: "auto", clientScheme: "https", peerScheme: "https",
                                   etcdctlFlags: ["--insecure-transport=false", "--insecure-skip-tls-verify"],
                                   extraArguments: ["--auto-tls", "--peer-auto-tls"])
        try server.start()
        #expect(try etcdctl(server, "put", "k", "v").stdout == "OK\n")
        let certificate = server.dataDir + "/fixtures/client/cert.pem"
        #expect(FileManager.default.fileExists(atPath: server.dataDir + "/fixtures/peer/key.pem"))
        let first = try String(contentsOfFile: certificate, encoding: .utf8)
        #expect(server.log.contains("\"msg\":\"created cert file\""))
        let text = try run("/usr/bin/openssl", ["x509", "-in", certificate, "-noout", "-subject", "-ext", "subjectAltName"])
        #expect(text.stdout.contains("subject=O = etcd"), "\(text)")
        #expect(text.stdout.contains("IP Address:127.0.0.1"), "\(text)")
        let curl = try run("/usr/bin/curl", ["-sS", "-k", "-m", "5", "https://127.0.0.1:\(server.clientPort)/health"], timeout: 10)
        #expect(curl.stdout.contains("\"health\":\"true\""), "\(curl)")

        #expect(server.stop() == 143)
        try server.start()
        #expect(try String(contentsOfFile: certificate, encoding: .utf8) == first, "kept across restarts")
        #expect(try etcdctl(server, "get", "k", "--print-value-only").stdout == "v\n")
        server.stop()
    }

    @Test func replacedCertificateFilesServeTheNextConnection() throws {
        let directory = temporaryDirectory("rotate")
        let manager = FileManager.default
        try manager.copyItem(atPath: PKI.path("member.pem"), toPath: directory + "/cert.pem")
        try manager.copyItem(atPath: PKI.path("member-key.pem"), toPath: directory + "/key.pem")
        let server = ServerProcess(name: "rotate", clientScheme: "https", etcdctlFlags: PKI.etcdctlFlags(),
                                   extraArguments: ["--cert-file", directory + "/cert.pem", "--key-file", directory + "/key.pem",
                                                    "--trusted-ca-file", PKI.path("ca.pem")])
        try server.start()
        defer { server.stop() }
        func subject() throws -> String {
            let result = try run("/usr/bin/openssl", ["s_client", "-connect", server.endpoint, "-CAfile", PKI.path("ca.pem"),
                                                      "-cert", PKI.path("client.pem"), "-key", PKI.path("client-key.pem")],
                                 stdin: "")
            return result.stdout.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? result.description
        }
        #expect(try subject().contains("CN = etcd-member"))
        for name in ["cert.pem", "key.pem"] { try manager.removeItem(atPath: directory + "/" + name) }
        try manager.copyItem(atPath: PKI.path("member2.pem"), toPath: directory + "/cert.pem")
        try manager.copyItem(atPath: PKI.path("member2-key.pem"), toPath: directory + "/key.pem")
        #expect(try subject().contains("CN = other-member"))
        #expect(try etcdctl(server, "put", "k", "v").stdout == "OK\n")
    }

    @Test func httpAndHttpsShareOnePort() throws {
        let port = Ports.free(1)[0]
        let urls = "http://127.0.0.1:\(port),https://127.0.0.1:\(port)"
        let server = ServerProcess(name: "both", clientPort: port, etcdctlFlags: PKI.etcdctlFlags(),
                                   extraArguments: ["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("member-key.pem"),
                                                    "--trusted-ca-file", PKI.path("ca.pem")])
        server.extraArguments += ["--listen-client-urls", urls, "--advertise-client-urls", urls]
        try server.start()
        defer { server.stop() }
        #expect(try etcdctl(server, "put", "k", "tls").stdout == "OK\n")
        let plain = try etcdctlRaw(server.endpoint, [], "get", "k", "--print-value-only")
        #expect(plain.stdout == "tls\n", "\(plain)")
        #expect(try run("/usr/bin/curl", ["-sS", "-m", "5", "http://127.0.0.1:\(port)/health"], timeout: 10).stdout
                .contains("\"health\":\"true\""))
        #expect(try PKI.curl("https://127.0.0.1:\(port)/health").stdout.contains("\"health\":\"true\""))
        #expect(server.log.contains("\"msg\":\"serving client traffic insecurely; this is strongly discouraged!\""))
        #expect(server.log.contains("\"msg\":\"serving client traffic securely\""))
    }

    @Test func startUpRefusesWhatEtcdRefuses() throws {
        func failure(_ arguments: [String], clientScheme: String = "http", peerScheme: String = "http") throws -> String {
            let server = ServerProcess(name: "bad", clientScheme: clientScheme, peerScheme: peerScheme, extraArguments: arguments)
            do {
                try server.start(timeout: 10)
                server.stop()
                return "started"
            } catch {
                return server.log
            }
        }
        #expect(try failure([], clientScheme: "https").contains(
            "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:"))
        #expect(try failure([], peerScheme: "https").contains("KeyFile and CertFile are not presented"))
        #expect(try failure(["--cipher-suites", "TLS_FOO"]).contains("unexpected TLS cipher suite \\\"TLS_FOO\\\""))
        #expect(try failure(["--cert-file", "/nonexistent.pem", "--key-file", PKI.path("member-key.pem")], clientScheme: "https")
            .contains("open /nonexistent.pem: no such file or directory"))
        #expect(try failure(["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("client-key.pem")], clientScheme: "https")
            .contains("tls: private key does not match public key"))
        #expect(try failure(["--peer-cert-file", PKI.path("member.pem"), "--peer-key-file", PKI.path("member-key.pem"),
                             "--peer-cert-allowed-cn", "a", "--peer-cert-allowed-hostname", "b"], peerScheme: "https")
            .contains("AllowedCN and AllowedHostname are mutually exclusive (cn=\\\"a\\\", hostname=\\\"b\\\")"))
    }

    @Test func mixedClusterWithTheReferenceOverPeerMutualTLS() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("the reference etcd is not installed (make reference)")
            return
        }
        let cluster = TestCluster(binaries: [Binaries.etcd, Binaries.etcd, reference], clientScheme: "https",
                                  peerScheme: "https", etcdctlFlags: PKI.etcdctlFlags(), extraArguments: PKI.memberFlags())
        try cluster.start()
        defer { cluster.stop() }
        #expect(try cluster.etcdctl("put", "from-etcd", "1", on: 2).stdout == "OK\n")
        #expect(try cluster.etcdctl("put", "from-ours", "2", on: 0).stdout == "OK\n")
        for member in 0..<3 {
            let get = try cluster.etcdctl(["get", "from-", "--prefix", "--print-value-only"],
                                          endpoints: cluster.members[member].endpoint)
            #expect(get.stdout == "1\n2\n", "\(get)")
        }
        #expect(cluster.waitForConvergence())
    }
}
