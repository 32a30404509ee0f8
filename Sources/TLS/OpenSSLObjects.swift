import COpenSSL
import Foundation

/// A TLS set-up or handshake problem, worded the way etcd (Go's crypto/tls) words it where the
/// operator sees it: in "rejected connection" log lines and start-up errors.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// OpenSSL's queued errors as one line ("" when there are none); empties the queue.
    static func drainQueue() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                reasons.append("error \(code)")
            }
        }
        return reasons.joined(separator: "; ")
    }

    static func openSSL(_ what: String) -> TLSError {
        let queued = drainQueue()
        return TLSError(queued.isEmpty ? what : "\(what): \(queued)")
    }
}

/// Reads a whole file as Go's os.ReadFile reports failures ("open PATH: no such file or directory").
func readFile(_ path: String) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        let reason = String(cString: strerror(errno))
        throw TLSError("open \(path): \(reason.prefix(1).lowercased() + reason.dropFirst())")
    }
    defer { try? handle.close() }
    return [UInt8](handle.readDataToEndOfFile())
}

/// A memory BIO over `bytes` (read-only), for the PEM and DER readers.
func withMemoryBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> T) throws -> T {
    try bytes.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
            throw TLSError.openSSL("BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// An X.509 certificate (owns one reference).
public final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of one reference.
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Adds a reference to a certificate OpenSSL owns.
    init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Every certificate in a PEM file, in order; fails on a file without any.
    public static func chain(fromPEMFile path: String) throws -> [Certificate] {
        let chain = try chain(fromPEM: readFile(path))
        if chain.isEmpty { throw TLSError("tls: failed to find any PEM data in certificate input") }
        return chain
    }

    public static func chain(fromPEM bytes: [UInt8]) throws -> [Certificate] {
        try withMemoryBIO(bytes) { bio in
            var chain: [Certificate] = []
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                chain.append(Certificate(owning: x509))
            }
            ERR_clear_error()  // the end of the file reads as an error
            return chain
        }
    }

    /// The subject's common name, empty when there is none.
    public var commonName: String {
        guard let name = X509_get_subject_name(pointer) else { return "" }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
              let data = X509_NAME_ENTRY_get_data(entry) else { return "" }
        return asn1String(data)
    }

    /// DNS names and IP addresses among the subject alternative names.
    public var alternativeNames: (dnsNames: [String], ipAddresses: [String]) {
        var dns: [String] = []
        var ips: [String] = []
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return ([], []) }
        let names = OpaquePointer(raw)
        defer { copenssl_general_names_free(names) }
        for index in 0..<copenssl_general_names_count(names) {
            guard let name = copenssl_general_names_at(names, index) else { continue }
            switch name.pointee.type {
            case GEN_DNS:
                if let value = name.pointee.d.dNSName { dns.append(asn1String(value)) }
            case GEN_IPADD:
                if let value = name.pointee.d.iPAddress { ips.append(ipString(value)) }
            default:
                break
            }
        }
        return (dns, ips)
    }

    /// The serial number's bytes, big-endian without leading zeros (Go's big.Int.Bytes()).
    public var serialBytes: [UInt8] {
        guard let serial = X509_get_serialNumber(pointer), let bn = ASN1_INTEGER_to_BN(serial, nil) else { return [] }
        defer { BN_free(bn) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(bn) + 7) / 8))
        _ = BN_bn2bin(bn, &bytes)
        return bytes
    }

    /// Whether the certificate is valid for `host` (a DNS name or an IP address), by its
    /// subject alternative names.
    public func matches(host: String) -> Bool {
        if isIPAddress(host) {
            return X509_check_ip_asc(pointer, host, 0) == 1
        }
        return X509_check_host(pointer, host, host.utf8.count, 0, nil) == 1
    }

    /// PEM text of the certificate.
    public var pem: String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        PEM_write_bio_X509(bio, pointer)
        return String(decoding: drain(bio), as: UTF8.self)
    }
}

