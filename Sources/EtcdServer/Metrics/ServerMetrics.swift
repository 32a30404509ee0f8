import Foundation

/// A Prometheus histogram with fixed buckets (etcd's: exponential, factor 2).
final class Histogram: @unchecked Sendable {
    private let lock = NSLock()
    let upperBounds: [Double]
    private var counts: [UInt64]
    private var sum: Double = 0
    private var count: UInt64 = 0

    /// `count` buckets starting at `start`, each twice the one before.
    init(start: Double, count: Int) {
        upperBounds = (0..<count).map { start * pow(2, Double($0)) }
        counts = Array(repeating: 0, count: count)
    }

    func observe(_ value: Double) {
        lock.withLock {
            if let bucket = upperBounds.firstIndex(where: { value <= $0 }) { counts[bucket] += 1 }
            sum += value
            count += 1
        }
    }

    func render(_ name: String, help: String, labels: String = "", into lines: inout [String], header: Bool = true) {
        let (counts, sum, count) = lock.withLock { (self.counts, self.sum, self.count) }
        if header {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) histogram")
        }
        let prefix = labels.isEmpty ? "" : labels + ","
        var cumulative: UInt64 = 0
        for (bound, bucketCount) in zip(upperBounds, counts) {
            cumulative += bucketCount
            lines.append("\(name)_bucket{\(prefix)le=\"\(Self.format(bound))\"} \(cumulative)")
        }
        lines.append("\(name)_bucket{\(prefix)le=\"+Inf\"} \(count)")
        let suffix = labels.isEmpty ? "" : "{\(labels)}"
        lines.append("\(name)_sum\(suffix) \(Self.format(sum))")
        lines.append("\(name)_count\(suffix) \(count)")
    }

    /// Go's %g-like formatting for bucket bounds and sums.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.6g", value)
        if text.contains("e") { text = String(value) }
        return text
    }
}

