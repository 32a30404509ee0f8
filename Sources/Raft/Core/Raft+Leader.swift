/// The leader's side: replication (§5.3), commitment (§5.4.2), heartbeats, CheckQuorum,
/// ReadIndex, leadership transfer and membership admission.
extension Raft {
    mutating func stepLeader(_ m: Message) throws(RaftError) {
        // Messages that need no progress entry for the sender.
        switch m.type {
        case .beat:
            broadcastHeartbeat()
            return
        case .checkQuorum:
            // The leader always counts itself as active (if it is still a member at all).
            tracker.progress[id]?.recentActive = true
            if !tracker.quorumActive() {
                becomeFollower(term: term, leader: noNode)
            }
            // Start the next round: everyone else must be heard from again.
            for member in tracker.memberIDs where member != id {
                tracker.progress[member]!.recentActive = false
            }
            return
        case .propose:
            try handleProposal(m)
            return
        case .readIndex:
            handleReadRequest(m)
            return
        default:
            break
        }

        // Everything else is about a member we track.
        guard tracker.progress[m.from] != nil else { return }
        switch m.type {
        case .appendResponse:
            handleAppendResponse(m)
        case .heartbeatResponse:
            handleHeartbeatResponse(m)
        case .snapshotStatus:
            guard tracker.progress[m.from]!.state == .snapshot else { return }
            if m.reject {
                // Forget the snapshot, or the probe would start after an index never installed.
                tracker.progress[m.from]!.pendingSnapshot = 0
            }
            tracker.progress[m.from]!.becomeProbe()
            // Wait for the member's answer (success) or a heartbeat interval (failure) before
            // sending again.
            tracker.progress[m.from]!.probeSent = true
        case .unreachable:
            // An optimistic stream to an unreachable member has probably lost messages.
            if tracker.progress[m.from]!.state == .replicate {
                tracker.progress[m.from]!.becomeProbe()
            }
        case .transferLeader:
            handleTransferRequest(to: m.from)
        default:
            break
        }
    }

    // MARK: Proposals

    private mutating func handleProposal(_ m: Message) throws(RaftError) {
        precondition(!m.entries.isEmpty, "a proposal must carry entries")
        // A leader removed from the configuration (but not yet stepped down) accepts nothing.
        guard tracker.progress[id] != nil else { throw .proposalDropped }
        guard leadTransferee == noNode else { throw .proposalDropped }

        let isLocal = m.from == id || m.from == noNode
        var entries = m.entries
        var newPendingConfIndex = pendingConfIndex
        for i in entries.indices where entries[i].type == .confChange {
            guard let change = try? RaftWire.decodeConfChange(entries[i].data) else {
                // Nobody could apply it: keep it out of the log.
                if isLocal { throw .proposalDropped }
                entries[i] = Entry()
                continue
            }
            if let refusal = admission(pendingThrough: newPendingConfIndex).refusal(of: change) {
                if isLocal { throw .confChangeRefused(refusal) }
                // A forwarded proposal cannot be answered; drop the change but keep the batch.
                entries[i] = Entry()
            } else {
                newPendingConfIndex = log.lastIndex + UInt64(i) + 1
            }
        }
        guard appendEntries(entries) else { throw .proposalDropped }
        pendingConfIndex = newPendingConfIndex
        broadcastAppend()
    }

    private func admission(pendingThrough pendingIndex: UInt64) -> ConfChangeAdmission {
        let now = tickCount
        let window = UInt64(config.electionTimeoutTicks)
        let progress = tracker.progress
        let selfID = id
        return ConfChangeAdmission(
            current: tracker.confState,
            changeInProgress: pendingIndex > log.applied,
            strictReconfigCheck: config.strictReconfigCheck,
            requireCaughtUpLearners: config.requireCaughtUpLearners,
            committedIndex: log.committed,
            matchIndex: { progress[$0]?.match ?? 0 },
            isActive: { member in
                if member == selfID { return true }
                guard let heard = progress[member]?.lastHeardTick else { return false }
                return now - heard < window
            })
    }

    // MARK: Replication

