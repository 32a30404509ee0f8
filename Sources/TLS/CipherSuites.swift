import COpenSSL

/// The cipher suite names etcd's `--cipher-suites` accepts (Go's secure and insecure suites by
/// their IANA names, plus two aliases) and their OpenSSL equivalents.
public enum CipherSuites {
    /// Every accepted name.
    public static let accepted: Set<String> = [
        "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        // Insecure, accepted all the same.
        "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        // Aliases.
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    ]

    /// The first name etcd does not know, if any.
    public static func firstUnknown(_ names: [String]) -> String? {
        names.first { !accepted.contains($0) }
    }

    /// HTTP/2 needs an ECDHE AES-128-GCM suite among the TLS 1.2 ones (RFC 7540 9.2.2); etcd's
    /// client port refuses to start without one when the list is set.
    public static func satisfiesHTTP2(_ names: [String]) -> Bool {
        names.isEmpty || names.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
            || names.contains("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    }

    /// The OpenSSL name of a TLS 1.2 suite; nil for TLS 1.3 suites (not configurable) and
    /// suites this OpenSSL lacks.
    static func openSSLName(for name: String) -> String? {
        let iana: String
        switch name {
        case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256": return nil
        case "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": iana = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": iana = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        default: iana = name
        }
        guard let converted = OPENSSL_cipher_name(iana) else { return nil }
        let openSSL = String(cString: converted)
        return openSSL == "(NONE)" ? nil : openSSL
    }
}
