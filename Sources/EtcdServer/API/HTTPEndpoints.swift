import Foundation
import GRPC
import HTTP2

/// Plain HTTP on the client port: /health, /version, /metrics.
struct HTTPEndpoints: Sendable {
    let core: ServerCore

    func handle(_ request: PlainHTTPRequest, _ respond: @escaping @Sendable (PlainHTTPResponse) -> Void) {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        switch path {
        case "/health":
            respond(json("{\"health\":\"true\"}"))
        case "/version":
            let cluster = (try? core.membership.clusterVersion()).flatMap { $0 } ?? "not_decided"
            respond(json("{\"etcdserver\":\"\(MaintenanceService.serverVersion)\",\"etcdcluster\":\"\(cluster)\"}"))
        case "/metrics":
            respond(PlainHTTPResponse(status: 200,
                                      headers: [HeaderField("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                                      body: Array(metrics().utf8)))
        default:
            respond(PlainHTTPResponse(status: 404, headers: [HeaderField("content-type", "text/plain; charset=utf-8"),
                                                             HeaderField("x-content-type-options", "nosniff")],
                                      body: Array("404 page not found\n".utf8)))
        }
    }

    private func json(_ body: String) -> PlainHTTPResponse {
        PlainHTTPResponse(status: 200, headers: [HeaderField("content-type", "application/json")], body: Array(body.utf8))
    }

    private func metrics() -> String {
        let revision = (try? core.store.read { try $0.currentRevision() }) ?? 0
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ value: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            lines.append("\(name) \(value)")
        }
        gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", "1")
        gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", "1")
        gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.", String(revision))
        gauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.",
              String(MaintenanceService.fileSize(core.config.backendPath)))
        gauge("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.",
              String(core.store.environment.usedBytes()))
        gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.", String(core.config.effectiveQuotaBytes))
        gauge("etcd_debugging_server_committed_index", "The index of the last committed entry.", String(core.pipeline.committedIndex))
        gauge("etcd_server_applied_index", "The current applied index.", String(core.pipeline.appliedIndex))
        gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
              String(core.pipeline.committedIndex))
        gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.",
              String(core.pipeline.appliedIndex))
        lines.append("# HELP etcd_server_version Which version is running. 1 for 'server_version' label with current version.")
        lines.append("# TYPE etcd_server_version gauge")
        lines.append("etcd_server_version{server_version=\"\(MaintenanceService.serverVersion)\"} 1")
        return lines.joined(separator: "\n") + "\n"
    }
}
