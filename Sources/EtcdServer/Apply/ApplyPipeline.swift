import Foundation
import MVCC
import WAL

/// What applying one log entry produced, handed back to the proposer.
public enum ApplyResult: Sendable {
    case success(AppliedResponse)
    case failure(EtcdError)
}

public typealias ApplyCompletion = @Sendable (ApplyResult) -> Void

/// The write path, shaped for Raft: every mutation is a proposal that is appended to the
/// write-ahead log and made durable (one fsync for every proposal that arrived meanwhile), then
/// applied to the store in an LMDB transaction that also records the applied index.
///
/// Two threads: the log thread appends and syncs; the apply thread applies, so under load one
/// batch is applied while the next one is synced. When no other proposal waits, the log thread
/// applies its batch itself, saving a thread hand-off on a lone client's write. With one member
/// the log is local; Raft will replace the log thread's "append and sync" with "append, sync and
/// wait for a quorum".
public final class ApplyPipeline: @unchecked Sendable {
    private let wal: WAL
    /// False with --unsafe-no-fsync: appends are not fsync'd (a crash may lose acknowledged writes).
    private let syncWrites: Bool
    private let store: KVStore
    private let applier: Applier
    private let logger: Logger

    /// Proposals waiting for the log thread.
    private let proposalLock = NSCondition()
    private var proposals: [(data: [UInt8], completion: ApplyCompletion?)] = []
    /// Committed entries waiting for the apply thread.
    private let commitLock = NSCondition()
    private var committed: [(Entry, ApplyCompletion?)] = []
    private var stopping = false
    private var logThreadDone = false
    private var applyThreadDone = false
    /// Index the store has durably applied (LMDB synced); log segments before it can go.
    private var durableIndex: UInt64 = 0

    private var lastIndex: UInt64
    public let term: UInt64
    private let stateLock = NSLock()
    private var _appliedIndex: UInt64
    private var _committedIndex: UInt64
    private var lastSync = DispatchTime.now()

    /// Work the apply thread runs between batches (e.g. physical compaction); returns true while
    /// more remains.
    var backgroundWork: (() -> Bool)?

    /// Held while a batch is applied: batches apply one at a time, in log order, by whichever
    /// thread takes it.
    private let applyLock = NSLock()

    init(wal: WAL, store: KVStore, applier: Applier, term: UInt64, appliedIndex: UInt64, logger: Logger,
         syncWrites: Bool = true) {
        self.wal = wal
        self.syncWrites = syncWrites
        self.store = store
        self.applier = applier
        self.term = term
        self.logger = logger
        self.lastIndex = wal.lastIndex
        self._appliedIndex = appliedIndex
        self._committedIndex = wal.lastIndex
        self.durableIndex = appliedIndex
    }

    public var appliedIndex: UInt64 { stateLock.withLock { _appliedIndex } }
    public var committedIndex: UInt64 { stateLock.withLock { _committedIndex } }

    /// Applies log entries that the store has not applied yet (after a restart).
    func replay(_ entries: [Entry]) throws {
        let applied = appliedIndex
        let pending = entries.filter { $0.index > applied }
        if let first = pending.first, first.index != applied + 1 {
            throw WALError("wal: log starts at \(first.index) but the store has applied only \(applied)")
        }
        var start = pending.startIndex
        while start < pending.endIndex {
            let end = min(start + 1000, pending.endIndex)
            _ = try applyBatch(pending[start..<end].map { ($0, nil) })
            start = end
        }
    }

    public func start() {
        let logThread = Thread { [self] in runLogThread() }
        logThread.name = "wal"
        logThread.start()
        let applyThread = Thread { [self] in runApplyThread() }
        applyThread.name = "apply"
        applyThread.start()
    }

    /// Appends `data` to the log; `completion` runs on the apply thread with the result.
    public func propose(_ data: [UInt8], completion: ApplyCompletion?) {
        proposalLock.lock()
        if stopping {
            proposalLock.unlock()
            completion?(.failure(.stopped))
            return
        }
        proposals.append((data, completion))
        if proposals.count == 1 { proposalLock.signal() }
        proposalLock.unlock()
    }

    /// Stops taking proposals, finishes what was accepted and waits for both threads.
    public func stop() {
        proposalLock.lock()
        stopping = true
        proposalLock.broadcast()
        while !logThreadDone { proposalLock.wait() }
        proposalLock.unlock()
        commitLock.lock()
        commitLock.broadcast()
        while !applyThreadDone { commitLock.wait() }
        commitLock.unlock()
        try? store.environment.sync()
    }

