/// The Raft algorithm for one member: terms, roles, elections and the shared parts of message
/// handling. Role-specific handling lives in `Raft+Leader.swift`, `Raft+Candidate.swift` and
/// `Raft+Follower.swift`; `RaftNode` wraps this with the `Ready`/`advance` bookkeeping.
///
/// Everything is driven from outside: `step` for messages (including local events), `tick` for
/// time. Output accumulates in `messages`, `readStates` and the log's unstable part until the
/// node collects it into a `Ready`.
struct Raft {
    let id: NodeID
    let config: RaftConfig

    // Persistent state (Figure 2), saved through `HardState`.
    private(set) var term: UInt64 = 0
    var vote: NodeID = noNode
    var log: RaftLog

    // Volatile state.
    var tracker: ProgressTracker
    private(set) var role: RaftRole = .follower
    /// Who leads `term`, if known.
    var leader: NodeID = noNode
    /// A leadership transfer target (thesis §3.10); proposals are refused while it is set.
    var leadTransferee: NodeID = noNode
    /// A membership change may be pending up to this index; the leader accepts another change
    /// only once it has applied past it.
    var pendingConfIndex: UInt64 = 0
    /// The leader's estimate of its uncommitted tail, against `maxUncommittedEntriesSize`.
    var uncommittedSize: UInt64 = 0
    var readOnly: ReadOnlyQueue
    /// Read requests a new leader holds until it has committed an entry of its own term: only
    /// then does it know the commit index of the whole group (thesis §6.4 step 1).
    var pendingReadRequests: [Message] = []
    var readStates: [ReadState] = []
    var messages: [Message] = []

    // Timers, in ticks.
    /// Followers and candidates: ticks since the last reset (a leader's message or a vote we
    /// granted). Leaders: ticks since the last CheckQuorum round.
    var electionElapsed = 0
    var heartbeatElapsed = 0
    /// Drawn from [electionTimeoutTicks, 2 * electionTimeoutTicks) on every reset.
    private(set) var randomizedElectionTimeout = 0
    /// Every tick ever, for "heard from recently" bookkeeping on a leader.
    private(set) var tickCount: UInt64 = 0
    var random: any RandomNumberGenerator

    /// The context that marks a vote request as part of a leadership transfer, which voters
    /// honour even inside a leader lease. Same bytes as etcd's.
    static let transferContext: [UInt8] = Array("CampaignTransfer".utf8)

    init(config: RaftConfig, storage: any LogStorage, random: any RandomNumberGenerator) {
        config.validate()
        id = config.id
        self.config = config
        self.random = random
        log = RaftLog(storage: storage, maxCommittedSizePerReady: config.maxCommittedSizePerReady)
        tracker = ProgressTracker(maxInflight: config.maxInflightMessages)
        readOnly = ReadOnlyQueue(option: config.readOnlyOption)

        let (hardState, snapshot) = storage.initialState()
        tracker.reset(to: snapshot.confState, lastIndex: log.lastIndex)
        term = hardState.term
        vote = hardState.vote
        // The snapshot is applied state, hence committed, even if a crash kept the hard state
        // that went with it from reaching the disk.
        log.loadCommit(max(hardState.commit, snapshot.index))
        // Nothing up to the snapshot is handed out again: its membership is already in place.
        log.appliedTo(max(config.appliedIndex, snapshot.index, log.applied))
        becomeFollower(term: term, leader: noNode)
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }

    var softState: SoftState { SoftState(leader: leader, role: role) }

    /// This member is a learner in its own view of the configuration.
    var isLearner: Bool { tracker.isLearner(id) }

    /// Can campaign: a voter in its own configuration.
    var isPromotable: Bool { tracker.isVoter(id) }

    // MARK: Sending

    /// Queues `message` for the caller to send after the next persist. It goes out from this
    /// member unless it already names a sender: a forwarded leadership transfer must keep its
    /// transferee. Vote traffic carries an explicit term; proposals and read requests travel
    /// without one (the leader treats them as local); everything else carries the current term.
    mutating func send(_ message: Message) {
        var m = message
        if m.from == noNode { m.from = id }
        switch m.type {
        case .vote, .voteResponse, .preVote, .preVoteResponse:
            precondition(m.term != 0, "\(m.type) must carry a term")
        default:
            precondition(m.term == 0, "\(m.type) must not carry an explicit term")
            if m.type != .propose && m.type != .readIndex {
                m.term = term
            }
        }
        messages.append(m)
    }

    // MARK: Role transitions

