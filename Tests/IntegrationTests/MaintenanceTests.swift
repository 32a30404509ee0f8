import Foundation
import Testing

/// Defragmentation and the space quota, driven by the stock etcdctl beside the reference etcd.
@Suite struct MaintenanceTests {
    @Test func defragAnswersAsEtcdDoes() throws {
        var steps = (0..<20).map { Step("put", "k\($0 % 5)", String(repeating: "v", count: 1000 + $0)) }
        steps += [Step("compaction", "--physical", "15"), Step("defrag"), Step("-w", "json", "get", "k", "--prefix", "--keys-only"),
                  Step("put", "after", "defrag"), Step("get", "after"), Step("defrag", "--command-timeout=30s")]
        let mismatches = try Differential.compare(steps, name: "diff-defrag")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n\n"))")
    }

    /// The quota cycle an operator runs: writes fill the quota, the refusal raises NOSPACE
    /// (listed, and reported by /health), reads and deletes still work, then compact, defrag
    /// and disarm make room again. Each step prints what etcd prints; only the number of puts
    /// that fit differs (bbolt and LMDB pages differ), so the fill is reported as done.
    @Test func quotaCycleMatchesTheReference() throws {
        let quota = ["--quota-backend-bytes", "\(64 * 4096)"]
        let transcripts = try Differential.withServers(name: "quota", extraArguments: quota) { theirs, ours in
            (try quotaCycle(theirs), try quotaCycle(ours))
        }
        guard let (expected, actual) = transcripts else { return }
        #expect(!expected.isEmpty)
        for (line, (want, got)) in zip(expected, actual).enumerated() where want != got {
            Issue.record("step \(line): reference\n\(want)\nours\n\(got)")
        }
        #expect(expected.count == actual.count)
    }

    private func quotaCycle(_ server: ServerProcess) throws -> [String] {
        var transcript: [String] = []
        func step(_ arguments: String...) throws -> CommandResult {
            let result = Differential.normalize(try etcdctl(server, arguments), server)
            transcript.append("$ etcdctl \(arguments.joined(separator: " "))\n\(result)")
            return result
        }
        _ = try step("put", "first", String(repeating: "a", count: 64))
        let page = String(repeating: "b", count: 4096)
        var filled = false
        for _ in 0..<2000 {
            let result = try etcdctl(server, "put", "fill", page)
            if result.status != 0 {
                transcript.append("fill stopped: \(result.stderr.contains("etcdserver: mvcc: database space exceeded"))")
                filled = true
                break
            }
        }
        #expect(filled, "the quota never refused a put")
        // The alarm goes through the log; give it a moment to apply.
        for _ in 0..<50 where !(try etcdctl(server, "alarm", "list").stdout.contains("NOSPACE")) { usleep(100_000) }
        _ = try step("alarm", "list")
        transcript.append("health: " + (try curl("http://\(server.endpoint)/health")))
        _ = try step("put", "third", "x")
        _ = try step("get", "first")
        _ = try step("lease", "grant", "60")
        let status = try etcdctl(server, "endpoint", "status", "-w", "json")
        guard let revision = status.stdout.firstMatch(of: /"revision":(\d+)/)?.1 else {
            Issue.record("no revision in \(status)")
            return transcript
        }
        transcript.append("$ etcdctl compaction --physical REVISION\n" +
                          (try etcdctl(server, "compaction", "--physical", String(revision))).stdout
                            .replacingOccurrences(of: String(revision), with: "REVISION"))
        _ = try step("defrag")
        _ = try step("alarm", "disarm")
        _ = try step("alarm", "list")
        _ = try step("put", "fourth", String(repeating: "a", count: 64))
        _ = try step("get", "fourth", "--print-value-only")
        transcript.append("health: " + (try curl("http://\(server.endpoint)/health")))
        return transcript
    }

    private func curl(_ url: String) throws -> String {
        try run("/usr/bin/curl", ["-s", url]).stdout
    }

    /// Writes keep being acknowledged while a defragmentation copies a store with plenty of
    /// free pages, every acknowledged write is there afterwards, and the file shrinks.
    @Test func defragDuringWritesLosesNothing() throws {
        let server = ServerProcess(binary: Binaries.releaseEtcd, name: "defrag-load")
        try server.start()
        defer { server.stop() }
        let result = try run(Binaries.python, [Binaries.script("defrag_under_load.py"), server.endpoint], timeout: 240)
        #expect(result.status == 0, "\(result.stderr)")
        struct Summary: Decodable {
            var acknowledged: Int
            var missing: Int
            var during_defrag: Int
            var size_before: Int
            var size_after: Int
        }
        let summary = try result.summary(as: Summary.self)
        #expect(summary.acknowledged > 0)
        #expect(summary.missing == 0, "acknowledged writes lost")
        #expect(summary.during_defrag > 0, "writes stopped while the defragmentation ran")
        #expect(summary.size_after < summary.size_before / 2, "size \(summary.size_before) -> \(summary.size_after)")
    }
}

