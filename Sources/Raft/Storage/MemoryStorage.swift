/// `LogStorage` kept in memory, for tests and the simulator (where it plays the disk: it
/// survives a simulated crash while the `RaftNode` does not). Not thread-safe: like the node,
/// it belongs to one loop.
public final class MemoryStorage: LogStorage {
    public private(set) var hardState: HardState
    public private(set) var snapshotValue: Snapshot
    /// `log[0]` is a placeholder for the entry the snapshot replaced: its index and term are the
    /// snapshot's. Real entries follow it contiguously.
    private var log: [Entry]

    /// An empty log: a member joining an existing group (which learns the membership from its
    /// leader), or, with a non-empty `confState`, a quick setup for tests of a group whose
    /// membership never changes. A real group's founders use `bootstrapped(voters:)`, which
    /// writes the membership into the log where later members can find it.
    public init(confState: ConfState = ConfState()) {
        hardState = HardState()
        snapshotValue = Snapshot(metadata: SnapshotMetadata(confState: confState))
        log = [Entry()]
    }

    // MARK: LogStorage

    public func initialState() -> (hardState: HardState, snapshot: SnapshotMetadata) {
        (hardState, snapshotValue.metadata)
    }

    public func entries(from lo: UInt64, to hi: UInt64, maxSize: UInt64) throws(StorageError) -> [Entry] {
        let offset = log[0].index
        if lo <= offset { throw .compacted }
        precondition(hi <= lastIndex() + 1, "entries(\(lo)..<\(hi)) beyond last index \(lastIndex())")
        precondition(lo <= hi, "entries(\(lo)..<\(hi)) is an inverted range")
        let slice = Array(log[Int(lo - offset)..<Int(hi - offset)])
        return limitSize(slice, maxSize: maxSize)
    }

    public func term(at index: UInt64) throws(StorageError) -> UInt64 {
        let offset = log[0].index
        if index < offset { throw .compacted }
        if index - offset >= UInt64(log.count) { throw .unavailable }
        return log[Int(index - offset)].term
    }

    public func firstIndex() -> UInt64 { log[0].index + 1 }

    public func lastIndex() -> UInt64 { log[0].index + UInt64(log.count) - 1 }

    public func snapshot() throws(StorageError) -> Snapshot { snapshotValue }

    // MARK: Writes (the caller's side)

    public func setHardState(_ state: HardState) {
        hardState = state
    }

    /// Appends `entries`, first discarding any stored entries at or after the first of them
    /// (they conflict with the leader's log). Entries already covered by the snapshot are
    /// skipped.
    public func append(_ entries: [Entry]) {
        guard let firstNew = entries.first else { return }
        let first = firstIndex()
        let lastNew = firstNew.index + UInt64(entries.count) - 1
        if lastNew < first { return }
        var toAppend = entries[...]
        if firstNew.index < first {
            toAppend = toAppend.dropFirst(Int(first - firstNew.index))
        }
        let position = toAppend.first!.index - log[0].index
        precondition(
            position <= UInt64(log.count),
            "missing log entries: last stored \(lastIndex()), appending at \(toAppend.first!.index)")
        log.removeSubrange(Int(position)...)
        log.append(contentsOf: toAppend)
    }

    /// Replaces the whole log with `snapshot` (a snapshot received from the leader).
    public func applySnapshot(_ snapshot: Snapshot) throws(StorageError) {
        guard snapshot.metadata.index > snapshotValue.metadata.index else { throw .snapshotOutOfDate }
        snapshotValue = snapshot
        log = [Entry(term: snapshot.metadata.term, index: snapshot.metadata.index)]
    }

    /// Records a snapshot of the application's state as of `index` (which must be applied, so
    /// at most the commit index) without discarding entries; `compact` does that.
    @discardableResult
    public func createSnapshot(index: UInt64, confState: ConfState, data: [UInt8]) throws(StorageError) -> Snapshot {
        guard index > snapshotValue.metadata.index else { throw .snapshotOutOfDate }
        precondition(index <= lastIndex(), "snapshot at \(index) is beyond the last index \(lastIndex())")
        let term = log[Int(index - log[0].index)].term
        snapshotValue = Snapshot(data: data, metadata: SnapshotMetadata(confState: confState, index: index, term: term))
        return snapshotValue
    }

    /// Discards the entries up to and including `index`, which a snapshot must already cover.
    public func compact(through index: UInt64) throws(StorageError) {
        let offset = log[0].index
        guard index > offset else { throw .compacted }
        precondition(index <= lastIndex(), "compact through \(index) beyond the last index \(lastIndex())")
        precondition(
            index <= snapshotValue.metadata.index,
            "compact through \(index) would drop entries no snapshot covers (snapshot at \(snapshotValue.metadata.index))")
        let keepFrom = Int(index - offset)
        let placeholder = Entry(term: log[keepFrom].term, index: log[keepFrom].index)
        log.removeSubrange(0...keepFrom)
        log.insert(placeholder, at: 0)
    }

    /// Every stored entry after the snapshot (for tests and checkers).
    public var storedEntries: ArraySlice<Entry> { log.dropFirst() }
}
