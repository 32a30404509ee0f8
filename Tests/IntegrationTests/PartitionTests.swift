import Foundation
import Testing

/// A 3-member cluster whose peer traffic passes through a fault-injecting proxy
/// (Scripts/peer_proxy.py): the leader is cut off from the other two for a few seconds while
/// clients write through every member. The scenario and its checks are Scripts/partition_check.py.
@Suite(.serialized) struct PartitionTests {
    struct Summary: Decodable {
        var ok: Bool
        var acknowledged: Int
        var lost: Int
        var isolated_acks: Int
        var leaders_per_term_max: Int
        var healed: Bool
        var errors: [String]
        var majority_acks_during_isolation: Int?
    }

    @Test func isolatedLeaderCannotWriteAndTheClusterHeals() throws {
        let workdir = temporaryDirectory("partition")
        let result = try run(Binaries.python, [Binaries.script("partition_check.py"), Binaries.etcd, "\(Ports.block(300))", workdir],
                             timeout: 180)
        let summary = try result.summary(as: Summary.self)
        #expect(summary.errors.isEmpty, "\(summary.errors)")
        #expect(summary.ok)
        #expect(summary.acknowledged > 100)
        #expect(summary.lost == 0, "acknowledged writes lost")
        #expect(summary.isolated_acks == 0, "the cut-off leader acknowledged writes")
        #expect(summary.leaders_per_term_max == 1, "two leaders in one term")
        #expect((summary.majority_acks_during_isolation ?? 0) > 0, "the majority kept writing")
        #expect(summary.healed)
        // Not asserted: a put whose client gave up has an unknown outcome, and one the server
        // received just before the client's deadline may still commit (in etcd too). Proposals
        // held for want of a leader are dropped at the client's deadline.
    }
}
