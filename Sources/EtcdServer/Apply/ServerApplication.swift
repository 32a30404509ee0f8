import ServerLog
import EtcdProto
import Foundation
import MVCC
import Raft

/// The replicated state machine behind the Ready loop: committed entries are queued by the Raft
/// thread and applied here, on the apply thread, in batches (one LMDB transaction per batch,
/// which also records the applied index and term). So the next round of Raft (persisting,
/// replicating) overlaps applying this one. After each batch: the requests this member proposed
/// are completed, the committed changes go to the watch hub, and readers waiting for the
/// applied index are released.
final class ServerApplication: RaftApplication, @unchecked Sendable {
    private let store: KVStore
    private let applier: Applier
    private let registry: ProposalRegistry
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [Entry] = []
    private var decisions: [(index: UInt64, change: ConfChange?)] = []
    private var stopping = false
    private var finished = false
    private var appliedIndexValue: UInt64
    private var appliedTermValue: UInt64
    /// Readers waiting for the applied index to reach theirs.
    private var appliedWaiters: [(index: UInt64, resume: @Sendable () -> Void)] = []
    /// The store is flushed to disk through this index (LMDB runs without its own fsync
    /// behind the write-ahead log).
    private var durable: (index: UInt64, term: UInt64)
    private var lastSync = DispatchTime.now().uptimeNanoseconds
    private var backgroundWorkPending = false

    /// Receives each batch's committed changes (the watch hub).
    var onChanges: (([Change]) -> Void)?
    /// A leader's empty entry was applied, with its term (lease promotion, "first commit in
    /// term" for reads).
    var onEmptyEntry: ((UInt64) -> Void)?
    /// The batch removed this member from the cluster.
    var onRemoved: (() -> Void)?
    /// Installs a snapshot received from the leader into the store; called on the Raft thread
    /// once everything before it is applied.
    var installSnapshot: ((Snapshot) throws -> Void)?
    /// The duration of each batch's store commit, in seconds (metrics).
    var onCommit: ((Double) -> Void)?
    /// Work run between batches while it reports more to do (physical compaction).
    var backgroundWork: (() -> Bool)?

    init(store: KVStore, applier: Applier, registry: ProposalRegistry, logger: Logger) throws {
        self.store = store
        self.applier = applier
        self.registry = registry
        self.logger = logger
        let (index, term) = try store.read { (try $0.appliedIndex(), try $0.appliedTerm()) }
        appliedIndexValue = index
        appliedTermValue = term
        durable = (index, term)
    }

    var appliedIndex: UInt64 { condition.withLock { appliedIndexValue } }
    var appliedTerm: UInt64 { condition.withLock { appliedTermValue } }
    /// What the store holds on disk for sure.
    var durableState: (index: UInt64, term: UInt64) { condition.withLock { durable } }

    private var started = false

    func start() {
        condition.withLock { started = true }
        let thread = Thread { [self] in run() }
        thread.name = "apply"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Applies what is queued, flushes the store and stops the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
        condition.unlock()
        try? store.environment.sync()
    }

    /// Runs `resume` once the applied index reaches `index` (at once if it has).
    func waitApplied(_ index: UInt64, _ resume: @escaping @Sendable () -> Void) {
        let ready = condition.withLock { () -> Bool in
            if appliedIndexValue >= index { return true }
            appliedWaiters.append((index, resume))
            return false
        }
        if ready { resume() }
    }

    // MARK: RaftApplication (the Raft thread)

    func apply(_ entries: [Entry]) {
        condition.lock()
        queue.append(contentsOf: entries)
        condition.signal()
        condition.unlock()
    }

    func membershipChanges(through index: UInt64) -> [ConfChange?] {
        condition.lock()
        defer { condition.unlock() }
        while appliedIndexValue < index && !finished { condition.wait() }
        let taken = decisions.filter { $0.index <= index }.map(\.change)
        decisions.removeAll { $0.index <= index }
        return taken
    }

