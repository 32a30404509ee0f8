import Foundation
import Testing

/// What a member serves, read through the stock etcdctl: compared before and after the binary
/// is swapped on a data dir.
struct ServedState: Equatable, CustomStringConvertible {
    var keyValues: [KeyValueJSON]
    var hash: UInt64
    var compactRevision: Int64
    var revision: Int64
    var memberID: UInt64
    var clusterID: UInt64
    var members: [String]
    var leases: String
    /// Maintenance.Hash: every bucket of etcd's backend but the consistent index.
    var backendHash: UInt64

    struct KeyValueJSON: Decodable, Equatable {
        var key: String
        var create_revision: Int64
        var mod_revision: Int64
        var version: Int64
        var value: String?
        var lease: Int64?
    }

    var description: String {
        "revision \(revision), backend hash \(backendHash), compact \(compactRevision), hash \(hash), \(keyValues.count) keys, member \(String(memberID, radix: 16)), "
            + "cluster \(String(clusterID, radix: 16)), members \(members), leases \(leases)"
    }

    static func read(_ endpoint: String) throws -> ServedState {
        func ctl(_ arguments: String...) throws -> String {
            let result = try run(Binaries.etcdctl, ["--endpoints=\(endpoint)"] + arguments, timeout: 30)
            guard result.status == 0 else { throw ReadError(text: "etcdctl \(arguments): \(result)") }
            return result.stdout
        }
        struct Range: Decodable { var kvs: [KeyValueJSON]? }
        struct Header: Decodable { var cluster_id: UInt64; var member_id: UInt64; var revision: Int64 }
        struct HashKV: Decodable { var HashKV: Inner; struct Inner: Decodable { var hash: UInt64; var compact_revision: Int64 } }
        struct Status: Decodable { var Status: Inner; struct Inner: Decodable { var header: Header } }
        struct Members: Decodable { var members: [Member]; struct Member: Decodable {
            var ID: UInt64; var name: String?; var peerURLs: [String]?; var clientURLs: [String]? } }
        let decoder = JSONDecoder()
        let range = try decoder.decode(Range.self, from: Data(try ctl("get", "", "--from-key", "-w", "json").utf8))
        let hash = try decoder.decode([HashKV].self, from: Data(try ctl("endpoint", "hashkv", "-w", "json").utf8))
        let status = try decoder.decode([Status].self, from: Data(try ctl("endpoint", "status", "-w", "json").utf8))
        let members = try decoder.decode(Members.self, from: Data(try ctl("member", "list", "-w", "json").utf8))
        guard let hashKV = hash.first?.HashKV, let header = status.first?.Status.header else {
            throw ReadError(text: "no hashkv or status for \(endpoint)")
        }
        struct Hash: Decodable { var hash: UInt64? }
        let hashed = try run("/usr/bin/curl", ["-s", "-X", "POST", "-d", "{}", "http://\(endpoint)/v3/maintenance/hash"], timeout: 30)
        let backendHash = try decoder.decode(Hash.self, from: Data(hashed.stdout.utf8)).hash ?? 0
        return ServedState(keyValues: range.kvs ?? [], hash: hashKV.hash, compactRevision: hashKV.compact_revision,
                           revision: header.revision, memberID: header.member_id, clusterID: header.cluster_id,
                           members: members.members.map {
                               "\(String($0.ID, radix: 16)) \($0.name ?? "") \($0.peerURLs ?? []) \($0.clientURLs ?? [])"
                           }.sorted(),
                           leases: try ctl("lease", "list"), backendHash: backendHash)
    }

    struct ReadError: Error, CustomStringConvertible { var text: String; var description: String { text } }
}

/// Our server started on data dirs etcd 3.4 wrote: the binary swapped under a member (alone,
/// and one member of a cluster at a time), a restored etcd snapshot, and a kill -9 while the
/// data is converted. The member keeps its identity and serves exactly what etcd served.
@Suite(.serialized) struct DataImportTests {
    private func reference() throws -> String {
        try #require(Binaries.referenceEtcd, "reference etcd not found; run `make reference` (REFERENCE_ETCD)")
    }

    private func fill(_ endpoint: String, keys: Int = 200) throws {
        let result = try run(Binaries.python, [Binaries.script("import_fill.py"), endpoint, String(keys)], timeout: 240)
        #expect(result.status == 0, "\(result)")
    }

