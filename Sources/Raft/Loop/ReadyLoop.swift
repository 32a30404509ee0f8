/// Where a member's log state goes to be durable: the write-ahead log in a server, the
/// simulated disk in the simulator. The same object is the node's `LogStorage`, which reads
/// back what was saved.
public protocol RaftLogWriter: AnyObject {
    /// Persists, in this order: a snapshot received from the leader (it replaces the whole
    /// log), the entries (replacing any stored entries from the first one's index on), the
    /// hard state. Durable on return when `sync` is true.
    func save(snapshot: Snapshot?, entries: [Entry], hardState: HardState?, sync: Bool) throws
}

/// The replicated state machine, as the loop sees it.
public protocol RaftApplication: AnyObject {
    /// Replaces the application's state with a snapshot from the leader. Called after every
    /// entry handed over earlier has been applied, and before any entry after the snapshot.
    func restore(from snapshot: Snapshot) throws

    /// Committed entries, oldest first. The application may apply them later (on another
    /// thread), but in this order and each exactly once.
    func apply(_ entries: [Entry])

    /// Waits until every entry handed over through `index` has been applied, and returns what
    /// the application decided for each membership change among them, in log order: the change
    /// to make, or nil when the application refused it (then the core sees no change, as with
    /// etcd's conf changes rejected at apply).
    func membershipChanges(through index: UInt64) -> [ConfChange?]
}

/// Where the loop sends messages. Must not block: queue, drop and report instead.
public protocol RaftMessageSender: AnyObject {
    func send(_ messages: [Message])
}

/// What the loop reports besides messages.
public protocol RaftLoopObserver: AnyObject {
    /// The leader or this member's role changed.
    func softStateChanged(_ state: SoftState, term: UInt64)
    /// Linearizable reads confirmed by the leader.
    func readStatesReady(_ states: [ReadState])
}

/// The one Ready loop: it takes the node's `Ready` and carries it out in the order the
/// contract on `Ready` requires (persist, send, apply, advance). The server runs it on its Raft
/// thread after every input; the simulator runs it too, splitting `begin` and `finish` to model
/// the time a disk write takes. Neither has a loop of its own.
///
/// One exception to "persist before send", as in etcd: a leader's messages promise nothing
/// about its own disk (appends, heartbeats, read answers), so they go out in `begin`, and the
/// leader writes its entries while the followers write theirs. The commit index it sends
/// never counts its own unpersisted entries: followers cannot acknowledge entries they have
/// not received, and acknowledgements are stepped only once this Ready is finished. A Ready
/// that changes the term or the vote is always persisted first.
public final class ReadyLoop {
    public let node: RaftNode
    private let log: RaftLogWriter
    private let application: RaftApplication
    private let sender: RaftMessageSender
    private weak var observer: RaftLoopObserver?
    /// The hard state last handed to `log`.
    private var savedHardState: HardState

    public init(node: RaftNode, log: RaftLogWriter, application: RaftApplication, sender: RaftMessageSender,
                observer: RaftLoopObserver?) {
        self.node = node
        self.log = log
        self.application = application
        self.sender = sender
        self.observer = observer
        self.savedHardState = node.status.hardState
    }

    /// Takes the next `Ready` when there is one; pass it to `finish` before taking another.
    public func begin() -> Ready? {
        guard node.hasReady else { return nil }
        var ready = node.ready()
        if let soft = ready.softState { observer?.softStateChanged(soft, term: node.term) }
        let keepsTermAndVote = ready.hardState.map { $0.term == savedHardState.term && $0.vote == savedHardState.vote } ?? true
        if node.role == .leader && keepsTermAndVote && !ready.messages.isEmpty {
            sender.send(ready.messages)
            ready.messages = []
        }
        return ready
    }

    /// Carries out a `Ready` taken with `begin`.
    public func finish(_ ready: Ready) throws {
        // 1. Persist: nothing may be sent before the entries and the vote it promises are durable.
        if ready.snapshot != nil || !ready.entries.isEmpty || ready.hardState != nil {
            try log.save(snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState,
                         sync: ready.mustSync)
            if let hardState = ready.hardState { savedHardState = hardState }
        }
        // 2. Send (what `begin` did not send already).
        if !ready.messages.isEmpty { sender.send(ready.messages) }
        // 3. Apply: the snapshot, then the committed entries; membership changes reach the
        //    core once applied, before it may take another Ready.
        if let snapshot = ready.snapshot { try application.restore(from: snapshot) }
        if !ready.committedEntries.isEmpty {
            application.apply(ready.committedEntries)
            if let lastChange = ready.committedEntries.last(where: { $0.type == .confChange }) {
                for change in application.membershipChanges(through: lastChange.index) {
                    if let change { node.applyConfChange(change) }
                }
            }
        }
        if !ready.readStates.isEmpty { observer?.readStatesReady(ready.readStates) }
        // 4. Advance.
        node.advance()
    }

    /// Processes every `Ready` the node has, until it has none.
    public func run() throws {
        while let ready = begin() {
            try finish(ready)
        }
    }
}

extension MemoryStorage: RaftLogWriter {
    public func save(snapshot: Snapshot?, entries: [Entry], hardState: HardState?, sync: Bool) throws {
        if let snapshot {
            try applySnapshot(snapshot)
        }
        append(entries)
        if let hardState { setHardState(hardState) }
    }
}
