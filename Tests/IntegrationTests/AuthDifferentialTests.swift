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
}
