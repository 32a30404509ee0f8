import Raft

/// Cluster-wide invariants, checked continuously while a simulation runs: the five safety
/// properties of the Raft paper (Figure 3) plus the durability rules the Ready contract relies
/// on. It watches what members persist, apply and become, never the core's internals.
final class SafetyChecker {
    private(set) var violation: String?

    private struct EntryFacts: Equatable {
        var fingerprint: UInt64
        var previousTerm: UInt64
    }

    private struct CommittedEntry {
        var term: UInt64
        var fingerprint: UInt64
        /// The term of the first member seen to persist a commit index covering the entry: at
        /// least the term in which the entry was committed.
        var committedBy: UInt64 = 0
    }

    /// Election safety (§5.2): at most one leader per term.
    private var leaderOfTerm: [UInt64: NodeID] = [:]
    /// Log matching (§5.3): an (index, term) pair names one entry, with one predecessor term.
    private var entryFacts: [IndexTerm: EntryFacts] = [:]
    /// Entries known committed (some member persisted a commit index covering them), by index.
    private var committed: [CommittedEntry?] = [nil]
    /// State machine safety (§5.4.3): the entry applied at each index, by anyone.
    private var applied: [CommittedEntry?] = [nil]
    /// Snapshots taken at an index must be identical on every member.
    private var snapshotFingerprint: [UInt64: UInt64] = [:]
    /// What each member has made durable.
    private var durableHardState: [NodeID: HardState] = [:]
    /// The next index each member must apply.
    private var nextToApply: [NodeID: UInt64] = [:]
    /// Leader append-only (§5.3): per member, the leader term and the last index it handed out
    /// for persisting while leading in that term.
    private var leaderTail: [NodeID: (term: UInt64, index: UInt64)] = [:]
    /// Members currently leading, for the completeness check when new commits appear.
    private var currentLeaders: [NodeID: RaftNode] = [:]

    private(set) var leaderCount = 0

    private struct IndexTerm: Hashable {
        var index: UInt64
        var term: UInt64
    }

    private func fail(_ message: String) {
        if violation == nil { violation = message }
    }

    // MARK: Hooks

    /// After any event that touched `node`: roles, terms and the leader's log.
    func observe(_ node: RaftNode) {
        let id = node.id
        guard node.role == .leader else {
            currentLeaders[id] = nil
            return
        }
        let term = node.term
        if let existing = leaderOfTerm[term] {
            if existing != id {
                fail("election safety (§5.2): both \(existing) and \(id) lead term \(term)")
            }
        } else {
            leaderOfTerm[term] = id
            leaderCount += 1
            checkLeaderCompleteness(node, context: "on election")
        }
        currentLeaders[id] = node
    }

    /// A member took a Ready; `role` and `term` are as of that moment.
    func onReady(_ id: NodeID, _ ready: Ready, role: RaftRole, term: UInt64) {
        guard role == .leader else {
            leaderTail[id] = nil
            return
        }
        if let first = ready.entries.first, let tail = leaderTail[id], tail.term == term, first.index <= tail.index {
            fail("leader append-only (§5.3): leader \(id) of term \(term) rewrote its log from \(first.index) (had handed out up to \(tail.index))")
        }
        if let last = ready.entries.last {
            leaderTail[id] = (term, last.index)
        } else if leaderTail[id]?.term != term {
            leaderTail[id] = (term, 0)
        }
    }

    /// A member persisted `entries` (already in `storage`) and perhaps a hard state.
    func onPersist(_ id: NodeID, storage: MemoryStorage, entries: ArraySlice<Entry>, hardState: HardState?, snapshot: Snapshot?) {
        if let snapshot {
            checkSnapshot(snapshot.metadata.index, term: snapshot.metadata.term, data: snapshot.data, member: id)
        }
        for entry in entries where entry.index >= storage.firstIndex() {
            guard let previousTerm = try? storage.term(at: entry.index - 1) else {
                fail("member \(id) persisted entry \(entry.index) without its predecessor")
                return
            }
            let facts = EntryFacts(fingerprint: fingerprint(entry), previousTerm: previousTerm)
            let key = IndexTerm(index: entry.index, term: entry.term)
            if let known = entryFacts[key] {
                if known != facts {
                    fail("log matching (§5.3): member \(id) holds a different entry at index \(entry.index) term \(entry.term) (or with a different predecessor)")
                }
            } else {
                entryFacts[key] = facts
            }
        }
        guard let hardState else { return }
        if let durable = durableHardState[id] {
            if hardState.term < durable.term {
                fail("member \(id) persisted term \(hardState.term) after term \(durable.term)")
            }
            if hardState.term == durable.term && durable.vote != noNode && hardState.vote != durable.vote {
                fail("member \(id) changed its vote in term \(durable.term) from \(durable.vote) to \(hardState.vote)")
            }
            if hardState.commit < durable.commit {
                fail("member \(id) persisted commit \(hardState.commit) after commit \(durable.commit)")
            }
        }
        let previousCommit = durableHardState[id]?.commit ?? 0
        durableHardState[id] = hardState
        if hardState.commit > previousCommit {
            let from = max(previousCommit + 1, storage.firstIndex())
            if from <= hardState.commit {
                guard let stored = try? storage.entries(from: from, to: hardState.commit + 1, maxSize: .max) else {
                    fail("member \(id) persisted commit \(hardState.commit) beyond its stored log")
                    return
                }
                for entry in stored {
                    registerCommitted(entry, by: id, inTerm: hardState.term)
                }
            }
        }
    }

