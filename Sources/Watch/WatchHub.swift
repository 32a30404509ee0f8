import Foundation
import MVCC

/// Fans committed changes out to watchers.
///
/// Watchers live in two groups. *Synced* watchers are up to date and get each committed change
/// set as it is published. *Unsynced* watchers are behind: they started at a past revision, or
/// their stream stopped draining (its backlog passed `backlogLimit`), so live events are no
/// longer queued for them. A catch-up thread feeds unsynced watchers from the store's history,
/// in batches, and moves them back to the synced group once they reach the last published
/// revision. So no watcher can block writes or other watchers, and a stalled reader holds at
/// most about one backlog's worth of memory.
public final class WatchHub: @unchecked Sendable {
    struct WatcherKey: Hashable {
        var sink: ObjectIdentifier
        var watchID: Int64
    }

    struct Watcher {
        let sink: WatchSink
        let watchID: Int64
        let spec: WatchSpec
        /// The first revision not yet delivered (for synced watchers: at most one past the last
        /// published revision, or a future start revision).
        var nextRevision: Int64
        var synced: Bool
        /// An event was sent since the last progress notification.
        var sentSinceProgress = false
    }

    private let store: KVStore
    private let lock = NSLock()
    private let wake = NSCondition()
    private var watchers: [WatcherKey: Watcher] = [:]
    /// Synced single-key watchers by key; synced range watchers in a set.
    private var syncedByKey: [[UInt8]: Set<WatcherKey>] = [:]
    private var syncedRanges: Set<WatcherKey> = []
    private var unsynced: Set<WatcherKey> = []
    private var lastPublished: Int64
    private var stopped = false
    private var lastProgress = DispatchTime.now()

    /// A sink's backlog above which its watchers fall back to catching up from the store.
    public let backlogLimit: Int
    /// Revisions read from the store per catch-up pass.
    public let catchUpRevisions: Int64
    public let progressIntervalSeconds: Double

    public init(store: KVStore, backlogLimit: Int = 8 << 20, catchUpRevisions: Int64 = 1000,
                progressIntervalSeconds: Double = 600) throws {
        self.store = store
        self.backlogLimit = backlogLimit
        self.catchUpRevisions = catchUpRevisions
        self.progressIntervalSeconds = progressIntervalSeconds
        self.lastPublished = try store.read { try $0.currentRevision() }
    }

    public func start() {
        let thread = Thread { [self] in runCatchUp() }
        thread.name = "watch-catch-up"
        thread.start()
    }

    public func stop() {
        wake.withLock {
            stopped = true
            wake.signal()
        }
    }

    /// The revision every published change set has reached.
    public var currentRevision: Int64 { lock.withLock { lastPublished } }

    // MARK: watchers

    /// Adds a watcher; returns the revision for its "created" response header.
    @discardableResult
    public func add(_ sink: WatchSink, watchID: Int64, spec: WatchSpec) -> Int64 {
        let key = WatcherKey(sink: ObjectIdentifier(sink), watchID: watchID)
        let (revision, behind) = lock.withLock { () -> (Int64, Bool) in
            // 0 means "from the next revision"; a negative start is behind like any past one (and
            // is cancelled as compacted once it is below the compaction revision, as in etcd).
            let start = spec.startRevision == 0 ? lastPublished + 1 : spec.startRevision
            let behind = start <= lastPublished
            watchers[key] = Watcher(sink: sink, watchID: watchID, spec: spec, nextRevision: start, synced: !behind)
            if behind { unsynced.insert(key) } else { index(key, spec) }
            return (lastPublished, behind)
        }
        if behind { wakeCatchUp() }
        return revision
    }

    public func remove(_ sink: WatchSink, watchID: Int64) {
        let key = WatcherKey(sink: ObjectIdentifier(sink), watchID: watchID)
        lock.withLock { removeLocked(key) }
    }

    /// Drops every watcher of a sink (its stream ended).
    public func removeAll(_ sink: WatchSink) {
        let id = ObjectIdentifier(sink)
        lock.withLock {
            for key in watchers.keys where key.sink == id { removeLocked(key) }
        }
    }

    /// The revision to report for a progress request if all of the sink's watchers are synced;
    /// nil otherwise.
    public func progressRevision(for sink: WatchSink) -> Int64? {
        let id = ObjectIdentifier(sink)
        return lock.withLock {
            watchers.contains { $0.key.sink == id && !$0.value.synced } ? nil : lastPublished
        }
    }