    private func runLogThread() {
        while true {
            proposalLock.lock()
            while proposals.isEmpty && !stopping { proposalLock.wait() }
            let batch = proposals
            proposals.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            let releasable = durableIndex
            proposalLock.unlock()
            if done { break }
            var entries: [Entry] = []
            entries.reserveCapacity(batch.count)
            for proposal in batch {
                lastIndex += 1
                entries.append(Entry(term: term, index: lastIndex, data: proposal.data))
            }
            do {
                try wal.append(entries: entries, hardState: HardState(term: term, vote: 0, commit: lastIndex))
                if syncWrites { try wal.sync() }
            } catch {
                // A failed write or fsync may have lost data; continuing could acknowledge
                // writes that are not durable.
                logger.fatal("failed to write to the write-ahead log", ["error": "\(error)"])
            }
            wal.releaseSegments(before: releasable + 1)
            stateLock.withLock { _committedIndex = lastIndex }
            commitLock.lock()
            for (entry, proposal) in zip(entries, batch) { committed.append((entry, proposal.completion)) }
            commitLock.unlock()
            // With nothing else waiting, applying here saves a thread hand-off on the path of a
            // lone client's write; under load the apply thread takes it, so the next batch's
            // fsync overlaps this batch's apply.
            let idle = proposalLock.withLock { proposals.isEmpty }
            if idle && applyLock.try() {
                drainCommitted()
                applyLock.unlock()
            } else {
                commitLock.withLock { commitLock.signal() }
            }
        }
        proposalLock.lock()
        logThreadDone = true
        proposalLock.broadcast()
        proposalLock.unlock()
    }

    private func runApplyThread() {
        while true {
            commitLock.lock()
            // Wake at least once a second to flush the store, and do not sleep while
            // background work remains.
            while committed.isEmpty && !(stopping && logThreadDone) && !hasBackgroundWork {
                if !commitLock.wait(until: Date(timeIntervalSinceNow: 1)) { break }
            }
            let finished = committed.isEmpty && stopping && logThreadDone
            commitLock.unlock()
            applyLock.withLock {
                drainCommitted()
                hasBackgroundWork = backgroundWork?() ?? false
                syncStoreIfDue()
            }
            if finished { break }
        }
        commitLock.lock()
        applyThreadDone = true
        commitLock.broadcast()
        commitLock.unlock()
    }

    /// Applies every committed entry not applied yet, then completes their proposals. Called with
    /// `applyLock` held.
    private func drainCommitted() {
        while true {
            let batch = commitLock.withLock { () -> [(Entry, ApplyCompletion?)] in
                defer { committed.removeAll(keepingCapacity: true) }
                return committed
            }
            if batch.isEmpty { return }
            let results: [ApplyResult]
            do {
                results = try applyBatch(batch)
            } catch {
                logger.fatal("failed to apply committed entries to the backend", ["error": "\(error)"])
            }
            for ((_, completion), result) in zip(batch, results) {
                completion?(result)
            }
        }
    }

    private var hasBackgroundWork = false

    /// Applies entries in one LMDB transaction; returns each entry's result.
    private func applyBatch(_ batch: [(Entry, ApplyCompletion?)]) throws -> [ApplyResult] {
        guard let last = batch.last?.0 else { return [] }
        var results: [ApplyResult] = []
        results.reserveCapacity(batch.count)
        let changes = try store.writeBatch { writeBatch -> [Change] in
            var changes: [Change] = []
            for (entry, _) in batch {
                let (result, entryChanges) = try applier.apply(entry, in: writeBatch)
                results.append(result)
                changes += entryChanges
            }
            try writeBatch.setApplied(index: last.index, term: last.term)
            return changes
        }
        stateLock.withLock { _appliedIndex = last.index }
        applier.publish(changes)
        return results
    }

    /// Flushes LMDB now and then, so the log segments before the flushed index can be dropped.
    private func syncStoreIfDue() {
        let now = DispatchTime.now()
        guard now.uptimeNanoseconds - lastSync.uptimeNanoseconds > 5_000_000_000 else { return }
        lastSync = now
        let applied = appliedIndex
        guard applied > durableIndex else { return }
        do {
            try store.environment.sync()
        } catch {
            logger.fatal("failed to sync the backend", ["error": "\(error)"])
        }
        proposalLock.withLock { durableIndex = applied }
    }
}
