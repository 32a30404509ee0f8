import ServerLog
import Foundation

/// The server's configuration, from etcd's flags and `ETCD_*` environment variables, with
/// etcd's defaults.
public struct ServerConfig: Sendable {
    public var name = "default"
    public var dataDir = ""
    public var walDir = ""
    public var listenClientURLs: [URLList.Parsed] = []
    public var advertiseClientURLs: [URLList.Parsed] = []
    public var listenPeerURLs: [URLList.Parsed] = []
    public var initialAdvertisePeerURLs: [URLList.Parsed] = []
    public var initialCluster = ""
    public var initialClusterToken = "etcd-cluster"
    public var initialClusterState = "new"
    public var snapshotCount: UInt64 = 100_000
    public var heartbeatIntervalMs: UInt64 = 100
    public var electionTimeoutMs: UInt64 = 1000
    /// 0 means the default, 2 GiB.
    public var quotaBackendBytes: Int64 = 0
    /// nil: no auto-compaction (retention 0).
    public var autoCompaction: AutoCompactionPolicy?
    /// `--experimental-initial-corrupt-check` and `--experimental-corrupt-check-time` (seconds,
    /// 0 off).
    public var initialCorruptCheck = false
    public var corruptCheckSeconds: Double = 0
    public var maxRequestBytes: UInt64 = 1_572_864
    public var maxTxnOps: UInt64 = 128
    public var maxConcurrentStreams: UInt32 = UInt32.max
    public var logLevel: Logger.Level = .info
    public var logFormat: Logger.Format = .capnslog
    public var unsafeNoFsync = false
    public var enableGRPCGateway = true
    public var watchProgressNotifyInterval: Double = 600
    public var preVote = false
    public var strictReconfigCheck = true
    public var initialElectionTickAdvance = true
    /// WAL segment files and received snapshot files kept (0: unlimited).
    /// `--bcrypt-cost` (etcd falls back to 10 outside 4...31) and `--auth-token-ttl` (seconds).
    public var bcryptCost = 10
    public var authTokenTTL: UInt64 = 300
    /// `--auth-token`: "simple", or "jwt," with its options.
    public var authToken = "simple"
    public var maxWALs: UInt64 = 5
    public var maxSnapshots: UInt64 = 5
    /// TLS on the client port (`--cert-file` ...) and the peer port (`--peer-cert-file` ...).
    public var clientTLS = TLSInfo()
    public var peerTLS = TLSInfo()
    public var clientAutoTLS = false
    public var peerAutoTLS = false
    /// TLS 1.2 cipher suites for both ports, by Go's names; empty keeps the defaults.
    public var cipherSuites: [String] = []
    /// The peer port skips checking a client certificate's names against the remote address.
    public var peerSkipClientSANVerification = false
    /// Extra listeners serving /metrics and /health only.
    public var listenMetricsURLs: [URLList.Parsed] = []
    /// Origins allowed by CORS ("*": any).
    public var corsOrigins: [String] = ["*"]

    public static let defaultQuotaBytes: Int64 = 2 << 30
    /// etcd's gRPC receive limit is the request limit plus this much.
    public static let grpcOverheadBytes = 512 * 1024

    public var effectiveQuotaBytes: Int64 { quotaBackendBytes <= 0 ? ServerConfig.defaultQuotaBytes : quotaBackendBytes }
    public var memberDirectory: String { dataDir + "/member" }
    public var walDirectory: String { walDir.isEmpty ? memberDirectory + "/wal" : walDir }
    public var backendPath: String { memberDirectory + "/snap/db" }

    public init() {}
}

/// How this server treats each etcd flag.
enum FlagSupport: Sendable {
    /// Implemented.
    case supported
    /// Tunes etcd internals that have no counterpart here; any value is accepted.
    case noEffect
    /// Not implemented yet: setting it to anything but the default is refused at start-up.
    case unsupported
}

struct FlagDefinition: Sendable {
    var spec: FlagParser.Spec
    var support: FlagSupport
}

