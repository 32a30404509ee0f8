/// Everything the core needs the caller to do, collected since the last `Ready`. Take one with
/// `RaftNode.ready()`, carry it out in this order, then call `RaftNode.advance()`:
///
/// 1. Persist (as one durable write when `mustSync` is true):
///    - `snapshot`, if present: install it in storage (it replaces the whole log);
///    - `entries`: append to storage, replacing any stored entries from the first one's index on;
///    - `hardState`, if present.
///    Nothing may be sent before this is durable: a message may promise that an entry or a vote
///    is on disk.
/// 2. Send `messages`. Send order does not matter and the network may lose, duplicate or reorder
///    them. A message of type `.snapshot` carries the application state; report the outcome of
///    its delivery with `reportSnapshot`.
/// 3. Apply: restore the state machine from `snapshot` if present, then apply `committedEntries`
///    in order. Pass each entry of type `.confChange` to `applyConfChange`. Serve the reads in
///    `readStates` once the applied index reaches each one's `index`.
/// 4. Call `advance()`. Only then may the next `ready()` be taken; `step`, `tick` and the other
///    inputs may be called at any point in between.
///
/// `softState` is informational (who leads, which role this member plays) and need not be
/// persisted.
public struct Ready: Sendable {
    /// Set when the leader or this member's role changed since the last `Ready`.
    public var softState: SoftState?
    /// Set when term, vote or commit index changed since the last `Ready`. Persist it.
    public var hardState: HardState?
    /// Answers to `readIndex` requests.
    public var readStates: [ReadState]
    /// New log entries to persist before sending `messages`.
    public var entries: [Entry]
    /// A snapshot received from the leader, to persist and install.
    public var snapshot: Snapshot?
    /// Committed entries to apply, oldest first. They are durable by the time the caller applies
    /// them (step 1 comes first), and never include an entry not yet handed out in `entries`.
    public var committedEntries: [Entry]
    /// Messages to send once step 1 is durable.
    public var messages: [Message]
    /// Whether step 1 must reach stable storage (fsync) before the caller moves on: true when
    /// there are new entries or a snapshot, or the term or vote changed. A commit index alone may be written
    /// lazily, since it can be recovered from the leader.
    public var mustSync: Bool

    public init(
        softState: SoftState? = nil, hardState: HardState? = nil, readStates: [ReadState] = [],
        entries: [Entry] = [], snapshot: Snapshot? = nil, committedEntries: [Entry] = [],
        messages: [Message] = [], mustSync: Bool = false
    ) {
        self.softState = softState
        self.hardState = hardState
        self.readStates = readStates
        self.entries = entries
        self.snapshot = snapshot
        self.committedEntries = committedEntries
        self.messages = messages
        self.mustSync = mustSync
    }

    /// Whether there is anything to do at all.
    public var containsUpdates: Bool {
        softState != nil || hardState != nil || snapshot != nil || !entries.isEmpty
            || !committedEntries.isEmpty || !messages.isEmpty || !readStates.isEmpty
    }
}