    /// The store was replaced (a snapshot from the leader): every watcher catches up from the
    /// new store, from the revision it had reached.
    public func resync() {
        let current = try? store.read { try $0.currentRevision() }
        lock.withLock {
            if let current { lastPublished = current }
            for (key, watcher) in watchers where watcher.synced {
                unindex(key, watcher.spec)
                watchers[key]?.synced = false
                unsynced.insert(key)
            }
        }
        wakeCatchUp()
    }

    /// Watchers, and the streams (sinks) they belong to.
    public var totals: (watchers: Int, streams: Int) {
        lock.withLock { (watchers.count, Set(watchers.keys.map(\.sink)).count) }
    }

    public var counts: (synced: Int, unsynced: Int) {
        lock.withLock { (watchers.count - unsynced.count, unsynced.count) }
    }

    private func index(_ key: WatcherKey, _ spec: WatchSpec) {
        if case .single(let k) = spec.range {
            syncedByKey[k, default: []].insert(key)
        } else {
            syncedRanges.insert(key)
        }
    }

    private func unindex(_ key: WatcherKey, _ spec: WatchSpec) {
        if case .single(let k) = spec.range {
            syncedByKey[k]?.remove(key)
            if syncedByKey[k]?.isEmpty == true { syncedByKey[k] = nil }
        } else {
            syncedRanges.remove(key)
        }
    }

    private func removeLocked(_ key: WatcherKey) {
        guard let watcher = watchers.removeValue(forKey: key) else { return }
        if watcher.synced { unindex(key, watcher.spec) } else { unsynced.remove(key) }
    }

    // MARK: publishing

    /// Delivers a committed batch of changes (in revision order) to synced watchers. Called by the
    /// applier after the batch's LMDB commit.
    public func publish(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        var touched: [ObjectIdentifier: WatchSink] = [:]
        var demoted = false
        lock.withLock {
            if syncedByKey.isEmpty && syncedRanges.isEmpty {
                lastPublished = max(lastPublished, changes[changes.count - 1].kv.modRevision)
                return
            }
            var start = 0
            while start < changes.count {
                let revision = changes[start].kv.modRevision
                var end = start + 1
                while end < changes.count && changes[end].kv.modRevision == revision { end += 1 }
                let events = changes[start..<end].map(WatchEvent.init)
                demoted = deliver(events, at: revision, touched: &touched) || demoted
                lastPublished = max(lastPublished, revision)
                start = end
            }
        }
        for sink in touched.values { sink.flush() }
        if demoted { wakeCatchUp() }
    }

    /// Under the lock: one revision's events to the synced watchers that match them.
    private func deliver(_ events: [WatchEvent], at revision: Int64,
                         touched: inout [ObjectIdentifier: WatchSink]) -> Bool {
        var matches: [WatcherKey: [WatchEvent]] = [:]
        for event in events {
            for key in syncedByKey[event.kv.key] ?? [] { matches[key, default: []].append(event) }
        }
        if !syncedRanges.isEmpty {
            for event in events {
                for key in syncedRanges { matches[key, default: []].append(event) }
            }
        }
        var demoted = false
        for (key, candidates) in matches {
            guard var watcher = watchers[key], revision >= watcher.nextRevision else { continue }
            let wanted = candidates.filter(watcher.spec.wants)
            guard !wanted.isEmpty else { continue }
            if watcher.sink.backlogBytes > backlogLimit {
                // The stream is not draining: stop queueing, catch up from the store later.
                unindex(key, watcher.spec)
                watcher.synced = false
                watcher.nextRevision = revision
                unsynced.insert(key)
                watchers[key] = watcher
                demoted = true
                continue
            }
            watcher.sink.send(events: wanted, to: watcher.watchID, revision: revision, spec: watcher.spec)
            watcher.nextRevision = revision + 1
            watcher.sentSinceProgress = true
            watchers[key] = watcher
            touched[key.sink] = watcher.sink
        }
        return demoted
    }

    // MARK: catching up

    private func wakeCatchUp() {
        wake.withLock { wake.signal() }
    }

    private func runCatchUp() {
        while true {
            let done = wake.withLock { () -> Bool in
                if !stopped && lock.withLock({ unsynced.isEmpty }) {
                    _ = wake.wait(until: Date(timeIntervalSinceNow: 0.1))
                }
                return stopped
            }
            if done { return }
            do {
                while try catchUpPass() {}
            } catch {
                // The store failed to read; try again on the next pass.
            }
            notifyProgressIfDue()
        }
    }