    /// One etcd member with a `.snap`, WAL entries after it, a lease, deletes and a compaction;
    /// stopped, then started as ours on the same data dir.
    @Test func swappedBinaryKeepsEverything() throws {
        let server = ServerProcess(binary: try reference(), name: "swap", extraArguments: ["--snapshot-count", "50"])
        try server.start()
        defer { server.stop() }
        try fill(server.endpoint)
        // Users and roles (auth stays off): etcd's auth buckets travel as they are.
        for command in [["user", "add", "alice:secret"], ["role", "add", "r1"],
                        ["role", "grant-permission", "r1", "readwrite", "/a", "/b"], ["user", "grant-role", "alice", "r1"]] {
            #expect(try etcdctl(server, command).status == 0)
        }
        let before = try ServedState.read(server.endpoint)
        #expect(before.keyValues.count > 150 && before.compactRevision > 1, "\(before)")
        server.stop()
        let snapFiles = try FileManager.default.contentsOfDirectory(atPath: server.dataDir + "/member/snap")
        #expect(snapFiles.contains { $0.hasSuffix(".snap") }, "etcd wrote no .snap: \(snapFiles)")

        server.binary = Binaries.etcd
        try server.start()
        #expect(server.logSinceStart.contains("imported an etcd data dir"), "\(server.logSinceStart)")
        let after = try ServedState.read(server.endpoint)
        #expect(after.keyValues == before.keyValues)
        #expect(after.hash == before.hash && after.compactRevision == before.compactRevision, "\(before)\n\(after)")
        #expect(after.revision == before.revision && after.memberID == before.memberID && after.clusterID == before.clusterID,
                "\(before)\n\(after)")
        #expect(after.members == before.members && after.leases == before.leases, "\(before)\n\(after)")
        #expect(after.backendHash == before.backendHash && before.backendHash != 0, "\(before)\n\(after)")
        let ttl = try etcdctl(server, "lease", "timetolive", before.leases.split(separator: "\n").last.map(String.init) ?? "")
        #expect(ttl.stdout.contains("granted with TTL(600s)"), "\(ttl)")
        // The original files stay beside the converted member.
        let kept = server.dataDir + "/member.etcd34"
        #expect(FileManager.default.fileExists(atPath: kept + "/snap/db"))
        #expect(FileManager.default.fileExists(atPath: kept + "/wal/0000000000000000-0000000000000000.wal"))

