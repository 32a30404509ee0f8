import Foundation
import NIOCore
import ServerLog
import TLS

/// One port's TLS flags, as etcd's TLSInfo holds them.
public struct TLSInfo: Sendable, Equatable {
    public var certFile = ""
    public var keyFile = ""
    public var trustedCAFile = ""
    public var clientCertAuth = false
    public var crlFile = ""
    public var allowedCN = ""
    public var allowedHostname = ""

    public init(certFile: String = "", keyFile: String = "", trustedCAFile: String = "", clientCertAuth: Bool = false,
                crlFile: String = "", allowedCN: String = "", allowedHostname: String = "") {
        self.certFile = certFile
        self.keyFile = keyFile
        self.trustedCAFile = trustedCAFile
        self.clientCertAuth = clientCertAuth
        self.crlFile = crlFile
        self.allowedCN = allowedCN
        self.allowedHostname = allowedHostname
    }

    /// No certificate configured (etcd's TLSInfo.Empty).
    public var isEmpty: Bool { certFile.isEmpty && keyFile.isEmpty }

    /// etcd's one-line description, as its start-up log prints it.
    var summary: String {
        "cert = \(certFile), key = \(keyFile), trusted-ca = \(trustedCAFile), client-cert-auth = \(clientCertAuth), crl-file = \(crlFile)"
    }
}

/// TLS for the client and peer ports, made once at start-up: auto-TLS certificates generated
/// or reused, etcd's checks of URLs against certificates (with its error texts and warnings),
/// and the OpenSSL contexts.
struct ServerTLS: Sendable {
    /// Serves https client URLs; nil when every client URL is plain.
    let client: TLSContext?
    /// Serves https metrics URLs (the client TLS settings, with the address check).
    let metrics: TLSContext?
    /// Serves https peer URLs; nil when every peer URL is plain.
    let peerServer: TLSContext?
    /// Dials https peer URLs.
    let peerClient: TLSContext
    /// Whether refusals are logged (not with auto-TLS, as in etcd).
    let logsClientRejections: Bool
    let logsPeerRejections: Bool

