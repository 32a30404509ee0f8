import Testing
@testable import Raft
@testable import RaftSimulation

/// The simulator's own parts, then a fixed set of full simulations (3 and 5 members, every fault
/// kind on), then reproducibility: one seed, one run.
@Suite("Simulation and linearizability")
struct SimulationTests {
    typealias Op = HistoryOperation<KVInput, KVOutput>

    private func put(_ value: UInt64, _ call: UInt64, _ returned: UInt64?, client: UInt64 = 1) -> Op {
        Op(clientID: client, input: .put(value), output: .written, call: call, returned: returned)
    }

    private func get(_ value: UInt64?, _ call: UInt64, _ returned: UInt64, client: UInt64 = 2) -> Op {
        Op(clientID: client, input: .get, output: .read(value), call: call, returned: returned)
    }

    // MARK: The linearizability checker

    @Test("Linearizability: sequential and overlapping histories that have a legal order pass")
    func linearizableHistories() {
        let check = { (ops: [Op]) in LinearizabilityChecker.check(KVRegisterModel.self, ops) }
        #expect(check([]) == .linearizable)
        #expect(check([put(1, 1, 2), get(1, 3, 4)]) == .linearizable)
        #expect(check([get(nil, 1, 2), put(1, 3, 4), get(1, 5, 6)]) == .linearizable)
        // Overlapping: the read may see the write or not.
        #expect(check([put(1, 1, 4), get(nil, 2, 3)]) == .linearizable)
        #expect(check([put(1, 1, 4), get(1, 2, 3)]) == .linearizable)
        // Two concurrent writes, reads after both see one of them consistently.
        #expect(check([put(1, 1, 5), put(2, 2, 6, client: 3), get(2, 7, 8), get(2, 9, 10)]) == .linearizable)
        // A write whose outcome is unknown may take effect late...
        #expect(check([put(1, 1, nil), get(nil, 2, 3), get(1, 4, 5)]) == .linearizable)
        // ...or never.
        #expect(check([put(1, 1, nil), get(nil, 2, 3), get(nil, 4, 5)]) == .linearizable)
    }

