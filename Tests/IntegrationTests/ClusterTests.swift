import Foundation
import Testing

/// Clusters of our server on loopback, driven with the stock etcdctl through what operators
/// do: bootstrap, reads and writes through every member, membership changes with learners,
/// leadership transfer, members killed and restarted, quorum lost and regained, and etcd's
/// answer to every refusal.
@Suite(.serialized) struct ClusterTests {
    /// etcd refuses membership changes until every voter has been connected for 5 s.
    static let healthInterval: UInt32 = 5_500_000

    private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    @Test func threeMembersServeThroughEveryMember() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        for (index, member) in cluster.members.enumerated() {
            let put = try cluster.etcdctl(["put", "k\(index)", "v\(index)"], endpoints: member.endpoint)
            #expect(put.stdout == "OK\n", "\(put)")
        }
        for member in cluster.members {
            #expect(try cluster.etcdctl(["get", "k", "--prefix"], endpoints: member.endpoint).stdout == "k0\nv0\nk1\nv1\nk2\nv2\n")
            #expect(try cluster.etcdctl(["get", "k1", "--consistency=s", "--print-value-only"], endpoints: member.endpoint).stdout == "v1\n")
        }
        // One leader; everyone agrees on it, on the term and on the applied index.
        guard let leader = cluster.waitForLeader() else {
            Issue.record("no leader")
            return
        }
        #expect(cluster.waitForConvergence())
        let statuses = cluster.members.indices.compactMap { cluster.status($0) }
        #expect(statuses.count == 3)
        #expect(Set(statuses.map(\.leader)).count == 1)
        #expect(statuses.filter { $0.leader == $0.header.member_id }.count == 1)
        #expect(cluster.status(leader)?.leader == cluster.memberID(leader))