    static func prepare(config: ServerConfig, logger: Logger) throws -> ServerTLS {
        if let unknown = CipherSuites.firstUnknown(config.cipherSuites) {
            throw TLSError("unexpected TLS cipher suite \"\(unknown)\"")
        }
        // The peer side first, as etcd does.
        let peer = try effectiveInfo(config.peerTLS, auto: config.peerAutoTLS, side: "peer",
                                     directory: config.dataDir + "/fixtures/peer", urls: config.listenPeerURLs,
                                     logger: logger)
        if !peer.info.isEmpty {
            logger.info("starting with peer TLS", ["tls-info": peer.info.summary, "cipher-suites": config.cipherSuites],
                        text: "peerTLS: \(peer.info.summary)", package: "embed")
        }
        for url in config.listenPeerURLs {
            if url.isTLS && peer.info.isEmpty {
                throw TLSError("cannot listen on TLS for \(url.hostPort): KeyFile and CertFile are not presented")
            }
            if !url.isTLS && !peer.info.isEmpty {
                logger.warn("scheme is HTTP while key and cert files are present; ignoring key and cert files",
                            ["peer-url": url.text],
                            text: "The scheme of peer url \(url.text) is HTTP while peer key/cert files are presented. Ignored peer key/cert files.",
                            package: "embed")
            }
            if !url.isTLS && peer.info.clientCertAuth {
                logger.warn("scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL",
                            ["peer-url": url.text],
                            text: "The scheme of peer url \(url.text) is HTTP while client cert auth (--peer-client-cert-auth) is enabled. Ignored client cert auth for this url.",
                            package: "embed")
            }
        }
        let client = try effectiveInfo(config.clientTLS, auto: config.clientAutoTLS, side: "client",
                                       directory: config.dataDir + "/fixtures/client", urls: config.listenClientURLs,
                                       logger: logger)
        if !client.info.isEmpty {
            logger.info("starting with client TLS", ["tls-info": client.info.summary, "cipher-suites": config.cipherSuites],
                        text: "ClientTLS: \(client.info.summary)", package: "embed")
        }
        for url in config.listenClientURLs {
            if url.isTLS && client.info.isEmpty {
                throw TLSError("TLS key/cert (--cert-file, --key-file) must be provided for client url \(url.text) with HTTPS scheme")
            }
            if !url.isTLS && !client.info.isEmpty {
                logger.warn("scheme is HTTP while key and cert files are present; ignoring key and cert files",
                            ["client-url": url.text],
                            text: "The scheme of client url \(url.text) is HTTP while peer key/cert files are presented. Ignored key/cert files.",
                            package: "embed")
            }
            if !url.isTLS && client.info.clientCertAuth {
                logger.warn("scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL",
                            ["client-url": url.text],
                            text: "The scheme of client url \(url.text) is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url.",
                            package: "embed")
            }
        }

        let peerServing = config.listenPeerURLs.contains(where: \.isTLS)
        let clientServing = config.listenClientURLs.contains(where: \.isTLS)
        let metricsServing = config.listenMetricsURLs.contains(where: \.isTLS)
        if metricsServing && client.info.isEmpty {
            throw TLSError("TLS key/cert (--cert-file, --key-file) must be provided for metrics url with HTTPS scheme")
        }
        if clientServing && !CipherSuites.satisfiesHTTP2(config.cipherSuites) {
            throw TLSError("http2: TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher (need at least one of TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)")
        }
        return ServerTLS(
            client: clientServing
                ? try context(.server, client.info, auto: client.auto, ciphers: config.cipherSuites,
                              applicationProtocols: ["h2", "http/1.1"], checkClientAddress: false)
                : nil,
            metrics: metricsServing
                ? try context(.server, client.info, auto: client.auto, ciphers: config.cipherSuites,
                              applicationProtocols: ["h2", "http/1.1"], checkClientAddress: true)
                : nil,
            peerServer: peerServing
                ? try context(.server, peer.info, auto: peer.auto, ciphers: config.cipherSuites,
                              applicationProtocols: ["http/1.1"], checkClientAddress: !config.peerSkipClientSANVerification)
                : nil,
            peerClient: try context(.client, peer.info, auto: peer.auto, ciphers: config.cipherSuites,
                                    applicationProtocols: [], checkClientAddress: false),
            logsClientRejections: !client.auto, logsPeerRejections: !peer.auto)
    }

    /// The TLS info a port uses: the flags, or (auto-TLS without certificates) a self-signed
    /// certificate and nothing else, as etcd replaces the whole TLSInfo.
    private static func effectiveInfo(_ info: TLSInfo, auto: Bool, side: String, directory: String,
                                      urls: [URLList.Parsed], logger: Logger) throws -> (info: TLSInfo, auto: Bool) {
        guard auto else { return (info, false) }
        guard info.isEmpty else {
            logger.warn("ignoring \(side) auto TLS since certs given", text: "ignoring \(side) auto TLS since certs given",
                        package: "embed")
            return (info, false)
        }
        var hosts: [String] = []
        for url in urls where !hosts.contains(url.host) { hosts.append(url.host) }
        let files = try SelfSignedCertificate.ensure(in: directory, hosts: hosts)
        if files.created {
            logger.info("created cert file", ["path": files.certFile], text: "created cert file \(files.certFile)",
                        package: "pkg/transport")
            logger.info("created key file", ["path": files.keyFile], text: "created key file \(files.keyFile)",
                        package: "pkg/transport")
        }
        return (TLSInfo(certFile: files.certFile, keyFile: files.keyFile), true)
    }

