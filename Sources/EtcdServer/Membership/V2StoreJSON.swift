import EtcdProto
import Foundation
import MVCC
import ProtoJSON

/// etcd 3.4's v2 store, as the JSON its snapshots carry (a `.snap` file's data, and the data of
/// a snapshot a leader sends). etcd keeps the cluster's membership there, under `/0`:
///
///     /0/members/<hex id>/raftAttributes   {"peerURLs":[...],"isLearner":true}
///     /0/members/<hex id>/attributes       {"name":"..","clientURLs":[...]}
///     /0/removed_members/<hex id>          ""
///     /0/version                           "3.4.0"
///
/// and rebuilds its membership from it when it restarts or installs a snapshot, so a snapshot
/// we send must carry it complete. Every node has `Path`, `CreatedIndex`, `ModifiedIndex`,
/// `ExpireTime` (Go's zero time: permanent), `Value`, and `Children` (a map for a directory,
/// null for a value).
enum V2StoreJSON {
    /// The membership a v2 store JSON holds.
    static func membership(_ data: [UInt8]) throws -> ImportedMembership {
        guard let top = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              let root = top["Root"] as? [String: Any] else {
            throw ConfigError.invalid("v2 store snapshot: no Root node")
        }
        func children(_ node: [String: Any]?) -> [String: [String: Any]] {
            (node?["Children"] as? [String: Any])?.compactMapValues { $0 as? [String: Any] } ?? [:]
        }
        let cluster = children(root)["0"]
        var members: [Member] = []
        for (hex, node) in children(children(cluster)["members"]) {
            guard let id = UInt64(hex, radix: 16) else { continue }
            let fields = children(node)
            var member = Member(id: id)
            if let text = fields["raftAttributes"]?["Value"] as? String,
               let raft = try? JSONDecoder().decode(RaftAttributes.self, from: Data(text.utf8)) {
                member.peerURLs = raft.peerURLs ?? []
                member.isLearner = raft.isLearner ?? false
            }
            if let text = fields["attributes"]?["Value"] as? String, let attributes = MemberJSON.decodeAttributes(text) {
                member.name = attributes.name ?? ""
                member.clientURLs = attributes.clientURLs ?? []
            }
            members.append(member)
        }
        let removed = children(children(cluster)["removed_members"]).keys.compactMap { UInt64($0, radix: 16) }
        let version = children(cluster)["version"]?["Value"] as? String
        return ImportedMembership(members: members.sorted { $0.id < $1.id }, removedIDs: removed.sorted(),
                                  clusterVersion: version?.isEmpty == false ? version : nil)
    }

    private struct RaftAttributes: Decodable {
        var peerURLs: [String]?
        var isLearner: Bool?
    }

    /// A v2 store holding exactly `membership` (and an empty `/1` key space), as etcd's
    /// `store.Save` writes one, for a snapshot an etcd member installs.
    static func encode(_ membership: ImportedMembership) -> [UInt8] {
        var index: UInt64 = 0
        func node(_ path: String, value: String? = nil, children: [(String, String)] = []) -> String {
            index += 1
            var text = "{\"Path\":" + quote(path) + ",\"CreatedIndex\":\(index),\"ModifiedIndex\":\(index)"
            text += ",\"ExpireTime\":\"0001-01-01T00:00:00Z\",\"Value\":" + quote(value ?? "") + ",\"Children\":"
            if value != nil { return text + "null}" }
            return text + "{" + children.map { quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}}"
        }
        var memberNodes: [(String, String)] = []
        for member in membership.members.sorted(by: { $0.id < $1.id }) {
            let hex = ClusterIdentity.hex(member.id)
            var raft = "{\"peerURLs\":" + MemberJSON.array(member.peerURLs)
            if member.isLearner { raft += ",\"isLearner\":true" }
            raft += "}"
            var fields = [("raftAttributes", node("/0/members/\(hex)/raftAttributes", value: raft))]
            if ClusterMembership.isStarted(member) {
                fields.append(("attributes", node("/0/members/\(hex)/attributes",
                                                  value: MemberJSON.attributes(name: member.name, clientURLs: member.clientURLs))))
            }
            memberNodes.append((hex, node("/0/members/\(hex)", children: fields)))
        }
        var clusterNodes = [("members", node("/0/members", children: memberNodes))]
        let removed = membership.removedIDs.sorted().map { id -> (String, String) in
            let hex = ClusterIdentity.hex(id)
            return (hex, node("/0/removed_members/\(hex)", value: ""))
        }
        if !removed.isEmpty { clusterNodes.append(("removed_members", node("/0/removed_members", children: removed))) }
        if let version = membership.clusterVersion { clusterNodes.append(("version", node("/0/version", value: version))) }
        let root = node("/", children: [("0", node("/0", children: clusterNodes)), ("1", node("/1"))])
        let events = Array(repeating: "null", count: 1000).joined(separator: ",")
        let text = "{\"Root\":\(root),\"WatcherHub\":{\"EventHistory\":{\"Queue\":{\"Events\":[\(events)],"
            + "\"Size\":0,\"Front\":0,\"Back\":0,\"Capacity\":1000},\"StartIndex\":0,\"LastIndex\":0}},"
            + "\"CurrentIndex\":\(index),\"CurrentVersion\":2}"
        return Array(text.utf8)
    }
}
