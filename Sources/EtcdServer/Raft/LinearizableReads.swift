import Foundation
import Raft

/// How services make a read linearizable: wait until this member has applied everything the
/// cluster had committed when the read arrived.
protocol ReadBarrier: Sendable {
    /// Calls `done` (on any thread) once a linearizable read may be served here, or with the
    /// error that stopped it.
    func linearizableRead(_ done: @escaping @Sendable (EtcdError?) -> Void)
}

/// etcd's read loop: reads are batched; one ReadIndex round (a heartbeat round at the leader,
/// forwarded there by a follower) serves every read that arrived before it started. A round is
/// retried every 500 ms while no answer comes, abandoned on a leader change
/// (`leader changed`) and failed after the request timeout (`request timed out`).
final class LinearizableReads: ReadBarrier, @unchecked Sendable {
    private let host: RaftHost
    private let application: ServerApplication
    private let ids: RequestIDGenerator
    private let timeoutNanoseconds: UInt64
    private let lock = NSLock()
    /// Reads waiting for the next round.
    private var waiting: [@Sendable (EtcdError?) -> Void] = []
    /// The round in flight: its context, its reads, when it started and was last sent.
    private var round: (context: [UInt8], reads: [@Sendable (EtcdError?) -> Void], started: UInt64, sent: UInt64)?
    static let retryNanoseconds: UInt64 = 500_000_000

    init(host: RaftHost, application: ServerApplication, ids: RequestIDGenerator, timeoutNanoseconds: UInt64) {
        self.host = host
        self.application = application
        self.ids = ids
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    func linearizableRead(_ done: @escaping @Sendable (EtcdError?) -> Void) {
        let status = host.status
        // The only voter, leading: nobody else can have committed anything.
        if status.role == .leader && status.confState.voters == [host.id] {
            application.waitApplied(status.commitIndex) { done(nil) }
            return
        }
        let start = lock.withLock { () -> Bool in
            waiting.append(done)
            return round == nil
        }
        if start { startRound() }
    }

    private func startRound() {
        let context = Self.context(ids.next())
        let now = DispatchTime.now().uptimeNanoseconds
        let started = lock.withLock { () -> Bool in
            guard round == nil, !waiting.isEmpty else { return false }
            round = (context, waiting, now, now)
            waiting = []
            return true
        }
        if started { host.readIndex(context) }
    }

    /// etcd's ReadIndex context: the request ID as 8 big-endian bytes.
    static func context(_ id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64($0))) }
    }

    // MARK: From the Raft thread

    /// Read indexes confirmed by the leader.
    func readStatesReady(_ states: [ReadState]) {
        let answered = lock.withLock { () -> (UInt64, [@Sendable (EtcdError?) -> Void])? in
            guard let current = round, let state = states.last(where: { $0.requestContext == current.context }) else {
                return nil
            }
            round = nil
            return (state.index, current.reads)
        }
        guard let (index, reads) = answered else { return }
        application.waitApplied(index) {
            for read in reads { read(nil) }
        }
        startRound()
    }

    /// The leader changed: the round in flight may never be answered.
    func leaderChanged() {
        let failed = lock.withLock { () -> [@Sendable (EtcdError?) -> Void] in
            guard let current = round else { return [] }
            round = nil
            return current.reads
        }
        for read in failed { read(.leaderChanged) }
        startRound()
    }

    /// A new leader committed its first entry: it can answer at once, so ask again now
    /// instead of waiting for the next retry.
    func firstCommitInTerm() {
        let resend = lock.withLock { () -> [UInt8]? in
            guard round != nil else { return nil }
            round?.sent = DispatchTime.now().uptimeNanoseconds
            return round?.context
        }
        if let resend { host.readIndex(resend) }
    }

    /// Retries or fails the round in flight; called every tick.
    func tick() {
        let now = DispatchTime.now().uptimeNanoseconds
        var resend: [UInt8]?
        let expired = lock.withLock { () -> [@Sendable (EtcdError?) -> Void] in
            guard let current = round else { return [] }
            if now - current.started >= timeoutNanoseconds {
                round = nil
                return current.reads
            }
            if now - current.sent >= Self.retryNanoseconds {
                round?.sent = now
                resend = current.context
            }
            return []
        }
        for read in expired { read(.timeout) }
        if !expired.isEmpty { startRound() }
        if let resend { host.readIndex(resend) }
    }
}