        // It writes on, and a restart does not import again.
        #expect(try etcdctl(server, "put", "ours", "now").stdout == "OK\n")
        server.stop()
        try server.start()
        #expect(!server.logSinceStart.contains("importing an etcd data dir"))
        #expect(try etcdctl(server, "get", "ours", "--print-value-only").stdout == "now\n")
        #expect(try ServedState.read(server.endpoint).revision == before.revision + 1)
    }

    /// The same with the WAL in its own directory (`--wal-dir`): both are converted and etcd's
    /// log is kept beside the new one.
    @Test func swappedBinaryWithSeparateWALDirectory() throws {
        let walDir = temporaryDirectory("wal-dir") + "/wal"
        defer { try? FileManager.default.removeItem(atPath: (walDir as NSString).deletingLastPathComponent) }
        let server = ServerProcess(binary: try reference(), name: "swap-wal", extraArguments: ["--wal-dir", walDir])
        try server.start()
        defer { server.stop() }
        try fill(server.endpoint, keys: 50)
        let before = try ServedState.read(server.endpoint)
        server.stop()
        server.binary = Binaries.etcd
        try server.start()
        #expect(server.logSinceStart.contains("imported an etcd data dir"), "\(server.logSinceStart)")
        let after = try ServedState.read(server.endpoint)
        #expect(after == before, "\(before)\n\(after)")
        #expect(FileManager.default.fileExists(atPath: walDir + ".etcd34/0000000000000000-0000000000000000.wal"))
        #expect(!FileManager.default.fileExists(atPath: server.dataDir + "/member/wal"))
        #expect(try etcdctl(server, "put", "more", "x").status == 0)
        server.stop()
        try server.start()
        #expect(!server.logSinceStart.contains("importing an etcd data dir"))
        #expect(try etcdctl(server, "get", "more", "--print-value-only").stdout == "x\n")
    }

    /// Users etcd created (bcrypt `$2a$` hashes by Go) authenticate on ours after the swap, and
    /// auth stays on with their permissions.
    @Test func importedUsersAuthenticate() throws {
        let server = ServerProcess(binary: try reference(), name: "swap-auth", extraArguments: ["--bcrypt-cost", "4"])
        try server.start()
        defer { server.stop() }
        for command in [["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"], ["user", "add", "alice:secret"],
                        ["role", "add", "r1"], ["role", "grant-permission", "r1", "readwrite", "foo"],
                        ["user", "grant-role", "alice", "r1"], ["auth", "enable"], ["--user", "alice:secret", "put", "foo", "etcd"]] {
            let result = try etcdctl(server, command)
            #expect(result.status == 0, "\(command): \(result)")
        }
        server.stop()
        server.binary = Binaries.etcd
        try server.start()
        #expect(server.logSinceStart.contains("imported an etcd data dir"))
        #expect(try etcdctl(server, "--user", "alice:secret", "get", "foo", "--print-value-only").stdout == "etcd\n")
        #expect(try etcdctl(server, "--user", "alice:secret", "put", "foo", "ours").stdout == "OK\n")
        let wrong = try etcdctl(server, "--user", "alice:nope", "get", "foo")
        #expect(wrong.stderr.contains("authentication failed, invalid user ID or password"), "\(wrong)")
        let anonymous = try etcdctl(server, "get", "foo")
        #expect(anonymous.stderr.contains("etcdserver: user name is empty"), "\(anonymous)")
        let denied = try etcdctl(server, "--user", "alice:secret", "put", "bar", "x")
        #expect(denied.stderr.contains("etcdserver: permission denied"), "\(denied)")
        #expect(try etcdctl(server, "--user", "root:rootpw", "user", "list").stdout == "alice\nroot\n")
    }

    /// `etcdctl snapshot restore` of the reference's snapshot, started as ours: the same keys
    /// and hash (TestIssue6361's path).
    @Test func restoredEtcdSnapshotServedByOurs() throws {
        let source = ServerProcess(binary: try reference(), name: "restore-source")
        try source.start()
        defer { source.stop() }
        try fill(source.endpoint)
        let before = try ServedState.read(source.endpoint)
        let directory = temporaryDirectory("restore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/backup.db"
        #expect(try etcdctl(source, "snapshot", "save", file).status == 0)

        let restored = ServerProcess(binary: Binaries.etcd, name: "restored", dataDir: directory + "/data")
        let restore = try run(Binaries.etcdctl, ["snapshot", "restore", file, "--data-dir", restored.dataDir,
                                                 "--name", restored.name, "--initial-cluster", restored.initialCluster,
                                                 "--initial-advertise-peer-urls", restored.advertisedPeerURL], timeout: 60)
        #expect(restore.status == 0, "\(restore)")
        try restored.start()
        defer { restored.stop() }
        let after = try ServedState.read(restored.endpoint)
        #expect(after.keyValues == before.keyValues)
        #expect(after.hash == before.hash && after.revision == before.revision, "\(before)\n\(after)")
        #expect(after.leases == before.leases)
    }

    /// A cluster of three etcd members becomes ours one member at a time while the other two
    /// keep serving; every step serves writes on every member and ends with equal hashes.
    @Test func clusterConvertedOneMemberAtATime() throws {
        let cluster = TestCluster(binaries: Array(repeating: try reference(), count: 3))
        try cluster.start()
        defer { cluster.stop() }
        try fill(cluster.members[0].endpoint, keys: 100)
        for (step, member) in cluster.members.enumerated() {
            member.stop()
            // The others go on without it.
            #expect(try cluster.etcdctl(["put", "while-down/\(step)", "x"]).stdout == "OK\n")
            member.binary = Binaries.etcd
            try member.start(timeout: 30)
            #expect(member.logSinceStart.contains("imported an etcd data dir"), "step \(step)")
            #expect(cluster.waitForConvergence(), "step \(step)")
            #expect(try cluster.etcdctl(["put", "converted/\(step)", "x"], endpoints: member.endpoint).stdout == "OK\n")
            #expect(cluster.waitForConvergence(), "step \(step)")
            let states = try cluster.members.map { try ServedState.read($0.endpoint) }
            #expect(Set(states.map(\.hash)).count == 1 && Set(states.map(\.backendHash)).count == 1, "step \(step): \(states)")
            #expect(Set(states.map(\.revision)).count == 1, "step \(step): \(states)")
            #expect(states.allSatisfy { $0.keyValues == states[0].keyValues && $0.members == states[0].members })
        }
    }

    /// kill -9 at moments through the conversion of a larger data dir: every restart ends with
    /// the whole store, converted once.
    @Test func killedDuringImportRestartsWithEverything() throws {
        let source = ServerProcess(binary: try reference(), name: "import-crash")
        try source.start()
        let putload = try #require(Binaries.goTool("putload"), "putload not built; run `make test` (GO_TOOLS)")
        let load = try run(putload, ["-endpoint", source.endpoint, "-clients", "16", "-conns", "4", "-total", "20000",
                                     "-key-space-size", "20000", "-val-size", "1024"], timeout: 240)
        #expect(load.status == 0, "\(load)")
        try fill(source.endpoint, keys: 50)
        let before = try ServedState.read(source.endpoint)
        source.stop()

        var interrupted = 0
        for (round, delay) in [0, 50, 150, 400].enumerated() {
            let copy = ServerProcess(binary: Binaries.etcd, name: source.name, dataDir: temporaryDirectory("import-crash") + "/data",
                                     advertisedPeerURL: source.advertisedPeerURL, clientPort: source.clientPort)
            defer { try? FileManager.default.removeItem(atPath: (copy.dataDir as NSString).deletingLastPathComponent) }
            let copied = try run("/bin/cp", ["-a", source.dataDir, copy.dataDir], timeout: 60)
            #expect(copied.status == 0, "\(copied)")
            try copy.launch()
            usleep(useconds_t(delay * 1000))
            copy.kill9()
            try copy.start(timeout: 60)
            if copy.logSinceStart.contains("importing an etcd data dir") { interrupted += 1 }
            let after = try ServedState.read(copy.endpoint)
            #expect(after.keyValues == before.keyValues, "round \(round)")
            #expect(after.hash == before.hash && after.revision == before.revision && after.memberID == before.memberID,
                    "round \(round): \(before)\n\(after)")
            #expect(!FileManager.default.fileExists(atPath: copy.dataDir + "/member.import"), "round \(round)")
            copy.stop()
        }
        // At least one kill came before the converted member was switched in.
        #expect(interrupted > 0)
    }
}
