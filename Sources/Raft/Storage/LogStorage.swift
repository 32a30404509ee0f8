/// The durable log as the core sees it: read-only. The caller writes to it (appending
/// `Ready.entries`, saving `Ready.hardState`, installing `Ready.snapshot`, compacting) and the
/// core reads back what is stable. A server backs it with the write-ahead log; `MemoryStorage`
/// serves tests and the simulator.
///
/// Layout: the storage holds a snapshot (possibly empty, at index 0) and the entries after it,
/// `firstIndex()...lastIndex()`. The snapshot's index and term stand in for the entry just
/// before `firstIndex()`, so `term(at: firstIndex() - 1)` must answer too.
///
/// Storage that fails to read (I/O error, corruption) must stop the process: the core cannot
/// continue from a partial view of its own log. Only the `StorageError` answers are expected.
public protocol LogStorage: AnyObject {
    /// The persisted hard state, and the metadata of the storage's snapshot (index 0 if none):
    /// the membership it records is the membership as of its index. The core applies nothing
    /// at or before that index again; the application restores its state from the snapshot.
    /// Entries before the snapshot may still be stored (for lagging followers).
    func initialState() -> (hardState: HardState, snapshot: SnapshotMetadata)

    /// Entries in `lo..<hi`, trimmed to `maxSize` encoded bytes (but at least one entry).
    /// Throws `.compacted` if `lo < firstIndex()`; `hi` never exceeds `lastIndex() + 1`.
    func entries(from lo: UInt64, to hi: UInt64, maxSize: UInt64) throws(StorageError) -> [Entry]

    /// The term of the entry at `index`, for `firstIndex() - 1 ... lastIndex()`. Throws
    /// `.compacted` below that range and `.unavailable` above it.
    func term(at index: UInt64) throws(StorageError) -> UInt64

    /// The index of the first entry that may still be read (snapshot index + 1).
    func firstIndex() -> UInt64

    /// The index of the last stored entry (the snapshot index if there is none after it).
    func lastIndex() -> UInt64

    /// The most recent snapshot, sent to followers too far behind to be caught up from the log.
    /// Its membership should include every current member (take one after each membership
    /// change) or the core will not send it. May throw `.snapshotTemporarilyUnavailable`.
    func snapshot() throws(StorageError) -> Snapshot
}
