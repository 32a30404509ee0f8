import Foundation
import Testing

/// Auth through the stock etcdctl against the reference etcd and ours, started alike: every
/// user, role and auth command, their refusals, and what each user may then read and write.
@Suite(.serialized) struct AuthDifferentialTests {
    static let arguments = ["--bcrypt-cost", "4"]

    @Test func usersRolesAndAuthEnable() throws {
        let steps: [Step] = [
            Step("user", "add", "root:rootpw"), Step("user", "add", "root:again"), Step("user", "add", "alice:apw"),
            Step("user", "add", "bob", "--new-user-password=bpw"), Step("user", "add", ":x"),
            Step("user", "add", "nopw", "--no-password"), Step("user", "add", "carol", "--interactive=false", stdin: "cpw\n"),
            Step("role", "add", "r1"), Step("role", "add", "r1"), Step("role", "add", "r2"), Step("role", "add", "r3"),
            Step("role", "grant-permission", "r1", "readwrite", "foo"),
            Step("role", "grant-permission", "r1", "read", "/pre/", "--prefix"),
            Step("role", "grant-permission", "r1", "write", "/w/", "--from-key"),
            Step("role", "grant-permission", "r1", "readwrite", "a", "c"),
            Step("role", "grant-permission", "r1", "READ", "a", "c"),
            Step("role", "grant-permission", "r1", "bogus", "foo"),
            Step("role", "grant-permission", "r2", "read", "k1"),
            Step("role", "grant-permission", "nosuch", "read", "x"),
            Step("role", "grant-permission", "r1", "read", "x", "--prefix", "--from-key"),
            Step("role", "get", "r1"), Step("-w", "json", "role", "get", "r1"), Step("role", "get", "nosuch"),
            Step("role", "revoke-permission", "r1", "a", "c"), Step("role", "revoke-permission", "r1", "a", "c"),
            Step("role", "revoke-permission", "r1", "/w/", "--from-key"), Step("role", "revoke-permission", "nosuch", "x"),
            Step("user", "grant-role", "alice", "r1"), Step("user", "grant-role", "alice", "r2"),
            Step("user", "grant-role", "alice", "r1"), Step("user", "grant-role", "alice", "nosuch"),
            Step("user", "grant-role", "nosuch", "r1"), Step("user", "grant-role", "carol", "r3"),
            Step("user", "get", "alice"), Step("user", "get", "alice", "--detail"), Step("-w", "json", "user", "get", "alice"),
            Step("user", "get", "nosuch"),
            Step("user", "revoke-role", "alice", "r2"), Step("user", "revoke-role", "alice", "r2"),
            Step("user", "list"), Step("role", "list"), Step("-w", "json", "user", "list"), Step("-w", "json", "role", "list"),
            Step("user", "passwd", "bob", "--interactive=false", stdin: "newpw\n"), Step("user", "passwd", "nosuch", "--interactive=false", stdin: "x\n"),
            Step("user", "delete", "nosuch"), Step("role", "delete", "r3"), Step("user", "get", "carol"), Step("role", "list"),
            Step("auth", "enable"),
            Step("user", "grant-role", "root", "root"), Step("auth", "enable"), Step("auth", "enable"),
            Step("put", "foo", "anonymous"), Step("get", "foo"),
            Step("--user", "alice:apw", "put", "foo", "v1"), Step("--user", "alice:apw", "get", "foo"),
            Step("--user", "alice:apw", "put", "zzz", "v"), Step("--user", "alice:apw", "get", "zzz"),
            Step("--user", "alice:apw", "get", "/pre/x"), Step("--user", "alice:apw", "get", "/pre/", "--prefix"),
            Step("--user", "alice:apw", "put", "/pre/x", "v"), Step("--user", "alice:apw", "get", "/", "--prefix"),
            Step("--user", "alice:wrong", "get", "foo"), Step("--user", "nosuch:x", "get", "foo"),
            Step("--user", "bob:bpw", "get", "foo"), Step("--user", "bob:newpw", "get", "foo"),
            Step("--user", "alice:apw", "user", "list"), Step("--user", "alice:apw", "user", "get", "alice"),
            Step("--user", "alice:apw", "user", "get", "bob"), Step("--user", "alice:apw", "role", "get", "r1"),
            Step("--user", "alice:apw", "role", "get", "root"), Step("--user", "alice:apw", "role", "add", "r9"),
            Step("--user", "root:rootpw", "user", "delete", "root"), Step("--user", "root:rootpw", "role", "delete", "root"),
            Step("--user", "root:rootpw", "user", "revoke-role", "root", "root"),
            Step("--user", "root:rootpw", "put", "zzz", "root-writes"), Step("--user", "root:rootpw", "get", "zzz"),
            Step("--user", "alice:apw", "del", "foo"), Step("--user", "alice:apw", "del", "zzz"),
            Step("--user", "alice:apw", "txn", stdin: "\nput foo t1\n\n"),
            Step("--user", "alice:apw", "txn", stdin: "\nput foo t2\n\nput zzz t3\n"),
            Step("--user", "alice:apw", "compaction", "2"), Step("--user", "alice:apw", "endpoint", "hashkv"),
            Step("--user", "alice:apw", "defrag"), Step("--user", "root:rootpw", "endpoint", "hashkv"),
            Step("--user", "alice:apw", "member", "list"), Step("--user", "alice:apw", "alarm", "list"),
            Step("--user", "root:rootpw", "auth", "disable"), Step("get", "foo"), Step("auth", "disable"),
            Step("user", "delete", "root"), Step("auth", "enable"),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-auth", extraArguments: Self.arguments)
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    /// Leases and watches under auth: a revoke needs write permission on the lease's keys; a
    /// watcher needs read permission on its range.
    @Test func leasesAndWatchesUnderAuth() throws {
        let steps: [Step] = [
            Step("user", "add", "root:rootpw"), Step("user", "grant-role", "root", "root"),
            Step("user", "add", "u:upw"), Step("role", "add", "rw"), Step("role", "grant-permission", "rw", "readwrite", "mine/", "--prefix"),
            Step("user", "grant-role", "u", "rw"), Step("auth", "enable"),
            Step("--user", "root:rootpw", "lease", "grant", "60"),
            Step("--user", "root:rootpw", "put", "theirs", "x", "--lease=LEASE"),
            Step("--user", "u:upw", "lease", "revoke", "LEASE"),
            Step("--user", "u:upw", "put", "mine/a", "x", "--lease=LEASE"),
            Step("--user", "u:upw", "watch", "mine/a", "--rev=1", timeout: 2),
            Step("--user", "u:upw", "watch", "theirs", "--rev=1", timeout: 2),
            Step("--user", "root:rootpw", "lease", "revoke", "LEASE"),
            Step("--user", "u:upw", "get", "mine/", "--prefix"),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-auth-lease", extraArguments: Self.arguments)
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    /// JWT tokens (`--auth-token jwt,...`, the same RSA keys on both): the usual transcript
    /// answers the same, and a token either server signs is accepted by the other; an auth
    /// change makes the old token's revision stale.
    @Test func jwtTokensAreEtcds() throws {
        let directory = temporaryDirectory("jwt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = directory + "/priv.pem", publicKey = directory + "/pub.pem"
        #expect(try run("/usr/bin/openssl", ["genrsa", "-out", key, "2048"], timeout: 60).status == 0)
        #expect(try run("/usr/bin/openssl", ["rsa", "-in", key, "-pubout", "-out", publicKey], timeout: 60).status == 0)
        let arguments = Self.arguments + ["--auth-token", "jwt,pub-key=\(publicKey),priv-key=\(key),sign-method=RS256,ttl=10m"]
        let setup: [Step] = [
            Step("user", "add", "root:rootpw"), Step("user", "grant-role", "root", "root"), Step("user", "add", "u:upw"),
            Step("role", "add", "r"), Step("role", "grant-permission", "r", "readwrite", "k"), Step("user", "grant-role", "u", "r"),
            Step("auth", "enable"), Step("--user", "u:upw", "put", "k", "v"), Step("--user", "u:upw", "get", "k"),
            Step("--user", "u:upw", "put", "other", "v"), Step("--user", "u:wrong", "get", "k"),
        ]
        _ = try Differential.withServers(name: "diff-auth-jwt", extraArguments: arguments) { theirs, ours in
            let mismatches = try Differential.compare(setup, theirs, ours)
            #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
            struct Token: Decodable { var token: String }
            func token(_ server: ServerProcess) throws -> String {
                let answer = try gatewayPost(server, "/v3/auth/authenticate", #"{"name":"u","password":"upw"}"#)
                return try JSONDecoder().decode(Token.self, from: Data(answer.utf8)).token
            }
            let theirToken = try token(theirs), ourToken = try token(ours)
            #expect(ourToken.split(separator: ".").count == 3)
            for (server, token) in [(ours, theirToken), (theirs, ourToken)] {
                let range = try gatewayPost(server, "/v3/kv/range", #"{"key":"aw=="}"#, token: token)
                #expect(range.contains(#""kvs""#), "\(range)")
            }
            // Any auth change leaves older tokens behind.
            #expect(try etcdctl(ours, "--user", "root:rootpw", "role", "add", "later").status == 0)
            let stale = try gatewayPost(ours, "/v3/kv/range", #"{"key":"aw=="}"#, token: ourToken)
            #expect(stale.contains("etcdserver: revision of auth store is old"), "\(stale)")
        }
    }

    /// The permission matrix: read, write and readwrite, each on a key, a prefix and from a key
    /// on; every KV operation by each user allowed or refused exactly as the reference decides.
    @Test func permissionMatrix() throws {
        var steps: [Step] = [Step("user", "add", "root:rootpw"), Step("user", "grant-role", "root", "root")]
        let ranges: [(name: String, grant: [String])] = [("key", ["m/k"]), ("prefix", ["m/p/", "--prefix"]),
                                                         ("fromkey", ["m/f", "--from-key"])]
        var users: [String] = []
        for type in ["read", "write", "readwrite"] {
            for range in ranges {
                let name = "\(type)-\(range.name)"
                users.append(name)
                steps += [Step("user", "add", "\(name):pw"), Step("role", "add", name),
                          Step(arguments: ["role", "grant-permission", name, type] + range.grant),
                          Step("user", "grant-role", name, name)]
            }
        }
        steps += [Step("auth", "enable"), Step("--user", "root:rootpw", "put", "m/k", "seed"),
                  Step("--user", "root:rootpw", "put", "m/p/a", "seed")]
        let operations: [[String]] = [
            ["get", "m/k"], ["get", "m/p/a"], ["get", "m/p/", "--prefix"], ["get", "m/fz"], ["get", "m/f", "--from-key"],
            ["get", "m/", "--prefix"], ["get", "m/k", "--consistency=s"], ["put", "m/k", "v"], ["put", "m/p/a", "v"],
            ["put", "m/fz", "v"], ["put", "zz", "v"], ["put", "m/k", "v2", "--prev-kv"], ["del", "m/p/", "--prefix"],
            ["del", "m/fz", "--prev-kv"], ["del", "m/k"],
        ]
        for user in users {
            for operation in operations {
                steps.append(Step(arguments: ["--user", "\(user):pw"] + operation))
            }
            steps.append(Step("--user", "\(user):pw", "txn", stdin: "value(\"m/k\") = \"v\"\n\nput m/k t\n\nget m/k\n"))
            steps.append(Step("--user", "\(user):pw", "txn", stdin: "\nget m/p/ --prefix\n\n"))
        }
        let mismatches = try Differential.compare(steps, name: "diff-auth-matrix", extraArguments: Self.arguments)
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }
}
