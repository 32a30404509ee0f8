import Foundation
import Testing
@testable import MVCC
import LMDB

/// etcd's corruption checks across members: a member whose store silently differs is refused
/// at restart by the initial check, and found by the leader's periodic check, which raises
/// CORRUPT; a mixed cluster with the reference etcd checks itself clean (same hashes, same JSON).
@Suite(.serialized) struct CorruptionCheckTests {
    /// Rewrites the value stored at `revision` in a stopped member's store, keeping its size.
    private func corrupt(_ member: ServerProcess, revision: Int64) throws {
        let store = try KVStore(path: member.dataDir + "/member/snap/db", mapSize: 1 << 30)
        try store.writeBatch { batch in
            let txn = batch.txn
            let key = Revision(main: revision).bytes
            var value = try batch.reader.get(Array("k1".utf8))
            #expect(value != nil)
            value?.value = Array("CORRUPTED".utf8)
            if let value { try txn.put(store.kv, key, value.serializedBytes()) }
        }
        try store.environment.sync()
    }

    @Test func aCorruptedMemberIsRefusedAndFound() throws {
        let cluster = TestCluster(size: 3, extraArguments: ["--experimental-corrupt-check-time=1s"])
        try cluster.start()
        defer { cluster.stop() }
        for i in 0..<5 { #expect(try cluster.etcdctl("put", "k\(i)", "v\(i)").status == 0) }
        // k1 was written at revision 3 on every member.
        let victim = cluster.members[2]
        victim.stop()
        try corrupt(victim, revision: 3)

        let checked = ServerProcess(binary: victim.binary, name: victim.name, dataDir: victim.dataDir,
                                    advertisedPeerURL: victim.advertisedPeerURL, clientPort: victim.clientPort,
                                    extraArguments: victim.extraArguments + ["--experimental-initial-corrupt-check"])
        checked.initialCluster = victim.initialCluster
        checked.initialClusterState = "existing"
        #expect(throws: (any Error).self) { try checked.start(timeout: 15) }
        #expect(checked.log.contains("found data inconsistency with peers"), "\(checked.log)")
        #expect(checked.log.contains("found different hash values from remote peer"))
        checked.stop()

        try victim.start()
        let deadline = Date().addingTimeInterval(20)
        var alarms = ""
        while Date() < deadline {
            alarms = try cluster.etcdctl("alarm", "list").stdout
            if alarms.contains("CORRUPT") { break }
            usleep(200_000)
        }
        // etcdctl prints the alarm as protobuf text, which leaves out the member ID 0.
        #expect(alarms == "alarm:CORRUPT \n")
        let refused = try cluster.etcdctl("put", "after", "x")
        #expect(refused.stderr.contains("etcdserver: corrupt cluster"), "\(refused)")
        #expect(cluster.members.contains { $0.log.contains("same compact revision then hashes must match") })
    }

    @Test func aMixedClusterChecksItselfClean() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference`")
            return
        }
        let cluster = TestCluster(binaries: [Binaries.etcd, reference, Binaries.etcd],
                                  extraArguments: ["--experimental-corrupt-check-time=1s"])
        try cluster.start()
        defer { cluster.stop() }
        for i in 0..<20 { #expect(try cluster.etcdctl("put", "k\(i % 4)", "v\(i)").status == 0) }
        #expect(try cluster.etcdctl("compaction", "10").status == 0)
        #expect(try cluster.etcdctl("del", "k2").status == 0)
        // Whoever leads asks both others for their hashes every second.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && !cluster.members.contains(where: { $0.log.contains("\"number-of-peers-checked\":2") }) {
            usleep(200_000)
        }
        #expect(cluster.members.contains { $0.log.contains("\"number-of-peers-checked\":2") })
        usleep(1_500_000)
        #expect(try cluster.etcdctl("alarm", "list").stdout == "")
        for member in cluster.members {
            #expect(!member.log.contains("hashes must match") && !member.log.contains("failed hash kv request"),
                    "\(member.name): \(member.log)")
        }
    }
}