    private static func context(_ role: TLSContext.Role, _ info: TLSInfo, auto: Bool, ciphers: [String],
                                applicationProtocols: [String], checkClientAddress: Bool) throws -> TLSContext {
        if info.certFile.isEmpty != info.keyFile.isEmpty {
            throw TLSError("KeyFile and CertFile must both be present[key: \(info.keyFile), cert: \(info.certFile)]")
        }
        if !info.allowedCN.isEmpty && !info.allowedHostname.isEmpty {
            throw TLSError("AllowedCN and AllowedHostname are mutually exclusive (cn=\"\(info.allowedCN)\", hostname=\"\(info.allowedHostname)\")")
        }
        var keyPair: KeyPairFiles?
        if !info.isEmpty {
            let files = KeyPairFiles(certFile: info.certFile, keyFile: info.keyFile)
            _ = try files.current()  // unusable files stop the start, with etcd's texts
            keyPair = files
        }
        let settings: TLSSettings
        switch role {
        case .server:
            settings = TLSSettings(
                keyPair: keyPair, trustedCAFile: info.trustedCAFile.isEmpty ? nil : info.trustedCAFile,
                // etcd asks for client certificates when a trusted CA is given, even without
                // --client-cert-auth.
                verifyPeer: !info.trustedCAFile.isEmpty || info.clientCertAuth,
                crlFile: info.crlFile.isEmpty ? nil : info.crlFile,
                allowedCommonName: info.allowedCN.isEmpty ? nil : info.allowedCN,
                allowedHostname: info.allowedHostname.isEmpty ? nil : info.allowedHostname,
                checkClientAddress: checkClientAddress, cipherSuites: ciphers, applicationProtocols: applicationProtocols)
        case .client:
            // Auto-TLS members dial each other without verifying (etcd's InsecureSkipVerify).
            settings = TLSSettings(
                keyPair: keyPair, trustedCAFile: info.trustedCAFile.isEmpty ? nil : info.trustedCAFile,
                verifyPeer: !auto,
                allowedCommonName: info.allowedCN.isEmpty ? nil : info.allowedCN,
                allowedHostname: info.allowedHostname.isEmpty ? nil : info.allowedHostname,
                cipherSuites: ciphers, applicationProtocols: applicationProtocols)
        }
        return try TLSContext(role: role, settings: settings)
    }

    /// What a listener on `urls` (one address) serves: TLS when any is https, plaintext beside
    /// it when any is http too.
    func serving(_ context: TLSContext?, urls: [URLList.Parsed], handshakeTimeout: TimeAmount? = nil,
                 logRejections: Bool, logger: Logger) -> TLSServing? {
        guard let context, urls.contains(where: \.isTLS) else { return nil }
        var onRejected: TLSHandler.FailureReport?
        if logRejections {
            onRejected = { rejection in ServerTLS.logRejection(rejection, logger: logger) }
        }
        return TLSServing(context: context, alsoPlaintext: urls.contains { !$0.isTLS },
                          handshakeTimeout: handshakeTimeout, onRejected: onRejected)
    }

    /// etcd's "rejected connection" line: a warning in zap, informational in capnslog.
    static func logRejection(_ rejection: TLSRejection, logger: Logger) {
        let remote = rejection.remoteAddress.map(describe) ?? ""
        let error = rejection.error.description
        if let certificate = rejection.peerCertificate {
            let (dns, ips) = certificate.alternativeNames
            logger.log(logger.format == .zap ? .warn : .info, "rejected connection",
                       ["remote-addr": remote, "server-name": rejection.serverName, "ip-addresses": ips,
                        "dns-names": dns, "error": error],
                       text: "rejected connection from \"\(remote)\" (error \"\(error)\", ServerName \"\(rejection.serverName)\", IPAddresses \(goList(ips)), DNSNames \(goList(dns)))",
                       package: "embed")
        } else {
            logger.log(logger.format == .zap ? .warn : .info, "rejected connection",
                       ["remote-addr": remote, "server-name": rejection.serverName, "error": error],
                       text: "rejected connection from \"\(remote)\" (error \"\(error)\", ServerName \"\(rejection.serverName)\")",
                       package: "embed")
        }
    }
}

/// A string slice as Go's %v prints it: "[a b]".
private func goList(_ items: [String]) -> String { "[" + items.joined(separator: " ") + "]" }
