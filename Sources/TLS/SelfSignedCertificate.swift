import COpenSSL
import Foundation

/// etcd's auto-TLS certificate: self-signed, ECDSA P-521 signed with SHA-512, subject `O=etcd`
/// without a common name, valid for a year from now, for server authentication, naming the
/// listen URLs' hosts as IP or DNS alternative names.
public enum SelfSignedCertificate {
    public struct Files: Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        /// Whether this call wrote them (false: they existed and were kept, as etcd keeps them).
        public var created: Bool
    }

    /// Makes `directory/cert.pem` and `directory/key.pem` unless both exist already.
    public static func ensure(in directory: String, hosts: [String], validForDays days: Int = 365) throws -> Files {
        let certFile = directory + "/cert.pem"
        let keyFile = directory + "/key.pem"
        let manager = FileManager.default
        if manager.fileExists(atPath: certFile) && manager.fileExists(atPath: keyFile) {
            return Files(certFile: certFile, keyFile: keyFile, created: false)
        }
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                    attributes: [.posixPermissions: 0o700])
        let (certificate, key) = try generate(hosts: hosts, validForDays: days)
        guard manager.createFile(atPath: certFile, contents: Data(certificate.utf8), attributes: [.posixPermissions: 0o644]),
              manager.createFile(atPath: keyFile, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TLSError("cannot write the self-signed certificate to \(directory)")
        }
        return Files(certFile: certFile, keyFile: keyFile, created: true)
    }

    /// The certificate and its key, PEM-encoded (the key in SEC1 "EC PRIVATE KEY" form).
    public static func generate(hosts: [String], validForDays days: Int) throws -> (certificate: String, key: String) {
        guard let keyContext = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw TLSError.openSSL("EC key") }
        defer { EVP_PKEY_CTX_free(keyContext) }
        var generated: OpaquePointer?
        guard EVP_PKEY_keygen_init(keyContext) == 1, EVP_PKEY_CTX_set_group_name(keyContext, "P-521") == 1,
              EVP_PKEY_generate(keyContext, &generated) == 1, let keyPointer = generated else {
            throw TLSError.openSSL("P-521 key generation")
        }
        let key = PrivateKey(owning: keyPointer)
        guard let x509 = X509_new() else { throw TLSError.openSSL("X509_new") }
        let certificate = Certificate(owning: x509)

        X509_set_version(x509, 2)
        // A random serial below 2^128.
        var serialBytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serialBytes, 16) == 1, let serial = BN_bin2bn(serialBytes, 16, nil) else {
            throw TLSError.openSSL("serial number")
        }
        defer { BN_free(serial) }
        guard let asn1Serial = BN_to_ASN1_INTEGER(serial, nil) else { throw TLSError.openSSL("serial number") }
        X509_set_serialNumber(x509, asn1Serial)
        ASN1_INTEGER_free(asn1Serial)
        X509_gmtime_adj(X509_getm_notBefore(x509), 0)
        X509_gmtime_adj(X509_getm_notAfter(x509), days * 24 * 3600)

        guard let name = X509_NAME_new() else { throw TLSError.openSSL("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, Array("etcd".utf8), -1, -1, 0)
        X509_set_subject_name(x509, name)
        X509_set_issuer_name(x509, name)
        X509_set_pubkey(x509, key.pointer)

        var extensionContext = X509V3_CTX()
        X509V3_set_ctx(&extensionContext, x509, x509, nil, nil, 0)
        let alternativeNames = hosts.map { isIPAddress($0) ? "IP:\($0)" : "DNS:\($0)" }
        var extensions: [(Int32, String)] = [
            (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
            (NID_ext_key_usage, "serverAuth"),
            (NID_basic_constraints, "critical,CA:FALSE"),
        ]
        if !alternativeNames.isEmpty {
            extensions.append((NID_subject_alt_name, alternativeNames.joined(separator: ",")))
        }
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &extensionContext, nid, value) else {
                throw TLSError.openSSL("certificate extension \(value)")
            }
            X509_add_ext(x509, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(x509, key.pointer, EVP_sha512()) > 0 else { throw TLSError.openSSL("X509_sign") }

        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError.openSSL("BIO_new") }
        defer { BIO_free(bio) }
        guard copenssl_pem_write_traditional_key(bio, key.pointer) == 1 else { throw TLSError.openSSL("key PEM") }
        let keyPEM = String(decoding: drain(bio), as: UTF8.self)
        return (certificate.pem, keyPEM)
    }
}
