import Foundation
import Testing

/// Auth in clusters: users and tokens made through one member work through every other (the
/// token is assigned where each member applies the Authenticate), in a cluster of ours and in
/// one shared with the reference etcd; and simple tokens live `--auth-token-ttl` seconds after
/// their last use.
@Suite(.serialized) struct AuthClusterTests {
    static let arguments = ["--bcrypt-cost", "4"]

    private func setUp(_ cluster: TestCluster, via member: Int) throws {
        let endpoint = cluster.members[member].endpoint
        for command in [["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"], ["user", "add", "alice:apw"],
                        ["role", "add", "app"], ["role", "grant-permission", "app", "readwrite", "app/", "--prefix"],
                        ["user", "grant-role", "alice", "app"], ["auth", "enable"]] {
            let result = try cluster.etcdctl(command, endpoints: endpoint)
            #expect(result.status == 0, "\(command): \(result)")
        }
    }

    private func expectEnforcedEverywhere(_ cluster: TestCluster) throws {
        #expect(cluster.waitForConvergence())
        for (index, member) in cluster.members.enumerated() {
            let put = try cluster.etcdctl(["--user", "alice:apw", "put", "app/\(index)", "v"], endpoints: member.endpoint)
            #expect(put.stdout == "OK\n", "member \(index): \(put)")
            let denied = try cluster.etcdctl(["--user", "alice:apw", "put", "other/\(index)", "v"], endpoints: member.endpoint)
            #expect(denied.stderr.contains("etcdserver: permission denied"), "member \(index): \(denied)")
            let anonymous = try cluster.etcdctl(["get", "app/", "--prefix"], endpoints: member.endpoint)
            #expect(anonymous.stderr.contains("etcdserver: user name is empty"), "member \(index): \(anonymous)")
            let list = try cluster.etcdctl(["--user", "root:rootpw", "user", "list"], endpoints: member.endpoint)
            #expect(list.stdout == "alice\nroot\n", "member \(index): \(list)")
        }
        let keys = try cluster.etcdctl(["--user", "alice:apw", "get", "app/", "--prefix", "--keys-only"])
        #expect(keys.stdout.split(separator: "\n").count == cluster.members.count, "\(keys)")
    }

    @Test func threeMembersOfOurs() throws {
        let cluster = TestCluster(size: 3, extraArguments: Self.arguments)
        try cluster.start()
        defer { cluster.stop() }
        try setUp(cluster, via: 1)
        try expectEnforcedEverywhere(cluster)
        // A restarted member still knows users and roles (tokens are in memory only).
        cluster.members[2].stop()
        try cluster.members[2].start()
        try expectEnforcedEverywhere(cluster)
    }

    @Test func sharedWithTheReference() throws {
        let reference = try #require(Binaries.referenceEtcd, "reference etcd not found")
        let cluster = TestCluster(binaries: [reference, Binaries.etcd, Binaries.etcd], extraArguments: Self.arguments)
        try cluster.start()
        defer { cluster.stop() }
        // Users made through etcd's member, used through ours, and the other way round.
        try setUp(cluster, via: 0)
        try expectEnforcedEverywhere(cluster)
    }