    /// A member restarted from storage (its durable state is what it had).
    func onRestart(_ id: NodeID, storage: MemoryStorage) {
        // The application restarts from the storage snapshot and replays what follows it.
        nextToApply[id] = storage.initialState().snapshot.index + 1
        leaderTail[id] = nil
        currentLeaders[id] = nil
    }

    func onCrash(_ id: NodeID) {
        currentLeaders[id] = nil
        leaderTail[id] = nil
    }

    func onSnapshotInstalled(_ id: NodeID, snapshot: Snapshot) {
        nextToApply[id] = snapshot.metadata.index + 1
    }

    func onSnapshotCreated(_ id: NodeID, index: UInt64, term: UInt64, data: [UInt8]) {
        checkSnapshot(index, term: term, data: data, member: id)
    }

    /// State machine safety (§5.4.3): no two members apply different entries at one index, and
    /// each member applies every index in order.
    func onApply(_ id: NodeID, _ entry: Entry) {
        if let expected = nextToApply[id], entry.index != expected {
            fail("member \(id) applied index \(entry.index), expected \(expected)")
        }
        nextToApply[id] = entry.index + 1
        let facts = CommittedEntry(term: entry.term, fingerprint: fingerprint(entry))
        grow(&applied, to: entry.index)
        if let known = applied[Int(entry.index)] {
            if known.term != facts.term || known.fingerprint != facts.fingerprint {
                fail("state machine safety (§5.4.3): member \(id) applied a different entry at index \(entry.index) (term \(entry.term), others applied term \(known.term))")
            }
        } else {
            applied[Int(entry.index)] = facts
        }
        if let known = committedEntry(at: entry.index), known.term != entry.term {
            fail("member \(id) applied entry \(entry.index) of term \(entry.term), but the committed one has term \(known.term)")
        }
    }

    // MARK: Internals

    private func registerCommitted(_ entry: Entry, by id: NodeID, inTerm commitTerm: UInt64) {
        let facts = CommittedEntry(term: entry.term, fingerprint: fingerprint(entry), committedBy: commitTerm)
        grow(&committed, to: entry.index)
        if let known = committed[Int(entry.index)] {
            if known.term != facts.term || known.fingerprint != facts.fingerprint {
                fail("committed entries differ at index \(entry.index): member \(id) has term \(entry.term), another committed term \(known.term)")
            }
            return
        }
        committed[Int(entry.index)] = facts
        // Leader completeness (§5.4): every leader of a term after the one in which the entry
        // was committed already has it. (A leader of an earlier term need not: it may be stale,
        // or its election may complete late on delayed votes.)
        for leaderID in currentLeaders.keys.sorted() {
            let leader = currentLeaders[leaderID]!
            guard leader.role == .leader, leader.term > commitTerm else { continue }
            checkHas(leader, index: entry.index, term: entry.term, context: "when \(entry.index) committed")
        }
    }

    private func committedEntry(at index: UInt64) -> CommittedEntry? {
        index < UInt64(committed.count) ? committed[Int(index)] : nil
    }

    /// Leader completeness (§5.4): a leader's log holds every committed entry.
    private func checkLeaderCompleteness(_ leader: RaftNode, context: String) {
        let first = max(leader.firstIndex, 1)
        guard first < UInt64(committed.count) else { return }
        for index in first..<UInt64(committed.count) {
            guard let entry = committed[Int(index)], entry.committedBy < leader.term else { continue }
            checkHas(leader, index: index, term: entry.term, context: context)
            if violation != nil { return }
        }
    }

    private func checkHas(_ leader: RaftNode, index: UInt64, term: UInt64, context: String) {
        if index < leader.firstIndex { return }  // inside its snapshot, which is committed state
        guard let found = leader.term(at: index) else {
            fail("leader completeness (§5.4): leader \(leader.id) of term \(leader.term) lacks committed entry \(index) (\(context))")
            return
        }
        if found != term {
            fail("leader completeness (§5.4): leader \(leader.id) of term \(leader.term) has term \(found) at committed index \(index), expected \(term) (\(context))")
        }
    }

    private func checkSnapshot(_ index: UInt64, term: UInt64, data: [UInt8], member: NodeID) {
        guard index > 0 else { return }
        let print = fingerprint(data)
        if let known = snapshotFingerprint[index], known != print {
            fail("state machine safety: member \(member)'s snapshot at index \(index) differs from another member's")
        }
        snapshotFingerprint[index] = print
        if let known = committedEntry(at: index), known.term != term {
            fail("member \(member)'s snapshot at \(index) has term \(term), the committed entry has term \(known.term)")
        }
    }

    private func grow<T>(_ array: inout [T?], to index: UInt64) {
        while UInt64(array.count) <= index { array.append(nil) }
    }
}
