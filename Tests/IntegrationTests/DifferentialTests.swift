import Foundation
import Testing

/// One etcdctl invocation of a differential sequence.
struct Step: CustomStringConvertible {
    var arguments: [String]
    var stdin: String?

    init(_ arguments: String..., stdin: String? = nil) {
        self.arguments = arguments
        self.stdin = stdin
    }

    var description: String { "etcdctl " + arguments.joined(separator: " ") + (stdin.map { " <<< \($0.debugDescription)" } ?? "") }
}

/// Runs the same etcdctl sequence against the reference etcd and ours, both started with the
/// same flags (so the same member and cluster IDs), and compares exit codes, stdout and stderr.
/// Only what is arbitrary is normalized: endpoints and etcdctl's client-side retry warnings,
/// which carry random client IDs.
enum Differential {
    static func compare(_ steps: [Step], name: String) throws -> [String] {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference` (REFERENCE_ETCD)")
            return []
        }
        // Same advertised peer URL for both: it alone (with the token) decides the IDs.
        let peerURL = "http://127.0.0.1:\(Ports.free(1)[0])"
        let theirs = ServerProcess(binary: reference, name: name, advertisedPeerURL: peerURL)
        let ours = ServerProcess(binary: Binaries.etcd, name: name, advertisedPeerURL: peerURL)
        try theirs.start()
        defer { theirs.stop() }
        try ours.start()
        defer { ours.stop() }
        var mismatches: [String] = []
        for step in steps {
            let expected = normalize(try etcdctl(theirs, step.arguments, stdin: step.stdin), theirs)
            let actual = normalize(try etcdctl(ours, step.arguments, stdin: step.stdin), ours)
            if expected != actual {
                mismatches.append("\(step)\n--- reference\n\(expected)\n--- ours\n\(actual)")
            }
        }
        return mismatches
    }

    static func normalize(_ result: CommandResult, _ server: ServerProcess) -> CommandResult {
        func clean(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("{\"level\":\"warn\"") }
                .joined(separator: "\n")
                .replacingOccurrences(of: server.endpoint, with: "ENDPOINT")
        }
        return CommandResult(status: result.status, stdout: clean(result.stdout), stderr: clean(result.stderr))
    }
}

@Suite(.serialized) struct DifferentialTests {
    @Test func putAndGet() throws {
        let steps: [Step] = [
            Step("put", "foo", "bar"), Step("put", "foo", "bar2", "--prev-kv"), Step("put", "foo", "--ignore-value"),
            Step("put", "foo", "--ignore-value", "--prev-kv"), Step("put", "foo", "bar3", "--ignore-lease"),
            Step("put", "nokey", "--ignore-value"), Step("put", "nokey2", "somevalue", "--ignore-lease"),
            Step("put", "foo"), Step("put", "stdinkey", stdin: "from-stdin"), Step("put", "foo", "v1", "v2", "--ignore-value"),
            Step("put", "--", "foo", "-dashvalue"), Step("-w", "json", "put", "foo", "bar5"),
            Step("-w", "json", "put", "foo", "bar6", "--prev-kv"), Step("-w", "fields", "put", "foo", "bar7"),
            Step("-w", "fields", "put", "foo", "bar8", "--prev-kv"), Step("-w", "protobuf", "put", "foo", "bar9"),
            Step("-w", "protobuf", "put", "foo", "bar10", "--prev-kv"), Step("put", "", "emptykey"),
            Step("put", "k3", "v-c"), Step("put", "k1", "v-a"), Step("put", "k2", "v-b"), Step("put", "k3", "v-c2"),
            Step("put", "k3", "v-c3"), Step("put", "k2", "v-b2"), Step("put", "k10", "v-j"), Step("put", "l1", "v-l"),
            Step("put", "bin\u{01}key", "hexval"),
            Step("get", "foo"), Step("get", "missing"), Step("get", "k", "--prefix"), Step("get", "k1", "--from-key"),
            Step("get", "k1", "k3"), Step("get", "k", "--prefix", "--limit=2"), Step("get", "k", "--prefix", "--order=DESCEND"),
            Step("get", "k", "--prefix", "--sort-by=VERSION"), Step("get", "k", "--prefix", "--sort-by=VERSION", "--order=DESCEND"),
            Step("get", "k", "--prefix", "--sort-by=CREATE", "--order=DESCEND"), Step("get", "k", "--prefix", "--sort-by=MODIFY"),
            Step("get", "k", "--prefix", "--sort-by=VALUE", "--order=DESCEND"), Step("get", "k", "--prefix", "--sort-by=BOGUS"),
            Step("get", "foo", "--rev=2"), Step("get", "foo", "--rev=3"), Step("get", "foo", "--rev=100000"),
            Step("get", "k", "--prefix", "--keys-only"), Step("get", "k", "--prefix", "--print-value-only"),
            Step("get", "foo", "--consistency=s"), Step("--hex", "get", "bin\u{01}key"), Step("get", "", "--from-key", "--keys-only"),
            Step("-w", "json", "get", "k", "--prefix", "--limit=2"), Step("-w", "json", "get", "missing"),
            Step("-w", "fields", "get", "k", "--prefix", "--limit=2"), Step("-w", "protobuf", "get", "k1"),
            Step("-w", "table", "get", "k1"),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-put-get")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    @Test func deleteTxnAndCompaction() throws {
        let steps: [Step] = [
            Step("put", "d1", "x"), Step("put", "d2", "y"), Step("put", "dd3", "z"), Step("del", "missing"),
            Step("del", "d1"), Step("del", "d", "--prefix", "--prev-kv"), Step("put", "z1", "a"), Step("put", "z2", "b"),
            Step("del", "z", "--from-key"), Step("put", "r1", "a"), Step("put", "r2", "b"), Step("put", "r3", "c"),
            Step("del", "r1", "r3"), Step("get", "r", "--prefix"), Step("-w", "json", "del", "missing"),
            Step("put", "j1", "a"), Step("-w", "json", "del", "j1", "--prev-kv"), Step("put", "p1", "a"),
            Step("-w", "protobuf", "del", "p1"), Step("del"),
            Step("put", "foo", "bar"), Step("put", "tk", "tv"),
            Step("txn", stdin: "value(\"foo\") = \"bar\"\n\nput tk tv2\nget foo\n\nput tk failed\n\n"),
            Step("txn", stdin: "value(\"foo\") != \"bar\"\n\nput tk nope\n\nget tk\ndel nosuchkey\n\n"),
            Step("txn", stdin: "ver(\"foo\") > \"1\"\nversion(\"tk\") = \"2\"\n\nget tk\n\n\n"),
            Step("txn", stdin: "create(\"foo\") < \"30\"\nc(\"tk\") > \"0\"\n\nget foo\n\n\n"),
            Step("txn", stdin: "mod(\"foo\") != \"0\"\nm(\"tk\") = \"1\"\n\nget foo\n\nget tk\n\n"),
            Step("txn", stdin: "value(\"missingkey\") = \"\"\n\nput created-by-txn x\n\n\n"),
            Step("txn", stdin: "version(\"missingkey\") = \"0\"\n\nget missingkey\n\n\n"),
            Step("put", "t2", "old2"), Step("put", "t3", "old3"),
            Step("txn", stdin: "\nput t1 a\nput t2 b --prev-kv\ndel t3 --prev-kv\nget t --prefix\n\n\n"),
            Step("txn", stdin: "\nput t1 a\nput t2 b --prev-kv\ndel t1 --prev-kv\nget t --prefix\n\n\n"),
            Step("txn", stdin: "\n\n\n"), Step("txn", stdin: "\nput a1 1\nput a1 2\n\n\n"),
            Step("txn", stdin: "\nput b1 1\ndel b1\n\n\n"),
            Step("-w", "json", "txn", stdin: "value(\"foo\") = \"bar\"\n\nput tk tv3 --prev-kv\nget foo\ndel nosuch\n\n\n"),
            Step("-w", "fields", "txn", stdin: "value(\"foo\") = \"bar\"\n\nput tk tv4 --prev-kv\nget foo\ndel nosuch\n\n\n"),
            Step("-w", "protobuf", "txn", stdin: "value(\"foo\") = \"bar\"\n\nput tk tv5\n\n\n"),
            Step("get", "foo", "-w", "json"), Step("compaction", "3"), Step("compaction", "3"), Step("compaction", "2"),
            Step("compaction", "--physical", "5"), Step("compaction", "100000"), Step("get", "foo", "--rev=4"),
            Step("get", "foo", "--rev=5"), Step("-w", "json", "compaction", "6"),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-del-txn")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }
}
