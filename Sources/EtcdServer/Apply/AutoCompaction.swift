import Foundation
import EtcdProto
import ServerLog

/// `--auto-compaction-mode` and `--auto-compaction-retention`, read as etcd 3.4 reads them.
public enum AutoCompactionPolicy: Equatable, Sendable {
    /// Keep `seconds` of history: compact to the revision recorded that long ago.
    case periodic(seconds: Double)
    /// Keep the last `revisions` revisions.
    case revision(Int64)

    /// nil when auto-compaction is off (retention 0, or the mode is empty).
    static func parse(mode: String, retention: String) throws(ConfigError) -> AutoCompactionPolicy? {
        guard ["", "periodic", "revision"].contains(mode) else {
            throw .invalid("unknown auto-compaction-mode \"\(mode)\"")
        }
        // A bare integer is hours (periodic) or revisions; otherwise a Go duration, which the
        // revision mode then reads as that many nanoseconds' worth of revisions (as etcd does).
        if let whole = Int64(retention.hasPrefix("+") ? String(retention.dropFirst()) : retention), whole >= 0 {
            guard whole != 0 else { return nil }
            switch mode {
            case "periodic": return .periodic(seconds: Double(whole) * 3600)
            case "revision": return .revision(whole)
            default: return nil
            }
        }
        guard let seconds = GoDuration.parse(retention) else {
            let missingUnit = !retention.isEmpty && retention.allSatisfy { $0.isNumber || "+-.".contains($0) }
            throw .invalid("error parsing CompactionRetention: time: \(missingUnit ? "missing unit in" : "invalid") duration \"\(retention)\"")
        }
        guard seconds > 0 else { return nil }
        switch mode {
        case "periodic": return .periodic(seconds: seconds)
        case "revision": return .revision(Int64(seconds * 1e9))
        default: return nil
        }
    }
}

/// etcd's periodic compaction schedule (`v3compactor.Periodic`), without clocks: every tenth of
/// the period (at most an hour), the current revision is recorded; once a period has passed
/// since the last compaction (then every period, at most an hour), the revision recorded a
/// period ago is compacted to.
struct PeriodicCompactionSchedule {
    let period: Double
    private(set) var revisions: [Int64] = []
    private var lastSuccess: Double
    private var interval: Double

    init(period: Double, now: Double) {
        self.period = period
        lastSuccess = now
        interval = period
    }

    /// How often revisions are recorded and compaction is tried.
    var retryInterval: Double { min(period, 3600) / 10 }
    private var retentions: Int { Int(period / retryInterval) + 1 }

    mutating func record(_ revision: Int64) {
        revisions.append(revision)
        if revisions.count > retentions { revisions.removeFirst() }
    }

    /// After a retry interval: the revision to compact to now, if it is time.
    mutating func due(now: Double) -> Int64? {
        guard now - lastSuccess >= interval else { return nil }
        interval = min(period, 3600)
        return revisions.first
    }

    mutating func succeeded(now: Double) { lastSuccess = now }
}

/// etcd's revision compaction (`v3compactor.Revision`): every five minutes, compact to the
/// current revision less the retention, unless that is not past the last one.
struct RevisionCompactionSchedule {
    let retention: Int64
    private var previous: Int64 = 0
    static let interval: Double = 300

    init(retention: Int64) { self.retention = retention }

    func due(current: Int64) -> Int64? {
        let revision = current - retention
        return revision <= 0 || revision == previous ? nil : revision
    }

    mutating func succeeded(_ revision: Int64) { previous = revision }
}

/// Runs the auto-compaction policy on the leader (a follower's schedule keeps recording but
/// does not compact, as etcd pauses its compactor), proposing compactions like a client's.
final class AutoCompactor: @unchecked Sendable {
    private let policy: AutoCompactionPolicy
    private let isLeader: @Sendable () -> Bool
    private let currentRevision: @Sendable () -> Int64
    private let compact: (Int64, @escaping @Sendable (ApplyResult) -> Void) -> Void
    private let logger: Logger
    private let queue = DispatchQueue(label: "etcd.auto-compaction")
    private var timer: DispatchSourceTimer?
    private var periodic: PeriodicCompactionSchedule?
    private var revision: RevisionCompactionSchedule?
    private var inFlight = false
    private var lastSuccess = Date()

    init(policy: AutoCompactionPolicy, isLeader: @escaping @Sendable () -> Bool,
         currentRevision: @escaping @Sendable () -> Int64, logger: Logger,
         compact: @escaping (Int64, @escaping @Sendable (ApplyResult) -> Void) -> Void) {
        self.policy = policy
        self.isLeader = isLeader
        self.currentRevision = currentRevision
        self.logger = logger
        self.compact = compact
    }

    private static func now() -> Double { ProcessInfo.processInfo.systemUptime }

