/// Flow control for one follower in the replicate state: the last index of each append message
/// sent but not yet acknowledged, oldest first, at most `capacity` of them. When it is full the
/// leader stops sending to that follower until acknowledgements free slots.
struct Inflights: Hashable {
    let capacity: Int
    /// A ring buffer, grown on demand up to `capacity`.
    private var buffer: [UInt64] = []
    private var start = 0
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "inflight capacity must be positive")
        self.capacity = capacity
    }

    var isFull: Bool { count == capacity }

    /// Records an append whose last entry is `index`; indexes must be added in increasing order.
    mutating func add(_ index: UInt64) {
        precondition(!isFull, "cannot add to a full inflights window")
        if buffer.count < capacity && start + count >= buffer.count {
            grow()
        }
        var slot = start + count
        if slot >= capacity { slot -= capacity }
        buffer[slot] = index
        count += 1
    }

    private mutating func grow() {
        // Unwrap into a fresh buffer so that `start` is 0 and the ring stays contiguous.
        let newSize = min(max(buffer.count * 2, 1), capacity)
        var grown = [UInt64](repeating: 0, count: newSize)
        for i in 0..<count {
            grown[i] = buffer[(start + i) % buffer.count]
        }
        buffer = grown
        start = 0
    }

    /// Frees every in-flight message whose last index is at most `index` (acknowledged).
    mutating func free(through index: UInt64) {
        guard count > 0, index >= buffer[start] else { return }
        var freed = 0
        var slot = start
        while freed < count, buffer[slot] <= index {
            freed += 1
            slot += 1
            if slot >= buffer.count { slot = 0 }
        }
        count -= freed
        start = count == 0 ? 0 : slot
    }

    /// Frees the oldest in-flight message, so that a full window can make progress again.
    mutating func freeFirst() {
        guard count > 0 else { return }
        free(through: buffer[start])
    }

    mutating func reset() {
        count = 0
        start = 0
    }
}
