import Dispatch
import EtcdProto
import Foundation
import MVCC
@testable import Raft
import Synchronization
import Testing
@testable import EtcdServer

/// The Cluster service in-process, on fakes of the narrow interfaces it depends on (proposing,
/// consensus status, peer activity, promote forwarding): etcd's reconfiguration rules without
/// a cluster.
@Suite struct ClusterServiceTests {
    final class FakeProposer: Proposing, @unchecked Sendable {
        let proposed = Mutex<[ConfChange]>([])
        var answer: ApplyResult = .success(.members([]))

        func propose(_ fill: (inout InternalRaftRequest) -> Void, deadline: UInt64?, completion: @escaping ApplyCompletion) {
            completion(.failure(.unmapped("not expected")))
        }

        func proposeConfChange(_ change: ConfChange, deadline: UInt64?, completion: @escaping ApplyCompletion) {
            proposed.withLock { $0.append(change) }
            completion(answer)
        }

        func nextRequestID() -> UInt64 { 1 }
    }

    struct FakeConsensus: ConsensusStatus {
        var memberID: UInt64 = 1
        var leader: UInt64 = 1
        var term: UInt64 = 2
        var committedIndex: UInt64 = 100
        var appliedIndex: UInt64 = 100
        var isLearner = false
        var isLeader: Bool { leader == memberID }
        var progress: [UInt64: PeerProgress] = [:]
    }

    struct FakePeers: PeerActivity {
        var since: [UInt64: UInt64]
        func activeSince(_ member: UInt64) -> UInt64? { since[member] }
    }

    final class FakeForwarding: PromoteForwarding, @unchecked Sendable {
        let forwarded = Mutex<[UInt64]>([])
        func forwardPromote(_ id: UInt64, _ done: @escaping @Sendable (Result<[Member], EtcdError>) -> Void) {
            forwarded.withLock { $0.append(id) }
            done(.success([]))
        }
    }

    struct Headers: HeaderSource {
        var memberID: UInt64 = 1
        var clusterID: UInt64 = 9
        func header(revision: Int64) -> ResponseHeader { ResponseHeader() }
        func memberHeader() -> ResponseHeader { ResponseHeader() }
    }

    /// A membership of started voters 1...n (and `unstarted` voters without a name).
    private func membership(started: Int, unstarted: [UInt64] = [], learner: UInt64? = nil) throws -> ClusterMembership {
        var template = Array("/tmp/cluster-service-XXXXXX".utf8CString)
        let store = try KVStore(path: String(cString: mkdtemp(&template)!) + "/db", mapSize: 64 << 20)
        try store.writeBatch { batch in
            for id in 1...UInt64(started) {
                try batch.putMember(Member(id: id, name: "n\(id)", peerURLs: ["http://h:\(id)"], clientURLs: ["http://c:\(id)"]))
            }
            for id in unstarted { try batch.putMember(Member(id: id, peerURLs: ["http://h:\(id)"])) }
            if let learner { try batch.putMember(Member(id: learner, peerURLs: ["http://h:\(learner)"], isLearner: true)) }
        }
        let membership = ClusterMembership()
        try membership.load(from: store)
        return membership
    }

    private let longAgo = DispatchTime.now().uptimeNanoseconds - 60_000_000_000

    private func service(_ membership: ClusterMembership, consensus: FakeConsensus = FakeConsensus(),
                         since: [UInt64: UInt64], proposer: FakeProposer = FakeProposer(),
                         forwarding: FakeForwarding = FakeForwarding()) -> ClusterService {
        ClusterService(headers: Headers(), proposer: proposer, membership: membership, consensus: consensus,
                       peers: FakePeers(since: since), promoteForwarding: forwarding, strictReconfigCheck: true)
    }

    @Test func additionsNeedConnectedVotersAndAStartedQuorum() throws {
        let three = try membership(started: 3)
        #expect(service(three, since: [2: longAgo, 3: longAgo]).additionRefusal(learner: false) == nil)
        // A voter connected for less than 5 s, or not at all: unhealthy, for learners too.
        let recent = DispatchTime.now().uptimeNanoseconds - 1_000_000_000
        #expect(service(three, since: [2: longAgo, 3: recent]).additionRefusal(learner: true) == .unhealthy)
        #expect(service(three, since: [2: longAgo]).additionRefusal(learner: false) == .unhealthy)
        // Two of four voters not started: a fifth voter is refused, a learner is not.
        let half = try membership(started: 2, unstarted: [3, 4])
        let everyone: [UInt64: UInt64] = [2: longAgo, 3: longAgo, 4: longAgo]
        #expect(service(half, since: everyone).additionRefusal(learner: false) == .memberNotEnoughStarted)
        #expect(service(half, since: everyone).additionRefusal(learner: true) == nil)
    }

    @Test func removalsKeepAStartedQuorum() throws {
        let three = try membership(started: 2, unstarted: [3])
        let everyone: [UInt64: UInt64] = [2: longAgo, 3: longAgo]
        // Removing a started voter leaves one started of two.
        #expect(service(three, since: everyone).removalRefusal(2) == .memberNotEnoughStarted)
        #expect(service(three, since: everyone).removalRefusal(3) == nil)
        // A member that is down is not part of the active quorum: removing it is fine.
        let all = try membership(started: 3)
        #expect(service(all, since: [3: longAgo]).removalRefusal(2) == nil)
        // Removing a connected voter while another is down would break the active quorum.
        #expect(service(all, since: [2: longAgo]).removalRefusal(2) == .unhealthy)
    }

    @Test func promoteIsTheLeadersDecision() throws {
        let withLearner = try membership(started: 3, learner: 7)
        // On a follower: forwarded.
        let forwarding = FakeForwarding()
        var follower = FakeConsensus()
        follower.leader = 2
        let outcome = Mutex<Result<[Member], EtcdError>?>(nil)
        service(withLearner, consensus: follower, since: [:], forwarding: forwarding).promote(7) { result in
            outcome.withLock { $0 = result }
        }
        #expect(forwarding.forwarded.withLock { $0 } == [7])

        // On the leader: refused below 90% of the leader's log, proposed above.
        var leader = FakeConsensus()
        let behind = PeerProgress(match: 80, next: 81, maxInflight: 1, isLearner: true)
        let mine = PeerProgress(match: 100, next: 101, maxInflight: 1, isLearner: false)
        leader.progress = [1: mine, 7: behind]
        let proposer = FakeProposer()
        service(withLearner, consensus: leader, since: [2: longAgo, 3: longAgo], proposer: proposer).promote(7) { result in
            outcome.withLock { $0 = result }
        }
        #expect(outcome.withLock { $0.map { if case .failure(.learnerNotReady) = $0 { true } else { false } } } == true)
        #expect(proposer.proposed.withLock { $0 }.isEmpty)

        leader.progress[7] = PeerProgress(match: 95, next: 96, maxInflight: 1, isLearner: true)
        service(withLearner, consensus: leader, since: [2: longAgo, 3: longAgo], proposer: proposer).promote(7) { _ in }
        let proposed = proposer.proposed.withLock { $0 }
        #expect(proposed.count == 1)
        #expect(proposed.first?.type == .addNode && proposed.first?.nodeID == 7)
        #expect(proposed.first.map { String(decoding: $0.context, as: UTF8.self) } == #"{"id":7,"peerURLs":null,"isPromote":true}"#)
    }
}
