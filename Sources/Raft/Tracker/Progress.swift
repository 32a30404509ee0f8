/// The leader's view of one member's log, and how it currently replicates to it.
///
/// ```
///                 append accepted                      log usable again
///   +-------+ ------------------> +-----------+      +----------+
///   | probe |                     | replicate | ---> | snapshot |
///   +-------+ <------------------ +-----------+      +----------+
///       ^  ^       append rejected or          needed entry       |
///       |  |       member unreachable          was compacted      |
///       |  +--------------------------------------------------   |
///       +----------------------------------------------------------+
///                    snapshot delivered (or failed), or acknowledged
/// ```
///
/// - probe: the leader does not know where the logs match. It sends one append per heartbeat
///   interval and backs `next` off on rejection until one is accepted.
/// - replicate: the logs match up to `match`; the leader streams appends optimistically,
///   advancing `next` as it sends, bounded by `inflights`.
/// - snapshot: the entries the member needs were compacted; a snapshot is on its way and
///   nothing else is sent until it lands or the transport reports failure.
public struct Progress: Sendable, Hashable {
    public enum State: Sendable, Hashable, CustomStringConvertible {
        case probe
        case replicate
        case snapshot

        public var description: String {
            switch self {
            case .probe: return "probe"
            case .replicate: return "replicate"
            case .snapshot: return "snapshot"
            }
        }
    }

    /// The highest index known to be in the member's log.
    public internal(set) var match: UInt64
    /// The index of the next entry to send.
    public internal(set) var next: UInt64
    public internal(set) var state: State = .probe
    /// In the snapshot state: the index of the snapshot being sent.
    public internal(set) var pendingSnapshot: UInt64 = 0
    /// Heard from since the last CheckQuorum round (the leader marks itself active).
    public internal(set) var recentActive: Bool = false
    /// The leader tick count when this member last answered, for strict reconfiguration.
    public internal(set) var lastHeardTick: UInt64?
    /// In the probe state: an append was sent and the leader waits for an answer (or the next
    /// heartbeat) before sending another.
    public internal(set) var probeSent: Bool = false
    public internal(set) var isLearner: Bool
    var inflights: Inflights

    init(match: UInt64 = 0, next: UInt64, maxInflight: Int, isLearner: Bool) {
        self.match = match
        self.next = next
        self.isLearner = isLearner
        inflights = Inflights(capacity: maxInflight)
    }

    /// Messages in flight while replicating.
    public var inflightCount: Int { inflights.count }

    /// Whether the leader should hold off sending appends to this member.
    public var isPaused: Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflights.isFull
        case .snapshot: return true
        }
    }

    private mutating func resetState(_ newState: State) {
        probeSent = false
        pendingSnapshot = 0
        state = newState
        inflights.reset()
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            // The snapshot may have landed: probing right after it costs nothing if it did.
            let snapshotIndex = pendingSnapshot
            resetState(.probe)
            next = max(match + 1, snapshotIndex + 1)
        } else {
            resetState(.probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        resetState(.replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(index: UInt64) {
        resetState(.snapshot)
        pendingSnapshot = index
    }

    /// An acknowledgement of `index`. Returns whether `match` moved (a stale or duplicated
    /// acknowledgement does not).
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// Sent entries up to `index` without waiting for the answer (replicate state).
    mutating func optimisticUpdate(_ index: UInt64) {
        next = index + 1
    }

    /// A rejection of the append whose preceding index was `rejected`; `matchHint` is the
    /// largest index where the logs may still match. Returns whether `next` moved back (a stale
    /// rejection does not move it).
    mutating func maybeDecrease(rejected: UInt64, matchHint: UInt64) -> Bool {
        if state == .replicate {
            // In replicate, anything at or below match was accepted before: a stale rejection.
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // In probe, only the answer to the last probe counts.
        if next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        probeSent = false
        return true
    }
}

extension Progress: CustomStringConvertible {
    public var description: String {
        var text = "\(state) match=\(match) next=\(next)"
        if isLearner { text += " learner" }
        if isPaused { text += " paused" }
        if pendingSnapshot > 0 { text += " pendingSnap=\(pendingSnapshot)" }
        if !recentActive { text += " inactive" }
        if inflights.count > 0 { text += " inflight=\(inflights.count)\(inflights.isFull ? "[full]" : "")" }
        return text
    }
}
