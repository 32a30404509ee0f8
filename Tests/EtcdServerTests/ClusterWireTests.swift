import EtcdProto
import Foundation
import Raft
import Testing
@testable import EtcdServer

/// What travels between members besides Raft messages: conf change contexts, member attribute
/// publishes and the `/members` list, byte for byte as etcd 3.4 writes them (bytes taken from a
/// live etcd, shared/research/etcd34-peer-protocol.md §4).
@Suite struct ClusterWireTests {
    @Test func bootstrapContextAsEtcdWritesIt() {
        let member = Member(id: 594_619_792_878_516_888, name: "b1", peerURLs: ["http://127.0.0.1:24211"])
        #expect(MemberJSON.encode(member) == #"{"id":594619792878516888,"peerURLs":["http://127.0.0.1:24211"],"name":"b1"}"#)
    }

    @Test func learnerAndPromoteContextsAsEtcdWritesThem() {
        let learner = Member(id: 4_509_838_273_667_106_869, peerURLs: ["http://127.0.0.1:24311"], isLearner: true)
        #expect(MemberJSON.encode(learner) == #"{"id":4509838273667106869,"peerURLs":["http://127.0.0.1:24311"],"isLearner":true}"#)
        #expect(MemberJSON.promoteContext(id: 4_509_838_273_667_106_869) == #"{"id":4509838273667106869,"peerURLs":null,"isPromote":true}"#)
    }

    /// IDs above 2^53 (every real one) survive a round trip exactly.
    @Test(arguments: [UInt64.max, 18_446_744_073_709_551_557, 9_007_199_254_740_993, 1])
    func idsRoundTripExactly(id: UInt64) throws {
        let member = Member(id: id, name: "x", peerURLs: ["http://a:1", "http://b:2"], clientURLs: ["http://c:3"])
        let decoded = try #require(MemberJSON.decode(Array(MemberJSON.encode(member).utf8)))
        #expect(decoded.member == member)
        let list = try #require(MemberJSON.decodeList(Array(MemberJSON.memberList([member, Member(id: 7)]).utf8)))
        #expect(list.map(\.id) == [7, id].sorted())
    }

    @Test func memberListIsSortedWithEtcdsOmissions() {
        let members = [Member(id: 2_409_626_029_788_748_047, name: "c1", peerURLs: ["http://127.0.0.1:24221"],
                              clientURLs: ["http://127.0.0.1:24121"]),
                       Member(id: 918_184_452_148_921_671, peerURLs: ["http://127.0.0.1:24222"], isLearner: true)]
        #expect(MemberJSON.memberList(members)
            == #"[{"id":918184452148921671,"peerURLs":["http://127.0.0.1:24222"],"isLearner":true},{"id":2409626029788748047,"peerURLs":["http://127.0.0.1:24221"],"name":"c1","clientURLs":["http://127.0.0.1:24121"]}]"#)
    }

    @Test func attributesAndGoEscaping() {
        #expect(MemberJSON.attributes(name: "b1", clientURLs: ["http://127.0.0.1:24111"])
            == #"{"name":"b1","clientURLs":["http://127.0.0.1:24111"]}"#)
        #expect(MemberJSON.attributes(name: "", clientURLs: []) == "{}")
        #expect(MemberJSON.attributes(name: "a<b>&\"", clientURLs: []) == #"{"name":"a\u003cb\u003e\u0026\""}"#)
    }

    /// The publish entry etcd wrote for member 840838d1af0ba98 (every non-nullable field
    /// present), reproduced byte for byte.
    @Test func publishRequestMatchesEtcdsBytes() throws {
        let value = #"{"name":"b1","clientURLs":["http://127.0.0.1:24111"]}"#
        let request = V2Request.etcdRequest(id: 1, method: "PUT", path: "/0/members/840838d1af0ba98/attributes", value: value)
        var expected: [UInt8] = [0x08, 0x01, 0x12, 0x03] + Array("PUT".utf8) + [0x1a, 0x25]
        expected += Array("/0/members/840838d1af0ba98/attributes".utf8) + [0x22, 0x35] + Array(value.utf8)
        expected += [0x28, 0x00, 0x32, 0x00, 0x38, 0x00, 0x48, 0x00, 0x50, 0x00, 0x58, 0x00, 0x60, 0x00,
                     0x68, 0x00, 0x70, 0x00, 0x78, 0x00, 0x80, 0x01, 0x00]
        #expect(request.serializedBytes() == expected)
        // etcd tries InternalRaftRequest first; these bytes must not parse as one.
        #expect(throws: (any Error).self) { try InternalRaftRequest(serializedBytes: expected) }
        #expect(try V2Request(serializedBytes: expected).path == "/0/members/840838d1af0ba98/attributes")
    }

    /// etcd's ID for a member added at run time: peer URLs, no cluster name, Unix seconds.
    @Test func runtimeMemberID() {
        let id = ClusterService.newMemberID(peerURLs: ["http://127.0.0.1:2380"], unixSeconds: 1_700_000_000)
        #expect(id == ClusterIdentity.memberID(peerURLs: ["http://127.0.0.1:2380"], token: "1700000000"))
        #expect(ClusterService.validPeerURLs(["http://10.0.0.1:2380", "https://a:1"]) == ["http://10.0.0.1:2380", "https://a:1"])
        #expect(ClusterService.validPeerURLs(["10.0.0.1:2380"]) == nil)
        #expect(ClusterService.validPeerURLs(["http://10.0.0.1"]) == nil)
        #expect(ClusterService.validPeerURLs(["http://10.0.0.1:2380/path"]) == nil)
    }
}
