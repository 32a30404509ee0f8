/// A member's view of its log: the stable part in `storage` followed by the unstable part,
/// plus the commit and apply cursors. Invariant: applied <= committed <= lastIndex.
struct RaftLog {
    let storage: any LogStorage
    var unstable: UnstableLog
    /// The highest index known to be stored on a quorum (§5.3).
    private(set) var committed: UInt64
    /// The highest index the application has applied (confirmed through `advance`).
    private(set) var applied: UInt64
    let maxCommittedSizePerReady: UInt64

    init(storage: any LogStorage, maxCommittedSizePerReady: UInt64) {
        self.storage = storage
        self.maxCommittedSizePerReady = maxCommittedSizePerReady
        let first = storage.firstIndex()
        unstable = UnstableLog(offset: storage.lastIndex() + 1)
        // Everything up to the snapshot is committed and applied by definition.
        committed = first - 1
        applied = first - 1
    }

    // MARK: Bounds

    var firstIndex: UInt64 { unstable.firstIndexIfKnown ?? storage.firstIndex() }

    var lastIndex: UInt64 { unstable.lastIndexIfKnown ?? storage.lastIndex() }

    /// The term of the entry at `index`, for `firstIndex - 1 ... lastIndex`.
    func term(at index: UInt64) throws(StorageError) -> UInt64 {
        let placeholder = firstIndex - 1
        if index < placeholder { throw .compacted }
        if index > lastIndex { throw .unavailable }
        if let term = unstable.term(at: index) { return term }
        return try storage.term(at: index)
    }

    /// The term at `index`, or 0 if it was compacted away (or is beyond the log).
    func termOrZero(at index: UInt64) -> UInt64 {
        (try? term(at: index)) ?? 0
    }

