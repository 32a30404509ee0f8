import COpenSSL
import Foundation

/// The keys of etcd's JWT auth tokens (`--auth-token jwt,sign-method=...,pub-key=...,priv-key=...`)
/// and the signatures JWS defines for each method, made with OpenSSL:
/// - HS256/384/512: HMAC, the secret being the private key file's bytes, as etcd reads it;
/// - RS256/384/512: RSA PKCS #1 v1.5; PS256/384/512: RSA-PSS (salt as long as the digest);
/// - ES256/384/512: ECDSA, the signature as the two fixed-size halves r and s, not DER.
/// With a public key alone, tokens are only verified (etcd's "verify-only" provider).
public final class JWTKeys: @unchecked Sendable {
    public enum Family: Sendable { case hmac, rsa, pss, ecdsa }

    public let algorithm: String
    public let family: Family
    private let digestBits: Int
    private let signingKey: OpaquePointer?
    private let verifyingKey: OpaquePointer?
    private let secret: [UInt8]

    public var canSign: Bool { family == .hmac ? !secret.isEmpty : signingKey != nil }

    public init(algorithm: String, publicKeyFile: String?, privateKeyFile: String?) throws {
        self.algorithm = algorithm
        guard algorithm.count == 5, let bits = Int(algorithm.suffix(3)), [256, 384, 512].contains(bits) else {
            throw TLSError("auth: invalid auth signature method")
        }
        digestBits = bits
        switch algorithm.prefix(2) {
        case "HS": family = .hmac
        case "RS": family = .rsa
        case "PS": family = .pss
        case "ES": family = .ecdsa
        default: throw TLSError("auth: invalid auth signature method")
        }
        if family == .hmac {
            guard let privateKeyFile else { throw TLSError("auth: missing key data") }
            secret = try readFile(privateKeyFile)
            // An empty secret would let anyone sign (etcd refuses it too).
            guard !secret.isEmpty else { throw TLSError("auth: missing key data") }
            signingKey = nil
            verifyingKey = nil
            return
        }
        secret = []
        var privateKey: OpaquePointer?
        if let privateKeyFile {
            privateKey = try withMemoryBIO(try readFile(privateKeyFile)) { bio in
                guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                    ERR_clear_error()
                    throw TLSError("auth: invalid private key in \(privateKeyFile)")
                }
                return key
            }
        }
        var publicKey: OpaquePointer?
        // The private key is ours to free if the public one fails (deinit will not run).
        var pending = privateKey
        defer { if let pending { EVP_PKEY_free(pending) } }
        if let publicKeyFile {
            let pem = try readFile(publicKeyFile)
            // A public key, or (as Go's jwt reads it too) a certificate holding one.
            publicKey = try withMemoryBIO(pem) { bio -> OpaquePointer in
                if let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) { return key }
                ERR_clear_error()
                return try withMemoryBIO(pem) { bio -> OpaquePointer in
                    guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
                        ERR_clear_error()
                        throw TLSError("auth: invalid public key in \(publicKeyFile)")
                    }
                    defer { X509_free(certificate) }
                    guard let key = X509_get_pubkey(certificate) else { throw TLSError.openSSL("X509_get_pubkey") }
                    return key
                }
            }
        }
        guard privateKey != nil || publicKey != nil else { throw TLSError("auth: missing key data") }
        pending = nil
        signingKey = privateKey
        // A private key verifies its own signatures.
        verifyingKey = publicKey ?? privateKey.map { EVP_PKEY_up_ref($0); return $0 }
    }

    deinit {
        if let signingKey { EVP_PKEY_free(signingKey) }
        if let verifyingKey { EVP_PKEY_free(verifyingKey) }
    }

    private var digest: OpaquePointer? {
        switch digestBits {
        case 384: return EVP_sha384()
        case 512: return EVP_sha512()
        default: return EVP_sha256()
        }
    }

    /// The bytes of one ECDSA half: the curve's size, rounded up to whole bytes.
    private func ecHalfBytes(_ key: OpaquePointer) -> Int { (Int(EVP_PKEY_get_bits(key)) + 7) / 8 }

    public func sign(_ input: [UInt8]) throws -> [UInt8] {
        if family == .hmac {
            var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            guard HMAC(digest, secret, Int32(secret.count), input, input.count, &out, &length) != nil else {
                throw TLSError.openSSL("HMAC")
            }
            return Array(out[0..<Int(length)])
        }
        guard let key = signingKey else { throw TLSError("auth: token signing attempted with verify-only key") }
        guard let context = EVP_MD_CTX_new() else { throw TLSError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, digest, nil, key) == 1 else { throw TLSError.openSSL("EVP_DigestSignInit") }
        if family == .pss {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, 6 /* RSA_PKCS1_PSS_PADDING */) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, -1 /* the digest's length */) == 1 else {
                throw TLSError.openSSL("RSA-PSS")
            }
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, input, input.count) == 1 else { throw TLSError.openSSL("EVP_DigestSign") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, input, input.count) == 1 else { throw TLSError.openSSL("EVP_DigestSign") }
        signature.removeSubrange(length...)
        return family == .ecdsa ? try Self.rawECDSA(der: signature, half: ecHalfBytes(key)) : signature
    }

    public func verify(_ input: [UInt8], signature: [UInt8]) -> Bool {
        if family == .hmac {
            guard let expected = try? sign(input), expected.count == signature.count else { return false }
            return zip(expected, signature).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
        guard let key = verifyingKey, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, digest, nil, key) == 1 else { ERR_clear_error(); return false }
        if family == .pss {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, 6) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, -2 /* any */) == 1 else { ERR_clear_error(); return false }
        }
        var checked = signature
        if family == .ecdsa {
            guard let der = Self.derECDSA(raw: signature, half: ecHalfBytes(key)) else { return false }
            checked = der
        }
        let result = EVP_DigestVerify(context, checked, checked.count, input, input.count)
        ERR_clear_error()
        return result == 1
    }

    /// DER ECDSA-Sig-Value → r ‖ s, each `half` bytes.
    static func rawECDSA(der: [UInt8], half: Int) throws -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let sig = parsed else { throw TLSError.openSSL("d2i_ECDSA_SIG") }
        defer { ECDSA_SIG_free(sig) }
        var out = [UInt8](repeating: 0, count: 2 * half)
        guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig),
              out.withUnsafeMutableBufferPointer({ BN_bn2binpad(r, $0.baseAddress, Int32(half)) }) == half,
              out.withUnsafeMutableBufferPointer({ BN_bn2binpad(s, $0.baseAddress! + half, Int32(half)) }) == half else {
            throw TLSError.openSSL("BN_bn2binpad")
        }
        return out
    }

    /// r ‖ s → DER ECDSA-Sig-Value; nil if the length is not the curve's.
    static func derECDSA(raw: [UInt8], half: Int) -> [UInt8]? {
        guard raw.count == 2 * half, let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = BN_bin2bn(raw, Int32(half), nil)
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + half, Int32(half), nil) }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        _ = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        return der
    }
}
