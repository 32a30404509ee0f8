import EtcdProto
import Foundation
import MVCC
import Raft
import Testing
@testable import EtcdServer

/// Conf changes as etcd validates them when they are applied (every member decides the same
/// from the same applied membership), and the started-member counts of strict reconfiguration.
@Suite struct ClusterMembershipTests {
    private func store() throws -> KVStore {
        var template = Array("/tmp/membership-test-XXXXXX".utf8CString)
        let directory = String(cString: mkdtemp(&template)!)
        return try KVStore(path: directory + "/db", mapSize: 64 << 20)
    }

    private func context(_ member: Member) -> [UInt8] { Array(MemberJSON.encode(member).utf8) }

    private func add(_ id: UInt64, _ url: String, learner: Bool = false, name: String = "") -> ConfChange {
        ConfChange(type: learner ? .addLearnerNode : .addNode, nodeID: id,
                   context: context(Member(id: id, name: name, peerURLs: [url], isLearner: learner)))
    }

    /// Applies a change that must be valid.
    private func apply(_ change: ConfChange, to membership: ClusterMembership, in store: KVStore) throws {
        #expect(membership.validate(change) == nil, "\(change)")
        try store.writeBatch { try membership.apply(change, in: $0) }
    }

    @Test func etcdsRefusals() throws {
        let store = try store()
        let membership = ClusterMembership()
        try apply(add(1, "http://a:1", name: "a"), to: membership, in: store)
        try apply(add(2, "http://b:2", name: "b"), to: membership, in: store)
        #expect(membership.all.map(\.id) == [1, 2])

        #expect(membership.validate(add(1, "http://z:9")) == .memberExists)
        #expect(membership.validate(add(3, "http://a:1")) == .peerURLExists)
        try apply(add(3, "http://c:3", learner: true), to: membership, in: store)
        #expect(membership.validate(add(4, "http://d:4", learner: true)) == .tooManyLearners)
        // A second voter may still join while the learner waits.
        #expect(membership.validate(add(4, "http://d:4")) == nil)

        let promote = { (id: UInt64) in
            ConfChange(type: .addNode, nodeID: id, context: Array(MemberJSON.promoteContext(id: id).utf8))
        }
        #expect(membership.validate(promote(1)) == .memberNotLearner)
        #expect(membership.validate(promote(9)) == .memberNotFound)
        try apply(promote(3), to: membership, in: store)
        #expect(membership.member(3)?.isLearner == false)

        #expect(membership.validate(ConfChange(type: .removeNode, nodeID: 9)) == .memberNotFound)
        try apply(ConfChange(type: .removeNode, nodeID: 2), to: membership, in: store)
        #expect(membership.isRemoved(2))
        // A removed ID never comes back.
        #expect(membership.validate(add(2, "http://b:2")) == .memberNotFound)

        let update = ConfChange(type: .updateNode, nodeID: 3, context: context(Member(id: 3, peerURLs: ["http://a:1"])))
        #expect(membership.validate(update) == .peerURLExists)
        let move = ConfChange(type: .updateNode, nodeID: 3, context: context(Member(id: 3, peerURLs: ["http://c:33"])))
        try apply(move, to: membership, in: store)
        #expect(membership.member(3)?.peerURLs == ["http://c:33"])

        // The table holds what memory holds, across a reload.
        let reloaded = ClusterMembership()
        try reloaded.load(from: store)
        #expect(reloaded.all == membership.all)
        #expect(reloaded.isRemoved(2))
        #expect(reloaded.confState == ConfState(voters: [1, 3]))
    }

    @Test func startedMemberCounts() throws {
        let store = try store()
        let membership = ClusterMembership()
        try apply(add(1, "http://a:1", name: "a"), to: membership, in: store)
        // One started member may always get a second.
        #expect(membership.isReadyToAddVotingMember())
        try apply(add(2, "http://b:2"), to: membership, in: store)
        // Two voters, one started: a third would leave 1 started of 3.
        #expect(!membership.isReadyToAddVotingMember())
        try store.writeBatch { try membership.setAttributes(id: 2, name: "b", clientURLs: ["http://b:12"], in: $0) }
        #expect(membership.isReadyToAddVotingMember())
        #expect(membership.isReadyToRemoveVotingMember(2))
        try apply(add(3, "http://c:3"), to: membership, in: store)
        // Removing a started voter leaves 1 started of the 2 others: not a quorum.
        #expect(!membership.isReadyToRemoveVotingMember(1))
        #expect(membership.isReadyToRemoveVotingMember(3))
    }
}