    func restore(from snapshot: Snapshot) throws {
        condition.lock()
        while (!queue.isEmpty || applying) && !finished { condition.wait() }
        condition.unlock()
        try installSnapshot?(snapshot)
        let metadata = snapshot.metadata
        let released = condition.withLock { () -> [@Sendable () -> Void] in
            appliedIndexValue = metadata.index
            appliedTermValue = metadata.term
            durable = (metadata.index, metadata.term)
            return takeReleasedWaiters()
        }
        for resume in released { resume() }
    }

    // MARK: The apply thread

    private var applying = false

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping && !backgroundWorkPending {
                if !condition.wait(until: Date(timeIntervalSinceNow: 1)) { break }
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            applying = !batch.isEmpty
            let stop = stopping && batch.isEmpty
            condition.unlock()
            if stop { break }
            if !batch.isEmpty { applyBatch(batch) }
            backgroundWorkPending = backgroundWork?() ?? false
            syncStoreIfDue()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func applyBatch(_ batch: [Entry]) {
        let skipped = appliedIndex
        let pending = batch.filter { $0.index > skipped }
        var outcomes: [(Entry, EntryOutcome)] = []
        outcomes.reserveCapacity(pending.count)
        if let last = pending.last {
            let started = DispatchTime.now().uptimeNanoseconds
            defer { onCommit?(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
            do {
                try store.writeBatch { writeBatch in
                    for entry in pending {
                        outcomes.append((entry, try applier.apply(entry, in: writeBatch)))
                    }
                    try writeBatch.setApplied(index: last.index, term: last.term)
                }
            } catch {
                logger.fatal("failed to apply committed entries to the backend", ["error": "\(error)"], package: "etcdserver")
            }
        }
        // Entries at or below the store's applied index (after a snapshot install raced the
        // queue) change nothing, but a membership change among them still gets its decision.
        let decided = batch.filter { $0.index <= skipped && $0.type == .confChange }.map {
            ($0.index, try? RaftWire.decodeConfChange($0.data))
        } + outcomes.compactMap { entry, outcome in outcome.membershipChange.map { (entry.index, $0) } }
        var changes: [Change] = []
        var removed = false
        for (_, outcome) in outcomes {
            changes += outcome.changes
            removed = removed || outcome.removesThisMember
        }
        if decided.contains(where: { $0.1 != nil }) { applier.membership.changed() }
        let released = condition.withLock { () -> [@Sendable () -> Void] in
            if let last = pending.last {
                appliedIndexValue = last.index
                appliedTermValue = last.term
            }
            decisions.append(contentsOf: decided.map { (index: $0.0, change: $0.1) })
            applying = false
            condition.broadcast()
            return takeReleasedWaiters()
        }
        if !changes.isEmpty { onChanges?(changes) }
        for (entry, outcome) in outcomes {
            if outcome.isEmpty { onEmptyEntry?(entry.term) }
            if let id = outcome.requestID { registry.trigger(id, outcome.result) }
        }
        for resume in released { resume() }
        if removed { onRemoved?() }
    }

    /// Waiters whose index has been reached; called with the lock held.
    private func takeReleasedWaiters() -> [@Sendable () -> Void] {
        guard !appliedWaiters.isEmpty else { return [] }
        let index = appliedIndexValue
        let ready = appliedWaiters.filter { $0.index <= index }.map(\.resume)
        appliedWaiters.removeAll { $0.index <= index }
        return ready
    }

    /// Flushes LMDB now and then, so the log before the flushed index can be released.
    private func syncStoreIfDue() {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastSync > 5_000_000_000 else { return }
        lastSync = now
        syncStore()
    }

    /// Flushes the store to disk and records what it covers.
    func syncStore() {
        let (index, term) = condition.withLock { (appliedIndexValue, appliedTermValue) }
        guard index > durableState.index else { return }
        do {
            try store.environment.sync()
        } catch {
            logger.fatal("failed to sync the backend", ["error": "\(error)"], package: "etcdserver")
        }
        condition.withLock { durable = (index, term) }
    }
}