        let table = try cluster.etcdctl(["member", "list", "-w", "table"])
        #expect(table.status == 0)
        for member in cluster.members {
            let row = lines(table.stdout).first { $0.contains(" \(member.advertisedPeerURL) ") }
            #expect(row?.contains("| started |") == true && row?.contains(" \(member.name) | ") == true
                    && row?.contains(" \(member.clientURL) |      false |") == true, "\(table)")
        }
        let status = try cluster.etcdctl(["endpoint", "status", "--cluster", "-w", "table"], endpoints: cluster.members[0].endpoint)
        #expect(lines(status.stdout).filter { $0.contains("|    true |") || $0.contains("|      true |") }.count == 1, "\(status)")
        #expect(lines(status.stdout).count == 3 + 4)
        let health = try cluster.etcdctl(["endpoint", "health", "--cluster"], endpoints: cluster.members[1].endpoint)
        #expect(health.status == 0)
        #expect(lines(health.stderr).filter { $0.contains("is healthy: successfully committed proposal") }.count == 3, "\(health)")
    }

    @Test func membershipWithLearners() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        usleep(Self.healthInterval)
        _ = try cluster.etcdctl("put", "before", "join")

        // A learner joins, catches up, and is promoted.
        let (learner, added) = try cluster.add(name: "n4", learner: true)
        #expect(added.status == 0, "\(added)")
        let addedLines = lines(added.stdout)
        #expect(addedLines.first?.hasPrefix("Member ") == true && addedLines.first?.contains(" added to cluster ") == true)
        #expect(addedLines.contains("ETCD_NAME=\"n4\""))
        #expect(addedLines.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""))
        // A second learner is refused while one exists; a taken peer URL is refused.
        let second = try cluster.etcdctl("member", "add", "n5", "--learner", "--peer-urls=http://127.0.0.1:1")
        #expect(second.stderr.contains("Error: etcdserver: too many learner members in cluster"), "\(second)")
        let taken = try cluster.etcdctl("member", "add", "dup", "--peer-urls=\(cluster.members[0].advertisedPeerURL)")
        #expect(taken.stderr.contains("Error: etcdserver: Peer URLs already exists"), "\(taken)")

        try learner.start(timeout: 30)
        // The learner serves serializable reads of what it replicated, and refuses the rest.
        var caughtUp = false
        for _ in 0..<50 where !caughtUp {
            caughtUp = (try? cluster.etcdctl(["get", "before", "--consistency=s", "--print-value-only"],
                                              endpoints: learner.endpoint).stdout) == "join\n"
            if !caughtUp { usleep(100_000) }
        }
        #expect(caughtUp)
        let refused = try cluster.etcdctl(["put", "x", "y"], endpoints: learner.endpoint)
        #expect(refused.stderr.contains("etcdserver: rpc not supported for learner"), "\(refused)")
        #expect(cluster.status(3)?.isLearner == true)

        let learnerID = try #require(cluster.memberID(3))
        let hex = String(learnerID, radix: 16)
        let voterHex = String(try #require(cluster.memberID(0)), radix: 16)
        let voterPromote = try cluster.etcdctl("member", "promote", voterHex, on: 0)
        #expect(voterPromote.stderr.contains("Error: etcdserver: can only promote a learner member"), "\(voterPromote)")
        #expect(try cluster.etcdctl("member", "promote", "1234abcd", on: 0).stderr.contains("Error: etcdserver: member not found"))
        // Promote through a follower too: it forwards to the leader.
        let promoted = try cluster.etcdctl(["member", "promote", hex], endpoints: cluster.members[0].endpoint)
        #expect(promoted.stdout.hasPrefix("Member ") && promoted.stdout.contains("\(hex) promoted in cluster "), "\(promoted)")
        #expect(cluster.waitForConvergence())
        let promotedStatus = cluster.status(3)
        #expect(promotedStatus != nil && promotedStatus?.isLearner != true)
        #expect(try cluster.etcdctl(["put", "after", "promote"], endpoints: learner.endpoint).stdout == "OK\n")

        let updated = try cluster.etcdctl("member", "update", hex, "--peer-urls=\(learner.advertisedPeerURL)", on: 0)
        #expect(updated.stdout.contains("\(hex) updated in cluster "), "\(updated)")
        let collision = try cluster.etcdctl("member", "update", hex, "--peer-urls=\(cluster.members[1].advertisedPeerURL)", on: 0)
        #expect(collision.stderr.contains("Error: etcdserver: Peer URLs already exists"), "\(collision)")
        #expect(try cluster.etcdctl("member", "update", "1234abcd", "--peer-urls=http://127.0.0.1:2", on: 0).stderr
            .contains("Error: etcdserver: member not found"))

        // The removed member stops, as etcd's does.
        usleep(Self.healthInterval)
        let removed = try cluster.etcdctl(["member", "remove", hex], endpoints: cluster.members[0].endpoint)
        #expect(removed.stdout.contains("\(hex) removed from cluster "), "\(removed)")
        var exited = false
        for _ in 0..<100 where !exited {
            exited = !learner.isRunning
            if !exited { usleep(100_000) }
        }
        #expect(exited, "the removed member stops")
        #expect(learner.stop() == 0)
        #expect(learner.log.contains("the member has been permanently removed from the cluster"))
        #expect(try cluster.etcdctl(["member", "remove", hex], endpoints: cluster.members[0].endpoint).stderr
            .contains("Error: etcdserver: member not found"))
        #expect(lines(try cluster.etcdctl(["member", "list"], endpoints: cluster.members[0].endpoint).stdout).count == 3)
    }

    @Test func moveLeader() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let leader = try #require(cluster.waitForLeader())
        let target = (leader + 1) % 3
        let leaderHex = String(try #require(cluster.memberID(leader)), radix: 16)
        let targetHex = String(try #require(cluster.memberID(target)), radix: 16)
        let moved = try cluster.etcdctl(["move-leader", targetHex], endpoints: cluster.members[leader].endpoint)
        #expect(moved.stdout == "Leadership transferred from \(leaderHex) to \(targetHex)\n", "\(moved)")
        #expect(cluster.waitForLeader() == target)
        let bad = try cluster.etcdctl(["move-leader", "1234abcd"], endpoints: cluster.members[target].endpoint)
        #expect(bad.stderr.contains("Error: etcdserver: bad leader transferee"), "\(bad)")
        #expect(try cluster.etcdctl(["put", "after", "move"], endpoints: cluster.members[leader].endpoint).stdout == "OK\n")
    }

    /// With two of three members down, writes and linearizable reads fail as etcd's do while
    /// serializable reads still answer; when the members return, everything resumes.
    @Test func quorumLostAndRegained() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        _ = try cluster.etcdctl("put", "k", "before")
        #expect(cluster.waitForConvergence())
        cluster.members[1].kill9()
        cluster.members[2].kill9()
        let survivor = cluster.members[0].endpoint
        let started = Date()
        let put = try cluster.etcdctl(["put", "k", "during"], endpoints: survivor, commandTimeout: "3s")
        #expect(put.status != 0)
        #expect(put.stderr.contains("context deadline exceeded") || put.stderr.contains("etcdserver: request timed out"), "\(put)")
        #expect(Date().timeIntervalSince(started) < 8)
        let read = try cluster.etcdctl(["get", "k"], endpoints: survivor, commandTimeout: "3s")
        #expect(read.status != 0, "\(read)")
        #expect(try cluster.etcdctl(["get", "k", "--consistency=s", "--print-value-only"], endpoints: survivor).stdout == "before\n")
        // Without a leader, Status says so (once the survivor notices).
        var noLeader = false
        for _ in 0..<40 where !noLeader {
            let status = try cluster.etcdctl(["endpoint", "status", "-w", "json"], endpoints: survivor)
            noLeader = status.stdout.contains("\"errors\":[\"etcdserver: no leader\"]")
            if !noLeader { usleep(250_000) }
        }
        #expect(noLeader)

        try cluster.members[1].start()
        try cluster.members[2].start()
        #expect(cluster.waitForLeader() != nil)
        #expect(try cluster.etcdctl(["put", "k", "after"], endpoints: survivor).stdout == "OK\n")
        for member in cluster.members {
            #expect(try cluster.etcdctl(["get", "k", "--print-value-only"], endpoints: member.endpoint).stdout == "after\n")
        }
    }

    /// A member killed with SIGKILL comes back and catches up on what it missed.
    @Test func killedMemberCatchesUp() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let leader = try #require(cluster.waitForLeader())
        let victim = (leader + 1) % 3
        cluster.members[victim].kill9()
        for i in 0..<10 {
            #expect(try cluster.etcdctl(["put", "missed/\(i)", "v\(i)"], endpoints: cluster.members[leader].endpoint).status == 0)
        }
        try cluster.members[victim].start()
        #expect(cluster.waitForConvergence())
        let keys = try cluster.etcdctl(["get", "missed/", "--prefix", "--keys-only", "--consistency=s"],
                                       endpoints: cluster.members[victim].endpoint)
        #expect(lines(keys.stdout).count == 10, "\(keys)")
    }

    /// Five members: the leader dies, the other four elect a new one and keep serving.
    @Test func fiveMembersSurviveTheLeader() throws {
        let cluster = TestCluster(size: 5)
        try cluster.start()
        defer { cluster.stop() }
        let leader = try #require(cluster.waitForLeader())
        cluster.members[leader].kill9()
        let next = try #require(cluster.waitForLeader(timeout: 20))
        #expect(next != leader)
        let endpoint = cluster.members[(leader + 1) % 5].endpoint
        #expect(try cluster.etcdctl(["put", "five", "alive"], endpoints: endpoint).stdout == "OK\n")
        try cluster.members[leader].start()
        #expect(cluster.waitForConvergence())
        #expect(try cluster.etcdctl(["get", "five", "--consistency=s", "--print-value-only"],
                                    endpoints: cluster.members[leader].endpoint).stdout == "alive\n")
    }

    /// A peer from another cluster is refused with etcd's status and log line.
    @Test func foreignClusterIsRefused() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let peer = cluster.members[0].advertisedPeerURL
        let result = try run("/usr/bin/curl", ["-s", "-i", "-X", "POST", "-H", "X-Server-From: 1234", "-H", "X-Server-Version: 3.4.23",
                                               "-H", "X-Min-Cluster-Version: 3.0.0", "-H", "X-Etcd-Cluster-ID: deadbeef",
                                               "--data-binary", "x", peer + "/raft"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 412"), "\(result)")
        #expect(result.stdout.hasSuffix("cluster ID mismatch\n"))
        #expect(cluster.members[0].log.contains("\"msg\":\"request cluster ID mismatch\""))
        let old = try run("/usr/bin/curl", ["-s", "-i", "-X", "POST", "--data-binary", "x", peer + "/raft"])
        #expect(old.stdout.hasSuffix("incompatible version\n"), "\(old)")
    }

    /// Watchers on a follower get exactly the events, revisions and order that watchers on the
    /// leader get.
    @Test func followersWatchWhatTheLeaderWatches() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let leader = try #require(cluster.waitForLeader())
        let follower = (leader + 1) % 3
        var variables = ProcessInfo.processInfo.environment
        variables["ETCDCTL_API"] = "3"
        let environment = variables
        let outputs = [leader, follower].map { index in
            let endpoint = cluster.members[index].endpoint
            return ConcurrentResult {
                try run(Binaries.etcdctl, ["--endpoints=\(endpoint)", "watch", "w/", "--prefix", "-w", "json"],
                        stdin: "", environment: environment, timeout: 8)
            }
        }
        usleep(1_000_000)
        for i in 0..<20 {
            let member = cluster.members[i % 3].endpoint
            if i % 4 == 3 {
                _ = try cluster.etcdctl(["del", "w/\(i - 1)"], endpoints: member)
            } else {
                _ = try cluster.etcdctl(["put", "w/\(i)", "value-\(i)"], endpoints: member)
            }
        }
        let results = outputs.map { $0.wait() }
        // Each line is one WatchResponse; headers name the member that sent it, so compare
        // the events only.
        let events = results.map { result in
            result.stdout.split(separator: "\n").map { line -> String in
                guard let range = line.range(of: "\"Events\":") else { return "" }
                return String(line[range.lowerBound...])
            }.filter { !$0.isEmpty }
        }
        #expect(events[0].count == 20, "\(results[0])")
        #expect(events[0] == events[1])
    }

    /// /metrics names the leader, counts leader changes, and reports disk and peer traffic.
    @Test func metricsReportTheCluster() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        #expect(cluster.waitForLeader() != nil)
        _ = try cluster.etcdctl("put", "m", "1")
        usleep(4_500_000)  // a peer probe round
        var leaders = 0
        for member in cluster.members {
            let metrics = try run("/usr/bin/curl", ["-s", member.clientURL + "/metrics"]).stdout
            #expect(metrics.contains("\netcd_server_has_leader 1\n"))
            if metrics.contains("\netcd_server_is_leader 1\n") { leaders += 1 }
            for name in ["etcd_server_leader_changes_seen_total 1", "etcd_server_proposals_committed_total",
                         "etcd_server_proposals_applied_total", "etcd_server_proposals_pending 0",
                         "etcd_server_proposals_failed_total 0", "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"}",
                         "etcd_disk_backend_commit_duration_seconds_count", "etcd_network_peer_sent_bytes_total{To=\"",
                         "etcd_network_peer_received_bytes_total{From=\"",
                         "etcd_network_peer_round_trip_time_seconds_bucket{To=\""] {
                #expect(metrics.contains(name), "\(member.name) lacks \(name)")
            }
        }
        #expect(leaders == 1)
    }
}

/// A command run on another thread, its result collected later.
final class ConcurrentResult: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: CommandResult?

    init(_ body: @escaping @Sendable () throws -> CommandResult) {
        DispatchQueue.global().async { [self] in
            result = try? body()
            done.signal()
        }
    }

    func wait() -> CommandResult {
        done.wait()
        return result ?? CommandResult(status: -1, stdout: "", stderr: "did not run")
    }
}
