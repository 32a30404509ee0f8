import COpenSSL

/// A member as `--initial-cluster` describes it.
public struct InitialMember: Sendable, Equatable {
    public var name: String
    public var peerURLs: [String]
    public var id: UInt64
}

/// Member and cluster IDs as etcd derives them at bootstrap, so that the same flags give the
/// same IDs as etcd:
/// - member ID: the first 8 bytes (big-endian) of SHA-1 over the member's sorted peer URLs
///   concatenated, followed by the cluster token;
/// - cluster ID: the same over the sorted member IDs, each as 8 big-endian bytes.
public enum ClusterIdentity {
    public static func memberID(peerURLs: [String], token: String) -> UInt64 {
        let bytes = Array((peerURLs.sorted().joined() + token).utf8)
        return sha1Prefix(bytes)
    }

    public static func clusterID(memberIDs: [UInt64]) -> UInt64 {
        var bytes: [UInt8] = []
        for id in memberIDs.sorted() {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        }
        return sha1Prefix(bytes)
    }

    private static func sha1Prefix(_ bytes: [UInt8]) -> UInt64 {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in _ = SHA1(input.baseAddress, input.count, output.baseAddress) }
        }
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses `name=url,name=url,...`; a name may repeat for several URLs.
    public static func parseInitialCluster(_ text: String, token: String) throws(ConfigError) -> [InitialMember] {
        var order: [String] = []
        var urlsByName: [String: [String]] = [:]
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2 else {
                throw .invalid("error setting up initial cluster: \(part) is not a valid key=value pair")
            }
            let name = String(pieces[0])
            let url: URLList.Parsed
            do { url = try URLList.parseOne(String(pieces[1]).trimming(" ")) } catch { throw .invalid(error.description) }
            if urlsByName[name] == nil { order.append(name) }
            urlsByName[name, default: []].append(url.text)
        }
        return order.map { name in
            let urls = urlsByName[name] ?? []
            return InitialMember(name: name, peerURLs: urls.sorted(), id: memberID(peerURLs: urls, token: token))
        }
    }

    /// etcd prints IDs as lower-case hex without padding.
    public static func hex(_ id: UInt64) -> String { String(id, radix: 16) }
}