    func start() {
        queue.async { [self] in
            let interval: Double
            switch policy {
            case .periodic(let seconds):
                lastSuccess = Date()
                var schedule = PeriodicCompactionSchedule(period: seconds, now: Self.now())
                schedule.record(currentRevision())
                interval = schedule.retryInterval
                periodic = schedule
            case .revision(let retention):
                revision = RevisionCompactionSchedule(retention: retention)
                interval = RevisionCompactionSchedule.interval
            }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [weak self] in self?.tick() }
            self.timer = timer
            timer.resume()
        }
    }

    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
    }

    private func tick() {
        if var schedule = periodic {
            defer {
                schedule.record(currentRevision())
                periodic = schedule
            }
            guard isLeader(), !inFlight, let target = schedule.due(now: Self.now()) else { return }
            let period = goDuration(schedule.period)
            logger.info("starting auto periodic compaction", ["revision": target, "compact-period": period],
                        text: "Starting auto-compaction at revision \(target) (retention: \(period))",
                        package: "etcdserver/api/v3compactor")
            let since = lastSuccess
            let retry = goDuration(schedule.retryInterval)
            run(target, onFailure: { [logger] error in
                logger.warn("failed auto periodic compaction",
                            ["revision": target, "compact-period": period, "retry-interval": retry, "error": error],
                            text: "Failed auto-compaction at revision \(target) (\(error))", package: "etcdserver/api/v3compactor")
            }) { [weak self] in
                guard let self else { return }
                self.periodic?.succeeded(now: Self.now())
                self.lastSuccess = Date()
                // etcd's "took" here runs from the previous compaction (or the start).
                self.logger.info("completed auto periodic compaction",
                                 ["revision": target, "compact-period": period, "took": goDuration(Date().timeIntervalSince(since))],
                                 text: "Finished auto-compaction at revision \(target)", package: "etcdserver/api/v3compactor")
            }
        } else if let schedule = revision {
            guard isLeader(), !inFlight, let target = schedule.due(current: currentRevision()) else { return }
            let retention = schedule.retention
            logger.info("starting auto revision compaction", ["revision": target, "revision-compaction-retention": retention],
                        text: "Starting auto-compaction at revision \(target) (retention: \(retention) revisions)",
                        package: "etcdserver/api/v3compactor")
            let began = Date()
            let retry = goDuration(RevisionCompactionSchedule.interval)
            run(target, onFailure: { [logger] error in
                logger.warn("failed auto revision compaction",
                            ["revision": target, "revision-compaction-retention": retention, "retry-interval": retry, "error": error],
                            text: "Failed auto-compaction at revision \(target) (\(error))", package: "etcdserver/api/v3compactor")
            }) { [weak self] in
                guard let self else { return }
                self.revision?.succeeded(target)
                self.logger.info("completed auto revision compaction",
                                 ["revision": target, "revision-compaction-retention": retention,
                                  "took": goDuration(Date().timeIntervalSince(began))],
                                 text: "Finished auto-compaction at revision \(target)", package: "etcdserver/api/v3compactor")
            }
        }
    }

    /// Proposes the compaction; a revision already compacted counts as done, as in etcd.
    private func run(_ target: Int64, onFailure: @escaping @Sendable (String) -> Void,
                     onSuccess: @escaping @Sendable () -> Void) {
        inFlight = true
        compact(target) { [weak self] result in
            guard let self else { return }
            self.queue.async {
                self.inFlight = false
                if case .failure(let error) = result, error != .compacted {
                    onFailure(error.grpcStatus.message)
                    return
                }
                onSuccess()
            }
        }
    }
}

/// Go's time.Duration.String(): "1h0m0s", "2m30s", "1.5s", "300ms", "0s".
func goDuration(_ seconds: Double) -> String {
    let nanoseconds = Int64((seconds * 1e9).rounded())
    if nanoseconds == 0 { return "0s" }
    let sign = nanoseconds < 0 ? "-" : ""
    let n = nanoseconds.magnitude
    func fraction(_ value: UInt64, _ unit: UInt64, _ suffix: String) -> String {
        let whole = value / unit
        var rest = value % unit
        guard rest != 0 else { return "\(whole)\(suffix)" }
        var digits = String(rest)
        digits = String(repeating: "0", count: String(unit - 1).count - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast(); rest /= 10 }
        return "\(whole).\(digits)\(suffix)"
    }
    if n < 1_000 { return "\(sign)\(n)ns" }
    if n < 1_000_000 { return sign + fraction(n, 1_000, "µs") }
    if n < 1_000_000_000 { return sign + fraction(n, 1_000_000, "ms") }
    let hours = n / 3_600_000_000_000
    let minutes = n / 60_000_000_000 % 60
    let secondsPart = fraction(n % 60_000_000_000, 1_000_000_000, "s")
    if hours > 0 { return "\(sign)\(hours)h\(minutes)m\(secondsPart)" }
    if minutes > 0 { return "\(sign)\(minutes)m\(secondsPart)" }
    return sign + secondsPart
}