    @Test("Linearizability: histories with no legal order are caught")
    func violations() {
        let check = { (ops: [Op]) in LinearizabilityChecker.check(KVRegisterModel.self, ops) }
        // A stale read after a completed write.
        #expect(check([put(1, 1, 2), get(nil, 3, 4)]) != .linearizable)
        // A read of a value never written.
        #expect(check([put(1, 1, 2), get(7, 3, 4)]) != .linearizable)
        // Reads that go back in time: 2 then 1, after both writes finished in order.
        #expect(check([put(1, 1, 2), put(2, 3, 4), get(2, 5, 6), get(1, 7, 8)]) != .linearizable)
        // Two sequential readers disagreeing on the order of two concurrent writes.
        #expect(check([
            put(1, 1, 10), put(2, 2, 11, client: 3),
            get(1, 12, 13), get(2, 14, 15), get(1, 16, 17),
        ]) != .linearizable)
        // An unknown-outcome write cannot explain a read that happened before it was called.
        #expect(check([get(1, 1, 2), put(1, 3, nil)]) != .linearizable)
    }

    @Test("Linearizability: the search stays fast on long histories with much concurrency")
    func longHistory() {
        var ops: [Op] = []
        var random = SeededRandom(seed: 9)
        var time: UInt64 = 0
        var value: UInt64 = 0
        var current: UInt64?
        for _ in 0..<400 {
            time += 1
            if random.chance(0.5) {
                value += 1
                current = value
                ops.append(put(value, time, time + UInt64.random(in: 1...3, using: &random), client: random.next() % 4))
            } else {
                ops.append(get(current, time, time + 1, client: 9))
            }
            time += 3
        }
        #expect(LinearizabilityChecker.check(KVRegisterModel.self, ops, budget: 2_000_000) == .linearizable)
    }

    // MARK: Parts of the simulator

    @Test("Event queue: time order, then scheduling order")
    func eventQueue() {
        var queue = EventQueue<String>()
        queue.schedule("c", at: 5)
        queue.schedule("a", at: 1)
        queue.schedule("d", at: 5)
        queue.schedule("b", at: 3)
        var order: [String] = []
        while let (_, event) = queue.popNext() { order.append(event) }
        #expect(order == ["a", "b", "c", "d"])
    }

    @Test("KV state machine: deduplicates by client sequence; snapshots round-trip canonically")
    func kvStateMachine() {
        var kv = KVStateMachine()
        let first = kv.apply(KVCommand(kind: .put, clientID: 1, sequence: 1, key: 1, value: 10))
        let duplicate = kv.apply(KVCommand(kind: .put, clientID: 1, sequence: 1, key: 1, value: 99))
        let other = kv.apply(KVCommand(kind: .put, clientID: 2, sequence: 1, key: 2, value: 20))
        #expect(first && !duplicate && other)
        #expect(kv.value(of: 1) == 10)
        let restored = KVStateMachine(snapshotData: kv.snapshotData())
        #expect(restored == kv)
        #expect(restored.snapshotData() == kv.snapshotData())
        let command = KVCommand(kind: .marker, clientID: .max, sequence: 3)
        #expect(KVCommand(decoding: command.encoded()) == command)
    }

    @Test("Safety checker: flags two leaders in one term and divergent applied entries")
    func checkerCatchesViolations() {
        let checker = SafetyChecker()
        checker.onApply(1, Entry(term: 1, index: 1, data: [1]))
        checker.onApply(2, Entry(term: 1, index: 1, data: [1]))
        #expect(checker.violation == nil)
        checker.onApply(3, Entry(term: 2, index: 1, data: [2]))
        #expect(checker.violation?.contains("state machine safety") == true)

        let elections = SafetyChecker()
        for id: NodeID in [1, 2] {
            let storage = MemoryStorage(confState: ConfState(voters: [id]))
            let node = RaftNode(config: RaftConfig(id: id), storage: storage, random: SeededRandom(seed: id))
            try? node.campaign()
            elections.observe(node)
        }
        #expect(elections.violation?.contains("election safety") == true)
    }

    // MARK: Full simulations

    /// Seeds that run in the default `swift test`: both cluster sizes, every fault kind, and
    /// between them storms, membership changes, and runs with and without pre-vote/CheckQuorum.
    static let fixedSeeds: [UInt64] = Array(1...20)

    @Test("Fixed seeds pass every safety, liveness and linearizability check", arguments: fixedSeeds)
    func fixedSeed(_ seed: UInt64) {
        for members in [3, 5] {
            let outcome = runSimulation(SimulationOptions.swarm(seed: seed, memberCount: members))
            #expect(outcome.passed, "seed \(seed) with \(members) members: \(outcome.failure ?? "")\nreproduce: raft-simulator --seed \(seed) --members \(members) --verbose")
            #expect(outcome.stats.operationsCompleted > 0)
            #expect(outcome.stats.leadersElected > 0)
        }
    }

    @Test("The fixed seeds cover every fault kind and configuration the swarm draws from")
    func fixedSeedsCoverage() {
        let options = SimulationTests.fixedSeeds.flatMap { seed in [3, 5].map { SimulationOptions.swarm(seed: seed, memberCount: $0) } }
        #expect(options.contains { $0.storm })
        #expect(options.contains { !$0.storm })
        #expect(options.contains { $0.membershipChanges })
        #expect(options.contains { !$0.preVote })
        #expect(options.contains { !$0.checkQuorum })
        #expect(options.allSatisfy { $0.dropRate > 0 && $0.duplicateRate > 0 && $0.slowRate > 0 && $0.tornWriteRate > 0 })
    }

    @Test("A seed reproduces its run exactly")
    func deterministic() {
        let options = SimulationOptions.swarm(seed: 42, memberCount: 5, faultTicks: 300)
        let first = runSimulation(options)
        let second = runSimulation(options)
        #expect(first.trace == second.trace)
        #expect(first.stats.events == second.stats.events)
        #expect(first.stats.messagesSent == second.stats.messagesSent)
        #expect(first.stats.highestCommitIndex == second.stats.highestCommitIndex)
    }
}
