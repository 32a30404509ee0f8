@testable import Raft

/// A small randomized cluster for the Figure 3 property tests, independent of the simulator:
/// each step performs one random action (deliver any in-flight message, so arbitrary reordering;
/// drop or duplicate one; tick a member; propose; crash or restart a member), then every live
/// member runs its Ready loop. The property tests inspect the members after every step.
final class ChaosCluster {
    let ids: [NodeID]
    private var random: SeededRandom
    private(set) var storages: [NodeID: MemoryStorage] = [:]
    private(set) var nodes: [NodeID: RaftNode] = [:]
    private var inFlight: [Message] = []
    /// Per member, the entries it applied, in order (reset on restart, then replayed).
    private(set) var applied: [NodeID: [Entry]] = [:]
    private let preVote: Bool
    private let checkQuorum: Bool
    private var incarnation: UInt64 = 0

    init(size: Int, seed: UInt64, preVote: Bool = false, checkQuorum: Bool = false) {
        ids = (1...NodeID(size)).map { $0 }
        random = SeededRandom(seed: seed)
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        for id in ids {
            storages[id] = MemoryStorage.bootstrapped(voters: ids)
            start(id)
        }
    }

    private func start(_ id: NodeID) {
        incarnation += 1
        let config = testConfig(id, election: 5, heartbeat: 1, preVote: preVote, checkQuorum: checkQuorum)
        nodes[id] = RaftNode(config: config, storage: storages[id]!, random: SeededRandom(seed: random.next() ^ incarnation))
        applied[id] = []
    }

    var liveIDs: [NodeID] { ids.filter { nodes[$0] != nil } }

    /// One random action, then everyone's Ready loop.
    func step() {
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<45 where !inFlight.isEmpty:
            let message = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
            if let node = nodes[message.to] { try? node.step(message) }
        case 45..<52 where !inFlight.isEmpty:
            inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
        case 52..<55 where !inFlight.isEmpty:
            inFlight.append(inFlight.randomElement(using: &random)!)
        case 55..<85:
            if let id = liveIDs.randomElement(using: &random) { nodes[id]!.tick() }
        case 85..<95:
            if let id = liveIDs.randomElement(using: &random) {
                try? nodes[id]!.propose(Array("p\(random.next() % 1000)".utf8))
            }
        case 95..<97:
            // Crash: keep a majority up so progress stays possible.
            if liveIDs.count > ids.count / 2 + 1, let id = liveIDs.randomElement(using: &random) {
                nodes[id] = nil
            }
        case 97..<100:
            if let id = ids.filter({ nodes[$0] == nil }).randomElement(using: &random) { start(id) }
        default:
            if let id = liveIDs.randomElement(using: &random) { nodes[id]!.tick() }
        }
        for id in liveIDs { processReady(id) }
    }

    private func processReady(_ id: NodeID) {
        guard let node = nodes[id] else { return }
        while node.hasReady {
            let ready = node.ready()
            let storage = storages[id]!
            if let snapshot = ready.snapshot { try? storage.applySnapshot(snapshot) }
            storage.append(ready.entries)
            if let hardState = ready.hardState { storage.setHardState(hardState) }
            inFlight += ready.messages
            for entry in ready.committedEntries {
                applied[id]!.append(entry)
                if entry.type == .confChange, let change = try? RaftWire.decodeConfChange(entry.data) {
                    node.applyConfChange(change)
                }
            }
            node.advance()
        }
    }

    /// A member's whole log: from its node if up, else from its storage.
    func log(of id: NodeID) -> [Entry] {
        if let node = nodes[id] {
            return (try? node.entries(from: node.firstIndex, to: node.lastIndex + 1)) ?? []
        }
        let storage = storages[id]!
        return Array(storage.storedEntries)
    }
}
