import Foundation
import Testing

/// The stock etcdctl against our server: the outputs users see.
@Suite(.serialized) struct KVThroughEtcdctlTests {
    @Test func putGetDeleteShowRevisionsAndVersions() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        #expect(try etcdctl(server, "put", "foo", "bar").stdout == "OK\n")
        #expect(try etcdctl(server, "put", "foo", "baz", "--prev-kv").stdout == "OK\nfoo\nbar\n")
        #expect(try etcdctl(server, "get", "foo").stdout == "foo\nbaz\n")
        #expect(try etcdctl(server, "get", "foo", "--rev=2").stdout == "foo\nbar\n")
        let json = try etcdctl(server, "get", "foo", "-w", "json").stdout
        #expect(json.contains("\"revision\":3,\"raft_term\":2},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":2,\"mod_revision\":3,\"version\":2,\"value\":\"YmF6\"}],\"count\":1}"))
        #expect(try etcdctl(server, "del", "foo").stdout == "1\n")
        #expect(try etcdctl(server, "del", "foo").stdout == "0\n")
        #expect(try etcdctl(server, "get", "foo").stdout == "")
        let missing = try etcdctl(server, "put", "nokey", "--ignore-value")
        #expect(missing.status == 1)
        #expect(missing.stderr.hasSuffix("Error: etcdserver: key not found\n"))
    }

    @Test func rangeOptions() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        for (k, v) in [("k3", "c"), ("k1", "a"), ("k2", "b"), ("k3", "c2"), ("l1", "x")] {
            _ = try etcdctl(server, "put", k, v)
        }
        #expect(try etcdctl(server, "get", "k", "--prefix", "--keys-only").stdout == "k1\n\nk2\n\nk3\n\n")
        #expect(try etcdctl(server, "get", "k", "--prefix", "--limit=2", "--print-value-only").stdout == "a\nb\n")
        #expect(try etcdctl(server, "get", "k", "--prefix", "--sort-by=VERSION", "--order=DESCEND", "--print-value-only").stdout
                == "c2\na\nb\n")
        #expect(try etcdctl(server, "get", "k2", "--from-key", "--keys-only").stdout == "k2\n\nk3\n\nl1\n\n")
        #expect(try etcdctl(server, "get", "k1", "k3", "--print-value-only").stdout == "a\nb\n")
        let json = try etcdctl(server, "get", "k", "--prefix", "--limit=1", "-w", "json").stdout
        #expect(json.contains("\"more\":true,\"count\":3"))
        let future = try etcdctl(server, "get", "k1", "--rev=100")
        #expect(future.stderr.hasSuffix("Error: etcdserver: mvcc: required revision is a future revision\n"))
    }

    @Test func txnBranchesAndCompaction() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        _ = try etcdctl(server, "put", "foo", "bar")   // rev 2
        _ = try etcdctl(server, "put", "foo", "baz")   // rev 3
        let success = try etcdctl(server, ["txn"], stdin: "value(\"foo\") = \"baz\"\n\nput tk tv\nget foo\n\nput tk failed\n\n")
        #expect(success.stdout == "SUCCESS\n\nOK\n\nfoo\nbaz\n")
        let failure = try etcdctl(server, ["txn"], stdin: "version(\"foo\") > \"5\"\n\nput tk x\n\nget tk\n\n")
        #expect(failure.stdout == "FAILURE\n\ntk\ntv\n")
        let duplicate = try etcdctl(server, ["txn"], stdin: "\nput a 1\nput a 2\n\n\n")
        #expect(duplicate.stderr.hasSuffix("Error: etcdserver: duplicate key given in txn request\n"))
        #expect(try etcdctl(server, "compaction", "3").stdout == "compacted revision 3\n")
        let compacted = try etcdctl(server, "get", "foo", "--rev=2")
        #expect(compacted.stderr.hasSuffix("Error: etcdserver: mvcc: required revision has been compacted\n"))
        #expect(try etcdctl(server, "compaction", "--physical", "4").stdout == "compacted revision 4\n")
        let again = try etcdctl(server, "compaction", "4")
        #expect(again.stderr.hasSuffix("Error: etcdserver: mvcc: required revision has been compacted\n"))
    }

    @Test func oversizedRequestsAreRefused() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        let big = String(repeating: "v", count: 1_677_721)
        let tooLarge = try etcdctl(server, ["put", "big"], stdin: big)
        #expect(tooLarge.stderr.hasSuffix("Error: etcdserver: request is too large\n"))
        let fits = String(repeating: "v", count: 1_572_764)
        #expect(try etcdctl(server, ["put", "big"], stdin: fits).stdout == "OK\n")
        var ops = ""
        for i in 0..<129 { ops += "put k\(i) v\n" }
        let tooMany = try etcdctl(server, ["txn"], stdin: "\n" + ops + "\n\n")
        #expect(tooMany.stderr.hasSuffix("Error: etcdserver: too many operations in txn request\n"))
    }

    @Test func endpointStatusAndMemberList() throws {
        let server = ServerProcess(name: "infra0")
        try server.start()
        defer { server.stop() }
        let health = try etcdctl(server, "endpoint", "health")
        #expect(health.status == 0)
        #expect(health.stderr.contains("is healthy: successfully committed proposal"))
        let members = try etcdctl(server, "member", "list")
        #expect(members.stdout.contains(", started, infra0, \(server.advertisedPeerURL), \(server.clientURL), false"))
        let status = try etcdctl(server, "endpoint", "status")
        #expect(status.stdout.contains("3.4.23"))
        #expect(status.stdout.contains(", true, false, 2, "))
    }
}
