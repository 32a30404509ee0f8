import Raft

/// What a run found.
public struct SimulationOutcome: Sendable {
    public var options: SimulationOptions
    /// nil when every check passed.
    public var failure: String?
    public var stats: SimulationStats
    /// The last notable events (crashes, partitions, elections...), for reading a failure.
    public var trace: [String]

    public var passed: Bool { failure == nil }
}

public struct SimulationStats: Sendable {
    public var events = 0
    public var messagesSent = 0
    public var messagesDropped = 0
    public var leadersElected = 0
    public var crashes = 0
    public var tornWrites = 0
    public var partitions = 0
    public var snapshotsSent = 0
    public var membershipChangesApplied = 0
    public var highestCommitIndex: UInt64 = 0
    public var operationsCompleted = 0
    public var operationsUnknown = 0
    public var readsCompleted = 0
    /// Ticks from healing the faults to a new entry applied on every member.
    public var recoveryTicks = 0
    public var simulatedTicks = 0
}

/// Runs one deterministic simulation: a cluster of real `RaftNode`s driven exactly as a server
/// drives them (persist, send, apply, advance), under network, crash and disk faults drawn from
/// the seed; safety checked after every event; liveness checked once the faults heal; and the
/// clients' history checked for linearizability at the end.
public func runSimulation(_ options: SimulationOptions) -> SimulationOutcome {
    let simulation = Simulation(options)
    return simulation.run()
}

final class Simulation {
    enum Event {
        case tick(NodeID, incarnation: Int)
        case deliver(Message)
        case persistDone(NodeID, incarnation: Int)
        case restart(NodeID)
        case crash
        case partition
        case heal
        case clientStart(Int)
        case clientTimeout(Int, operation: Int)
        case membershipChange
        case transferLeadership
        case strikeLeader(NodeID, incarnation: Int, byCrash: Bool)
        case retire(NodeID)
        case livenessCheck
    }

    struct Client {
        var id: UInt64
        var sequence: UInt64 = 0
        var operation: Int?
    }

    struct Operation {
        enum Status { case pending, completed, unknown, discarded }
        var clientID: UInt64
        var key: UInt64
        var input: KVInput
        var output: KVOutput = .written
        var call: UInt64
        var returned: UInt64?
        var status: Status = .pending
        var member: NodeID
    }

    let options: SimulationOptions
    private var queue = EventQueue<Event>()
    private var now: SimTime = 0
    private var members: [NodeID: SimulatedMember] = [:]
    /// Every member ever started, in id order: the only way members are iterated.
    private var memberIDs: [NodeID] = []
    private var nextMemberID: NodeID
    private var network: SimulatedNetwork
    private var faultRandom: SeededRandom
    private var diskRandom: SeededRandom
    private var clientRandom: SeededRandom
    private var nodeSeedRandom: SeededRandom
    private let checker = SafetyChecker()
    private var stats = SimulationStats()
    private var trace: [String] = []
    private var failure: String?

    // Phases.
    private let healTime: SimTime
    private var healed = false
    private var recovered = false
    private var draining = false
    private var finished = false

    // Workload and history.
    private var clients: [Client] = []
    private var operations: [Operation] = []
    /// One clock for every call and return, so real-time order is exact.
    private var historyClock: UInt64 = 0
    private var nextValue: UInt64 = 1

    // Liveness.
    private static let markerClient: UInt64 = .max
    private var markerSequence: UInt64 = 0
    private var markerProposedAt: SimTime = 0
    /// For each marker: the members that must apply it (the membership where it sits in the log).
    private var markerRequired: [UInt64: [NodeID]] = [:]
    private var markerAppliedBy: [UInt64: Set<NodeID>] = [:]

    init(_ options: SimulationOptions) {
        self.options = options
        var root = SeededRandom(seed: options.seed)
        network = SimulatedNetwork(random: root.fork(), options: options)
        faultRandom = root.fork()
        diskRandom = root.fork()
        clientRandom = root.fork()
        nodeSeedRandom = root.fork()
        healTime = SimTime(options.faultTicks) * options.stepsPerTick
        nextMemberID = NodeID(options.memberCount + 1)
    }

    // MARK: Run

