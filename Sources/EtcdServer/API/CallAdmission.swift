import Foundation
import GRPC

/// etcd's gRPC interceptors, before any service sees a call:
/// - nothing is served until the cluster version is known (`etcdserver: not capable`);
/// - a learner serves only Status and serializable Range (the Range check is the KV service's,
///   which sees the request), and no stream (`etcdserver: rpc not supported for learner`);
/// - a client that asks for a leader (metadata `hasleader: true`, as etcdctl's watch does) is
///   refused while there is none (`etcdserver: no leader`), and its streams are cancelled once
///   the member has been without a leader for three election timeouts.
final class CallAdmission: @unchecked Sendable {
    private let consensus: ConsensusStatus
    private let membership: ClusterMembership
    private let electionSeconds: Double
    private let lock = NSLock()
    private var leaderStreams: [ObjectIdentifier: WeakCall] = [:]
    private var stopped = false
    private var monitor: DispatchSourceTimer?
    private var noLeaderRounds = 0
    /// etcd's maxNoLeaderCnt.
    static let maxNoLeaderRounds = 3

    static let learnerPaths: Set<String> = ["/etcdserverpb.Maintenance/Status", "/etcdserverpb.KV/Range"]

    private final class WeakCall {
        weak var call: ServerCall?
        init(_ call: ServerCall) { self.call = call }
    }

    init(consensus: ConsensusStatus, membership: ClusterMembership, electionSeconds: Double) {
        self.consensus = consensus
        self.membership = membership
        self.electionSeconds = electionSeconds
    }

    func admit(path: String, call: ServerCall, streaming: Bool) -> GRPCStatus? {
        if membership.clusterVersion == nil { return EtcdError.notCapable.grpcStatus }
        if consensus.isLearner && (streaming || !CallAdmission.learnerPaths.contains(path)) {
            return EtcdError.notSupportedForLearner.grpcStatus
        }
        if call.metadataValue("hasleader") == "true" {
            if consensus.leader == 0 { return EtcdError.noLeader.grpcStatus }
            if streaming {
                lock.withLock {
                    leaderStreams = leaderStreams.filter { $0.value.call.map { !$0.isCancelledOrFinished } ?? false }
                    leaderStreams[ObjectIdentifier(call)] = WeakCall(call)
                }
            }
        }
        return nil
    }

    /// Watches for a lost leader every election timeout.
    func start() {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + electionSeconds, repeating: electionSeconds)
        timer.setEventHandler { [weak self] in self?.checkLeader() }
        timer.resume()
        lock.withLock { monitor = timer }
    }

    func stop() {
        lock.withLock { monitor?.cancel() }
    }

    private func checkLeader() {
        let cancelled = lock.withLock { () -> [ServerCall] in
            noLeaderRounds = consensus.leader == 0 ? noLeaderRounds + 1 : 0
            guard noLeaderRounds >= CallAdmission.maxNoLeaderRounds else { return [] }
            defer { leaderStreams = [:] }
            return leaderStreams.values.compactMap(\.call)
        }
        for call in cancelled { call.abort(EtcdError.noLeader.grpcStatus) }
    }
}