    /// Sends an append (or a snapshot) to `member` if flow control allows.
    mutating func sendAppend(to member: NodeID) {
        _ = maybeSendAppend(to: member, sendIfEmpty: true)
    }

    /// Sends an append with whatever `member` needs next, or a snapshot if that was compacted.
    /// With `sendIfEmpty` false, nothing is sent when there are no new entries. Returns whether
    /// a message was sent.
    mutating func maybeSendAppend(to member: NodeID, sendIfEmpty: Bool) -> Bool {
        guard let progress = tracker.progress[member], !progress.isPaused else { return false }
        let previousIndex = progress.next - 1
        let previousTerm = try? log.term(at: previousIndex)
        let entries = try? log.entries(from: progress.next, maxSize: config.maxSizePerMessage)
        if (entries ?? []).isEmpty && !sendIfEmpty { return false }

        guard let previousTerm, let entries else {
            return sendSnapshot(to: member)
        }
        if let last = entries.last {
            switch progress.state {
            case .replicate:
                // Stream on without waiting for the answer.
                tracker.progress[member]!.optimisticUpdate(last.index)
                tracker.progress[member]!.inflights.add(last.index)
            case .probe:
                tracker.progress[member]!.probeSent = true
            case .snapshot:
                preconditionFailure("sending entries to \(member) while it waits for a snapshot")
            }
        }
        send(Message(
            type: .append, to: member, logTerm: previousTerm, index: previousIndex,
            entries: entries, commit: log.committed))
        return true
    }

    private mutating func sendSnapshot(to member: NodeID) -> Bool {
        // Do not ship a snapshot to a member that may be down; wait until it answers.
        guard tracker.progress[member]!.recentActive else { return false }
        let snapshot: Snapshot
        do {
            snapshot = try log.snapshot()
        } catch .snapshotTemporarilyUnavailable {
            return false
        } catch {
            preconditionFailure("cannot read the snapshot: \(error)")
        }
        precondition(!snapshot.isEmpty, "entries were compacted but storage has no snapshot")
        // A snapshot taken before this member joined would be refused by it; wait for a newer one.
        guard snapshot.metadata.confState.contains(member) else { return false }
        tracker.progress[member]!.becomeSnapshot(index: snapshot.metadata.index)
        send(Message(type: .snapshot, to: member, snapshot: snapshot))
        return true
    }

    mutating func broadcastAppend() {
        for member in tracker.memberIDs where member != id {
            sendAppend(to: member)
        }
    }

    private mutating func sendHeartbeat(to member: NodeID, context: [UInt8]) {
        // Never tell a member to commit beyond what it is known to hold: its log past `match`
        // may still differ from ours.
        let commit = min(tracker.progress[member]!.match, log.committed)
        send(Message(type: .heartbeat, to: member, commit: commit, context: context))
    }

    mutating func broadcastHeartbeat(context: [UInt8]? = nil) {
        let context = context ?? readOnly.lastContext ?? []
        for member in tracker.memberIDs where member != id {
            sendHeartbeat(to: member, context: context)
        }
    }

    private mutating func markHeard(_ member: NodeID) {
        tracker.progress[member]!.recentActive = true
        tracker.progress[member]!.lastHeardTick = tickCount
    }