    func run() -> SimulationOutcome {
        let founders = (1...NodeID(options.memberCount)).map { $0 }
        for id in founders {
            addMember(id, storage: MemoryStorage.bootstrapped(voters: founders))
        }
        schedule(.crash, after: exponential(ticks: options.crashEveryTicks))
        schedule(.partition, after: exponential(ticks: options.partitionEveryTicks))
        if options.membershipChanges {
            schedule(.membershipChange, after: ticks(Int.random(in: 50...200, using: &faultRandom)))
        }
        schedule(.transferLeadership, after: exponential(ticks: 150))
        schedule(.heal, at: healTime)
        for index in 0..<options.clientCount {
            clients.append(Client(id: UInt64(index + 1)))
            schedule(.clientStart(index), after: SimTime.random(in: 0...options.stepsPerTick * 20, using: &clientRandom))
        }
        let deadline = healTime + ticks(options.livenessBoundTicks + options.clientTimeoutTicks * 3)

        while !finished, failure == nil, let (time, event) = queue.popNext() {
            if time > deadline {
                fail("the run did not finish by its deadline (recovered: \(recovered))")
                break
            }
            now = time
            stats.events += 1
            handle(event)
            if let violation = checker.violation { fail(violation) }
        }
        stats.simulatedTicks = Int(now / options.stepsPerTick)
        stats.leadersElected = checker.leaderCount
        if failure == nil { checkLinearizability() }
        return SimulationOutcome(options: options, failure: failure, stats: stats, trace: trace)
    }

    private func fail(_ message: String) {
        if failure == nil {
            failure = message
            note("FAILURE: \(message)")
        }
    }

    private func note(_ text: String) {
        trace.append("t=\(now / options.stepsPerTick).\(now % options.stepsPerTick) \(text)")
        if trace.count > 400 { trace.removeFirst(trace.count - 300) }
    }

    private func ticks(_ count: Int) -> SimTime { SimTime(count) * options.stepsPerTick }

    private func exponential(ticks mean: Int) -> SimTime {
        // Uniform on [0, 2 * mean]: good enough spread, and cheap.
        SimTime.random(in: 1...SimTime(2 * mean) * options.stepsPerTick, using: &faultRandom)
    }

    private func schedule(_ event: Event, after delay: SimTime) {
        queue.schedule(event, at: now + delay)
    }

    private func schedule(_ event: Event, at time: SimTime) {
        queue.schedule(event, at: time)
    }

    // MARK: Members

    private func raftConfig(for id: NodeID) -> RaftConfig {
        RaftConfig(
            id: id,
            electionTimeoutTicks: options.electionTimeoutTicks,
            heartbeatIntervalTicks: options.heartbeatIntervalTicks,
            maxSizePerMessage: options.maxSizePerMessage,
            maxInflightMessages: options.maxInflightMessages,
            checkQuorum: options.checkQuorum,
            preVote: options.preVote)
    }

    private func addMember(_ id: NodeID, storage: MemoryStorage) {
        let drift = options.clockDriftSteps
        let period = options.stepsPerTick - drift + SimTime.random(in: 0...2 * drift, using: &faultRandom)
        let member = SimulatedMember(id: id, storage: storage, tickPeriod: max(period, 1))
        members[id] = member
        memberIDs.append(id)
        memberIDs.sort()
        start(member)
    }

    private func start(_ member: SimulatedMember) {
        member.start(config: raftConfig(for: member.id), random: nodeSeedRandom.fork(), simulation: self)
        checker.onRestart(member.id, storage: member.storage)
        schedule(.tick(member.id, incarnation: member.incarnation), after: SimTime.random(in: 1...member.tickPeriod, using: &faultRandom))
        pump(member)
    }

    private func crash(_ member: SimulatedMember, tornWrite: Bool) {
        if tornWrite, let ready = member.persisting {
            persistTorn(member, ready)
        }
        checker.onCrash(member.id)
        member.crash()
        stats.crashes += 1
    }

