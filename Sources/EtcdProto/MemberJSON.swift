import ProtoJSON

extension Member {
    /// etcd's membership.Member as Go's encoding/json writes it, the form in conf change
    /// contexts, `/members`, and etcd's `members` bucket:
    ///
    ///     {"id":N,"peerURLs":[...]|null,"isLearner":true,"name":"..","clientURLs":[..],"isPromote":B}
    ///
    /// `isLearner`, `name` and `clientURLs` are left out when empty; `isPromote` appears only in
    /// a promote's context (etcd's ConfigChangeContext); `peerURLs` is `null` when etcd's slice
    /// is nil.
    public func etcdJSON(peerURLsNull: Bool = false, isPromote: Bool? = nil) -> String {
        var text = "{\"id\":\(id),\"peerURLs\":"
        text += peerURLsNull ? "null" : Self.jsonArray(peerURLs)
        if isLearner { text += ",\"isLearner\":true" }
        if !name.isEmpty { text += ",\"name\":" + quote(name) }
        if !clientURLs.isEmpty { text += ",\"clientURLs\":" + Self.jsonArray(clientURLs) }
        if let isPromote { text += ",\"isPromote\":\(isPromote)" }
        return text + "}"
    }

    /// A JSON array of strings, as Go writes one.
    public static func jsonArray(_ values: [String]) -> String {
        "[" + values.map(quote).joined(separator: ",") + "]"
    }
}