    var lastTerm: UInt64 {
        do {
            return try term(at: lastIndex)
        } catch {
            preconditionFailure("the term of the last index \(lastIndex) is unknown: \(error)")
        }
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool {
        guard let ours = try? self.term(at: index) else { return false }
        return ours == term
    }

    /// §5.4.1: a log is at least as up to date as ours if its last term is greater, or equal
    /// with an index at least as large.
    func isUpToDate(lastIndex candidateIndex: UInt64, term candidateTerm: UInt64) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    // MARK: Appending

    /// A follower's side of AppendEntries (§5.3): if our log has an entry at `index` with
    /// `logTerm`, keep what matches, replace what conflicts, append the rest and advance the
    /// commit index. Returns the index of the last entry the message vouches for, or nil if the
    /// consistency check failed.
    mutating func maybeAppend(index: UInt64, logTerm: UInt64, committed leaderCommit: UInt64, entries: [Entry]) -> UInt64? {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNewIndex = index + UInt64(entries.count)
        let conflict = firstConflict(in: entries)
        if conflict != 0 {
            precondition(conflict > committed, "entry \(conflict) conflicts with committed entry (commit \(committed))")
            let start = Int(conflict - (index + 1))
            append(Array(entries[start...]))
        }
        // Only as far as this message vouches for: entries beyond it may be stale.
        commit(to: min(leaderCommit, lastNewIndex))
        return lastNewIndex
    }

    /// Appends entries that follow on from (or replace the tail after) an existing entry.
    /// Returns the new last index.
    @discardableResult
    mutating func append(_ entries: [Entry]) -> UInt64 {
        guard let first = entries.first else { return lastIndex }
        precondition(first.index - 1 >= committed, "appending after \(first.index - 1) would rewrite committed entries (commit \(committed))")
        unstable.truncateAndAppend(entries)
        return lastIndex
    }

    /// The index of the first entry that is new or conflicts with ours (same index, different
    /// term), or 0 if every entry is already in the log.
    func firstConflict(in entries: [Entry]) -> UInt64 {
        for entry in entries where !matchTerm(entry.index, entry.term) {
            return entry.index
        }
        return 0
    }

    /// Fast backtracking: the largest index at or below `index` whose term is at most `term`,
    /// with that term. Entries above it cannot match a log whose entry at `index` has `term`
    /// (terms never decrease along a log). An index whose term is unknown (compacted) is
    /// returned with term 0, meaning "may match".
    func conflictHint(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        var candidate = index
        while candidate > 0 {
            guard let ours = try? self.term(at: candidate) else { return (candidate, 0) }
            if ours <= term { return (candidate, ours) }
            candidate -= 1
        }
        return (0, 0)
    }

    // MARK: Reading

    var unstableEntries: [Entry] { unstable.entries }

    /// Committed entries not yet handed to the application, paged by `maxCommittedSizePerReady`.
    func nextCommittedEntries(after handedOut: UInt64) -> [Entry] {
        let from = max(handedOut + 1, firstIndex)
        guard committed + 1 > from else { return [] }
        do {
            return try slice(from, committed + 1, maxSize: maxCommittedSizePerReady)
        } catch {
            preconditionFailure("committed entries \(from)...\(committed) are unreadable: \(error)")
        }
    }

    func hasNextCommittedEntries(after handedOut: UInt64) -> Bool {
        committed + 1 > max(handedOut + 1, firstIndex)
    }

    func snapshot() throws(StorageError) -> Snapshot {
        if let pending = unstable.snapshot { return pending }
        return try storage.snapshot()
    }

    /// Entries from `index` to the end of the log, trimmed to `maxSize`.
    func entries(from index: UInt64, maxSize: UInt64) throws(StorageError) -> [Entry] {
        if index > lastIndex { return [] }
        return try slice(index, lastIndex + 1, maxSize: maxSize)
    }

    /// Entries in `lo..<hi`, from storage and then the unstable part.
    func slice(_ lo: UInt64, _ hi: UInt64, maxSize: UInt64) throws(StorageError) -> [Entry] {
        precondition(lo <= hi, "slice \(lo)..<\(hi) is inverted")
        if lo < firstIndex { throw .compacted }
        precondition(hi <= lastIndex + 1, "slice \(lo)..<\(hi) beyond last index \(lastIndex)")
        if lo == hi { return [] }
        var result: [Entry] = []
        if lo < unstable.offset {
            let storedEnd = min(hi, unstable.offset)
            let stored = try storage.entries(from: lo, to: storedEnd, maxSize: maxSize)
            if UInt64(stored.count) < storedEnd - lo {
                // Trimmed by size: nothing from the unstable part can follow.
                return stored
            }
            result = stored
        }
        if hi > unstable.offset {
            result.append(contentsOf: unstable.slice(max(lo, unstable.offset), hi))
        }
        return limitSize(result, maxSize: maxSize)
    }

    // MARK: Cursors

    mutating func commit(to index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) is beyond the last index \(lastIndex): was the log lost or truncated?")
        committed = index
    }

    /// The leader's commit rule (§5.3, §5.4.2): advance to `index` only if that entry is from
    /// the current term; earlier entries then commit with it.
    mutating func maybeCommit(_ index: UInt64, term: UInt64) -> Bool {
        guard index > committed, termOrZero(at: index) == term else { return false }
        commit(to: index)
        return true
    }

    mutating func appliedTo(_ index: UInt64) {
        guard index != 0 else { return }
        precondition(index <= committed && index >= applied, "applied \(index) outside [\(applied), \(committed)]")
        applied = index
    }

    /// Restores a commit index loaded from the hard state at startup. A commit index below the
    /// first index (everything there is in the snapshot) leaves the commit at the snapshot.
    mutating func loadCommit(_ index: UInt64) {
        precondition(index <= lastIndex, "persisted commit \(index) is beyond the last index \(lastIndex): was the log lost?")
        committed = max(committed, index)
    }

    mutating func stabilize(through index: UInt64, term: UInt64) {
        unstable.stabilize(through: index, term: term)
    }

    mutating func stabilizeSnapshot(at index: UInt64) {
        unstable.stabilizeSnapshot(at: index)
    }

    /// Replaces the log with a snapshot from the leader; everything it covers is committed.
    mutating func restore(_ snapshot: Snapshot) {
        committed = snapshot.metadata.index
        unstable.restore(snapshot)
    }
}
