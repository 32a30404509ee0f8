/// The leader's queue of ReadIndex requests waiting for a quorum to confirm its leadership
/// (thesis §6.4). Each request records the commit index when it arrived; it is answered once a
/// quorum has acknowledged a heartbeat carrying its context, or a later request's context
/// (heartbeats are answered in order, so a later acknowledgement vouches for earlier reads).
struct ReadOnlyQueue {
    struct PendingRead {
        /// The original request: `from` is the member to answer (or this one / `noNode` for a
        /// local read), `entries[0].data` the request context.
        var request: Message
        /// The leader's commit index when the request arrived: the read index.
        var index: UInt64
        var acks: Set<NodeID> = []
    }

    let option: ReadOnlyOption
    private var pending: [[UInt8]: PendingRead] = [:]
    /// Contexts in arrival order.
    private var queue: [[UInt8]] = []

    init(option: ReadOnlyOption) {
        self.option = option
    }

    var isEmpty: Bool { queue.isEmpty }

    /// Queues a request at read index `index`. A request whose context is already queued is
    /// ignored (it will be answered with the first).
    mutating func add(_ request: Message, index: UInt64) {
        let context = request.entries[0].data
        guard pending[context] == nil else { return }
        pending[context] = PendingRead(request: request, index: index)
        queue.append(context)
    }

    /// Records that `id` acknowledged a heartbeat carrying `context`; returns who has so far.
    mutating func acknowledge(_ context: [UInt8], from id: NodeID) -> Set<NodeID>? {
        guard pending[context] != nil else { return nil }
        pending[context]!.acks.insert(id)
        return pending[context]!.acks
    }

    /// Removes and returns every request up to and including the one with `context`, in order.
    mutating func release(through context: [UInt8]) -> [PendingRead] {
        guard let position = queue.firstIndex(of: context) else { return [] }
        let released = queue[...position].map { pending.removeValue(forKey: $0)! }
        queue.removeSubrange(...position)
        return released
    }

    /// The context of the newest request, which heartbeats carry so one acknowledgement
    /// covers every earlier request.
    var lastContext: [UInt8]? { queue.last }
}