    /// A crash in the middle of a write: the snapshot, then a prefix of the entries, then the
    /// hard state reach the disk, in that order; the rest is lost.
    private func persistTorn(_ member: SimulatedMember, _ ready: Ready) {
        stats.tornWrites += 1
        if let snapshot = ready.snapshot {
            guard diskRandom.chance(0.5) else { return }
            try? member.storage.applySnapshot(snapshot)
        }
        let kept = Int.random(in: 0...ready.entries.count, using: &diskRandom)
        let entries = ready.entries.prefix(kept)
        member.storage.append(Array(entries))
        var hardState: HardState?
        if kept == ready.entries.count, let state = ready.hardState, diskRandom.chance(0.5) {
            member.storage.setHardState(state)
            hardState = state
        }
        note("torn write at \(member.id): snapshot=\(ready.snapshot != nil) entries \(kept)/\(ready.entries.count) hardState=\(hardState != nil)")
        checker.onPersist(member.id, storage: member.storage, entries: entries, hardState: hardState, snapshot: ready.snapshot)
    }

    // MARK: Events

    private func handle(_ event: Event) {
        switch event {
        case .tick(let id, let incarnation):
            guard let member = members[id], member.incarnation == incarnation, let node = member.node else { return }
            node.tick()
            after(member)
            schedule(.tick(id, incarnation: incarnation), after: member.tickPeriod)

        case .deliver(let message):
            deliver(message)

        case .persistDone(let id, let incarnation):
            guard let member = members[id], member.incarnation == incarnation, member.persisting != nil else { return }
            completeReady(member)

        case .restart(let id):
            guard let member = members[id], !member.isUp, !member.retired else { return }
            note("restart \(id)")
            start(member)

        case .crash:
            guard !healed else { return }
            let up = memberIDs.filter { members[$0]!.isUp }
            if let victim = up.randomElement(using: &faultRandom) {
                let member = members[victim]!
                let torn = member.persisting != nil && faultRandom.chance(options.tornWriteRate)
                note("crash \(victim)\(torn ? " (mid-write)" : "")")
                crash(member, tornWrite: torn)
                schedule(.restart(victim), after: ticks(Int.random(in: options.downtimeTicks, using: &faultRandom)))
            }
            schedule(.crash, after: exponential(ticks: options.crashEveryTicks))

        case .partition:
            guard !healed else { return }
            let live = memberIDs.filter { !members[$0]!.retired }
            if faultRandom.chance(0.3) {
                network.heal()
                note("partition healed")
            } else {
                note("partition: \(network.partition(live))")
                stats.partitions += 1
            }
            schedule(.partition, after: exponential(ticks: options.partitionEveryTicks))

        case .heal:
            heal()

        case .clientStart(let index):
            startOperation(client: index)

        case .clientTimeout(let index, let operation):
            timeOut(client: index, operation: operation)

        case .membershipChange:
            guard !healed else { return }
            changeMembership()
            schedule(.membershipChange, after: ticks(Int.random(in: 60...250, using: &faultRandom)))

        case .transferLeadership:
            guard !healed else { return }
            let leaders = memberIDs.compactMap { members[$0]!.node }.filter { $0.role == .leader }
            if let leader = leaders.max(by: { $0.term < $1.term }),
                let target = leader.membership.voters.filter({ $0 != leader.id }).randomElement(using: &faultRandom)
            {
                note("transfer leadership \(leader.id) -> \(target)")
                leader.transferLeadership(to: target)
                after(members[leader.id]!)
            }
            schedule(.transferLeadership, after: exponential(ticks: 150))

        case .strikeLeader(let id, let incarnation, let byCrash):
            guard !healed, let member = members[id], member.incarnation == incarnation, member.isUp else { return }
            if byCrash {
                let torn = member.persisting != nil && faultRandom.chance(options.tornWriteRate)
                note("crash new leader \(id)\(torn ? " (mid-write)" : "")")
                crash(member, tornWrite: torn)
                schedule(.restart(id), after: ticks(Int.random(in: options.downtimeTicks, using: &faultRandom)))
            } else {
                let live = memberIDs.filter { !members[$0]!.retired }
                note("partition: \(network.isolate(id, among: live))")
                stats.partitions += 1
            }

        case .retire(let id):
            guard let member = members[id], !member.retired else { return }
            note("retire \(id) (removed from the configuration)")
            if member.isUp { crash(member, tornWrite: false) }
            member.retired = true

        case .livenessCheck:
            checkLiveness()
        }
    }

