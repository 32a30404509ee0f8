import Foundation
import Testing

/// One etcdctl invocation of a differential sequence.
struct Step: CustomStringConvertible {
    var arguments: [String]
    var stdin: String?
    /// For commands that run until stopped (watch, keep-alive): interrupt after this long.
    var timeout: TimeInterval?

    init(_ arguments: String..., stdin: String? = nil, timeout: TimeInterval? = nil) {
        self.init(arguments: arguments, stdin: stdin, timeout: timeout)
    }

    init(arguments: [String], stdin: String? = nil, timeout: TimeInterval? = nil) {
        self.arguments = arguments
        self.stdin = stdin
        self.timeout = timeout
    }

    var description: String { "etcdctl " + arguments.joined(separator: " ") + (stdin.map { " <<< \($0.debugDescription)" } ?? "") }
}

/// Runs the same etcdctl sequence against the reference etcd and ours, both started with the
/// same flags (so the same member and cluster IDs), and compares exit codes, stdout and stderr.
/// Only what is arbitrary is normalized: endpoints and etcdctl's client-side retry warnings,
/// which carry random client IDs.
enum Differential {
    /// Runs `steps`; a step may refer to the lease granted by an earlier `lease grant` as LEASE.
    static func compare(_ steps: [Step], name: String, extraArguments: [String] = []) throws -> [String] {
        try withServers(name: name, extraArguments: extraArguments) { theirs, ours in try compare(steps, theirs, ours) } ?? []
    }