/// kill -9 at moments through a defragmentation: the member restarts on a complete store
/// (the old file before the switch-over, the copy after it) with nothing lost.
@Suite struct DefragCrashTests {
    @Test func killedDuringDefragRestartsWithEverything() throws {
        let server = ServerProcess(binary: Binaries.releaseEtcd, name: "defrag-crash")
        try server.start()
        defer { server.stop() }
        let fill = try run(Binaries.python, [Binaries.script("defrag_under_load.py"), server.endpoint, "fill"], timeout: 240)
        #expect(fill.status == 0, "\(fill.stderr)")
        struct Filled: Decodable { var revision: Int }
        let revision = try fill.summary(as: Filled.self).revision
        for (round, delay) in [0, 5, 20, 60, 150].enumerated() {
            let defrag = try launchEtcdctl(server, ["defrag"])
            usleep(useconds_t(delay * 1000))
            server.kill9()
            defrag.waitUntilExit()
            try server.start()
            let count = try etcdctl(server, "-w", "json", "get", "history/", "--prefix", "--keys-only")
            #expect(count.stdout.contains("\"count\":500"), "round \(round): \(count)")
            let status = try etcdctl(server, "endpoint", "status", "-w", "json")
            #expect(status.stdout.contains("\"revision\":\(revision + round)"), "round \(round): \(status)")
            #expect(try etcdctl(server, "put", "round", "\(round)").status == 0)
            #expect(!FileManager.default.fileExists(atPath: server.dataDir + "/member/snap/db.defrag"))
        }
    }
}

@Suite struct AutoCompactionProcessTests {
    /// Periodic auto-compaction with a 2 s retention: history older than about two seconds
    /// goes, with etcd's log lines; an unknown mode is refused at start-up with etcd's text.
    @Test func periodicRetentionCompactsOldHistory() throws {
        let server = ServerProcess(name: "autocompact",
                                   extraArguments: ["--auto-compaction-mode=periodic", "--auto-compaction-retention=2s"])
        try server.start()
        defer { server.stop() }
        let deadline = Date().addingTimeInterval(20)
        var n = 0
        // The first compaction is to the revision recorded at start; the second reaches writes.
        while Date() < deadline && server.log.components(separatedBy: "completed auto periodic compaction").count < 3 {
            #expect(try etcdctl(server, "put", "k", "\(n)").status == 0)
            n += 1
            usleep(100_000)
        }
        #expect(server.log.contains("\"msg\":\"starting auto periodic compaction\""))
        #expect(server.log.contains("\"compact-period\":\"2s\""))
        #expect(server.log.contains("\"msg\":\"completed auto periodic compaction\""))
        let old = try etcdctl(server, "get", "k", "--rev=2")
        #expect(old.stderr.contains("etcdserver: mvcc: required revision has been compacted"))
        #expect(try etcdctl(server, "get", "k", "--print-value-only").stdout == "\(n - 1)\n")

        let refused = try run(Binaries.etcd, ["--auto-compaction-mode=hourly", "--auto-compaction-retention=1"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("error verifying flags, unknown auto-compaction-mode \"hourly\". See 'etcd --help'."))
    }
}

@Suite struct BackendHashTests {
    /// Maintenance.Hash (through the gateway, where 3.4 routes it) hashes every bucket of the
    /// backend but consistent_index: equal answers mean our etcd-format buckets (key history,
    /// members with their published attributes, cluster version, auth, alarms, compaction
    /// marks) are byte for byte etcd's. Leases are left out: their IDs are time-based.
    @Test func hashMatchesTheReference() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference`")
            return
        }
        let steps: [[String]] = [["put", "a", "1"], ["put", "b", "2"], ["put", "a", "3"], ["del", "b"],
                                 ["txn"], ["put", "c", String(repeating: "x", count: 5000)], ["compaction", "4"],
                                 ["put", "d", "4"], ["del", "a", "z"]]
        // The members bucket holds each member's client URLs: both servers run, one after the
        // other, on the same ports.
        let port = Ports.free(1)[0]
        let answers = try [reference, Binaries.etcd].map { binary -> [String] in
            let server = ServerProcess(binary: binary, name: "hash", clientPort: port)
            try server.start()
            defer { server.stop() }
            var hashes: [String] = []
            for step in steps {
                let result = step == ["txn"]
                    ? try etcdctl(server, ["txn"], stdin: "\nput t1 a\nput t2 b\ndel t0\n\n\n")
                    : try etcdctl(server, step)
                #expect(result.status == 0, "\(step): \(result)")
                hashes.append(try run("/usr/bin/curl", ["-s", "-X", "POST", "http://\(server.endpoint)/v3/maintenance/hash",
                                                        "-d", "{}"]).stdout)
            }
            return hashes
        }
        #expect(answers[0].allSatisfy { $0.contains("\"hash\":") })
        #expect(answers[0] == answers[1])
    }
}