    /// After an input to `member`: check invariants on it and process its Ready.
    private func after(_ member: SimulatedMember) {
        guard let node = member.node else { return }
        checker.observe(node)
        pump(member)
    }

    // MARK: The Ready loop, as a server runs it

    private func pump(_ member: SimulatedMember) {
        guard let loop = member.loop, member.persisting == nil, let ready = loop.begin() else { return }
        let node = loop.node
        let role = node.role
        let term = node.term
        if let soft = ready.softState {
            if soft.role == .leader {
                note("\(member.id) leads term \(term)")
                if !healed && faultRandom.chance(options.newLeaderFaultRate) {
                    let crash = faultRandom.chance(0.5)
                    schedule(.strikeLeader(member.id, incarnation: member.incarnation, byCrash: crash),
                             after: SimTime.random(in: 0...options.stepsPerTick * 3, using: &faultRandom))
                }
            } else if options.detailedTrace {
                note("\(member.id) is \(soft.role) in term \(term), leader \(soft.leader), last \(node.lastIndex)/\(node.term(at: node.lastIndex) ?? 0) commit \(node.commitIndex) applied \(node.appliedIndex)")
            }
        }
        checker.onReady(member.id, ready, role: role, term: term)
        member.persisting = ready
        let latency = healed ? 0 : SimTime.random(in: options.diskLatencySteps, using: &diskRandom)
        if latency == 0 {
            completeReady(member)
        } else {
            schedule(.persistDone(member.id, incarnation: member.incarnation), after: latency)
        }
    }

    /// The rest of the Ready, through the shared loop: persist (`SimulatedProcess.save`), send,
    /// apply, advance.
    private func completeReady(_ member: SimulatedMember) {
        guard let loop = member.loop, let ready = member.persisting else { return }
        do {
            try loop.finish(ready)
        } catch {
            fail("\(member.id) could not carry out a Ready: \(error)")
            return
        }
        member.persisting = nil
        serveReads(member)
        maybeSnapshot(member)
        checker.observe(loop.node)
        pump(member)
    }

    /// Step 1 of the loop, on the simulated disk.
    func persist(_ member: SimulatedMember, snapshot: Snapshot?, entries: [Entry], hardState: HardState?) throws {
        let storage = member.storage
        try storage.save(snapshot: snapshot, entries: entries, hardState: hardState, sync: true)
        checker.onPersist(member.id, storage: storage, entries: entries[...], hardState: hardState, snapshot: snapshot)
        if let hardState {
            stats.highestCommitIndex = max(stats.highestCommitIndex, hardState.commit)
        }
    }

    /// Step 3 of the loop: a snapshot from the leader replaces the application's state.
    func restore(_ member: SimulatedMember, from snapshot: Snapshot) {
        member.kv = KVStateMachine(snapshotData: snapshot.data)
        member.appliedIndex = snapshot.metadata.index
        member.lastSnapshotIndex = snapshot.metadata.index
        member.confState = snapshot.metadata.confState
        checker.onSnapshotInstalled(member.id, snapshot: snapshot)
        note("\(member.id) installed snapshot at \(snapshot.metadata.index)")
    }

    /// Linearizable reads confirmed: they wait for the applied index.
    func readStatesReady(_ states: [ReadState], at member: SimulatedMember) {
        for readState in states {
            if let operation = member.pendingReads.removeValue(forKey: readState.requestContext) {
                member.readsAwaitingApply.append((readState.index, operation))
            }
        }
    }

    func send(_ message: Message, from member: SimulatedMember) {
        stats.messagesSent += 1
        if message.type == .snapshot { stats.snapshotsSent += 1 }
        guard network.canReach(from: message.from, to: message.to) else {
            // The transport notices a broken link.
            stats.messagesDropped += 1
            member.node?.reportUnreachable(message.to)
            if message.type == .snapshot { member.node?.reportSnapshot(to: message.to, succeeded: false) }
            return
        }
        let delays = network.deliveryDelays()
        if delays.isEmpty {
            stats.messagesDropped += 1
            if message.type == .snapshot { member.node?.reportSnapshot(to: message.to, succeeded: false) }
        }
        for delay in delays {
            schedule(.deliver(message), after: delay)
        }
    }