    /// Starts the reference etcd and ours with the same flags and hands both to `body`.
    static func withServers<T>(name: String, extraArguments: [String] = [],
                               _ body: (ServerProcess, ServerProcess) throws -> T) throws -> T? {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference` (REFERENCE_ETCD)")
            return nil
        }
        // Same advertised peer URL for both: it alone (with the token) decides the IDs.
        let peerURL = "http://127.0.0.1:\(Ports.free(1)[0])"
        let theirs = ServerProcess(binary: reference, name: name, advertisedPeerURL: peerURL, extraArguments: extraArguments)
        let ours = ServerProcess(binary: Binaries.etcd, name: name, advertisedPeerURL: peerURL, extraArguments: extraArguments)
        try theirs.start()
        defer { theirs.stop() }
        try ours.start()
        defer { ours.stop() }
        return try body(theirs, ours)
    }

    static func compare(_ steps: [Step], _ theirs: ServerProcess, _ ours: ServerProcess) throws -> [String] {
        var mismatches: [String] = []
        var leases: [ObjectIdentifier: String] = [:]
        func execute(_ step: Step, on server: ServerProcess) throws -> CommandResult {
            let arguments = step.arguments.map { $0 == "LEASE" ? leases[ObjectIdentifier(server)] ?? "0" : $0 }
            let result = try etcdctl(server, arguments, stdin: step.stdin, interruptAfter: step.timeout)
            // "lease 694d7b1ca6ae0a04 granted with TTL(60s)": later steps use the ID as LEASE.
            if step.arguments.starts(with: ["lease", "grant"]), let id = result.stdout.split(separator: " ").dropFirst().first {
                leases[ObjectIdentifier(server)] = String(id)
            }
            return result
        }
        for step in steps {
            let expected = normalize(try execute(step, on: theirs), theirs)
            let actual = normalize(try execute(step, on: ours), ours)
            if expected != actual {
                mismatches.append("\(step)\n--- reference\n\(expected)\n--- ours\n\(actual)")
            }
        }
        return mismatches
    }

    static func normalize(_ result: CommandResult, _ server: ServerProcess) -> CommandResult {
        func clean(_ text: String) -> String {
            var text = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("{\"level\":\"warn\"") }
                .joined(separator: "\n")
                .replacingOccurrences(of: server.endpoint, with: "ENDPOINT")
            // Lease IDs are time-based: 16 hex digits in text, decimal in JSON and fields output.
            for (pattern, replacement) in [("\\b[0-9a-f]{16}\\b", "LEASEID"),
                                           ("(\"(ID|id|lease)\"\\s?:\\s?)[1-9][0-9]{6,}", "$1LEASEID"),
                                           ("remaining\\([0-9]+s\\)", "remaining(Ns)")] {
                text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
            }
            return text
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

    /// `endpoint hashkv` at every revision of a history with overwrites, deletes (single, prefix
    /// and inside txns, so several sub-revisions), keys put again after a delete, and
    /// compactions: etcd hashes its stored history, so equal hashes mean equal histories.
    @Test func hashKVMatchesAtEveryRevision() throws {
        var steps: [Step] = [
            Step("endpoint", "hashkv"), Step("put", "a", "1"), Step("put", "b", "2"), Step("put", "a", "3"),
            Step("put", "c", "4"), Step("del", "b"), Step("put", "b", "5"),
            Step("txn", stdin: "\nput d 6\nput e 7\ndel a\n\n\n"), Step("put", "pre/1", "x"), Step("put", "pre/2", "y"),
            Step("del", "pre/", "--prefix"), Step("put", "a", "8"), Step("put", String(repeating: "k", count: 600), "long"),
        ]
        let written = 12
        steps += (0...written + 2).map { Step("endpoint", "hashkv", "--rev=\($0)") }
        steps += [Step("compaction", "5")]
        steps += (0...written + 2).map { Step("endpoint", "hashkv", "--rev=\($0)") }
        steps += [Step("put", "c", "9"), Step("del", "d"), Step("put", "d", "10"), Step("compaction", "14"),
                  Step("-w", "json", "endpoint", "hashkv"), Step("put", "f", "11")]
        steps += (12...written + 6).map { Step("endpoint", "hashkv", "--rev=\($0)") }
        let mismatches = try Differential.compare(steps, name: "diff-hashkv")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    @Test func leases() throws {
        let steps: [Step] = [
            Step("lease", "grant", "60"), Step("put", "k1", "v1", "--lease=LEASE"), Step("put", "k2", "v2", "--lease=LEASE"),
            Step("lease", "timetolive", "LEASE"), Step("-w", "json", "lease", "timetolive", "LEASE"),
            Step("lease", "list"), Step("lease", "keep-alive", "--once", "LEASE"),
            Step("lease", "keep-alive", "LEASE", timeout: 1.5), Step("-w", "json", "lease", "keep-alive", "LEASE", timeout: 1.5),
            Step("-w", "json", "get", "k1"), Step("put", "k2", "plain"), Step("-w", "fields", "get", "k2"),
            Step("put", "k3", "v", "--lease=1234abcd"), Step("put", "k4", "v", "--lease=zz"),
            Step("lease", "revoke", "LEASE"), Step("get", "k", "--prefix"), Step("lease", "timetolive", "LEASE"),
            Step("lease", "revoke", "LEASE"), Step("lease", "keep-alive", "--once", "LEASE"),
            Step("lease", "grant", "1"), Step("-w", "json", "lease", "revoke", "LEASE"),
            Step("lease", "grant", "9000000001"), Step("lease", "timetolive", "1234abcd"), Step("lease", "list"),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-lease")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    @Test func watches() throws {
        let steps: [Step] = [
            Step("put", "w/a", "1"), Step("put", "w/b", "2"), Step("put", "w/a", "3"), Step("del", "w/b"),
            Step("txn", stdin: "\nput w/c x\nput w/d y\ndel w/a\n\n\n"),
            Step("watch", "w/a", "--rev=1", timeout: 1.5), Step("watch", "w/", "--prefix", "--rev=2", "--prev-kv", timeout: 1.5),
            Step("-w", "json", "watch", "w/", "--prefix", "--rev=1", timeout: 1.5),
            Step("-w", "fields", "watch", "w/b", "--rev=3", "--prev-kv", timeout: 1.5),
            Step("watch", "w/a", "w/c", "--rev=1", timeout: 1.5), Step("watch", "w/c", "w/a", timeout: 1.5),
            Step("watch", "--interactive", stdin: "watch w/d --rev=6\nbogus\n", timeout: 1.5),
            Step("compaction", "4"), Step("watch", "w/a", "--rev=2", timeout: 1.5),
            Step("-w", "json", "watch", "w/a", "--rev=3", timeout: 1.5), Step("watch", "w/", "--prefix", "--rev=4", timeout: 1.5),
        ]
        let mismatches = try Differential.compare(steps, name: "diff-watch")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    /// Raw Watch requests etcdctl never sends: client-chosen and duplicate IDs, empty ranges,
    /// filters, fragmented and whole replays larger than the request limit, progress requests,
    /// cancels of known and unknown IDs. Every response must match the reference etcd's.
    @Test func watchProtocol() throws {
        let transcript = try rawProtocol("watch")
        #expect(transcript.contains("fragment:true"), "the replay is large enough to fragment")
    }

    /// Periodic progress notifications (`--experimental-watch-progress-notify-interval`) go to
    /// the quiet watcher that asked for them, and only to it.
    @Test func periodicProgress() throws {
        let transcript = try rawProtocol("progress", extraArguments: ["--experimental-watch-progress-notify-interval=500ms"])
        #expect(transcript.contains("watch 3 got at least two: true; watch 4 got none: true"))
    }

    /// Raw Lease requests: client-chosen, duplicate and negative IDs, the TTL floor and ceiling,
    /// keep-alives of known and unknown leases on one stream, time-to-live with keys, revokes,
    /// and puts under known and unknown leases.
    @Test func leaseProtocol() throws {
        let transcript = try rawProtocol("lease")
        #expect(transcript.contains("etcdserver: lease already exists"))
    }

    /// Runs one `rawproto` scenario against the reference etcd and ours, expects the same
    /// transcript, and returns ours.
    private func rawProtocol(_ scenario: String, extraArguments: [String] = []) throws -> String {
        guard let tool = Binaries.goTool("rawproto") else {
            Issue.record("rawproto not built; run scripts/build-go-tools.sh .build/go-tools (GO_TOOLS)")
            return ""
        }
        let transcripts = try Differential.withServers(name: "diff-\(scenario)-protocol",
                                                       extraArguments: extraArguments) { theirs, ours in
            (try run(tool, [scenario, theirs.endpoint], timeout: 60), try run(tool, [scenario, ours.endpoint], timeout: 60))
        }
        guard let (expected, actual) = transcripts else { return "" }
        #expect(expected.status == 0, "\(expected.stderr)")
        #expect(actual.status == 0, "\(actual.stderr)")
        #expect(actual.stdout == expected.stdout, "--- reference\n\(expected.stdout)\n--- ours\n\(actual.stdout)")
        return actual.stdout
    }
}
