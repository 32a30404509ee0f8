import COpenSSL

/// OpenSSL's handshake failures in the words Go's crypto/tls uses, which is what etcd logs
/// ("rejected connection ... error ...") and what operators grep for.
enum TLSFailureText {
    static func describe(reason: Int32, verifyResult: Int, role: TLSContext.Role,
                         peerCertificate: Certificate?, serverName: String?) -> TLSError {
        if reason > SSL_AD_REASON_OFFSET {
            return TLSError("remote error: tls: \(alertText(reason - SSL_AD_REASON_OFFSET))")
        }
        switch reason {
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_PACKET_LENGTH_TOO_LONG,
             SSL_R_UNKNOWN_PROTOCOL, SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_BAD_PACKET_LENGTH:
            return TLSError("tls: first record does not look like a TLS handshake")
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return TLSError("tls: client didn't provide a certificate")
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            let x509 = verification(Int32(verifyResult), peerCertificate: peerCertificate, serverName: serverName)
            return TLSError(role == .server ? "tls: failed to verify client certificate: \(x509)" : x509)
        case SSL_R_NO_SHARED_CIPHER:
            return TLSError("tls: no cipher suite supported by both client and server")
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return TLSError("tls: client offered only unsupported versions")
        case SSL_R_NO_APPLICATION_PROTOCOL:
            return TLSError("tls: client requested unsupported application protocols")
        case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
            return TLSError("local error: tls: bad record MAC")
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return TLSError("EOF")
        case SSL_R_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD:
            return TLSError("local error: tls: unexpected message")
        default:
            let text = ERR_reason_error_string(UInt(reason)).map { String(cString: $0) } ?? "reason \(reason)"
            return TLSError("tls: \(text)")
        }
    }

    /// Go's x509 verification errors.
    static func verification(_ result: Int32, peerCertificate: Certificate?, serverName: String?) -> String {
        switch result {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_SIGNATURE_FAILURE:
            return "x509: certificate signed by unknown authority"
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
            return "x509: certificate has expired or is not yet valid"
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            let names = peerCertificate.map { certificate -> String in
                let (dns, ips) = certificate.alternativeNames
                return (dns + ips).joined(separator: ", ")
            } ?? ""
            return "x509: certificate is valid for \(names), not \(serverName ?? "")"
        case X509_V_ERR_INVALID_PURPOSE:
            return "x509: certificate specifies an incompatible key usage"
        case X509_V_ERR_CERT_REJECTED, X509_V_ERR_APPLICATION_VERIFICATION:
            return "client certificate authentication failed"
        default:
            return "x509: " + (X509_verify_cert_error_string(Int(result)).map { String(cString: $0) } ?? "verify error \(result)")
        }
    }

    /// Alert descriptions as Go names them.
    static func alertText(_ alert: Int32) -> String {
        switch alert {
        case 0: return "close notify"
        case 10: return "unexpected message"
        case 20: return "bad record MAC"
        case 21: return "decryption failed"
        case 22: return "record overflow"
        case 30: return "decompression failure"
        case 40: return "handshake failure"
        case 42: return "bad certificate"
        case 43: return "unsupported certificate"
        case 44: return "revoked certificate"
        case 45: return "expired certificate"
        case 46: return "unknown certificate"
        case 47: return "illegal parameter"
        case 48: return "unknown certificate authority"
        case 49: return "access denied"
        case 50: return "error decoding message"
        case 51: return "error decrypting message"
        case 70: return "protocol version not supported"
        case 71: return "insufficient security level"
        case 80: return "internal error"
        case 86: return "inappropriate fallback"
        case 90: return "user canceled"
        case 100: return "no renegotiation"
        case 109: return "missing extension"
        case 110: return "unsupported extension"
        case 112: return "unrecognized name"
        case 116: return "certificate required"
        case 120: return "no application protocol"
        default: return "alert(\(alert))"
        }
    }
}
