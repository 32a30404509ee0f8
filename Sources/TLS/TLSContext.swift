import COpenSSL
import Foundation

/// How one side of a TLS link is set up: etcd's TLSInfo, in OpenSSL's terms.
public struct TLSSettings: Sendable {
    /// The certificate this side presents (the server's, or a client certificate when
    /// dialing); re-read when the files change.
    public var keyPair: KeyPairFiles?
    /// CA certificates that verify the other side, read once; nil verifies against the
    /// system's roots.
    public var trustedCAFile: String?
    /// Server: require and verify a client certificate. Client: verify the server's.
    public var verifyPeer: Bool
    /// Server: a CRL (PEM or DER) re-read for every connection; any certificate the client
    /// sent whose serial it lists is refused after the handshake.
    public var crlFile: String?
    /// The other side's verified leaf must have exactly this common name.
    public var allowedCommonName: String?
    /// The other side's verified leaf must be valid for this host name (or IP address).
    public var allowedHostname: String?
    /// Server: a client certificate with subject alternative names must name the address the
    /// connection comes from (etcd's peer and metrics listeners).
    public var checkClientAddress: Bool
    /// TLS 1.2 cipher suites by their IANA (Go) names; empty keeps OpenSSL's defaults. TLS 1.3
    /// suites are not configurable, as in etcd.
    public var cipherSuites: [String]
    /// Application protocols in preference order (ALPN).
    public var applicationProtocols: [String]

    public init(keyPair: KeyPairFiles? = nil, trustedCAFile: String? = nil, verifyPeer: Bool = false,
                crlFile: String? = nil, allowedCommonName: String? = nil, allowedHostname: String? = nil,
                checkClientAddress: Bool = false, cipherSuites: [String] = [], applicationProtocols: [String] = []) {
        self.keyPair = keyPair
        self.trustedCAFile = trustedCAFile
        self.verifyPeer = verifyPeer
        self.crlFile = crlFile
        self.allowedCommonName = allowedCommonName
        self.allowedHostname = allowedHostname
        self.checkClientAddress = checkClientAddress
        self.cipherSuites = cipherSuites
        self.applicationProtocols = applicationProtocols
    }
}

/// An OpenSSL context for one listener or one dialer: settings fixed at start-up, the key pair
/// picked up per connection.
public final class TLSContext: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let settings: TLSSettings
    let context: OpaquePointer
    /// The ALPN list in wire form (length-prefixed names), alive as long as the context.
    private let alpnWire: UnsafeMutableBufferPointer<UInt8>

    /// Why the last certificate check of a session failed (set from the verify callback).
    static let sessionIndex: Int32 = copenssl_ssl_ex_index()

    public init(role: Role, settings: TLSSettings) throws {
        self.role = role
        self.settings = settings
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError.openSSL("SSL_CTX_new")
        }
        self.context = context
        let wire = settings.applicationProtocols.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        alpnWire = .allocate(capacity: max(wire.count, 1))
        _ = alpnWire.initialize(from: wire)
        do {
            try configure(wireCount: wire.count)
        } catch {
            SSL_CTX_free(context)
            alpnWire.deallocate()
            throw error
        }
    }

    deinit {
        SSL_CTX_free(context)
        alpnWire.deallocate()
    }

    private func configure(wireCount: Int) throws {
        // TLS 1.2 and 1.3, as etcd (Go) offers them.
        guard copenssl_ctx_set_min_tls12(context) == 1 else { throw TLSError.openSSL("minimum TLS version") }
        copenssl_ctx_set_server_options(context)
        if !settings.cipherSuites.isEmpty {
            let names = settings.cipherSuites.compactMap(CipherSuites.openSSLName(for:))
            if names.isEmpty || SSL_CTX_set_cipher_list(context, names.joined(separator: ":")) != 1 {
                ERR_clear_error()
                throw TLSError("tls: none of the cipher suites \(settings.cipherSuites) is supported")
            }
        }
        if settings.verifyPeer {
            if let file = settings.trustedCAFile {
                _ = try readFile(file)  // etcd's error for a missing file
                guard SSL_CTX_load_verify_locations(context, file, nil) == 1 else {
                    throw TLSError.openSSL("failed to load the trusted CA file \(file)")
                }
                if role == .server, let names = SSL_load_client_CA_file(file) {
                    SSL_CTX_set_client_CA_list(context, names)
                }
            } else {
                SSL_CTX_set_default_verify_paths(context)
            }
            let mode = role == .server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER
            SSL_CTX_set_verify(context, mode, verifyCallback)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if wireCount > 0 {
            switch role {
            case .server:
                SSL_CTX_set_alpn_select_cb(context, selectApplicationProtocol,
                                           Unmanaged.passUnretained(self).toOpaque())
            case .client:
                guard SSL_CTX_set_alpn_protos(context, alpnWire.baseAddress, UInt32(wireCount)) == 0 else {
                    throw TLSError.openSSL("ALPN")
                }
            }
        }
    }

    /// A session for one connection. `serverName` (client role) is the host the peer URL
    /// names: it is verified against the server's certificate and, for a DNS name, sent as SNI.
    public func makeSession(serverName: String? = nil) throws -> TLSSession {
        let keyPair = try settings.keyPair?.current()
        if role == .server && keyPair == nil { throw TLSError("tls: no certificates configured") }
        return try TLSSession(context: self, keyPair: keyPair, serverName: serverName)
    }

    /// The checks etcd makes once a server handshake succeeded: the CRL, then (peer and
    /// metrics listeners) the client certificate's names against the remote address.
    public func checkAfterHandshake(_ session: TLSSession, remoteAddress: String?) -> TLSError? {
        guard role == .server, let leaf = session.peerCertificate else { return nil }
        if let crlFile = settings.crlFile {
            let list: RevocationList
            do {
                list = try RevocationList.load(file: crlFile)
            } catch {
                return error as? TLSError ?? TLSError("\(error)")
            }
            for certificate in [leaf] + session.peerChain {
                let serial = certificate.serialBytes
                if list.revokedSerials.contains(serial) {
                    return TLSError("transport: certificate serial \(serial.map { String(format: "%02x", $0) }.joined()) revoked")
                }
            }
        }
        if settings.checkClientAddress, let remoteAddress {
            let (dns, ips) = leaf.alternativeNames
            if !ips.isEmpty {
                if !leaf.matches(host: remoteAddress) {
                    return TLSError("x509: certificate is valid for \(ips.joined(separator: ", ")), not \(remoteAddress)")
                }
            } else if !dns.isEmpty {
                if !dns.contains(where: { resolves($0, to: remoteAddress) }) {
                    return TLSError("tls: \"\(remoteAddress)\" does not match any of DNSNames \(dns)")
                }
            }
        }
        return nil
    }

    /// The ALPN server list in wire form.
    fileprivate var alpnList: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(alpnWire) }
}

