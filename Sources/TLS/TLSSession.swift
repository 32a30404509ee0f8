import COpenSSL

/// One TLS connection's state, over memory buffers: ciphertext goes in with `feed`, comes out
/// with `takeOutput`; plaintext goes in with `write` and comes out with `read`. No sockets and
/// no threads, so the event-loop handler and the tests drive it the same way. Not thread-safe.
public final class TLSSession: @unchecked Sendable {
    public enum HandshakeProgress: Equatable, Sendable {
        case done
        case needsInput
        case failed(TLSError)
    }

    public enum ReadResult: Equatable, Sendable {
        /// Plaintext bytes were appended.
        case data(Int)
        /// Nothing more until more ciphertext arrives.
        case needsInput
        /// The other side sent close_notify.
        case closed
        case failed(TLSError)
    }

    let context: TLSContext
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private let role: TLSContext.Role
    /// Set by the verify callback when the allowed name check refused the other side.
    var verificationFailure: TLSError?
    /// The certificate whose verification failed, for the error text.
    var rejectedCertificate: Certificate?
    /// The host the server's certificate must be valid for (client role).
    private let expectedServerName: String?
    public private(set) var isHandshakeComplete = false

    init(context: TLSContext, keyPair: KeyPair?, serverName: String?) throws {
        guard let ssl = SSL_new(context.context) else { throw TLSError.openSSL("SSL_new") }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.openSSL("BIO_new")
        }
        copenssl_bio_set_eof_retry(input)
        copenssl_bio_set_eof_retry(output)
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs now
        self.ssl = ssl
        self.input = input
        self.output = output
        self.context = context
        self.role = context.role
        self.expectedServerName = serverName
        SSL_set_ex_data(ssl, TLSContext.sessionIndex, Unmanaged.passUnretained(self).toOpaque())
        if let keyPair {
            guard SSL_use_cert_and_key(ssl, keyPair.leaf.pointer, keyPair.key.pointer, keyPair.chainStack, 1) == 1 else {
                throw TLSError.openSSL("tls: the certificate cannot be used")
            }
        }
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName, context.settings.verifyPeer, let parameters = SSL_get0_param(ssl) {
                let set = isIPAddress(serverName)
                    ? X509_VERIFY_PARAM_set1_ip_asc(parameters, serverName)
                    : X509_VERIFY_PARAM_set1_host(parameters, serverName, 0)
                guard set == 1 else { throw TLSError.openSSL("server name \(serverName)") }
            }
            if let serverName, !isIPAddress(serverName) {
                _ = copenssl_set_sni(ssl, serverName)
            }
        }
    }

    deinit { SSL_free(ssl) }

    // MARK: Ciphertext

    /// Hands over bytes received from the network.
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = BIO_write(input, bytes.baseAddress! + offset, Int32(bytes.count - offset))
            if written <= 0 { break }
            offset += Int(written)
        }
    }

    /// Bytes waiting to go to the network.
    public var pendingOutput: Int { Int(copenssl_bio_pending(output)) }

    /// Moves up to `capacity` pending bytes into `buffer`; returns how many.
    public func takeOutput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let read = BIO_read(output, base, Int32(clamping: buffer.count))
        return read > 0 ? Int(read) : 0
    }

    /// Every pending byte.
    public func takeOutput() -> [UInt8] { drain(output) }

    // MARK: Handshake

    /// Advances the handshake with what was fed so far.
    public func handshake() -> HandshakeProgress {
        if isHandshakeComplete { return .done }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isHandshakeComplete = true
            return .done
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .needsInput }
        return .failed(failure(code: code))
    }

    /// The failure in etcd's words (Go's crypto/tls error texts).
    private func failure(code: Int32) -> TLSError {
        if let verificationFailure { ERR_clear_error(); return verificationFailure }
        let error = ERR_peek_error()
        let reason = ERR_GET_REASON(error)
        ERR_clear_error()
        if code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN || error == 0 { return TLSError("EOF") }
        return TLSFailureText.describe(reason: reason, verifyResult: SSL_get_verify_result(ssl), role: role,
                                       peerCertificate: rejectedCertificate ?? peerCertificate,
                                       serverName: expectedServerName)
    }

    // MARK: Plaintext

    /// Encrypts `bytes` (all of them: the output buffer grows as needed).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let written = SSL_write(ssl, bytes.baseAddress! + offset, Int32(clamping: bytes.count - offset))
            if written <= 0 {
                throw TLSError.openSSL("write")
            }
            offset += Int(written)
        }
    }

    /// Decrypts into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .needsInput }
        ERR_clear_error()
        let read = SSL_read(ssl, base, Int32(clamping: buffer.count))
        if read > 0 { return .data(Int(read)) }
        let code = SSL_get_error(ssl, read)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needsInput
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(failure(code: code))
        }
    }

    /// Queues close_notify.
    public func shutdown() {
        guard isHandshakeComplete else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    // MARK: What was negotiated

    /// The application protocol ALPN chose, if any.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The other side's leaf certificate, if it sent one.
    public var peerCertificate: Certificate? {
        guard let x509 = SSL_get0_peer_certificate(ssl) else { return nil }
        return Certificate(retaining: x509)
    }

    /// The certificates the other side sent after its leaf.
    public var peerChain: [Certificate] {
        guard let stack = SSL_get_peer_cert_chain(ssl) else { return [] }
        var chain: [Certificate] = []
        for index in 0..<copenssl_x509_stack_count(stack) {
            if let x509 = copenssl_x509_stack_at(stack, index) { chain.append(Certificate(retaining: x509)) }
        }
        // A client's chain starts with the server's leaf; a server's omits the client's.
        if role == .client, !chain.isEmpty { chain.removeFirst() }
        return chain
    }

    /// The server name the client asked for (SNI), "" when none.
    public var requestedServerName: String {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return "" }
        return String(cString: name)
    }

    /// The negotiated protocol version and cipher, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256".
    public var negotiated: String {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_standard_name($0) }.map { String(cString: $0) } ?? "?"
        return "\(version) \(cipher)"
    }
}