    private mutating func handleAppendResponse(_ m: Message) {
        let member = m.from
        markHeard(member)
        if m.reject {
            // Fast backtracking: the member says where its log may match ours (and with which
            // term); skip every index that cannot.
            var probeFrom = m.rejectHint
            if m.logTerm > 0 {
                probeFrom = log.conflictHint(index: m.rejectHint, term: m.logTerm).index
            }
            if tracker.progress[member]!.maybeDecrease(rejected: m.index, matchHint: probeFrom) {
                if tracker.progress[member]!.state == .replicate {
                    tracker.progress[member]!.becomeProbe()
                }
                sendAppend(to: member)
            }
            return
        }

        let wasPaused = tracker.progress[member]!.isPaused
        guard tracker.progress[member]!.maybeUpdate(m.index) else { return }
        let progress = tracker.progress[member]!
        switch progress.state {
        case .probe:
            tracker.progress[member]!.becomeReplicate()
        case .snapshot:
            if progress.match >= progress.pendingSnapshot || progress.match + 1 >= log.firstIndex {
                // The log can serve this member again.
                tracker.progress[member]!.becomeProbe()
                tracker.progress[member]!.becomeReplicate()
            }
        case .replicate:
            tracker.progress[member]!.inflights.free(through: m.index)
        }

        if maybeCommit() {
            // The commit index moved within our term: held reads can now be answered, and
            // everyone should learn the new commit index.
            releasePendingReadRequests()
            broadcastAppend()
        } else if wasPaused {
            // The member may have missed the latest commit index while paused.
            sendAppend(to: member)
        }
        // Flow control may have opened up: send what fits, without empty messages.
        while maybeSendAppend(to: member, sendIfEmpty: false) {}
        if member == leadTransferee && tracker.progress[member]!.match == log.lastIndex {
            send(Message(type: .timeoutNow, to: member))
        }
    }

    private mutating func handleHeartbeatResponse(_ m: Message) {
        let member = m.from
        markHeard(member)
        tracker.progress[member]!.probeSent = false
        // Free a slot of a full window so a lost acknowledgement cannot stall replication.
        if tracker.progress[member]!.state == .replicate && tracker.progress[member]!.inflights.isFull {
            tracker.progress[member]!.inflights.freeFirst()
        }
        if tracker.progress[member]!.match < log.lastIndex {
            sendAppend(to: member)
        }

        guard readOnly.option == .safe, !m.context.isEmpty else { return }
        guard let acks = readOnly.acknowledge(m.context, from: member) else { return }
        guard tracker.quorum.voteResult({ acks.contains($0) ? true : nil }) == .won else { return }
        for read in readOnly.release(through: m.context) {
            answerRead(read.request, index: read.index)
        }
    }

    // MARK: ReadIndex (thesis §6.4)

    private mutating func handleReadRequest(_ m: Message) {
        if tracker.isSingleton && tracker.isVoter(id) {
            // The only voter: nobody else can have been elected.
            answerRead(m, index: log.committed)
            return
        }
        if !committedEntryInCurrentTerm {
            pendingReadRequests.append(m)
            return
        }
        confirmLeadershipThenAnswer(m)
    }

    private mutating func confirmLeadershipThenAnswer(_ m: Message) {
        switch readOnly.option {
        case .safe:
            let context = m.entries[0].data
            readOnly.add(m, index: log.committed)
            _ = readOnly.acknowledge(context, from: id)
            broadcastHeartbeat(context: context)
        case .leaseBased:
            answerRead(m, index: log.committed)
        }
    }

    mutating func releasePendingReadRequests() {
        guard !pendingReadRequests.isEmpty, committedEntryInCurrentTerm else { return }
        let held = pendingReadRequests
        pendingReadRequests = []
        for request in held {
            confirmLeadershipThenAnswer(request)
        }
    }

    /// Answers a confirmed read: locally as a `ReadState`, or to the follower that forwarded it.
    private mutating func answerRead(_ request: Message, index: UInt64) {
        if request.from == noNode || request.from == id {
            readStates.append(ReadState(index: index, requestContext: request.entries[0].data))
        } else {
            send(Message(type: .readIndexResponse, to: request.from, index: index, entries: request.entries))
        }
    }

    // MARK: Leadership transfer (thesis §3.10)

    private mutating func handleTransferRequest(to transferee: NodeID) {
        guard !tracker.progress[transferee]!.isLearner else { return }
        if leadTransferee != noNode {
            if leadTransferee == transferee { return }  // already under way
            leadTransferee = noNode
        }
        guard transferee != id else { return }
        // The transfer must finish within an election timeout (see tickHeartbeat).
        electionElapsed = 0
        leadTransferee = transferee
        if tracker.progress[transferee]!.match == log.lastIndex {
            send(Message(type: .timeoutNow, to: transferee))
        } else {
            // Catch it up first; the TimeoutNow follows its acknowledgement.
            sendAppend(to: transferee)
        }
    }
}
