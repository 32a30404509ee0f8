import EtcdProto
import Foundation
import ProtoJSON

/// etcd's JSON forms of a member, which travel in conf change contexts, member-attribute
/// publishes and the peer `/members` endpoint. etcd writes them with Go's encoding/json, and
/// etcd members parse ours, so key order, omitted fields and exact 64-bit IDs all matter:
///
///     {"id":N,"peerURLs":[...]|null,"isLearner":true,"name":"..","clientURLs":[..],"isPromote":B}
///
/// `isLearner`, `name` and `clientURLs` are left out when empty; `isPromote` appears only in a
/// promote's context (etcd's ConfigChangeContext); `peerURLs` is `null` when etcd's slice is nil.
enum MemberJSON {
    /// A member record: a bootstrap or add context, or an element of `/members`.
    static func encode(_ member: Member, peerURLsNull: Bool = false, isPromote: Bool? = nil) -> String {
        member.etcdJSON(peerURLsNull: peerURLsNull, isPromote: isPromote)
    }

    /// The context etcd proposes to promote a learner.
    static func promoteContext(id: UInt64) -> String {
        encode(Member(id: id), peerURLsNull: true, isPromote: true)
    }

    /// The attributes a member publishes once it has started.
    static func attributes(name: String, clientURLs: [String]) -> String {
        var fields: [String] = []
        if !name.isEmpty { fields.append("\"name\":" + quote(name)) }
        if !clientURLs.isEmpty { fields.append("\"clientURLs\":" + array(clientURLs)) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// `/members`: every member, sorted by ID.
    static func memberList(_ members: [Member]) -> String {
        "[" + members.sorted { $0.id < $1.id }.map { encode($0) }.joined(separator: ",") + "]"
    }

    /// What a context or a `/members` element says.
    struct Decoded: Decodable {
        var id: UInt64
        var peerURLs: [String]?
        var isLearner: Bool?
        var name: String?
        var clientURLs: [String]?
        var isPromote: Bool?

        var member: Member {
            Member(id: id, name: name ?? "", peerURLs: peerURLs ?? [], clientURLs: clientURLs ?? [],
                   isLearner: isLearner ?? false)
        }
    }

    static func decode(_ bytes: [UInt8]) -> Decoded? {
        try? JSONDecoder().decode(Decoded.self, from: Data(bytes))
    }

    static func decodeList(_ bytes: [UInt8]) -> [Decoded]? {
        try? JSONDecoder().decode([Decoded].self, from: Data(bytes))
    }

    struct Attributes: Decodable {
        var name: String?
        var clientURLs: [String]?
    }

    static func decodeAttributes(_ text: String) -> Attributes? {
        try? JSONDecoder().decode(Attributes.self, from: Data(text.utf8))
    }

    static func array(_ values: [String]) -> String { Member.jsonArray(values) }
}