/// Every flag of etcd 3.4, with its type, default and whether this server implements it.
enum EtcdFlags {
    static func def(_ name: String, _ kind: FlagParser.Kind, _ defaultValue: String, _ support: FlagSupport,
                    _ help: String) -> FlagDefinition {
        FlagDefinition(spec: FlagParser.Spec(name: name, kind: kind, defaultValue: defaultValue, help: help), support: support)
    }

    static let all: [FlagDefinition] = [
        // member
        def("name", .string, "default", .supported, "Human-readable name for this member."),
        def("data-dir", .string, "${name}.etcd", .supported, "Path to the data directory."),
        def("wal-dir", .string, "", .supported, "Path to the dedicated wal directory."),
        def("snapshot-count", .uint64, "100000", .supported, "Number of committed transactions to trigger a snapshot to disk."),
        def("heartbeat-interval", .uint, "100", .supported, "Time (in milliseconds) of a heartbeat interval."),
        def("election-timeout", .uint, "1000", .supported, "Time (in milliseconds) for an election to timeout."),
        def("initial-election-tick-advance", .bool, "true", .supported, "Whether to fast-forward initial election ticks on boot for faster election."),
        def("listen-peer-urls", .urls, "http://localhost:2380", .supported, "List of URLs to listen on for peer traffic."),
        def("listen-client-urls", .urls, "http://localhost:2379", .supported, "List of URLs to listen on for client traffic."),
        def("max-snapshots", .uint, "5", .supported, "Maximum number of snapshot files to retain (0 is unlimited)."),
        def("max-wals", .uint, "5", .supported, "Maximum number of wal files to retain (0 is unlimited)."),
        def("quota-backend-bytes", .int64, "0", .supported, "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."),
        def("backend-batch-interval", .duration, "0s", .noEffect, "BackendBatchInterval is the maximum time before commit the backend transaction."),
        def("backend-batch-limit", .int, "0", .noEffect, "BackendBatchLimit is the maximum operations before commit the backend transaction."),
        def("max-txn-ops", .uint, "128", .supported, "Maximum number of operations permitted in a transaction."),
        def("max-request-bytes", .uint, "1572864", .supported, "Maximum client request size in bytes the server will accept."),
        def("grpc-keepalive-min-time", .duration, "5s", .noEffect, "Minimum duration interval that a client should wait before pinging server."),
        def("grpc-keepalive-interval", .duration, "2h0m0s", .noEffect, "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable)."),
        def("grpc-keepalive-timeout", .duration, "20s", .noEffect, "Additional duration of wait before closing a non-responsive connection (0 to disable)."),
        def("max-concurrent-streams", .uint32, "4294967295", .supported, "Maximum concurrent streams that each client can open at a time."),
        // clustering
        def("initial-advertise-peer-urls", .urls, "http://localhost:2380", .supported, "List of this member's peer URLs to advertise to the rest of the cluster."),
        def("initial-cluster", .string, "default=http://localhost:2380", .supported, "Initial cluster configuration for bootstrapping."),
        def("initial-cluster-state", .choice(["new", "existing"]), "new", .supported, "Initial cluster state ('new' or 'existing')."),
        def("initial-cluster-token", .string, "etcd-cluster", .supported, "Initial cluster token for the etcd cluster during bootstrap."),
        def("advertise-client-urls", .urls, "http://localhost:2379", .supported, "List of this member's client URLs to advertise to the public."),
        def("discovery", .string, "", .unsupported, "Discovery URL used to bootstrap the cluster."),
        def("discovery-fallback", .choice(["exit", "proxy"]), "proxy", .unsupported, "Expected behavior ('exit' or 'proxy') when discovery services fails."),
        def("discovery-proxy", .string, "", .unsupported, "HTTP proxy to use for traffic to discovery service."),
        def("discovery-srv", .string, "", .unsupported, "DNS srv domain used to bootstrap the cluster."),
        def("discovery-srv-name", .string, "", .unsupported, "Suffix to the dns srv name queried when bootstrapping."),
        def("strict-reconfig-check", .bool, "true", .supported, "Reject reconfiguration requests that would cause quorum loss."),
        def("pre-vote", .bool, "false", .supported, "Enable to run an additional Raft election phase."),
        def("auto-compaction-retention", .string, "0", .supported, "Auto compaction retention length. 0 means disable auto compaction."),
        def("auto-compaction-mode", .string, "periodic", .supported, "Interpret 'auto-compaction-retention' one of: periodic|revision."),
        def("enable-v2", .bool, "false", .unsupported, "Accept etcd V2 client requests."),
        // proxy
        def("proxy", .choice(["off", "readonly", "on"]), "off", .unsupported, "Proxy mode setting ('off', 'readonly' or 'on')."),
        def("proxy-failure-wait", .uint, "5000", .noEffect, "Time (in milliseconds) an endpoint will be held in a failed state."),
        def("proxy-refresh-interval", .uint, "30000", .noEffect, "Time (in milliseconds) of the endpoints refresh interval."),
        def("proxy-dial-timeout", .uint, "1000", .noEffect, "Time (in milliseconds) for a dial to timeout."),
        def("proxy-write-timeout", .uint, "5000", .noEffect, "Time (in milliseconds) for a write to timeout."),
        def("proxy-read-timeout", .uint, "0", .noEffect, "Time (in milliseconds) for a read to timeout."),
        // security
        def("cert-file", .string, "", .supported, "Path to the client server TLS cert file."),
        def("key-file", .string, "", .supported, "Path to the client server TLS key file."),
        def("client-cert-auth", .bool, "false", .supported, "Enable client cert authentication."),
        def("client-crl-file", .string, "", .supported, "Path to the client certificate revocation list file."),
        def("client-cert-allowed-hostname", .string, "", .supported, "Allowed TLS hostname for client cert authentication."),
        def("trusted-ca-file", .string, "", .supported, "Path to the client server TLS trusted CA cert file."),
        def("auto-tls", .bool, "false", .supported, "Client TLS using generated certificates."),
        def("peer-cert-file", .string, "", .supported, "Path to the peer server TLS cert file."),
        def("peer-key-file", .string, "", .supported, "Path to the peer server TLS key file."),
        def("peer-client-cert-auth", .bool, "false", .supported, "Enable peer client cert authentication."),
        def("peer-trusted-ca-file", .string, "", .supported, "Path to the peer server TLS trusted CA file."),
        def("peer-auto-tls", .bool, "false", .supported, "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided."),
        def("peer-crl-file", .string, "", .supported, "Path to the peer certificate revocation list file."),
        def("peer-cert-allowed-cn", .string, "", .supported, "Allowed CommonName for inter peer authentication."),
        def("peer-cert-allowed-hostname", .string, "", .supported, "Allowed TLS hostname for inter peer authentication."),
        def("cipher-suites", .strings, "", .supported, "Comma-separated list of supported TLS cipher suites between client/server and peers."),
        def("experimental-peer-skip-client-san-verification", .bool, "false", .supported, "Skip verification of SAN field in client certificate for peer connections."),
        def("cors", .strings, "*", .supported, "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing."),
        def("host-whitelist", .strings, "*", .noEffect, "Acceptable hostnames from HTTP client requests, if server is not secure."),
        // auth
        def("auth-token", .string, "simple", .supported, "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
        def("bcrypt-cost", .uint, "10", .supported, "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords."),
        def("auth-token-ttl", .uint, "300", .supported, "The lifetime in seconds of the auth token."),
        // profiling and monitoring
        def("enable-pprof", .bool, "false", .unsupported, "Enable runtime profiling data via HTTP server."),
        def("metrics", .choice(["basic", "extensive"]), "basic", .noEffect, "Set level of detail for exported metrics."),
        def("listen-metrics-urls", .urls, "", .supported, "List of URLs to listen on for the metrics and health endpoints."),
        // logging
        def("logger", .choice(["zap", "capnslog"]), "capnslog", .supported, "Specify 'zap' for structured logging or 'capnslog'."),
        def("log-outputs", .strings, "default", .supported, "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd."),
        def("log-output", .strings, "default", .supported, "[TO BE DEPRECATED IN v3.5] use '--log-outputs'."),
        def("log-level", .string, "info", .supported, "Configures log level. Only supports debug, info, warn, error, panic, or fatal."),
        def("debug", .bool, "false", .supported, "[TO BE DEPRECATED IN v3.5] Enable debug-level logging for etcd."),
        def("log-package-levels", .string, "", .noEffect, "[TO BE DEPRECATED IN v3.5] Specify a particular log level for each etcd package."),
        // v2 proxy and gateway
        def("enable-grpc-gateway", .bool, "true", .supported, "Enable GRPC gateway."),
        // experimental
        def("experimental-initial-corrupt-check", .bool, "false", .supported, "Enable to check data corruption before serving any client/peer traffic."),
        def("experimental-corrupt-check-time", .duration, "0s", .supported, "Duration of time between cluster corruption check passes."),
        def("experimental-enable-v2v3", .string, "", .unsupported, "v3 prefix for serving emulated v2 state."),
        def("experimental-backend-bbolt-freelist-type", .string, "map", .noEffect, "The freelist type that boltdb backend uses."),
        def("experimental-enable-lease-checkpoint", .bool, "false", .unsupported, "Enable to persist lease remaining TTL."),
        def("experimental-enable-lease-checkpoint-persist", .bool, "false", .unsupported, "Enable persisting remainingTTL."),
        def("experimental-compaction-batch-limit", .int, "1000", .noEffect, "Sets the maximum revisions deleted in each compaction batch."),
        def("experimental-watch-progress-notify-interval", .duration, "10m0s", .supported, "Duration of periodic watch progress notifications."),
        def("experimental-warning-apply-duration", .duration, "100ms", .noEffect, "Time duration after which a warning is generated if request takes more time."),
        // unsafe
        def("unsafe-no-fsync", .bool, "false", .supported, "Disables fsync, unsafe, will cause data loss."),
        def("force-new-cluster", .bool, "false", .unsupported, "Force to create a new one member cluster."),
        // misc
        def("version", .bool, "false", .supported, "Print the version and exit."),
        def("config-file", .string, "", .unsupported, "Path to the server configuration file."),
    ]

    /// Old flags etcd accepts and ignores.
    static let ignored = ["cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force",
                          "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout",
                          "retry-interval", "snapshot", "v", "vv",
                          // for coverage testing
                          "test.coverprofile", "test.outputdir"]
}

/// A message about the configuration for the log (environment variables used or unknown).
public struct ConfigWarning: Sendable {
    public var level: Logger.Level
    public var text: String
}

public enum ConfigError: Error, Equatable, CustomStringConvertible {
    /// A Go flag-package error: printed with the usage text, exit code 2.
    case flagError(String)
    /// A flag and its ETCD_ variable both set: exit code 1, logged as critical.
    case environmentConflict(String)
    case help
    case version
    /// Any other configuration problem: printed, exit code 1.
    case invalid(String)

