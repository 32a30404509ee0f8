import Foundation
import GRPC
import HTTP2
import MVCC

/// Plain HTTP on the client port: /health, /version, /metrics.
struct HTTPEndpoints: Sendable {
    let consensus: ConsensusStatus
    let membership: ClusterMembership
    let alarms: AlarmTable
    let barrier: ReadBarrier
    let store: KVStore
    let metrics: ServerMetrics
    let pendingProposals: @Sendable () -> Int
    let config: ServerConfig

    func handle(_ request: PlainHTTPRequest, _ responder: PlainHTTPResponder) {
        let respond: @Sendable (PlainHTTPResponse) -> Void = { responder.respond($0) }
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        switch path {
        case "/health":
            health(respond)
        case "/version":
            let cluster = membership.clusterVersion ?? "not_decided"
            respond(json("{\"etcdserver\":\"\(MaintenanceService.serverVersion)\",\"etcdcluster\":\"\(cluster)\"}"))
        case "/metrics":
            respond(PlainHTTPResponse(status: 200,
                                      headers: [HeaderField("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                                      body: Array(metricsText().utf8)))
        default:
            respond(PlainHTTPResponse(status: 404, headers: [HeaderField("content-type", "text/plain; charset=utf-8"),
                                                             HeaderField("x-content-type-options", "nosniff")],
                                      body: Array("404 page not found\n".utf8)))
        }
    }

    /// etcd 3.4's rule: unhealthy with an alarm raised, without a leader, or when a read
    /// through the cluster does not complete within a second.
    private func health(_ respond: @escaping @Sendable (PlainHTTPResponse) -> Void) {
        let unhealthy = PlainHTTPResponse(status: 503, headers: [HeaderField("content-type", "text/plain; charset=utf-8")],
                                          body: Array("{\"health\":\"false\"}".utf8))
        if !alarms.all.isEmpty || consensus.leader == 0 { return respond(unhealthy) }
        let answered = Mutex(false)
        let healthy = json("{\"health\":\"true\"}")
        barrier.linearizableRead { error in
            guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
            respond(error == nil ? healthy : unhealthy)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
            respond(unhealthy)
        }
    }

    private func json(_ body: String) -> PlainHTTPResponse {
        PlainHTTPResponse(status: 200, headers: [HeaderField("content-type", "application/json")], body: Array(body.utf8))
    }

    private func metricsText() -> String {
        let revision = (try? store.read { try $0.currentRevision() }) ?? 0
        let state = ServerMetrics.Snapshot(
            hasLeader: consensus.leader != 0, isLeader: consensus.isLeader, committedIndex: consensus.committedIndex,
            appliedIndex: consensus.appliedIndex, pendingProposals: pendingProposals(), currentRevision: revision,
            dbSize: MaintenanceService.fileSize(config.backendPath), dbSizeInUse: store.environment.usedBytes(),
            quotaBytes: config.effectiveQuotaBytes, isLearner: consensus.isLearner)
        return metrics.render(state)
    }
}
