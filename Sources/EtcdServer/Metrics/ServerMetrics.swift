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
/// Grafana dashboard and alerts use). Gauges that mirror state are read when scraped.
final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var leaderChanges: UInt64 = 0
    private var proposalsFailed: UInt64 = 0
    private var healthSuccesses: UInt64 = 0
    private var healthFailures: UInt64 = 0
    private var peerSent: [String: UInt64] = [:]
    private var peerReceived: [String: UInt64] = [:]
    private var peerRoundTrip: [String: Histogram] = [:]
    let walFsync = Histogram(start: 0.001, count: 14)
    let backendCommit = Histogram(start: 0.001, count: 14)

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
        var hasLeader: Bool
        var isLeader: Bool
        var committedIndex: UInt64
        var appliedIndex: UInt64
        var pendingProposals: Int
        var currentRevision: Int64
        var dbSize: Int64
        var dbSizeInUse: Int
        var quotaBytes: Int64
        var isLearner: Bool
    }

    func render(_ state: Snapshot) -> String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ values: [(labels: String, value: String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for (labels, value) in values { lines.append(labels.isEmpty ? "\(name) \(value)" : "\(name){\(labels)} \(value)") }
        }
        let (changes, failed, sent, received, rtt, healthy, unhealthy) = lock.withLock {
            (leaderChanges, proposalsFailed, peerSent, peerReceived, peerRoundTrip, healthSuccesses, healthFailures)
        }
        metric("etcd_debugging_mvcc_current_revision", "gauge", "The current revision of store.", [("", "\(state.currentRevision)")])
        walFsync.render("etcd_disk_wal_fsync_duration_seconds", help: "The latency distributions of fsync called by WAL.", into: &lines)
        backendCommit.render("etcd_disk_backend_commit_duration_seconds",
                             help: "The latency distributions of commit called by backend.", into: &lines)
        metric("etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes.",
               [("", "\(state.dbSize)")])
        metric("etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes.",
               [("", "\(state.dbSizeInUse)")])
        if !sent.isEmpty {
            metric("etcd_network_peer_sent_bytes_total", "counter", "The total number of bytes sent to peers.",
                   sent.sorted { $0.key < $1.key }.map { ("To=\"\($0.key)\"", "\($0.value)") })
        }
        if !received.isEmpty {
            metric("etcd_network_peer_received_bytes_total", "counter", "The total number of bytes received from peers.",
                   received.sorted { $0.key < $1.key }.map { ("From=\"\($0.key)\"", "\($0.value)") })
        }
        if !rtt.isEmpty {
            var first = true
            for (peer, histogram) in rtt.sorted(by: { $0.key < $1.key }) {
                histogram.render("etcd_network_peer_round_trip_time_seconds", help: "Round-Trip-Time histogram between peers",
                                 labels: "To=\"\(peer)\"", into: &lines, header: first)
                first = false
            }
        }
        metric("etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not.",
               [("", state.hasLeader ? "1" : "0")])
        metric("etcd_server_health_failures", "counter", "The total number of failed health checks", [("", "\(unhealthy)")])
        metric("etcd_server_health_success", "counter", "The total number of successful health checks", [("", "\(healthy)")])
        metric("etcd_server_is_leader", "gauge", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
               [("", state.isLeader ? "1" : "0")])
        metric("etcd_server_is_learner", "gauge", "Whether or not this member is a learner. 1 if is, 0 otherwise.",
               [("", state.isLearner ? "1" : "0")])
        metric("etcd_server_leader_changes_seen_total", "counter", "The number of leader changes seen.", [("", "\(changes)")])
        metric("etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied.",
               [("", "\(state.appliedIndex)")])
        metric("etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed.",
               [("", "\(state.committedIndex)")])
        metric("etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen.", [("", "\(failed)")])
        metric("etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit.",
               [("", "\(state.pendingProposals)")])
        metric("etcd_server_quota_backend_bytes", "gauge", "Current backend storage quota size in bytes.", [("", "\(state.quotaBytes)")])
        metric("etcd_server_version", "gauge", "Which version is running. 1 for 'server_version' label with current version.",
               [("server_version=\"\(MaintenanceService.serverVersion)\"", "1")])
        return lines.joined(separator: "\n") + "\n"
    }
}
