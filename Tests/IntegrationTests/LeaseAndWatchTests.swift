import Foundation
import Testing

/// Leases and watches through the stock etcdctl.
@Suite(.serialized) struct LeaseAndWatchTests {
    /// "lease 694d7b1ca6ae0a04 granted with TTL(60s)" → the ID.
    func grant(_ server: ServerProcess, ttl: Int) throws -> String {
        let out = try etcdctl(server, "lease", "grant", "\(ttl)").stdout
        let parts = out.split(separator: " ")
        #expect(parts.count >= 2 && out.hasSuffix("granted with TTL(\(ttl)s)\n"), "\(out)")
        return parts.count >= 2 ? String(parts[1]) : ""
    }

    @Test func leaseLifecycle() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        let id = try grant(server, ttl: 60)
        #expect(try etcdctl(server, "put", "k1", "v1", "--lease=\(id)").stdout == "OK\n")
        #expect(try etcdctl(server, "put", "k2", "v2", "--lease=\(id)").stdout == "OK\n")
        let ttl = try etcdctl(server, "lease", "timetolive", id, "--keys").stdout
        #expect(ttl.hasPrefix("lease \(id) granted with TTL(60s), remaining("))
        #expect(ttl.hasSuffix("attached keys([k1 k2])\n"))
        #expect(try etcdctl(server, "lease", "list").stdout == "found 1 leases\n\(id)\n")
        #expect(try etcdctl(server, "lease", "keep-alive", "--once", id).stdout == "lease \(id) keepalived with TTL(60)\n")
        // A put without the lease detaches the key.
        _ = try etcdctl(server, "put", "k2", "v3")
        #expect(try etcdctl(server, "lease", "timetolive", id, "--keys").stdout.hasSuffix("attached keys([k1])\n"))
        #expect(try etcdctl(server, "lease", "revoke", id).stdout == "lease \(id) revoked\n")
        #expect(try etcdctl(server, "get", "k", "--prefix", "--keys-only").stdout == "k2\n\n")
        #expect(try etcdctl(server, "lease", "timetolive", id).stdout == "lease \(id) already expired\n")
        let unknown = try etcdctl(server, "put", "x", "y", "--lease=123")
        #expect(unknown.stderr.hasSuffix("Error: etcdserver: requested lease not found\n"))
        let revokeUnknown = try etcdctl(server, "lease", "revoke", "123")
        #expect(revokeUnknown.stderr.hasSuffix("Error: failed to revoke lease (etcdserver: requested lease not found)\n"))
    }

    /// An expired lease's keys vanish promptly, with DELETE events to watchers, in one revision.
    @Test func expiryDeletesKeysAndWatchersSeeIt() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        let id = try grant(server, ttl: 2)
        _ = try etcdctl(server, "put", "svc/a", "1", "--lease=\(id)")   // revision 2
        _ = try etcdctl(server, "put", "svc/b", "2", "--lease=\(id)")   // revision 3
        let granted = Date()
        let watch = try etcdctl(server, ["watch", "svc/", "--prefix", "-w", "json", "--rev=4"], interruptAfter: 4)
        let elapsed = Date().timeIntervalSince(granted)
        #expect(elapsed < 5)
        let lines = watch.stdout.split(separator: "\n")
        // One response: both DELETE events, same revision.
        let deletes = lines.filter { $0.contains("\"type\":1") }
        #expect(deletes.count == 1, "\(watch.stdout)")
        #expect(deletes.first?.contains("\"revision\":4") == true, "the revoke is one revision")
        #expect(deletes.first?.components(separatedBy: "\"type\":1").count == 3, "two DELETE events")
        #expect(try etcdctl(server, "get", "svc/", "--prefix").stdout == "")
    }

    @Test func restartKeepsLeasesAndTheirKeys() throws {
        let server = ServerProcess()
        try server.start()
        let id = try grant(server, ttl: 120)
        _ = try etcdctl(server, "put", "held", "v", "--lease=\(id)")
        server.stop()
        try server.start()
        defer { server.stop() }
        let ttl = try etcdctl(server, "lease", "timetolive", id, "--keys").stdout
        #expect(ttl.hasPrefix("lease \(id) granted with TTL(120s), remaining(1"))
        #expect(ttl.hasSuffix("attached keys([held])\n"))
        #expect(try etcdctl(server, "lease", "revoke", id).stdout == "lease \(id) revoked\n")
        #expect(try etcdctl(server, "get", "held").stdout == "")
    }

    @Test func watchHistoryPrevKVAndCompaction() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        _ = try etcdctl(server, "put", "a", "1")   // 2
        _ = try etcdctl(server, "put", "a", "2")   // 3
        _ = try etcdctl(server, "del", "a")        // 4
        let history = try etcdctl(server, ["watch", "a", "--rev=2", "--prev-kv"], interruptAfter: 1.5)
        #expect(history.stdout == "PUT\na\n1\nPUT\na\n1\na\n2\nDELETE\na\n2\na\n\n")
        _ = try etcdctl(server, "compaction", "3")
        let compacted = try etcdctl(server, ["watch", "a", "--rev=2"], interruptAfter: 3)
        #expect(compacted.stderr.contains("watch was canceled (etcdserver: mvcc: required revision has been compacted)"))
    }

    @Test func interactiveWatch() throws {
        let server = ServerProcess()
        try server.start()
        defer { server.stop() }
        _ = try etcdctl(server, "put", "x", "1")   // 2
        let out = try etcdctl(server, ["watch", "--interactive"], stdin: "watch x --rev=2\n", interruptAfter: 1.5)
        #expect(out.stdout == "PUT\nx\n1\n")
    }
}