/// The counters and histograms the server keeps for `/metrics`, with etcd's names (the ones its
/// Grafana dashboard and alerts use). Gauges that mirror state are read when scraped; families
/// come out sorted by name, as Prometheus' Go client writes them.
final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var leaderChanges: UInt64 = 0
    private var proposalsFailed: UInt64 = 0
    private var healthSuccesses: UInt64 = 0
    private var healthFailures: UInt64 = 0
    private var peerSent: [String: UInt64] = [:]
    private var peerReceived: [String: UInt64] = [:]
    private var peerRoundTrip: [String: Histogram] = [:]
    private var scrapes: UInt64 = 0
    let walFsync = Histogram(start: 0.001, count: 14)
    let backendCommit = Histogram(start: 0.001, count: 14)
    let grpc = GRPCMetrics()
    let mvcc = MVCCCounters()
    let leases = LeaseCounters()
    private let startTime = Date().timeIntervalSince1970

    func leaderChanged(hasLeader: Bool) {
        if hasLeader { lock.withLock { leaderChanges += 1 } }
    }

    func proposalFailed() { lock.withLock { proposalsFailed += 1 } }

    func healthChecked(healthy: Bool) {
        lock.withLock {
            if healthy { healthSuccesses += 1 } else { healthFailures += 1 }
        }
    }

    func sent(_ bytes: Int, to peer: String) { lock.withLock { peerSent[peer, default: 0] += UInt64(bytes) } }

    func received(_ bytes: Int, from peer: String) { lock.withLock { peerReceived[peer, default: 0] += UInt64(bytes) } }

    func roundTrip(_ seconds: Double, to peer: String) {
        let histogram = lock.withLock { () -> Histogram in
            if let existing = peerRoundTrip[peer] { return existing }
            let created = Histogram(start: 0.0001, count: 14)
            peerRoundTrip[peer] = created
            return created
        }
        histogram.observe(seconds)
    }

    /// The state-derived values a scrape reads.
    struct Snapshot {
        var memberID: UInt64
        var hasLeader: Bool
        var isLeader: Bool
        var committedIndex: UInt64
        var appliedIndex: UInt64
        var pendingProposals: Int
        var currentRevision: Int64
        var compactRevision: Int64
        var dbSize: Int64
        var dbSizeInUse: Int
        var quotaBytes: Int64
        var isLearner: Bool
        /// "3.4", once decided.
        var clusterVersion: String?
        var watchStreams: Int
        var watchers: Int
    }

    func render(_ state: Snapshot) -> String {
        let (changes, failed, sent, received, rtt, healthy, unhealthy, scrapeCount) = lock.withLock { () -> (UInt64, UInt64, [String: UInt64], [String: UInt64], [String: Histogram], UInt64, UInt64, UInt64) in
            scrapes += 1
            return (leaderChanges, proposalsFailed, peerSent, peerReceived, peerRoundTrip, healthSuccesses, healthFailures, scrapes)
        }
        func gauge(_ name: String, _ help: String, _ value: CustomStringConvertible, labels: String = "") -> MetricFamily {
            MetricFamily(name, "gauge", help, [(labels.isEmpty ? "" : "{\(labels)}") + " \(value)"])
        }
        func counter(_ name: String, _ help: String, _ value: UInt64) -> MetricFamily {
            MetricFamily(name, "counter", help, [" \(value)"])
        }
        func histogram(_ name: String, _ help: String, _ histogram: Histogram) -> MetricFamily {
            var lines: [String] = []
            histogram.render(name, help: help, into: &lines, header: false)
            return MetricFamily(histogram: name, help: help, lines: lines)
        }
        var families: [MetricFamily] = grpc.families() + mvcc.families() + leases.families() + ProcessMetrics.families()
        if let version = state.clusterVersion {
            families.append(gauge("etcd_cluster_version",
                                  "Which version is running. 1 for 'cluster_version' label with current cluster version",
                                  1, labels: "cluster_version=\"\(version)\""))
        }
        families += [
            gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.", state.currentRevision),
            gauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.", state.compactRevision),
            gauge("etcd_debugging_mvcc_db_total_size_in_bytes",
                  "Total size of the underlying database physically allocated in bytes.", state.dbSize),
            gauge("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", state.watchStreams),
            gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.", state.watchers),
            histogram("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.", walFsync),
            histogram("etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by backend.",
                      backendCommit),
            gauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.",
                  state.dbSize),
            gauge("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.",
                  state.dbSizeInUse),
            gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", state.hasLeader ? 1 : 0),
            counter("etcd_server_health_failures", "The total number of failed health checks", unhealthy),
            counter("etcd_server_health_success", "The total number of successful health checks", healthy),
            gauge("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", 1,
                  labels: "server_id=\"\(String(state.memberID, radix: 16))\""),
            gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", state.isLeader ? 1 : 0),
            gauge("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.", state.isLearner ? 1 : 0),
            counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.", changes),
            gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", state.appliedIndex),
            gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", state.committedIndex),
            counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen.", failed),
            gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.", state.pendingProposals),
            gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.", state.quotaBytes),
            gauge("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.", 1,
                  labels: "server_version=\"\(MaintenanceService.serverVersion)\""),
            MetricFamily("promhttp_metric_handler_requests_total", "counter",
                         "Total number of scrapes by HTTP status code.",
                         ["{code=\"200\"} \(scrapeCount)", "{code=\"500\"} 0", "{code=\"503\"} 0"]),
        ]
        if !sent.isEmpty {
            families.append(MetricFamily("etcd_network_peer_sent_bytes_total", "counter", "The total number of bytes sent to peers.",
                                         sent.sorted { $0.key < $1.key }.map { "{To=\"\($0.key)\"} \($0.value)" }))
        }
        if !received.isEmpty {
            families.append(MetricFamily("etcd_network_peer_received_bytes_total", "counter",
                                         "The total number of bytes received from peers.",
                                         received.sorted { $0.key < $1.key }.map { "{From=\"\($0.key)\"} \($0.value)" }))
        }
        if !rtt.isEmpty {
            var lines: [String] = []
            for (peer, histogram) in rtt.sorted(by: { $0.key < $1.key }) {
                histogram.render("etcd_network_peer_round_trip_time_seconds", help: "", labels: "To=\"\(peer)\"",
                                 into: &lines, header: false)
            }
            families.append(MetricFamily(histogram: "etcd_network_peer_round_trip_time_seconds",
                                         help: "Round-Trip-Time histogram between peers", lines: lines))
        }
        var lines: [String] = []
        for family in families.sorted(by: { $0.name < $1.name }) { family.render(into: &lines) }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The store's operation counters, counted as etcd's metrics transaction wrapper counts them:
