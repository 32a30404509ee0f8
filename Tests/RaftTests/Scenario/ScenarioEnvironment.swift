@testable import Raft

/// Interprets scenario commands over real `RaftNode`s, each with a `MemoryStorage`, an
/// application that applies membership changes, and a mailbox of messages addressed to it.
/// Messages move only when a command says so, so every interleaving is spelled out.
///
/// Commands (ids are node ids):
///   add-nodes N [voters=1,2,3] [learners=4] [pre-vote] [check-quorum] [strict] [max-inflight=K]
///             [bootstrap (membership written into the log) | join (empty: learns from the leader)]
///   campaign ID | propose ID DATA | propose-conf-change ID add|remove|add-learner|update NODE
///   read-index ID CONTEXT | transfer-leadership LEADER TO
///   tick ID [N] | tick-heartbeat ID | tick-election ID
///   process-ready ID... | deliver-msgs ID... [drop] | stabilize [ID...]
///   status ID | raft-log ID | compact ID INDEX
///   crash ID | restart ID | isolate ID | heal
///   report-snapshot ID TO ok|fail | report-unreachable ID TO
final class ScenarioEnvironment {
    private struct Member {
        var storage: MemoryStorage
        var node: RaftNode?
        var config: RaftConfig
        var confState: ConfState
    }

    private var members: [NodeID: Member] = [:]
    private var mailboxes: [NodeID: [Message]] = [:]
    private var isolated: Set<NodeID> = []
    private var output: [String] = []
    private var seed: UInt64 = 1

    private var ids: [NodeID] { members.keys.sorted() }

    func run(_ line: String, input: [String]) -> [String] {
        output = []
        let command = ScenarioCommand(line)
        switch command.name {
        case "add-nodes": addNodes(command)
        case "campaign": attempt { try self.node(command.id(0)).campaign() }
        case "propose": attempt { try self.node(command.id(0)).propose(Array(command.positional[1].utf8)) }
        case "propose-conf-change": proposeConfChange(command)
        case "read-index": node(command.id(0)).readIndex(context: Array(command.positional[1].utf8)); output.append("ok")
        case "transfer-leadership": node(command.id(0)).transferLeadership(to: command.id(1)); output.append("ok")
        case "tick": tick(command.id(0), times: command.positional.count > 1 ? Int(command.positional[1])! : 1)
        case "tick-heartbeat": tick(command.id(0), times: members[command.id(0)]!.config.heartbeatIntervalTicks)
        case "tick-election": tickElection(command.id(0))
        case "process-ready": for id in command.ids(from: 0) { processReady(id) }
        case "deliver-msgs": for id in command.ids(from: 0) { deliver(to: id, drop: command.flag("drop")) }
        case "stabilize": stabilize(command.positional.isEmpty ? ids : command.ids(from: 0))
        case "status": status(command.id(0))
        case "raft-log": raftLog(command.id(0))
        case "compact": compact(command.id(0), through: UInt64(command.positional[1])!)
        case "crash": crash(command.id(0))
        case "restart": restart(command.id(0))
        case "isolate": isolated.insert(command.id(0)); output.append("ok")
        case "heal": isolated = []; output.append("ok")
        case "report-snapshot":
            node(command.id(0)).reportSnapshot(to: command.id(1), succeeded: command.positional[2] == "ok")
            output.append("ok")
        case "report-unreachable": node(command.id(0)).reportUnreachable(command.id(1)); output.append("ok")
        default: preconditionFailure("unknown command \(command.name)")
        }
        return output.isEmpty ? ["ok"] : output
    }

    private func node(_ id: NodeID) -> RaftNode {
        guard let node = members[id]?.node else { preconditionFailure("node \(id) is not running") }
        return node
    }

    private func attempt(_ body: () throws -> Void) {
        do {
            try body()
            output.append("ok")
        } catch {
            output.append("error: \(error)")
        }
    }

    private func addNodes(_ command: ScenarioCommand) {
        let count = Int(command.positional[0])!
        let first = (ids.last ?? 0) + 1
        let newIDs = (first..<first + NodeID(count)).map { $0 }
        let voters = command.named["voters"] != nil ? command.list("voters") : newIDs
        let learners = command.list("learners")
        for id in newIDs {
            let storage: MemoryStorage
            if command.flag("join") {
                storage = MemoryStorage()
            } else if command.flag("bootstrap") {
                storage = MemoryStorage.bootstrapped(voters: voters)
            } else {
                storage = MemoryStorage(confState: ConfState(voters: voters, learners: learners))
            }
            var config = testConfig(id, election: 10, heartbeat: 1, preVote: command.flag("pre-vote"), checkQuorum: command.flag("check-quorum"))
            config.strictReconfigCheck = command.flag("strict")
            if let size = command.named["max-inflight"] { config.maxInflightMessages = Int(size)! }
            members[id] = Member(storage: storage, node: nil, config: config, confState: storage.initialState().snapshot.confState)
            start(id)
            output.append("n\(id) started: \(members[id]!.confState)")
        }
    }

