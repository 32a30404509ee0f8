/// Followers and (pre-)candidates: accepting the leader's log (§5.3), snapshots (§7), and
/// forwarding what only the leader can handle.
extension Raft {
    mutating func stepCandidate(_ m: Message) throws(RaftError) {
        // In the candidate state, stale pre-vote answers from our pre-campaign may still arrive
        // in this term; only answers to the current kind of campaign count.
        let ownResponseType: MessageType = role == .preCandidate ? .preVoteResponse : .voteResponse
        switch m.type {
        case .propose:
            throw .proposalDropped
        case .append:
            // A leader exists for our term (m.term == term here): it won, we lost.
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case ownResponseType:
            switch recordVote(from: m.from, granted: !m.reject) {
            case .won:
                if role == .preCandidate {
                    campaign(.election)
                } else {
                    becomeLeader()
                    broadcastAppend()
                }
            case .lost:
                // A rejected pre-vote may carry a term above ours; keep our own.
                becomeFollower(term: term, leader: noNode)
            case .pending:
                break
            }
        default:
            // TimeoutNow is meant for followers; read requests need a leader.
            break
        }
    }

    mutating func stepFollower(_ m: Message) throws(RaftError) {
        switch m.type {
        case .propose:
            guard leader != noNode, !config.disableProposalForwarding else { throw .proposalDropped }
            var forwarded = m
            forwarded.to = leader
            send(forwarded)
        case .append:
            electionElapsed = 0
            leader = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            leader = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            leader = m.from
            handleSnapshot(m)
        case .transferLeader, .readIndex:
            guard leader != noNode else { return }
            var forwarded = m
            forwarded.to = leader
            send(forwarded)
        case .timeoutNow:
            // Transfers skip the pre-vote: the leader asked, so nobody is recovering from a
            // partition, and the vote requests override leader leases.
            if isPromotable { campaign(.transfer) }
        case .readIndexResponse:
            guard m.entries.count == 1 else { return }
            readStates.append(ReadState(index: m.index, requestContext: m.entries[0].data))
        default:
            break
        }
    }

    /// AppendEntries receiver (§5.3).
    mutating func handleAppend(_ m: Message) {
        if m.index < log.committed {
            // Everything up to our commit index is settled; say so, and the leader skips ahead.
            send(Message(type: .appendResponse, to: m.from, index: log.committed))
            return
        }
        if let lastNewIndex = log.maybeAppend(index: m.index, logTerm: m.logTerm, committed: m.commit, entries: m.entries) {
            send(Message(type: .appendResponse, to: m.from, index: lastNewIndex))
            return
        }
        // The consistency check failed. Point the leader at the largest index that may match:
        // at or below both the probed index and our last index, with a term no greater than the
        // probed one (every entry above it is certain not to match).
        let hint = log.conflictHint(index: min(m.index, log.lastIndex), term: m.logTerm)
        send(Message(
            type: .appendResponse, to: m.from, logTerm: hint.term, index: m.index,
            reject: true, rejectHint: hint.index))
    }

    mutating func handleHeartbeat(_ m: Message) {
        log.commit(to: m.commit)
        send(Message(type: .heartbeatResponse, to: m.from, context: m.context))
    }

    mutating func handleSnapshot(_ m: Message) {
        guard let snapshot = m.snapshot else { return }
        if restore(snapshot) {
            send(Message(type: .appendResponse, to: m.from, index: log.lastIndex))
        } else {
            send(Message(type: .appendResponse, to: m.from, index: log.committed))
        }
    }

    /// Installs a snapshot from the leader (§7). Returns false if it was not needed: it is not
    /// ahead of our commit index, or our log already has its last entry.
    mutating func restore(_ snapshot: Snapshot) -> Bool {
        let meta = snapshot.metadata
        guard meta.index > log.committed else { return false }
        guard role == .follower else {
            // Only a follower receives snapshots; anything else is a bug upstream. Move to a new
            // term rather than risk a leader with a replaced log.
            becomeFollower(term: term + 1, leader: noNode)
            return false
        }
        // A snapshot whose membership leaves us out would leave us without a configuration.
        guard meta.confState.contains(id) else { return false }
        if log.matchTerm(meta.index, meta.term) {
            // Our log already has the snapshot's last entry, so everything before it matches:
            // just commit up to it.
            log.commit(to: meta.index)
            return false
        }
        log.restore(snapshot)
        tracker.reset(to: meta.confState, lastIndex: log.lastIndex)
        membershipChanged()
        return true
    }
}
