import EtcdProto
import Foundation
import MVCC
import Testing
@testable import EtcdServer

/// The v2 store JSON etcd keeps its membership in (`.snap` files, snapshot messages).
@Suite struct V2StoreJSONTests {
    /// A `.snap` payload as etcd 3.4 writes it (trimmed: one member, a removed one, the version).
    static let etcdWritten = """
    {"Root":{"Path":"/","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{\
    "0":{"Path":"/0","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{\
    "members":{"Path":"/0/members","CreatedIndex":1,"ModifiedIndex":1,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{\
    "2e12b6b3e4d1f3c0":{"Path":"/0/members/2e12b6b3e4d1f3c0","CreatedIndex":1,"ModifiedIndex":1,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{\
    "attributes":{"Path":"/0/members/2e12b6b3e4d1f3c0/attributes","CreatedIndex":2,"ModifiedIndex":2,"ExpireTime":"0001-01-01T00:00:00Z","Value":"{\\"name\\":\\"n1\\",\\"clientURLs\\":[\\"http://127.0.0.1:23790\\"]}","Children":null},\
    "raftAttributes":{"Path":"/0/members/2e12b6b3e4d1f3c0/raftAttributes","CreatedIndex":1,"ModifiedIndex":1,"ExpireTime":"0001-01-01T00:00:00Z","Value":"{\\"peerURLs\\":[\\"http://127.0.0.1:23800\\"]}","Children":null}}}}},\
    "removed_members":{"Path":"/0/removed_members","CreatedIndex":4,"ModifiedIndex":4,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{\
    "a1":{"Path":"/0/removed_members/a1","CreatedIndex":4,"ModifiedIndex":4,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":null}}},\
    "version":{"Path":"/0/version","CreatedIndex":3,"ModifiedIndex":3,"ExpireTime":"0001-01-01T00:00:00Z","Value":"3.4.0","Children":null}}},\
    "1":{"Path":"/1","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}}}},\
    "WatcherHub":{"EventHistory":{"Queue":{"Events":[null],"Size":0,"Front":0,"Back":0,"Capacity":1000},"StartIndex":0,"LastIndex":0}},\
    "CurrentIndex":4,"Stats":{"getsSuccess":0},"CurrentVersion":2}
    """

    @Test func readsEtcdsMembership() throws {
        let membership = try V2StoreJSON.membership(Array(Self.etcdWritten.utf8))
        #expect(membership.members == [Member(id: 0x2e12b6b3e4d1f3c0, name: "n1", peerURLs: ["http://127.0.0.1:23800"],
                                              clientURLs: ["http://127.0.0.1:23790"])])
        #expect(membership.removedIDs == [0xa1] && membership.clusterVersion == "3.4.0")
    }

    @Test func writesWhatItReads() throws {
        let membership = ImportedMembership(
            members: [Member(id: 7, name: "a", peerURLs: ["http://x:1"], clientURLs: ["http://x:2"]),
                      Member(id: 9, peerURLs: ["http://y:1"], isLearner: true)],
            removedIDs: [3], clusterVersion: "3.4.0")
        let encoded = V2StoreJSON.encode(membership)
        #expect(try V2StoreJSON.membership(encoded) == membership)
        // etcd appends into its event ring by index: the ring must have all its slots.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(encoded)) as? [String: Any])
        let queue = (((object["WatcherHub"] as? [String: Any])?["EventHistory"] as? [String: Any])?["Queue"] as? [String: Any])
        #expect((queue?["Events"] as? [Any])?.count == 1000)
        // A member that never started has no attributes node.
        #expect(!String(decoding: encoded, as: UTF8.self).contains("/0/members/9/attributes"))
    }

    @Test func refusesWhatIsNotAStore() {
        #expect(throws: (any Error).self) { try V2StoreJSON.membership(Array("[]".utf8)) }
        #expect(throws: (any Error).self) { try V2StoreJSON.membership(Array("{\"Root\":".utf8)) }
    }
}