    public var description: String {
        switch self {
        case .flagError(let text), .invalid(let text), .environmentConflict(let text): return text
        case .help: return "help"
        case .version: return "version"
        }
    }
}

extension ServerConfig {
    /// Builds the configuration from command-line arguments and the environment, as etcd does:
    /// flags win; an `ETCD_<FLAG>` variable fills a flag not given on the command line.
    public static func parse(arguments: [String], environment: [String: String],
                             warn: (ConfigWarning) -> Void = { _ in }) throws(ConfigError) -> ServerConfig {
        var definitions = EtcdFlags.all
        for name in EtcdFlags.ignored {
            // etcd's ignored flags behave as booleans.
            definitions.append(EtcdFlags.def(name, .bool, "", .noEffect, ""))
        }
        let parser = FlagParser(definitions.map(\.spec))
        let result: FlagParser.Result
        do {
            result = try parser.parse(arguments)
        } catch .help {
            throw .help
        } catch {
            throw .flagError(error.message)
        }
        if let first = result.remaining.first {
            throw .invalid("'\(first)' is not a valid flag")
        }
        var values: [String: String] = [:]
        for (name, value) in result.set {
            if EtcdFlags.ignored.contains(name) {
                warn(ConfigWarning(level: .warn, text: "flag \"-\(name)\" is no longer supported - ignoring."))
                continue
            }
            values[name] = value
        }
        if let version = values["version"], FlagParser.parseBool(version) == true { throw .version }

        // Environment variables fill flags not set on the command line.
        let commandLine = Set(values.keys)
        var used = Set<String>()
        for definition in definitions.sorted(by: { $0.spec.name < $1.spec.name }) {
            let key = "ETCD_" + definition.spec.name.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let value = environment[key] else { continue }
            if commandLine.contains(definition.spec.name) {
                throw .environmentConflict("conflicting environment variable \"\(key)\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)")
            }
            guard !value.isEmpty else { continue }
            used.insert(key)
            do {
                try parser.validate(definition.spec, value)
            } catch {
                throw .invalid("invalid value \"\(value)\" for \(key): \(error.message)")
            }
            values[definition.spec.name] = value
            warn(ConfigWarning(level: .info, text: "recognized and used environment variable \(key)=\(value)"))
        }
        for key in environment.keys.sorted() where key.hasPrefix("ETCD_") && !used.contains(key) {
            if key != "ETCD_UNSUPPORTED_ARCH" {
                warn(ConfigWarning(level: .warn, text: "unrecognized environment variable \(key)=\(environment[key] ?? "")"))
            }
        }

        for definition in definitions where definition.support == .unsupported {
            if let value = values[definition.spec.name], value != definition.spec.defaultValue {
                throw .invalid("--\(definition.spec.name) is not supported by this server yet")
            }
        }
        return try build(values)
    }