/// Whether `name` resolves to `address`.
private func resolves(_ name: String, to address: String) -> Bool {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return false }
    defer { freeaddrinfo(first) }
    var cursor: UnsafeMutablePointer<addrinfo>? = first
    while let info = cursor {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0,
                       NI_NUMERICHOST) == 0, cString(host) == address {
            return true
        }
        cursor = info.pointee.ai_next
    }
    return false
}

/// Chooses the first of the server's protocols the client offers; a client offering only
/// others gets the no_application_protocol alert, as from Go.
private let selectApplicationProtocol: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
    UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
) -> Int32 = { _, out, outLength, offered, offeredLength, argument in
    guard let argument, let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
    let mine = context.alpnList
    let theirs = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    // Walk our list in order; pick the first name the client also sent.
    var index = 0
    while index < mine.count {
        let length = Int(mine[index])
        let name = mine[(index + 1)..<(index + 1 + length)]
        var cursor = 0
        while cursor < theirs.count {
            let theirLength = Int(theirs[cursor])
            guard cursor + 1 + theirLength <= theirs.count else { break }
            if theirLength == length && theirs[(cursor + 1)..<(cursor + 1 + theirLength)].elementsEqual(name) {
                out.pointee = offered + cursor + 1
                outLength.pointee = UInt8(theirLength)
                return SSL_TLSEXT_ERR_OK
            }
            cursor += 1 + theirLength
        }
        index += 1 + length
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL
}

/// After OpenSSL's own chain verification, the leaf must also pass the allowed common name
/// or host name (etcd's VerifyPeerCertificate hook); failing it sends bad_certificate.
private let verifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
    guard let store, let rawSSL = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let rawSession = SSL_get_ex_data(OpaquePointer(rawSSL), TLSContext.sessionIndex) else { return preverified }
    let session = Unmanaged<TLSSession>.fromOpaque(rawSession).takeUnretainedValue()
    guard preverified == 1 else {
        // Keep the certificate that failed, for the error text.
        if let leaf = X509_STORE_CTX_get0_cert(store) { session.rejectedCertificate = Certificate(retaining: leaf) }
        return 0
    }
    guard X509_STORE_CTX_get_error_depth(store) == 0, let leaf = X509_STORE_CTX_get_current_cert(store) else { return 1 }
    let settings = session.context.settings
    let certificate = Certificate(retaining: leaf)
    var allowed = true
    if let cn = settings.allowedCommonName, certificate.commonName != cn { allowed = false }
    if let host = settings.allowedHostname, !certificate.matches(host: host) { allowed = false }
    if !allowed {
        session.verificationFailure = TLSError("client certificate authentication failed")
        session.rejectedCertificate = certificate
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
        return 0
    }
    return 1
}
