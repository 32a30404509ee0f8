import Foundation
import Testing

/// The process as tools see it: flags, environment, logs, signals, restarts, HTTP endpoints.
@Suite(.serialized) struct ProcessTests {
    @Test func versionAndFlagErrors() throws {
        let version = try run(Binaries.etcd, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("etcd Version: 3.4.23\n"))
        let unknown = try run(Binaries.etcd, ["--nosuch"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("flag provided but not defined: -nosuch\nUsage:\n"))
        let positional = try run(Binaries.etcd, ["foo"])
        #expect(positional.status == 1)
        #expect(positional.stderr.hasSuffix("E | etcdmain: error verifying flags, 'foo' is not a valid flag. See 'etcd --help'.\n"))
        let badValue = try run(Binaries.etcd, ["--max-txn-ops", "abc"])
        #expect(badValue.status == 2)
        #expect(badValue.stderr.hasPrefix("invalid value \"abc\" for flag -max-txn-ops: parse error\n"))
        var environment = ProcessInfo.processInfo.environment
        environment["ETCD_NAME"] = "x"
        let conflict = try run(Binaries.etcd, ["--name=y"], environment: environment)
        #expect(conflict.status == 1)
        #expect(conflict.stderr.contains("conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line flag"))
        let unsupported = try run(Binaries.etcd, ["--discovery=https://discovery.etcd.io/x"])
        #expect(unsupported.status == 1)
        #expect(unsupported.stderr.contains("--discovery is not supported by this server yet"))
    }

    @Test func environmentVariablesConfigure() throws {
        let ports = Ports.free(1)
        let dir = temporaryDirectory("env")
        var environment = ProcessInfo.processInfo.environment
        environment["ETCD_NAME"] = "envname"
        environment["ETCD_DATA_DIR"] = dir + "/d"
        environment["ETCD_LISTEN_CLIENT_URLS"] = "http://127.0.0.1:\(ports[0])"
        environment["ETCD_ADVERTISE_CLIENT_URLS"] = "http://127.0.0.1:\(ports[0])"
        environment["ETCD_LISTEN_PEER_URLS"] = "http://127.0.0.1:\(ports[0] + 1)"
        environment["ETCD_INITIAL_ADVERTISE_PEER_URLS"] = "http://127.0.0.1:\(ports[0] + 1)"
        environment["ETCD_INITIAL_CLUSTER"] = "envname=http://127.0.0.1:\(ports[0] + 1)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.etcd)
        process.environment = environment
        let logPath = dir + "/log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        defer {
            process.terminate()
            let deadline = Date().addingTimeInterval(15)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(15)
        var log = ""
        while Date() < deadline, !log.contains("ready to serve client requests") {
            usleep(50_000)
            log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        #expect(log.contains("I | pkg/flags: recognized and used environment variable ETCD_NAME=envname"))
        let members = try run(Binaries.etcdctl, ["--endpoints=127.0.0.1:\(ports[0])", "member", "list"])
        #expect(members.stdout.contains(", started, envname, "))
    }

    @Test func restartKeepsDataAndStartsNewTerm() throws {
        let server = ServerProcess()
        try server.start()
        for i in 0..<20 { _ = try etcdctl(server, "put", "key\(i)", "value\(i)") }
        #expect(try etcdctl(server, "get", "key5", "-w", "json").stdout.contains("\"raft_term\":2"))
        #expect(server.stop() == 143, "etcd dies by the SIGTERM it received")
        try server.start()
        defer { server.stop() }
        let after = try etcdctl(server, "get", "key", "--prefix", "--keys-only", "-w", "json").stdout
        #expect(after.contains("\"revision\":21,\"raft_term\":3}"))
        #expect(after.contains("\"count\":20"))
        #expect(try etcdctl(server, "put", "key0", "again", "-w", "json").stdout.contains("\"revision\":22,\"raft_term\":3"))
        #expect(try etcdctl(server, "get", "key0", "--print-value-only").stdout == "again\n")
    }

    @Test func httpEndpoints() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        let health = try run("/usr/bin/curl", ["-s", "-i", "\(server.clientURL)/health"])
        #expect(health.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(health.stdout.hasSuffix("\r\n\r\n{\"health\":\"true\"}"))
        let version = try run("/usr/bin/curl", ["-s", "\(server.clientURL)/version"])
        #expect(version.stdout == "{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}")
        let missing = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(server.clientURL)/nope"])
        #expect(missing.stdout == "404")
        let metrics = try run("/usr/bin/curl", ["-s", "\(server.clientURL)/metrics"])
        #expect(metrics.stdout.contains("etcd_server_has_leader 1"))
    }

    @Test func logsTheLinesToolsWaitFor() throws {
        let server = ServerProcess()
        try server.start()
        server.stop()
        let log = server.log
        for line in ["enabled capabilities for version", "published local member to cluster through raft",
                     "ready to serve client requests", "\"msg\":\"received signal; shutting down\""] {
            #expect(log.contains(line), "missing: \(line)")
        }
    }

    /// A data dir written by the first release (one member, no Raft: the log began with the
    /// member itself as an encoded Member) starts, with its keys, compaction and lease.
    @Test func dataDirOfTheFirstReleaseStarts() throws {
        let fixture = Binaries.script("../Fixtures/first-release-data-dir")
        let dataDir = temporaryDirectory("legacy") + "/legacy.etcd"
        try FileManager.default.copyItem(atPath: fixture, toPath: dataDir)
        let lease = try String(contentsOfFile: fixture + "/LEASE", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let server = ServerProcess(name: "legacy", dataDir: dataDir)
        try server.start()
        defer { server.stop() }
        let keys = try etcdctl(server, "get", "legacy/", "--prefix", "--keys-only")
        #expect(keys.stdout.split(separator: "\n").count == 20, "\(keys)")  // k1...k19 and leased
        #expect(try etcdctl(server, "get", "legacy/k7", "--print-value-only").stdout == "v7\n")
        #expect(try etcdctl(server, "get", "legacy/k20").stdout.isEmpty)
        #expect(try etcdctl(server, "get", "legacy/k1", "--rev=4").stderr.contains("required revision has been compacted"))
        #expect(try etcdctl(server, "lease", "timetolive", lease, "--keys").stdout.contains("attached keys([legacy/leased])"))
        let members = try etcdctl(server, "member", "list")
        #expect(members.stdout.contains(", started, legacy, "), "\(members)")
        #expect(members.stdout.contains(server.clientURL), "the member republished its client URL")
        #expect(try etcdctl(server, "put", "legacy/after", "upgrade").stdout == "OK\n")
        #expect(server.stop() == 143)
        try server.start()
        #expect(try etcdctl(server, "get", "legacy/after", "--print-value-only").stdout == "upgrade\n")
    }
}