/// each range, put and delete-range executed (on every member, as it applies), and a
/// transaction when one request ran more than one operation.
final class MVCCCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var ranges: UInt64 = 0
    private var puts: UInt64 = 0
    private var deletes: UInt64 = 0
    private var txns: UInt64 = 0
    private var putBytes: UInt64 = 0
    /// Live keys (etcd_debugging_mvcc_keys_total); set at start-up and after a snapshot.
    private var keys: Int64 = 0

    func range() { lock.withLock { ranges += 1 } }

    func put(bytes: Int, newKey: Bool) {
        lock.withLock {
            puts += 1
            putBytes += UInt64(bytes)
            if newKey { keys += 1 }
        }
    }

    func delete(keys deleted: Int) {
        lock.withLock {
            deletes += 1
            keys -= Int64(deleted)
        }
    }

    /// A request that ran more than one operation.
    func transaction() { lock.withLock { txns += 1 } }

    func setKeys(_ count: Int) { lock.withLock { keys = Int64(count) } }

    func families() -> [MetricFamily] {
        let (ranges, puts, deletes, txns, putBytes, keys) = lock.withLock {
            (self.ranges, self.puts, self.deletes, self.txns, self.putBytes, self.keys)
        }
        func counter(_ name: String, _ help: String, _ value: UInt64) -> MetricFamily {
            MetricFamily(name, "counter", help, [" \(value)"])
        }
        return [
            counter("etcd_mvcc_range_total", "Total number of ranges seen by this member.", ranges),
            counter("etcd_mvcc_put_total", "Total number of puts seen by this member.", puts),
            counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member.", deletes),
            counter("etcd_mvcc_txn_total", "Total number of txns seen by this member.", txns),
            counter("etcd_debugging_mvcc_range_total", "Total number of ranges seen by this member.", ranges),
            counter("etcd_debugging_mvcc_put_total", "Total number of puts seen by this member.", puts),
            counter("etcd_debugging_mvcc_delete_total", "Total number of deletes seen by this member.", deletes),
            counter("etcd_debugging_mvcc_txn_total", "Total number of txns seen by this member.", txns),
            MetricFamily("etcd_debugging_mvcc_total_put_size_in_bytes", "gauge", "The total size of put kv pairs seen by this member.",
                         [" \(putBytes)"]),
            MetricFamily("etcd_debugging_mvcc_keys_total", "gauge", "Total number of keys.", [" \(max(keys, 0))"]),
        ]
    }
}

/// Lease counters.
final class LeaseCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var granted: UInt64 = 0
    private var revoked: UInt64 = 0
    private var renewed: UInt64 = 0
    private var expired: UInt64 = 0

    func grant() { lock.withLock { granted += 1 } }
    func revoke() { lock.withLock { revoked += 1 } }
    func renew() { lock.withLock { renewed += 1 } }
    func expire() { lock.withLock { expired += 1 } }

    func families() -> [MetricFamily] {
        let (granted, revoked, renewed, expired) = lock.withLock { (self.granted, self.revoked, self.renewed, self.expired) }
        return [
            MetricFamily("etcd_debugging_lease_granted_total", "counter", "The total number of granted leases.", [" \(granted)"]),
            MetricFamily("etcd_debugging_lease_revoked_total", "counter", "The total number of revoked leases.", [" \(revoked)"]),
            MetricFamily("etcd_debugging_lease_renewed_total", "counter", "The number of renewed leases seen by the leader.",
                         [" \(renewed)"]),
            MetricFamily("etcd_debugging_server_lease_expired_total", "counter", "The total number of expired leases.",
                         [" \(expired)"]),
        ]
    }
}

/// The process collector's families (memory, CPU, descriptors), read from /proc.
enum ProcessMetrics {
    static func families() -> [MetricFamily] {
        var families: [MetricFamily] = []
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let openFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        func gauge(_ name: String, _ help: String, _ value: String) -> MetricFamily {
            MetricFamily(name, "gauge", help, [" " + value])
        }
        families.append(gauge("os_fd_limit", "The file descriptor limit.", "\(limit.rlim_cur)"))
        families.append(gauge("os_fd_used", "The number of used file descriptors.", "\(openFDs)"))
        families.append(gauge("process_max_fds", "Maximum number of open file descriptors.", "\(limit.rlim_cur)"))
        families.append(gauge("process_open_fds", "Number of open file descriptors.", "\(openFDs)"))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3; utime 14, stime 15, starttime 22,
            // vsize 23, rss 24 (1-based, as proc(5) numbers them).
            let fields = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
            func field(_ number: Int) -> Double { Double(fields[safe: number - 3] ?? "") ?? 0 }
            families.append(MetricFamily("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                                         [" " + Histogram.format((field(14) + field(15)) / ticks)]))
            families.append(gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                                  Histogram.format(field(24) * pageSize)))
            families.append(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", Histogram.format(field(23))))
            let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))
                .flatMap { Double($0.split(separator: " ").first ?? "") } ?? 0
            let started = Date().timeIntervalSince1970 - uptime + field(22) / ticks
            families.append(gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                                  String(format: "%.2f", started)))
        }
        return families
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { index >= 0 && index < count ? self[index] : nil }
}