    /// Through the JSON gateway: authenticate, then use the token in `Authorization`. Used
    /// every second it lives on past its 2 s TTL; left alone for longer, it is refused.
    @Test func simpleTokensExpireAfterTheirTTL() throws {
        let server = ServerProcess(name: "auth-ttl", extraArguments: Self.arguments + ["--auth-token-ttl", "2"])
        try server.start()
        defer { server.stop() }
        for command in [["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"], ["auth", "enable"]] {
            #expect(try etcdctl(server, command).status == 0)
        }
        func post(_ path: String, _ body: String, token: String? = nil) throws -> String {
            try gatewayPost(server, path, body, token: token)
        }
        struct Token: Decodable { var token: String }
        let answer = try post("/v3/auth/authenticate", #"{"name":"root","password":"rootpw"}"#)
        let token = try JSONDecoder().decode(Token.self, from: Data(answer.utf8)).token
        #expect(token.range(of: #"^[A-Za-z]{16}\.[0-9]+$"#, options: .regularExpression) != nil, "\(token)")
        let wrong = try post("/v3/auth/authenticate", #"{"name":"root","password":"nope"}"#)
        #expect(wrong.contains("authentication failed, invalid user ID or password") && wrong.contains(#""code":3"#), "\(wrong)")
        for second in 0..<5 {
            let range = try post("/v3/kv/range", #"{"key":"Zm9v"}"#, token: token)
            #expect(range.contains(#""header""#) && !range.contains("error"), "second \(second): \(range)")
            sleep(1)
        }
        sleep(4)
        let late = try post("/v3/kv/range", #"{"key":"Zm9v"}"#, token: token)
        #expect(late.contains("etcdserver: invalid auth token") && late.contains(#""code":16"#), "\(late)")
        let anonymous = try post("/v3/kv/range", #"{"key":"Zm9v"}"#)
        #expect(anonymous.contains("etcdserver: user name is empty"), "\(anonymous)")
    }

    /// With `--client-cert-auth`, a client certificate without a token is the user its CN names
    /// (make_pki.sh's client is "client1"); a token, when sent, wins.
    @Test func certificateCommonNameIsTheUser() throws {
        let server = ServerProcess(name: "auth-cn", clientScheme: "https", etcdctlFlags: PKI.etcdctlFlags(),
                                   extraArguments: Self.arguments + ["--cert-file", PKI.path("member.pem"),
                                                                     "--key-file", PKI.path("member-key.pem"),
                                                                     "--trusted-ca-file", PKI.path("ca.pem"), "--client-cert-auth"])
        try server.start()
        defer { server.stop() }
        for command in [["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"], ["user", "add", "client1", "--no-password"],
                        ["role", "add", "cn"], ["role", "grant-permission", "cn", "readwrite", "cn/", "--prefix"],
                        ["user", "grant-role", "client1", "cn"], ["auth", "enable"]] {
            let result = try etcdctl(server, command)
            #expect(result.status == 0, "\(command): \(result)")
        }
        #expect(try etcdctl(server, "put", "cn/x", "by-certificate").stdout == "OK\n")
        let denied = try etcdctl(server, "put", "other", "x")
        #expect(denied.stderr.contains("etcdserver: permission denied"), "\(denied)")
        #expect(try etcdctl(server, "--user", "root:rootpw", "put", "other", "by-root").stdout == "OK\n")
        let noPassword = try etcdctl(server, "--user", "client1:x", "get", "cn/x")
        #expect(noPassword.stderr.contains("password was given for no password user"), "\(noPassword)")
    }

    /// A lease's attached keys are shown only to a caller who may read them (etcd 3.5's rule;
    /// 3.4 shows them to anyone), and the auth state survives `snapshot save` and `restore`.
    @Test func leaseKeysAndSnapshotRestore() throws {
        let server = ServerProcess(name: "auth-lease", extraArguments: Self.arguments)
        try server.start()
        defer { server.stop() }
        for command in [["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"], ["user", "add", "u:upw"],
                        ["role", "add", "mine"], ["role", "grant-permission", "mine", "readwrite", "mine/", "--prefix"],
                        ["user", "grant-role", "u", "mine"], ["auth", "enable"]] {
            #expect(try etcdctl(server, command).status == 0, "\(command)")
        }
        let grant = try etcdctl(server, "--user", "root:rootpw", "lease", "grant", "600")
        let lease = try #require(grant.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try etcdctl(server, "--user", "u:upw", "put", "mine/a", "x", "--lease=\(lease)").status == 0)
        let allowed = try etcdctl(server, "--user", "u:upw", "lease", "timetolive", lease, "--keys")
        #expect(allowed.stdout.contains("attached keys([mine/a])"), "\(allowed)")
        #expect(try etcdctl(server, "--user", "root:rootpw", "put", "theirs", "x", "--lease=\(lease)").status == 0)
        let denied = try etcdctl(server, "--user", "u:upw", "lease", "timetolive", lease, "--keys")
        #expect(denied.stderr.contains("etcdserver: permission denied"), "\(denied)")
        #expect(try etcdctl(server, "--user", "u:upw", "lease", "timetolive", lease).status == 0)

        let directory = temporaryDirectory("auth-restore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try etcdctl(server, "--user", "root:rootpw", "snapshot", "save", directory + "/backup.db").status == 0)
        let restored = ServerProcess(name: "auth-restored", dataDir: directory + "/data", extraArguments: Self.arguments)
        let restore = try run(Binaries.etcdctl, ["snapshot", "restore", directory + "/backup.db", "--data-dir", restored.dataDir,
                                                 "--name", restored.name, "--initial-cluster", restored.initialCluster,
                                                 "--initial-advertise-peer-urls", restored.advertisedPeerURL], timeout: 60)
        #expect(restore.status == 0, "\(restore)")
        try restored.start()
        defer { restored.stop() }
        #expect(try etcdctl(restored, "--user", "u:upw", "get", "mine/a", "--print-value-only").stdout == "x\n")
        let anonymous = try etcdctl(restored, "get", "mine/a")
        #expect(anonymous.stderr.contains("etcdserver: user name is empty"), "\(anonymous)")
    }
}