    private func deliver(_ message: Message) {
        let sender = members[message.from]
        guard let member = members[message.to], let node = member.node,
            network.canReach(from: message.from, to: message.to)
        else {
            stats.messagesDropped += 1
            if message.type == .snapshot { sender?.node?.reportSnapshot(to: message.to, succeeded: false) }
            return
        }
        try? node.step(message)
        after(member)
        if message.type == .snapshot, let senderNode = sender?.node {
            senderNode.reportSnapshot(to: message.to, succeeded: true)
            after(sender!)
        }
    }

    /// Step 3 of the loop: one committed entry. A membership change is decided here and made
    /// in the core by the loop once the Ready's entries are applied.
    func apply(_ entry: Entry, at member: SimulatedMember) -> ConfChange? {
        checker.onApply(member.id, entry)
        member.appliedIndex = entry.index
        switch entry.type {
        case .normal:
            guard !entry.data.isEmpty, let command = KVCommand(decoding: entry.data) else { return nil }
            member.kv.apply(command)
            if command.kind == .marker {
                markerApplied(command.sequence, at: member)
            } else {
                let request = SimulatedMember.ClientRequest(clientID: command.clientID, sequence: command.sequence)
                if let operation = member.pendingPuts.removeValue(forKey: request) {
                    complete(operation, output: .written)
                }
            }
            return nil
        case .confChange:
            let change = try! RaftWire.decodeConfChange(entry.data)
            member.confState = member.confState.applying(change) ?? member.confState
            stats.membershipChangesApplied += 1
            note("\(member.id) applied \(change) at \(entry.index): \(member.confState)")
            // Snapshot right away, so a snapshot sent to a newcomer includes it.
            takeSnapshot(member)
            if change.type == .removeNode, let removed = members[change.nodeID], !removed.retired {
                // Let the removed member live a little (a removed leader hands over), then stop it.
                schedule(.retire(change.nodeID), after: ticks(2))
            }
            return change
        }
    }

    private func maybeSnapshot(_ member: SimulatedMember) {
        guard member.appliedIndex >= member.lastSnapshotIndex + options.snapshotInterval else { return }
        takeSnapshot(member)
        let keep = options.entriesKeptAfterCompaction
        guard member.appliedIndex > keep else { return }
        let through = member.appliedIndex - keep
        if through >= member.storage.firstIndex() {
            try? member.storage.compact(through: through)
        }
    }

    private func takeSnapshot(_ member: SimulatedMember) {
        let index = member.appliedIndex
        guard index > member.lastSnapshotIndex, index > (try! member.storage.snapshot()).metadata.index else { return }
        let data = member.kv.snapshotData()
        guard let snapshot = try? member.storage.createSnapshot(index: index, confState: member.confState, data: data) else { return }
        member.lastSnapshotIndex = index
        checker.onSnapshotCreated(member.id, index: index, term: snapshot.metadata.term, data: data)
    }

    // MARK: Faults healing and liveness

    private func heal() {
        healed = true
        network.heal()
        network.dropRate = 0
        network.duplicateRate = 0
        network.slowRate = 0
        note("heal: network repaired, every member restarted")
        for id in memberIDs {
            let member = members[id]!
            if !member.isUp && !member.retired {
                start(member)
            }
        }
        schedule(.livenessCheck, after: options.stepsPerTick)
    }

    private func checkLiveness() {
        guard !recovered else { return }
        let elapsedTicks = Int((now - healTime) / options.stepsPerTick)
        if elapsedTicks > options.livenessBoundTicks {
            let states = memberIDs.compactMap { id -> String? in
                let member = members[id]!
                guard let node = member.node else { return member.retired ? nil : "\(id):down" }
                return "\(id):\(node.role)@\(node.term) lead=\(node.leader) commit=\(node.commitIndex) applied=\(node.appliedIndex) last=\(node.lastIndex) conf=\(node.membership)"
            }
            fail("liveness: no new entry applied on every member within \(options.livenessBoundTicks) ticks of healing [\(states.joined(separator: "; "))]")
            return
        }
        let outstanding = markerSequence > 0 && now - markerProposedAt < ticks(2 * options.electionTimeoutTicks)
        if !outstanding {
            // Propose a marker through whoever leads with the highest term.
            let leaders = memberIDs.compactMap { members[$0]!.node }.filter { $0.role == .leader }
            if let leader = leaders.max(by: { $0.term < $1.term }) {
                markerSequence += 1
                let marker = KVCommand(kind: .marker, clientID: Simulation.markerClient, sequence: markerSequence)
                if (try? leader.propose(marker.encoded())) != nil {
                    markerProposedAt = now
                    after(members[leader.id]!)
                }
            }
        }
        schedule(.livenessCheck, after: options.stepsPerTick)
    }