/// A private key (owns one reference).
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { EVP_PKEY_free(pointer) }

    public static func load(pemFile path: String) throws -> PrivateKey {
        try load(pem: readFile(path))
    }

    public static func load(pem bytes: [UInt8]) throws -> PrivateKey {
        try withMemoryBIO(bytes) { bio in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                ERR_clear_error()
                throw TLSError("tls: failed to find any PEM data in key input")
            }
            return PrivateKey(owning: key)
        }
    }
}

/// A certificate, the intermediates sent with it and its private key.
public final class KeyPair: @unchecked Sendable {
    public let leaf: Certificate
    public let intermediates: [Certificate]
    let key: PrivateKey
    /// The intermediates as an OpenSSL stack, for SSL_use_cert_and_key.
    let chainStack: OpaquePointer

    public init(chain: [Certificate], key: PrivateKey) throws {
        guard let leaf = chain.first else { throw TLSError("tls: failed to find any PEM data in certificate input") }
        guard X509_check_private_key(leaf.pointer, key.pointer) == 1 else {
            ERR_clear_error()
            throw TLSError("tls: private key does not match public key")
        }
        self.leaf = leaf
        self.intermediates = Array(chain.dropFirst())
        self.key = key
        guard let stack = copenssl_x509_stack_new() else { throw TLSError.openSSL("sk_X509_new") }
        for certificate in intermediates {
            X509_up_ref(certificate.pointer)
            _ = copenssl_x509_stack_push(stack, certificate.pointer)
        }
        chainStack = stack
    }

    deinit { copenssl_x509_stack_free_all(chainStack) }

    /// Reads a certificate file and a key file as etcd does; the errors are etcd's.
    public static func load(certFile: String, keyFile: String) throws -> KeyPair {
        let chain = try Certificate.chain(fromPEMFile: certFile)
        let key = try PrivateKey.load(pemFile: keyFile)
        return try KeyPair(chain: chain, key: key)
    }
}

/// The serial numbers a certificate revocation list names. Like etcd, only serials count: the
/// list's signature, issuer and dates are not checked.
public struct RevocationList: Sendable {
    public let revokedSerials: Set<[UInt8]>

    /// Reads a CRL in PEM or DER form.
    public static func load(file path: String) throws -> RevocationList {
        let bytes = try readFile(path)
        let crl: OpaquePointer? = try withMemoryBIO(bytes) { bio in
            if let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) { return crl }
            ERR_clear_error()
            return bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor = buffer.baseAddress
                return d2i_X509_CRL(nil, &cursor, buffer.count)
            }
        }
        guard let crl else {
            ERR_clear_error()
            throw TLSError("asn1: structure error: the CRL in \(path) could not be parsed")
        }
        defer { X509_CRL_free(crl) }
        var serials = Set<[UInt8]>()
        let revoked = X509_CRL_get_REVOKED(crl)
        for index in 0..<copenssl_revoked_count(revoked) {
            guard let entry = copenssl_revoked_at(revoked, index),
                  let serial = X509_REVOKED_get0_serialNumber(entry),
                  let bn = ASN1_INTEGER_to_BN(serial, nil) else { continue }
            var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(bn) + 7) / 8))
            _ = BN_bn2bin(bn, &bytes)
            BN_free(bn)
            serials.insert(bytes)
        }
        return RevocationList(revokedSerials: serials)
    }
}

func asn1String(_ value: UnsafePointer<ASN1_STRING>) -> String {
    guard let data = ASN1_STRING_get0_data(value) else { return "" }
    let length = Int(ASN1_STRING_length(value))
    return String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self)
}

private func ipString(_ value: UnsafePointer<ASN1_STRING>) -> String {
    guard let data = ASN1_STRING_get0_data(value) else { return "" }
    let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(value))))
    if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
    if bytes.count == 16 {
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count)) != nil else { return "" }
        return cString(text)
    }
    return ""
}

func isIPAddress(_ host: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
}

/// Everything a memory BIO holds.
func drain(_ bio: OpaquePointer) -> [UInt8] {
    let pending = Int(copenssl_bio_pending(bio))
    guard pending > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: pending)
    let read = BIO_read(bio, &bytes, Int32(pending))
    return read > 0 ? Array(bytes.prefix(Int(read))) : []
}

/// A NUL-terminated C string held in an array.
func cString(_ characters: [CChar]) -> String {
    let bytes = characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
