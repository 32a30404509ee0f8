import Foundation
import Testing

/// Our members and etcd 3.4's in one cluster: etcd's peer protocol, log entries and membership
/// rules on both sides. Leadership is moved across implementations, and members of each kind
/// join a cluster of the other.
@Suite(.serialized) struct MixedClusterTests {
    private func reference() -> String? {
        guard let path = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference` (REFERENCE_ETCD)")
            return nil
        }
        return path
    }

    private func expectServes(_ cluster: TestCluster, key: String) throws {
        for (index, member) in cluster.members.enumerated() where member.isRunning {
            #expect(try cluster.etcdctl(["put", "\(key)/\(index)", "v\(index)"], endpoints: member.endpoint).stdout == "OK\n")
        }
        #expect(cluster.waitForConvergence())
        let expected = cluster.members.indices.filter { cluster.members[$0].isRunning }.count
        for member in cluster.members where member.isRunning {
            let keys = try cluster.etcdctl(["get", "\(key)/", "--prefix", "--keys-only", "--consistency=s"], endpoints: member.endpoint)
            #expect(keys.stdout.split(separator: "\n").count == expected, "\(member.name): \(keys)")
        }
    }

    /// Two of ours and one etcd bootstrap together; leadership moves to etcd and back.
    @Test func bootstrappedTogether() throws {
        guard let reference = reference() else { return }
        let cluster = TestCluster(binaries: [reference, Binaries.etcd, Binaries.etcd])
        try cluster.start()
        defer { cluster.stop() }
        let leader = try #require(cluster.waitForLeader())
        try expectServes(cluster, key: "boot")
        let etcdHex = String(try #require(cluster.memberID(0)), radix: 16)
        if leader != 0 {
            let moved = try cluster.etcdctl(["move-leader", etcdHex], endpoints: cluster.members[leader].endpoint)
            #expect(moved.status == 0, "\(moved)")
            #expect(cluster.waitForLeader() == 0)
        }
        // etcd leads our two members.
        try expectServes(cluster, key: "etcd-leads")
        let oursHex = String(try #require(cluster.memberID(2)), radix: 16)
        #expect(try cluster.etcdctl(["move-leader", oursHex], endpoints: cluster.members[0].endpoint).status == 0)
        #expect(cluster.waitForLeader() == 2)
        try expectServes(cluster, key: "ours-lead")
        // Leases granted on one kind are kept alive through the other.
        let grant = try cluster.etcdctl(["lease", "grant", "30"], endpoints: cluster.members[0].endpoint)
        let lease = try #require(grant.stdout.split(separator: " ").dropFirst().first.map(String.init))
        let keepAlive = try cluster.etcdctl(["lease", "keep-alive", "--once", lease], endpoints: cluster.members[1].endpoint)
        #expect(keepAlive.stdout.contains("keepalived with TTL(30)"), "\(keepAlive)")
        let ttl = try cluster.etcdctl(["lease", "timetolive", lease], endpoints: cluster.members[0].endpoint)
        #expect(ttl.stdout.contains("granted with TTL(30s)"), "\(ttl)")
    }

    /// Our member joins a running etcd cluster as a learner, catches up, is promoted and serves.
    @Test func oursJoinsAnEtcdCluster() throws {
        guard let reference = reference() else { return }
        let cluster = TestCluster(binaries: [reference, reference, reference])
        try cluster.start()
        defer { cluster.stop() }
        _ = try cluster.etcdctl("put", "before", "ours")
        usleep(ClusterTests.healthInterval)
        let (ours, added) = try cluster.add(name: "n4", binary: Binaries.etcd, learner: true)
        #expect(added.status == 0, "\(added)")
        try ours.start(timeout: 30)
        #expect(cluster.waitForConvergence())
        #expect(try cluster.etcdctl(["get", "before", "--consistency=s", "--print-value-only"], endpoints: ours.endpoint).stdout == "ours\n")
        let hex = String(try #require(cluster.memberID(3)), radix: 16)
        let promoted = try cluster.etcdctl(["member", "promote", hex], endpoints: cluster.members[0].endpoint)
        #expect(promoted.stdout.contains("promoted in cluster"), "\(promoted)")
        try expectServes(cluster, key: "four")
        // It can lead etcd members too.
        let leader = try #require(cluster.waitForLeader())
        #expect(try cluster.etcdctl(["move-leader", hex], endpoints: cluster.members[leader].endpoint).status == 0)
        #expect(cluster.waitForLeader() == 3)
        try expectServes(cluster, key: "ours-leads")
    }

    /// An etcd member joins a cluster of ours (as a voter), catches up and serves.
    @Test func etcdJoinsOurCluster() throws {
        guard let reference = reference() else { return }
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        _ = try cluster.etcdctl("put", "before", "etcd")
        usleep(ClusterTests.healthInterval)
        let (etcd, added) = try cluster.add(name: "n4", binary: reference)
        #expect(added.status == 0, "\(added)")
        try etcd.start(timeout: 30)
        #expect(cluster.waitForConvergence())
        #expect(try cluster.etcdctl(["get", "before", "--consistency=s", "--print-value-only"], endpoints: etcd.endpoint).stdout == "etcd\n")
        try expectServes(cluster, key: "four")
        let table = try cluster.etcdctl(["member", "list"])
        #expect(table.stdout.split(separator: "\n").filter { $0.contains(", started, ") }.count == 4, "\(table)")
    }

    /// Writes enough while a member is down that the leader's log no longer holds what
    /// it misses (etcd keeps 5000 entries behind its last snapshot), restarts it, and checks it
    /// caught up by snapshot: the same keys and hash as the others.
    /// Member 0 leads; member 2, of the other kind, is the one behind.
    private func catchUpBySnapshot(_ cluster: TestCluster) throws {
        try cluster.start()
        defer { cluster.stop() }
        let behind = 2
        if try #require(cluster.waitForLeader()) != 0 {
            let hex = String(try #require(cluster.memberID(0)), radix: 16)
            let leader = try #require(cluster.waitForLeader())
            #expect(try cluster.etcdctl(["move-leader", hex], endpoints: cluster.members[leader].endpoint).status == 0)
            #expect(cluster.waitForLeader() == 0)
        }
        let putload = try #require(Binaries.goTool("putload"), "putload not built; run `make test` (GO_TOOLS)")
        let member = cluster.members[behind]
        member.stop()
        let others = cluster.members.indices.filter { $0 != behind }.map { cluster.members[$0].endpoint }.joined(separator: ",")
        let load = try run(putload, ["-endpoint", others, "-clients", "32", "-conns", "4", "-total", "10000",
                                     "-key-space-size", "500", "-val-size", "64"], timeout: 300)
        #expect(load.status == 0, "\(load)")
        #expect(try cluster.etcdctl(["put", "last", "write"], endpoints: others).stdout == "OK\n")
        try member.start(timeout: 60)
        #expect(cluster.waitForConvergence(timeout: 60))
        #expect(member.logSinceStart.contains("received and saved database snapshot")
                || member.logSinceStart.contains("saved database snapshot to disk"), "no snapshot was installed:\n\(member.logSinceStart.suffix(3000))")
        let states = try cluster.members.map { try ServedState.read($0.endpoint) }
        #expect(Set(states.map(\.hash)).count == 1 && Set(states.map(\.revision)).count == 1, "\(states)")
        #expect(states.allSatisfy { $0.keyValues == states[0].keyValues })
        try expectServes(cluster, key: "after-snapshot")
    }

    /// An etcd follower that fell behind our leader installs our snapshot (etcd's backend
    /// format, with the membership as its v2 store JSON).
    @Test func etcdFollowerCatchesUpFromOurSnapshot() throws {
        guard let reference = reference() else { return }
        try catchUpBySnapshot(TestCluster(binaries: [Binaries.etcd, Binaries.etcd, reference],
                                          extraArguments: ["--snapshot-count", "1000"]))
    }

    /// Our follower that fell behind an etcd leader installs etcd's snapshot.
    @Test func ourFollowerCatchesUpFromEtcdSnapshot() throws {
        guard let reference = reference() else { return }
        try catchUpBySnapshot(TestCluster(binaries: [reference, reference, Binaries.etcd],
                                          extraArguments: ["--snapshot-count", "1000"]))
    }
}