    /// Resets the volatile state for `newTerm`; a new term forgets the vote.
    private mutating func reset(term newTerm: UInt64) {
        if term != newTerm {
            term = newTerm
            vote = noNode
        }
        leader = noNode
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        leadTransferee = noNode
        // Fresh progress for every member (and no votes); this member has all it holds.
        let lastIndex = log.lastIndex
        tracker.reset(to: tracker.confState, lastIndex: lastIndex)
        tracker.progress[id]?.match = lastIndex
        pendingConfIndex = 0
        uncommittedSize = 0
        readOnly = ReadOnlyQueue(option: config.readOnlyOption)
        pendingReadRequests = []
    }

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout =
            config.electionTimeoutTicks + Int.random(in: 0..<config.electionTimeoutTicks, using: &random)
    }

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID) {
        reset(term: newTerm)
        leader = newLeader
        role = .follower
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "a leader cannot become a pre-candidate")
        // A pre-campaign changes neither the term nor the vote: that is its point.
        tracker.resetVotes()
        leader = noNode
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "a leader cannot become a candidate")
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        precondition(role != .follower, "a follower must campaign before it can lead")
        reset(term: term)
        leader = id
        role = .leader
        // The leader's own log trivially matches itself, and it is trivially active.
        tracker.progress[id]?.becomeReplicate()
        tracker.progress[id]?.recentActive = true
        // Changes may sit uncommitted in the inherited tail; refuse new ones until everything up
        // to here is applied, which requires committing an entry of this term first.
        pendingConfIndex = log.lastIndex
        // The no-op entry of the new term (§5.4.2, §8): committing it commits the inherited tail.
        let appended = appendEntries([Entry()])
        precondition(appended, "the empty entry of a new term cannot be refused")
    }

    // MARK: Ticks

    mutating func tick() {
        tickCount += 1
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .preCandidate, .candidate: tickElection()
        }
    }

    private mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            try? step(Message(type: .hup, from: id))
        }
    }

    private mutating func tickHeartbeat() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            if config.checkQuorum {
                try? step(Message(type: .checkQuorum, from: id))
            }
            // A transfer that did not finish within an election timeout is abandoned.
            if role == .leader && leadTransferee != noNode {
                leadTransferee = noNode
            }
        }
        guard role == .leader else { return }
        if heartbeatElapsed >= config.heartbeatIntervalTicks {
            heartbeatElapsed = 0
            try? step(Message(type: .beat, from: id))
        }
    }

    // MARK: Step

    /// Handles one message. Term comparison comes first (§5.1: a higher term makes anyone a
    /// follower; a lower term is stale), then the role-independent messages, then the role.
    mutating func step(_ m: Message) throws(RaftError) {
        if m.term > term {
            if m.type == .vote || m.type == .preVote {
                let forced = m.context == Raft.transferContext
                let inLease = config.checkQuorum && leader != noNode && electionElapsed < config.electionTimeoutTicks
                if !forced && inLease {
                    // Heard from a live leader within the minimum election timeout: do not let
                    // this candidate depose it (thesis §4.2.3).
                    return
                }
            }
            switch m.type {
            case .preVote:
                // A pre-vote asks about a future term; it never changes ours.
                break
            case .preVoteResponse where !m.reject:
                // Granted pre-votes carry the term the pre-candidate will campaign for.
                break
            default:
                let fromLeader = m.type == .append || m.type == .heartbeat || m.type == .snapshot
                let elapsed = electionElapsed
                becomeFollower(term: m.term, leader: fromLeader ? m.from : noNode)
                if m.type == .vote {
                    // Adopt the term but keep our election timer unless we grant the vote
                    // (Figure 2; handleVoteRequest resets it on a grant). Otherwise a candidate
                    // that cannot win, say with a stale log and a fast clock, would reset every
                    // timer with each doomed campaign and no one else would ever run.
                    electionElapsed = elapsed
                }
            }
        } else if m.term != 0 && m.term < term {
            if (config.checkQuorum || config.preVote) && (m.type == .heartbeat || m.type == .append) {
                // A leader of an older term: we may have raised our term while cut off, and with
                // CheckQuorum or pre-vote our votes no longer make others catch up. Telling it our
                // term makes it step down, so an election can include us again.
                send(Message(type: .appendResponse, to: m.from))
            } else if m.type == .preVote {
                // Reject explicitly, so a pre-candidate with a stale term learns ours rather than
                // waiting forever.
                send(Message(type: .preVoteResponse, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.type {
        case .hup:
            campaignIfAllowed()
        case .vote, .preVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: try stepLeader(m)
            case .candidate, .preCandidate: try stepCandidate(m)
            case .follower: try stepFollower(m)
            }
        }
    }

    // MARK: Elections

    enum CampaignKind {
        case preElection
        case election
        case transfer
    }

    private mutating func campaignIfAllowed() {
        guard role != .leader, isPromotable else { return }
        // Committed membership changes not yet applied would change who may vote: wait for the
        // application to apply them first.
        let from = max(log.applied + 1, log.firstIndex)
        if log.committed >= from {
            let unapplied: [Entry]
            do {
                unapplied = try log.slice(from, log.committed + 1, maxSize: .max)
            } catch {
                preconditionFailure("committed entries \(from)...\(log.committed) are unreadable: \(error)")
            }
            if unapplied.contains(where: { $0.type == .confChange }) { return }
        }
        campaign(config.preVote ? .preElection : .election)
    }

    mutating func campaign(_ kind: CampaignKind) {
        let requestType: MessageType
        let campaignTerm: UInt64
        if kind == .preElection {
            becomePreCandidate()
            requestType = .preVote
            // Pre-votes ask about the term we would move to, without moving yet.
            campaignTerm = term + 1
        } else {
            becomeCandidate()
            requestType = .vote
            campaignTerm = term
        }
        if recordVote(from: id, granted: true) == .won {
            // A single voter wins on its own vote.
            if kind == .preElection {
                campaign(.election)
            } else {
                becomeLeader()
            }
            return
        }
        for voter in tracker.voters where voter != id {
            send(Message(
                type: requestType, to: voter, term: campaignTerm,
                logTerm: log.lastTerm, index: log.lastIndex,
                context: kind == .transfer ? Raft.transferContext : []))
        }
    }

    mutating func recordVote(from voter: NodeID, granted: Bool) -> VoteResult {
        tracker.recordVote(from: voter, granted: granted)
        return tracker.voteResult()
    }

    private mutating func handleVoteRequest(_ m: Message) {
        // We may vote for m.from if we already did in this term, or if we have not voted and
        // know of no leader, or if it is a pre-vote for a later term...
        let canVote = vote == m.from
            || (vote == noNode && leader == noNode)
            || (m.type == .preVote && m.term > term)
        // ...and its log is at least as up to date as ours (§5.4.1).
        if canVote && log.isUpToDate(lastIndex: m.index, term: m.logTerm) {
            // Learners vote too: a learner may already have been promoted in the candidate's
            // configuration without knowing it yet, and its vote may be needed.
            // The reply carries the request's term: for a pre-vote ours may be lower, and the
            // pre-candidate would ignore a reply from an older term.
            send(Message(type: m.type.voteResponseType, to: m.from, term: m.term))
            if m.type == .vote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(type: m.type.voteResponseType, to: m.from, term: term, reject: true))
        }
    }

    // MARK: Log helpers

    /// Appends entries on the leader, stamping term and index. Returns false if the
    /// uncommitted-size limit refuses them.
    mutating func appendEntries(_ proposed: [Entry]) -> Bool {
        let lastIndex = log.lastIndex
        var entries = proposed
        for i in entries.indices {
            entries[i].term = term
            entries[i].index = lastIndex + 1 + UInt64(i)
        }
        guard increaseUncommittedSize(entries) else { return false }
        let newLast = log.append(entries)
        _ = tracker.progress[id]?.maybeUpdate(newLast)
        _ = maybeCommit()
        return true
    }

    /// Advances the commit index to what a quorum has stored, if that entry is of this term.
    mutating func maybeCommit() -> Bool {
        log.maybeCommit(tracker.committedIndex(), term: term)
    }

    var committedEntryInCurrentTerm: Bool {
        log.termOrZero(at: log.committed) == term
    }

    private mutating func increaseUncommittedSize(_ entries: [Entry]) -> Bool {
        let size = entries.reduce(UInt64(0)) { $0 + UInt64($1.data.count) }
        // An empty tail accepts any one proposal, however large, so progress is always possible.
        if uncommittedSize > 0 && uncommittedSize + size > config.maxUncommittedEntriesSize {
            return false
        }
        uncommittedSize += size
        return true
    }

    mutating func reduceUncommittedSize(_ entries: [Entry]) {
        guard uncommittedSize > 0 else { return }
        let size = entries.reduce(UInt64(0)) { $0 + UInt64($1.data.count) }
        uncommittedSize = size > uncommittedSize ? 0 : uncommittedSize - size
    }

    // MARK: Applying and persisting (called from RaftNode.advance)

    mutating func advance(appliedThrough applied: UInt64?, committedEntries: [Entry], lastEntry: Entry?, snapshotIndex: UInt64?) {
        if let applied {
            log.appliedTo(applied)
        }
        reduceUncommittedSize(committedEntries)
        if let lastEntry {
            log.stabilize(through: lastEntry.index, term: lastEntry.term)
        }
        if let snapshotIndex {
            log.stabilizeSnapshot(at: snapshotIndex)
        }
    }

    // MARK: Membership

    /// Applies a committed membership change. Returns the resulting membership.
    mutating func applyConfChange(_ change: ConfChange) -> ConfState {
        if tracker.apply(change, lastIndex: log.lastIndex) {
            membershipChanged()
        }
        return tracker.confState
    }

    /// Reacts to a new membership: a removed leader steps down; a leader commits what the new
    /// quorum allows and starts replicating to newcomers.
    mutating func membershipChanged() {
        let stillVoter = tracker.isVoter(id)
        if role == .leader && !stillVoter {
            guard config.stepDownOnRemoval else { return }
            // Hand leadership to the most up-to-date voter if it has everything, so the group
            // does not wait out an election timeout.
            let lastIndex = log.lastIndex
            let successor = tracker.voters
                .filter { $0 != id && tracker.progress[$0]!.match == lastIndex }
                .first
            if let successor { send(Message(type: .timeoutNow, to: successor)) }
            becomeFollower(term: term, leader: noNode)
            return
        }
        guard role == .leader else { return }
        if maybeCommit() {
            broadcastAppend()
        } else {
            for member in tracker.memberIDs where member != id {
                _ = maybeSendAppend(to: member, sendIfEmpty: false)
            }
        }
        if leadTransferee != noNode && !tracker.contains(leadTransferee) {
            leadTransferee = noNode
        }
    }
}
