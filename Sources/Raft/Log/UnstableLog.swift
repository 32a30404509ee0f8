/// Entries (and possibly a snapshot) the core has accepted but the caller has not yet
/// confirmed durable. They are handed out in `Ready` and leave this structure when `advance`
/// reports them written. Everything here is lost in a crash, which is why the core never
/// acknowledges an entry to anyone before it is stable (the caller persists before sending).
struct UnstableLog {
    /// A snapshot received from the leader, not yet persisted.
    var snapshot: Snapshot?
    /// Unpersisted entries; `entries[i]` has index `offset + i`.
    var entries: [Entry] = []
    var offset: UInt64

    init(offset: UInt64) {
        self.offset = offset
    }

    /// The first log index, if the unstable part knows it (only with a pending snapshot).
    var firstIndexIfKnown: UInt64? {
        snapshot.map { $0.metadata.index + 1 }
    }

    /// The last log index, if the unstable part knows it.
    var lastIndexIfKnown: UInt64? {
        if !entries.isEmpty { return offset + UInt64(entries.count) - 1 }
        return snapshot?.metadata.index
    }

    /// The term at `index`, if the unstable part knows it.
    func term(at index: UInt64) -> UInt64? {
        if index < offset {
            if let snapshot, snapshot.metadata.index == index { return snapshot.metadata.term }
            return nil
        }
        guard let last = lastIndexIfKnown, index <= last else { return nil }
        return entries[Int(index - offset)].term
    }

    /// The caller persisted entries up to `index`, the last of which had `term`. Ignored when
    /// the entry at `index` has since been replaced (a newer leader overwrote it while the
    /// write was in flight): then the replacement is still unstable.
    mutating func stabilize(through index: UInt64, term: UInt64) {
        guard let knownTerm = self.term(at: index), knownTerm == term, index >= offset else { return }
        entries.removeFirst(Int(index + 1 - offset))
        offset = index + 1
    }

    /// The caller persisted the snapshot at `index`.
    mutating func stabilizeSnapshot(at index: UInt64) {
        if let snapshot, snapshot.metadata.index == index {
            self.snapshot = nil
        }
    }

    /// Replaces everything with a snapshot from the leader.
    mutating func restore(_ snapshot: Snapshot) {
        offset = snapshot.metadata.index + 1
        entries = []
        self.snapshot = snapshot
    }

    /// Appends `newEntries`, which must be contiguous, discarding any unstable entries at or
    /// after the first of them.
    mutating func truncateAndAppend(_ newEntries: [Entry]) {
        guard let first = newEntries.first?.index else { return }
        let end = offset + UInt64(entries.count)
        if first == end {
            entries.append(contentsOf: newEntries)
        } else if first <= offset {
            // Everything unstable is replaced; the stable log is cut at `first` when these
            // entries are persisted.
            offset = first
            entries = newEntries
        } else {
            precondition(first < end, "appending at \(first) leaves a gap after \(end - 1)")
            entries.removeSubrange(Int(first - offset)...)
            entries.append(contentsOf: newEntries)
        }
    }

    func slice(_ lo: UInt64, _ hi: UInt64) -> ArraySlice<Entry> {
        precondition(lo <= hi, "unstable slice \(lo)..<\(hi) is inverted")
        let end = offset + UInt64(entries.count)
        precondition(lo >= offset && hi <= end, "unstable slice \(lo)..<\(hi) outside \(offset)..<\(end)")
        return entries[Int(lo - offset)..<Int(hi - offset)]
    }
}