    private func start(_ id: NodeID) {
        seed += 1
        members[id]!.node = RaftNode(config: members[id]!.config, storage: members[id]!.storage, random: SeededRandom(seed: seed))
        members[id]!.confState = members[id]!.storage.initialState().snapshot.confState
    }

    private func proposeConfChange(_ command: ScenarioCommand) {
        let types: [String: ConfChangeType] = ["add": .addNode, "remove": .removeNode, "add-learner": .addLearnerNode, "update": .updateNode]
        guard let type = types[command.positional[1]] else { preconditionFailure("unknown change \(command.positional[1])") }
        attempt { try self.node(command.id(0)).proposeConfChange(ConfChange(type: type, nodeID: command.id(2))) }
    }

    private func tick(_ id: NodeID, times: Int) {
        for _ in 0..<times { node(id).tick() }
        output.append("ok")
    }

    /// Ticks until the member's role or term changes (its election timeout fired), at most
    /// twice the election timeout.
    private func tickElection(_ id: NodeID) {
        let n = node(id)
        let (role, term) = (n.role, n.term)
        var ticks = 0
        while ticks < 2 * members[id]!.config.electionTimeoutTicks && n.role == role && n.term == term {
            n.tick()
            ticks += 1
        }
        output.append("ticked \(ticks) times: \(n.role) in term \(n.term)")
    }

    @discardableResult
    private func processReady(_ id: NodeID) -> Bool {
        guard let node = members[id]?.node, node.hasReady else { return false }
        let ready = node.ready()
        output.append("> \(id) handling Ready")
        output += ready.description.split(separator: "\n").map { "  " + $0 }
        let storage = members[id]!.storage
        if let snapshot = ready.snapshot {
            try! storage.applySnapshot(snapshot)
            members[id]!.confState = snapshot.metadata.confState
        }
        storage.append(ready.entries)
        if let hardState = ready.hardState { storage.setHardState(hardState) }
        for message in ready.messages {
            mailboxes[message.to, default: []].append(message)
        }
        for entry in ready.committedEntries where entry.type == .confChange {
            let change = try! RaftWire.decodeConfChange(entry.data)
            members[id]!.confState = node.applyConfChange(change)
            output.append("  applied \(change): \(members[id]!.confState)")
        }
        node.advance()
        return true
    }

    @discardableResult
    private func deliver(to id: NodeID, drop: Bool) -> Bool {
        let messages = mailboxes[id] ?? []
        guard !messages.isEmpty else { return false }
        mailboxes[id] = []
        output.append("> \(id) receiving messages")
        for message in messages {
            let cut = isolated.contains(message.from) || isolated.contains(message.to)
            if drop || cut || members[id]?.node == nil {
                output.append("  dropped: \(message)")
                continue
            }
            output.append("  \(message)")
            do {
                try node(id).step(message)
            } catch {
                output.append("  error: \(error)")
            }
        }
        return true
    }

    private func stabilize(_ targets: [NodeID]) {
        var progressed = true
        while progressed {
            progressed = false
            for id in targets where members[id]?.node != nil {
                while processReady(id) { progressed = true }
            }
            for id in targets where deliver(to: id, drop: false) {
                progressed = true
            }
        }
    }

    private func status(_ id: NodeID) {
        let status = node(id).status
        output.append("\(id): \(status.role) term=\(status.term) leader=\(status.leader) commit=\(status.commitIndex) applied=\(status.appliedIndex) last=\(status.lastIndex) \(status.confState)")
        for member in status.progress.keys.sorted() {
            output.append("  \(member): \(status.progress[member]!)")
        }
    }

    private func raftLog(_ id: NodeID) {
        let n = node(id)
        let entries = (try? n.entries(from: n.firstIndex, to: n.lastIndex + 1)) ?? []
        if entries.isEmpty { output.append("log is empty: first index=\(n.firstIndex), last index=\(n.lastIndex)") }
        output += entries.map(\.description)
    }

    private func compact(_ id: NodeID, through index: UInt64) {
        let storage = members[id]!.storage
        try! storage.createSnapshot(index: index, confState: members[id]!.confState, data: Array("snap@\(index)".utf8))
        try! storage.compact(through: index)
        output.append("compacted \(id) through \(index); first index is now \(storage.firstIndex())")
    }

    private func crash(_ id: NodeID) {
        members[id]!.node = nil
        mailboxes[id] = []
        output.append("n\(id) crashed")
    }

    private func restart(_ id: NodeID) {
        start(id)
        let n = node(id)
        output.append("n\(id) restarted: term=\(n.term) commit=\(n.commitIndex) applied=\(n.appliedIndex) last=\(n.lastIndex) \(n.membership)")
    }
}
