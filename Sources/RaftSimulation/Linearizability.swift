/// An independent linearizability checker in the style of porcupine (Wing & Gong's search with
/// Lowe's memoization): try to order the operations of a history so that each takes effect at
/// one instant between its call and its return and the sequence is legal for a sequential
/// model. It knows nothing of Raft: it only sees the history the clients recorded.

/// A sequential specification. `step` must be a pure function.
public protocol LinearizabilityModel {
    associatedtype State: Hashable
    associatedtype Input
    associatedtype Output

    static var initialState: State { get }
    /// The state after `input` produced `output` in `state`, or nil if it could not have.
    static func step(_ state: State, _ input: Input, _ output: Output) -> State?
}

/// One completed or pending call, with logical timestamps from a single clock that orders
/// every call and return in the run.
public struct HistoryOperation<Input, Output> {
    public var clientID: UInt64
    public var input: Input
    public var output: Output
    public var call: UInt64
    /// `nil` when the outcome is unknown (the client gave up): the operation may take effect
    /// at any time after its call, or never.
    public var returned: UInt64?

    public init(clientID: UInt64, input: Input, output: Output, call: UInt64, returned: UInt64?) {
        self.clientID = clientID
        self.input = input
        self.output = output
        self.call = call
        self.returned = returned
    }
}

public enum LinearizabilityResult: Equatable, Sendable {
    case linearizable
    /// No legal order exists. `longestPrefix` is how many operations the deepest attempt
    /// managed to linearize, to help read the failing history.
    case violation(longestPrefix: Int)
    /// The search exceeded its budget without deciding.
    case inconclusive
}

public enum LinearizabilityChecker {
    /// Checks one history (for a partitionable model, one partition). `budget` bounds the search
    /// steps.
    public static func check<M: LinearizabilityModel>(
        _ model: M.Type, _ operations: [HistoryOperation<M.Input, M.Output>], budget: Int = 5_000_000
    ) -> LinearizabilityResult {
        let count = operations.count
        guard count > 0 else { return .linearizable }

        // The history as one list of events in time order: each operation's call and its
        // return (at "infinity" when unknown). Calls sort before returns at equal times.
        var events: [HistoryEvent] = []
        events.reserveCapacity(2 * count)
        for (i, op) in operations.enumerated() {
            events.append(HistoryEvent(time: op.call, isReturn: false, op: i))
            events.append(HistoryEvent(time: op.returned ?? .max, isReturn: true, op: i))
        }
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isReturn != b.isReturn { return !a.isReturn }
            return a.op < b.op
        }

        // A doubly linked list over nodes 1...2n (node k is events[k - 1]); node 0 is the head
        // sentinel and -1 the end. Lifting an operation unlinks its two nodes; undoing relinks
        // them in reverse order, which restores the list exactly (dancing links).
        let nodeCount = 2 * count + 1
        var next = [Int](repeating: -1, count: nodeCount)
        var previous = [Int](repeating: -1, count: nodeCount)
        for node in 0..<nodeCount {
            next[node] = node + 1 < nodeCount ? node + 1 : -1
            previous[node] = node - 1
        }
        var returnNode = [Int](repeating: 0, count: count)
        for (position, event) in events.enumerated() where event.isReturn {
            returnNode[event.op] = position + 1
        }
        func unlink(_ node: Int) {
            next[previous[node]] = next[node]
            if next[node] != -1 { previous[next[node]] = previous[node] }
        }
        func relink(_ node: Int) {
            next[previous[node]] = node
            if next[node] != -1 { previous[next[node]] = node }
        }

        var linearized = Bitset(count: count)
        var cache: [Bitset: [M.State]] = [:]
        var stack: [(node: Int, state: M.State)] = []
        var state = M.initialState
        var node = next[0]
        var steps = 0
        var deepest = 0

        // Invariant: the list's last node is always a return, so `node` never runs off the end
        // while the list is non-empty.
        while next[0] != -1 {
            steps += 1
            if steps > budget { return .inconclusive }
            let event = events[node - 1]
            let op = event.op
            if !event.isReturn {
                // Try to linearize this operation next.
                if let newState = M.step(state, operations[op].input, operations[op].output) {
                    var candidate = linearized
                    candidate.insert(op)
                    if !(cache[candidate]?.contains(newState) ?? false) {
                        cache[candidate, default: []].append(newState)
                        stack.append((node, state))
                        state = newState
                        linearized = candidate
                        unlink(node)
                        unlink(returnNode[op])
                        deepest = max(deepest, stack.count)
                        node = next[0]
                        continue
                    }
                }
                node = next[node]
            } else {
                // The return of an operation we have not linearized: every operation still in
                // the list before it was tried. Undo the most recent choice and try the next.
                guard let (callNode, savedState) = stack.popLast() else {
                    return .violation(longestPrefix: deepest)
                }
                let undone = events[callNode - 1].op
                linearized.remove(undone)
                state = savedState
                relink(returnNode[undone])
                relink(callNode)
                node = next[callNode]
            }
        }
        return .linearizable
    }
}

/// A call or return in a history, in the checker's event list.
private struct HistoryEvent {
    var time: UInt64
    var isReturn: Bool
    var op: Int
}

/// A fixed-size set of small integers, hashable, for the memoization cache.
struct Bitset: Hashable {
    private var words: [UInt64]

    init(count: Int) {
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ i: Int) { words[i / 64] |= 1 << UInt64(i % 64) }

    mutating func remove(_ i: Int) { words[i / 64] &= ~(1 << UInt64(i % 64)) }
}

// MARK: The key-value register model

/// Operations on one key of the simulated store.
public enum KVInput: Hashable, Sendable {
    case put(UInt64)
    case get
}

public enum KVOutput: Hashable, Sendable {
    /// A put that returned, or whose outcome is unknown (it may or may not have happened).
    case written
    /// A get's answer: the value, or nil if the key was absent.
    case read(UInt64?)
}

/// One register per key; the store's history is checked key by key (linearizability is
/// compositional, so per-key checks together check the whole store).
public enum KVRegisterModel: LinearizabilityModel {
    public static var initialState: UInt64? { nil }

    public static func step(_ state: UInt64?, _ input: KVInput, _ output: KVOutput) -> UInt64?? {
        switch (input, output) {
        case (.put(let value), .written):
            return .some(value)
        case (.get, .read(let value)):
            return value == state ? .some(state) : nil
        default:
            return nil
        }
    }
}