    private func markerApplied(_ sequence: UInt64, at member: SimulatedMember) {
        guard !recovered else { return }
        if markerRequired[sequence] == nil {
            var required = member.confState.voters + member.confState.learners
            required.sort()
            markerRequired[sequence] = required
        }
        markerAppliedBy[sequence, default: []].insert(member.id)
        let required = markerRequired[sequence]!.filter { !(members[$0]?.retired ?? true) }
        if required.allSatisfy({ markerAppliedBy[sequence]!.contains($0) }) {
            recovered = true
            stats.recoveryTicks = Int((now - healTime) / options.stepsPerTick)
            note("recovered: marker \(sequence) applied by \(required)")
            draining = true
            finishIfDrained()
        }
    }

    // MARK: Membership changes

    private func changeMembership() {
        let leaders = memberIDs.compactMap { members[$0]!.node }.filter { $0.role == .leader }
        guard let leader = leaders.max(by: { $0.term < $1.term }) else { return }
        let membership = leader.membership
        let voters = membership.voters
        let learners = membership.learners
        let minimumVoters = max(options.memberCount - 1, 2)
        let maximumVoters = options.memberCount + 1
        var change: ConfChange
        if let learner = learners.first, voters.count < maximumVoters, faultRandom.chance(0.7) {
            change = ConfChange(type: .addNode, nodeID: learner)
        } else if learners.isEmpty, voters.count < maximumVoters, faultRandom.chance(0.5) {
            let newID = nextMemberID
            nextMemberID += 1
            // Start the new member first, empty: it learns everything from the leader.
            addMember(newID, storage: MemoryStorage())
            change = ConfChange(type: .addLearnerNode, nodeID: newID)
        } else if voters.count > minimumVoters {
            change = ConfChange(type: .removeNode, nodeID: voters.randomElement(using: &faultRandom)!)
        } else if let learner = learners.first {
            change = ConfChange(type: .removeNode, nodeID: learner)
        } else {
            return
        }
        do {
            try leader.proposeConfChange(change)
            note("propose \(change) at leader \(leader.id)")
        } catch {
            note("\(change) refused at leader \(leader.id): \(error)")
        }
        after(members[leader.id]!)
    }

    // MARK: Clients

    private func startOperation(client index: Int) {
        guard !draining, clients[index].operation == nil else { return }
        defer {
            if clients[index].operation == nil {
                schedule(.clientStart(index), after: SimTime.random(in: 1...options.stepsPerTick * 3, using: &clientRandom))
            }
        }
        let candidates = memberIDs.filter { members[$0]!.isUp }
        guard let target = candidates.randomElement(using: &clientRandom) else { return }
        let member = members[target]!
        let node = member.node!
        let key = UInt64.random(in: 1...options.keyCount, using: &clientRandom)
        let clientID = clients[index].id
        historyClock += 1
        let operationIndex = operations.count
        if clientRandom.chance(options.getRatio) {
            operations.append(Operation(clientID: clientID, key: key, input: .get, call: historyClock, member: target))
            var context: [UInt8] = []
            appendLittleEndian(UInt64(operationIndex), to: &context)
            member.pendingReads[context] = operationIndex
            node.readIndex(context: context)
        } else {
            clients[index].sequence += 1
            let value = nextValue
            nextValue += 1
            let command = KVCommand(kind: .put, clientID: clientID, sequence: clients[index].sequence, key: key, value: value)
            operations.append(Operation(clientID: clientID, key: key, input: .put(value), call: historyClock, member: target))
            do {
                try node.propose(command.encoded())
            } catch {
                // Refused on the spot: it never entered any log.
                operations[operationIndex].status = .discarded
                return
            }
            member.pendingPuts[SimulatedMember.ClientRequest(clientID: clientID, sequence: command.sequence)] = operationIndex
        }
        clients[index].operation = operationIndex
        schedule(.clientTimeout(index, operation: operationIndex), after: ticks(options.clientTimeoutTicks))
        after(member)
    }