    private static func build(_ values: [String: String]) throws(ConfigError) -> ServerConfig {
        var config = ServerConfig()
        func urls(_ name: String, default defaultValue: String) throws(ConfigError) -> [URLList.Parsed] {
            do {
                return try URLList.parse(values[name] ?? defaultValue)
            } catch {
                throw .invalid(error.description)
            }
        }
        func number<T: FixedWidthInteger>(_ name: String, _ defaultValue: T) -> T {
            guard let text = values[name] else { return defaultValue }
            if T.isSigned { return GoInteger.parse(text).flatMap { T(exactly: $0) } ?? defaultValue }
            return GoInteger.parseUnsigned(text).flatMap { T(exactly: $0) } ?? defaultValue
        }
        config.name = values["name"] ?? "default"
        config.dataDir = values["data-dir"] ?? "\(config.name).etcd"
        config.walDir = values["wal-dir"] ?? ""
        config.listenPeerURLs = try urls("listen-peer-urls", default: "http://localhost:2380")
        config.listenClientURLs = try urls("listen-client-urls", default: "http://localhost:2379")
        config.initialAdvertisePeerURLs = try urls("initial-advertise-peer-urls", default: "http://localhost:2380")
        if values["listen-client-urls"] != nil && values["advertise-client-urls"] == nil {
            throw .invalid("--advertise-client-urls is required when --listen-client-urls is set explicitly")
        }
        config.advertiseClientURLs = try urls("advertise-client-urls", default: "http://localhost:2379")
        config.initialCluster = values["initial-cluster"]
            ?? config.initialAdvertisePeerURLs.map { "\(config.name)=\($0.text)" }.joined(separator: ",")
        config.initialClusterToken = values["initial-cluster-token"] ?? "etcd-cluster"
        config.initialClusterState = values["initial-cluster-state"] ?? "new"
        config.snapshotCount = number("snapshot-count", 100_000)
        config.heartbeatIntervalMs = number("heartbeat-interval", 100)
        config.electionTimeoutMs = number("election-timeout", 1000)
        config.quotaBackendBytes = number("quota-backend-bytes", 0)
        config.initialCorruptCheck = values["experimental-initial-corrupt-check"].flatMap(FlagParser.parseBool) ?? false
        config.corruptCheckSeconds = max(0, values["experimental-corrupt-check-time"].flatMap(GoDuration.parse) ?? 0)
        config.autoCompaction = try AutoCompactionPolicy.parse(mode: values["auto-compaction-mode"] ?? "periodic",
                                                               retention: values["auto-compaction-retention"] ?? "0")
        config.maxRequestBytes = number("max-request-bytes", 1_572_864)
        config.maxTxnOps = number("max-txn-ops", 128)
        let cost = number("bcrypt-cost", UInt64(10))
        config.bcryptCost = cost >= 4 && cost <= 31 ? Int(cost) : 10
        config.authTokenTTL = number("auth-token-ttl", UInt64(300))
        config.authToken = values["auth-token"] ?? "simple"
        config.maxConcurrentStreams = number("max-concurrent-streams", UInt32.max)
        config.unsafeNoFsync = values["unsafe-no-fsync"].flatMap(FlagParser.parseBool) ?? false
        config.preVote = values["pre-vote"].flatMap(FlagParser.parseBool) ?? false
        config.strictReconfigCheck = values["strict-reconfig-check"].flatMap(FlagParser.parseBool) ?? true
        config.initialElectionTickAdvance = values["initial-election-tick-advance"].flatMap(FlagParser.parseBool) ?? true
        config.maxWALs = number("max-wals", 5)
        config.maxSnapshots = number("max-snapshots", 5)
        func flag(_ name: String) -> Bool { values[name].flatMap(FlagParser.parseBool) ?? false }
        config.clientTLS = TLSInfo(certFile: values["cert-file"] ?? "", keyFile: values["key-file"] ?? "",
                                   trustedCAFile: values["trusted-ca-file"] ?? "", clientCertAuth: flag("client-cert-auth"),
                                   crlFile: values["client-crl-file"] ?? "",
                                   allowedHostname: values["client-cert-allowed-hostname"] ?? "")
        config.peerTLS = TLSInfo(certFile: values["peer-cert-file"] ?? "", keyFile: values["peer-key-file"] ?? "",
                                 trustedCAFile: values["peer-trusted-ca-file"] ?? "",
                                 clientCertAuth: flag("peer-client-cert-auth"), crlFile: values["peer-crl-file"] ?? "",
                                 allowedCN: values["peer-cert-allowed-cn"] ?? "",
                                 allowedHostname: values["peer-cert-allowed-hostname"] ?? "")
        config.clientAutoTLS = flag("auto-tls")
        config.peerAutoTLS = flag("peer-auto-tls")
        config.cipherSuites = (values["cipher-suites"] ?? "").split(separator: ",").map(String.init)
        config.peerSkipClientSANVerification = flag("experimental-peer-skip-client-san-verification")
        if let metrics = values["listen-metrics-urls"], !metrics.isEmpty {
            config.listenMetricsURLs = try urls("listen-metrics-urls", default: "")
        }
        config.corsOrigins = (values["cors"] ?? "*").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        config.enableGRPCGateway = values["enable-grpc-gateway"].flatMap(FlagParser.parseBool) ?? true
        if let interval = values["experimental-watch-progress-notify-interval"].flatMap(GoDuration.parse), interval > 0 {
            // As etcd: values below 100 ms are raised to it; 0 keeps the 10-minute default.
            config.watchProgressNotifyInterval = max(interval, 0.1)
        }
        config.logFormat = values["logger"] == "zap" ? .zap : .capnslog
        let levelName = values["log-level"] ?? "info"
        guard let level = Logger.Level(name: levelName) else {
            throw .invalid("unknown level: \(levelName)")
        }
        config.logLevel = values["debug"].flatMap(FlagParser.parseBool) == true ? .debug : level
        for name in ["log-outputs", "log-output"] {
            for output in (values[name] ?? "default").split(separator: ",") where !["default", "stderr", "stdout"].contains(output) {
                throw .invalid("--\(name) \(output) is not supported by this server yet (use stderr, stdout or default)")
            }
        }
        if config.heartbeatIntervalMs == 0 {
            throw .invalid("--heartbeat-interval must be >0 (set to 0ms)")
        }
        if config.electionTimeoutMs > 50000 {
            throw .invalid("--election-timeout[\(config.electionTimeoutMs)ms] is too long, and should be set less than 50000ms")
        }
        if 5 * config.heartbeatIntervalMs > config.electionTimeoutMs {
            throw .invalid("--election-timeout[\(config.electionTimeoutMs)ms] should be at least as 5 times as --heartbeat-interval[\(config.heartbeatIntervalMs)ms]")
        }
        return config
    }
}