    /// One pass over the unsynced watchers whose streams can take more. Returns true if another
    /// pass should follow at once.
    private func catchUpPass() throws -> Bool {
        let pending = lock.withLock { () -> [(WatcherKey, Watcher)] in
            unsynced.compactMap { key in
                guard let watcher = watchers[key], watcher.sink.backlogBytes <= backlogLimit / 2 else { return nil }
                return (key, watcher)
            }
        }
        guard let from = pending.map(\.1.nextRevision).min() else { return false }
        var compacted: [(WatcherKey, Watcher)] = []
        var deliveries: [(WatcherKey, Watcher, [WatchEvent])] = []
        let (current, through, compactRevision) = try store.read { reader -> (Int64, Int64, Int64) in
            let current = try reader.currentRevision()
            let compactRevision = try reader.compactRevision()
            let live = pending.filter { entry in
                if entry.1.nextRevision < compactRevision {
                    compacted.append(entry)
                    return false
                }
                return true
            }
            let start = max(from, compactRevision)
            let through = min(current, start + catchUpRevisions - 1)
            guard !live.isEmpty, start <= through else { return (current, through, compactRevision) }
            var history: [WatchEvent] = []
            try reader.changes(from: start, through: through) { change in
                history.append(WatchEvent(change))
                return true
            }
            // History holds no previous values: each event's is read (as of the revision before)
            // the first time a prev_kv watcher wants it, and shared by every watcher after.
            var withPrevious = [WatchEvent?](repeating: nil, count: history.count)
            func eventWithPrevious(_ position: Int) throws -> WatchEvent {
                if let event = withPrevious[position] { return event }
                let event = history[position]
                let previous = try reader.get(event.kv.key, atOrBefore: event.revision - 1)
                let completed = WatchEvent(kind: event.kind, kv: event.kv, previous: previous)
                withPrevious[position] = completed
                return completed
            }
            for (key, watcher) in live {
                var events: [WatchEvent] = []
                for (position, event) in history.enumerated()
                where event.revision >= watcher.nextRevision && watcher.spec.wants(event) {
                    events.append(watcher.spec.prevKV ? try eventWithPrevious(position) : event)
                }
                deliveries.append((key, watcher, events))
            }
            return (current, through, compactRevision)
        }
        for (_, watcher) in compacted {
            watcher.sink.sendCompacted(watchID: watcher.watchID, compactRevision: compactRevision, currentRevision: current)
        }
        var sinks: [ObjectIdentifier: WatchSink] = [:]
        var more = false
        lock.withLock {
            for (key, _) in compacted { removeLocked(key) }
            for (key, snapshot, events) in deliveries {
                // Skip watchers cancelled meanwhile.
                guard var watcher = watchers[key], !watcher.synced, watcher.nextRevision == snapshot.nextRevision else { continue }
                if !events.isEmpty {
                    watcher.sink.send(events: events, to: watcher.watchID, revision: current, spec: watcher.spec)
                    watcher.sentSinceProgress = true
                    sinks[key.sink] = watcher.sink
                }
                watcher.nextRevision = max(watcher.nextRevision, through + 1)
                if through >= lastPublished {
                    watcher.synced = true
                    unsynced.remove(key)
                    index(key, watcher.spec)
                } else {
                    more = true
                }
                watchers[key] = watcher
            }
        }
        for sink in sinks.values { sink.flush() }
        for (_, watcher) in compacted { watcher.sink.flush() }
        return more
    }

    /// Periodic progress notifications to synced watchers that asked for them and had nothing
    /// to send since the last round.
    private func notifyProgressIfDue() {
        let now = DispatchTime.now()
        guard Double(now.uptimeNanoseconds - lastProgress.uptimeNanoseconds) / 1e9 >= progressIntervalSeconds else { return }
        lastProgress = now
        var sinks: [ObjectIdentifier: WatchSink] = [:]
        lock.withLock {
            for (key, var watcher) in watchers where watcher.synced && watcher.spec.progressNotify {
                if !watcher.sentSinceProgress {
                    watcher.sink.sendProgress(watchID: watcher.watchID, revision: lastPublished)
                    sinks[key.sink] = watcher.sink
                }
                watcher.sentSinceProgress = false
                watchers[key] = watcher
            }
        }
        for sink in sinks.values { sink.flush() }
    }
}