    private func serveReads(_ member: SimulatedMember) {
        guard !member.readsAwaitingApply.isEmpty else { return }
        var waiting: [(index: UInt64, operation: Int)] = []
        for read in member.readsAwaitingApply {
            if read.index <= member.appliedIndex {
                let key = operations[read.operation].key
                complete(read.operation, output: .read(member.kv.value(of: key)))
            } else {
                waiting.append(read)
            }
        }
        member.readsAwaitingApply = waiting
    }

    private func complete(_ operationIndex: Int, output: KVOutput) {
        guard operations[operationIndex].status == .pending else { return }
        historyClock += 1
        operations[operationIndex].output = output
        operations[operationIndex].returned = historyClock
        operations[operationIndex].status = .completed
        stats.operationsCompleted += 1
        if case .read = output { stats.readsCompleted += 1 }
        finishClientOperation(operationIndex)
    }

    private func timeOut(client index: Int, operation operationIndex: Int) {
        guard clients[index].operation == operationIndex, operations[operationIndex].status == .pending else { return }
        // A write may still take effect later; a read that never answered had no effect.
        switch operations[operationIndex].input {
        case .put:
            operations[operationIndex].status = .unknown
            stats.operationsUnknown += 1
        case .get:
            operations[operationIndex].status = .discarded
        }
        if let member = members[operations[operationIndex].member] {
            member.pendingPuts = member.pendingPuts.filter { $0.value != operationIndex }
            member.pendingReads = member.pendingReads.filter { $0.value != operationIndex }
            member.readsAwaitingApply.removeAll { $0.operation == operationIndex }
        }
        finishClientOperation(operationIndex)
    }

    private func finishClientOperation(_ operationIndex: Int) {
        guard let index = clients.firstIndex(where: { $0.operation == operationIndex }) else { return }
        clients[index].operation = nil
        if draining {
            finishIfDrained()
        } else {
            schedule(.clientStart(index), after: SimTime.random(in: 1...options.stepsPerTick * 3, using: &clientRandom))
        }
    }

    private func finishIfDrained() {
        if draining && clients.allSatisfy({ $0.operation == nil }) {
            finished = true
        }
    }

    // MARK: Linearizability

    private func checkLinearizability() {
        var byKey: [UInt64: [HistoryOperation<KVInput, KVOutput>]] = [:]
        var observed: Set<UInt64> = []
        for operation in operations where operation.status == .completed {
            if case .read(let value?) = operation.output { observed.insert(value) }
        }
        for operation in operations {
            switch operation.status {
            case .completed:
                byKey[operation.key, default: []].append(HistoryOperation(
                    clientID: operation.clientID, input: operation.input, output: operation.output,
                    call: operation.call, returned: operation.returned))
            case .unknown, .pending:
                // A write with an unknown outcome can always be placed last; it only matters if
                // some read saw its value.
                guard case .put(let value) = operation.input, observed.contains(value) else { continue }
                byKey[operation.key, default: []].append(HistoryOperation(
                    clientID: operation.clientID, input: operation.input, output: .written,
                    call: operation.call, returned: nil))
            case .discarded:
                continue
            }
        }
        for key in byKey.keys.sorted() {
            let history = byKey[key]!
            switch LinearizabilityChecker.check(KVRegisterModel.self, history) {
            case .linearizable:
                continue
            case .violation(let prefix):
                let lines = history.sorted { $0.call < $1.call }.map { op in
                    "  client \(op.clientID) \(op.input) -> \(op.output) [\(op.call), \(op.returned.map(String.init) ?? "?")]"
                }
                fail("linearizability: the history of key \(key) (\(history.count) operations) has no legal order (deepest attempt linearized \(prefix)):\n" + lines.joined(separator: "\n"))
                return
            case .inconclusive:
                fail("linearizability: the check of key \(key) (\(history.count) operations) exceeded its budget")
                return
            }
        }
    }
}
