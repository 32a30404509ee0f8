@testable import Raft

/// A test configuration: paper semantics by default (no pre-vote, no CheckQuorum), small
/// timeouts, unlimited message size.
func testConfig(
    _ id: NodeID, election: Int = 10, heartbeat: Int = 1, preVote: Bool = false,
    checkQuorum: Bool = false, configure: (inout RaftConfig) -> Void = { _ in }
) -> RaftConfig {
    var config = RaftConfig(
        id: id, electionTimeoutTicks: election, heartbeatIntervalTicks: heartbeat,
        maxSizePerMessage: .max, maxInflightMessages: 256, checkQuorum: checkQuorum, preVote: preVote)
    configure(&config)
    return config
}

/// A bare state machine over fresh storage holding `voters` and `learners`.
func makeRaft(
    _ id: NodeID, voters: [NodeID], learners: [NodeID] = [], storage: MemoryStorage? = nil,
    election: Int = 10, heartbeat: Int = 1, preVote: Bool = false, checkQuorum: Bool = false,
    seed: UInt64 = 1, configure: (inout RaftConfig) -> Void = { _ in }
) -> Raft {
    let store = storage ?? MemoryStorage(confState: ConfState(voters: voters, learners: learners))
    return Raft(
        config: testConfig(id, election: election, heartbeat: heartbeat, preVote: preVote, checkQuorum: checkQuorum, configure: configure),
        storage: store, random: SeededRandom(seed: seed &+ id))
}

/// Storage holding `terms.count` entries, the i-th (1-based) of term `terms[i-1]`.
func storage(withTerms terms: [UInt64], voters: [NodeID], learners: [NodeID] = []) -> MemoryStorage {
    let store = MemoryStorage(confState: ConfState(voters: voters, learners: learners))
    store.append(terms.enumerated().map { Entry(term: $1, index: UInt64($0 + 1)) })
    return store
}

extension Raft {
    /// Takes the queued outgoing messages.
    mutating func takeMessages() -> [Message] {
        defer { messages = [] }
        return messages
    }

    /// Ticks until an election fires (at most twice the election timeout).
    mutating func tickUntilElection() {
        for _ in 0..<(2 * config.electionTimeoutTicks) where role != .leader {
            let before = term
            tick()
            if term != before || role == .preCandidate { return }
        }
    }

    /// Every entry in the log (stable and unstable), from the first index on.
    var allEntries: [Entry] {
        (try? log.slice(log.firstIndex, log.lastIndex + 1, maxSize: .max)) ?? []
    }

    /// Persists unstable entries to storage and marks them stable, as a node's caller would.
    mutating func persistUnstable() {
        let entries = log.unstableEntries
        (log.storage as! MemoryStorage).append(entries)
        if let last = entries.last { log.stabilize(through: last.index, term: last.term) }
    }
}

func entry(_ term: UInt64, _ index: UInt64, _ data: String = "") -> Entry {
    Entry(term: term, index: index, data: Array(data.utf8))
}

/// A synchronous in-memory network of bare state machines, as in etcd's raft tests: `send`
/// delivers a message and everything it causes, breadth first, until the network is quiet.
/// Links can be cut and message types ignored.
struct TestNetwork {
    var nodes: [NodeID: Raft] = [:]
    private var cutLinks: Set<[NodeID]> = []
    var ignoredTypes: Set<MessageType> = []
    /// Every message delivered, for assertions.
    var delivered: [Message] = []

    init(_ nodes: [Raft]) {
        for node in nodes { self.nodes[node.id] = node }
    }

    /// A network of `count` fresh voters 1...count.
    init(voters count: Int, preVote: Bool = false, checkQuorum: Bool = false, configure: (inout RaftConfig) -> Void = { _ in }) {
        let ids = (1...NodeID(count)).map { $0 }
        self.init(ids.map { makeRaft($0, voters: ids, preVote: preVote, checkQuorum: checkQuorum, configure: configure) })
    }

    mutating func cut(_ a: NodeID, _ b: NodeID) {
        cutLinks.insert([a, b])
        cutLinks.insert([b, a])
    }

    mutating func isolate(_ id: NodeID) {
        for other in nodes.keys where other != id { cut(id, other) }
    }

    mutating func recover() {
        cutLinks = []
        ignoredTypes = []
    }

    subscript(id: NodeID) -> Raft {
        get { nodes[id]! }
        set { nodes[id] = newValue }
    }

    /// Steps `message` into its recipient (local messages into `from`) and delivers the
    /// consequences until nothing is in flight.
    mutating func send(_ message: Message) {
        var queue = [message]
        while !queue.isEmpty {
            let m = queue.removeFirst()
            let target = m.type.isLocal || m.to == noNode ? m.from : m.to
            guard nodes[target] != nil else { continue }
            if m.from != noNode && m.from != target && (cutLinks.contains([m.from, target]) || ignoredTypes.contains(m.type)) {
                continue
            }
            delivered.append(m)
            try? nodes[target]!.step(m)
            queue += nodes[target]!.takeMessages()
        }
    }

    /// Ticks a member `times` times, delivering whatever each tick makes it send.
    mutating func tick(_ id: NodeID, times: Int = 1) {
        for _ in 0..<times {
            nodes[id]!.tick()
            for message in nodes[id]!.takeMessages() { send(message) }
        }
    }

    mutating func campaign(_ id: NodeID) {
        send(Message(type: .hup, from: id))
    }

    mutating func propose(_ id: NodeID, _ data: String) {
        send(Message(type: .propose, from: id, entries: [Entry(data: Array(data.utf8))]))
    }
}
