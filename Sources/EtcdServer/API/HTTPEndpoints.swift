import EtcdProto
import Foundation
import GRPC
import HTTP2
import MVCC

/// Plain HTTP on the client port, as etcd's access controller and mux serve it: CORS headers
/// on every answer, OPTIONS answered before routing, /v3beta/ rewritten to /v3/, the JSON
/// gateway under /v3/, then /health, /version and /metrics. The metrics port
/// (`--listen-metrics-urls`) serves /metrics and /health alone, without CORS.
struct HTTPEndpoints: Sendable {
    let consensus: ConsensusStatus
    let membership: ClusterMembership
    let alarms: AlarmTable
    let barrier: ReadBarrier
    let store: KVStore
    let metrics: ServerMetrics
    let pendingProposals: @Sendable () -> Int
    let config: ServerConfig
    /// nil with --enable-grpc-gateway=false.
    let gateway: JSONGateway?
    let watchTotals: @Sendable () -> (watchers: Int, streams: Int)

    func handle(_ request: PlainHTTPRequest, _ responder: PlainHTTPResponder) {
        let responder = CORSResponder(inner: responder, headers: corsHeaders(origin: request.header("origin")))
        if request.method == "OPTIONS" { return responder.respond(PlainHTTPResponse(status: 200)) }
        var path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        if let range = path.range(of: "/v3beta/"), range.lowerBound == path.startIndex {
            path.replaceSubrange(range, with: "/v3/")
        }
        if let gateway, path.hasPrefix("/v3/") {
            return gateway.handle(request, path: path, responder)
        }
        if path == "/v3" && gateway != nil {
            return responder.respond(PlainHTTPResponse(
                status: 301, headers: [HeaderField("location", "/v3/"), HeaderField("content-type", "text/html; charset=utf-8")],
                body: Array("<a href=\"/v3/\">Moved Permanently</a>.\n\n".utf8)))
        }
        handleBasic(request, path: path, responder, version: true)
    }

    /// The metrics listener: /metrics and /health only.
    func handleMetricsPort(_ request: PlainHTTPRequest, _ responder: PlainHTTPResponder) {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        handleBasic(request, path: path, responder, version: false)
    }

    private func handleBasic(_ request: PlainHTTPRequest, path: String, _ responder: PlainHTTPResponder, version: Bool) {
        let respond: @Sendable (PlainHTTPResponse) -> Void = { responder.respond($0) }
        switch path {
        case "/health":
            guard request.method == "GET" else { return respond(methodNotAllowed) }
            health(excluding: excludedAlarms(request.path), respond)
        case "/version" where version:
            guard request.method == "GET" else { return respond(methodNotAllowed) }
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

    private var methodNotAllowed: PlainHTTPResponse {
        PlainHTTPResponse(status: 405, headers: [HeaderField("allow", "GET"), HeaderField("content-type", "text/plain; charset=utf-8"),
                                                 HeaderField("x-content-type-options", "nosniff")],
                          body: Array("Method Not Allowed\n".utf8))
    }

    /// `?exclude=NOSPACE&exclude=CORRUPT`.
    private func excludedAlarms(_ target: String) -> Set<Int32> {
        guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
        var excluded = Set<Int32>()
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "exclude" else { continue }
            switch parts[1] {
            case "NOSPACE": excluded.insert(AlarmType.noSpace.rawValue)
            case "CORRUPT": excluded.insert(AlarmType.corrupt.rawValue)
            default: break
            }
        }
        return excluded
    }

    /// etcd's CORS headers: for every origin with `--cors *` (the default), else for the
    /// listed origins only.
    private func corsHeaders(origin: String?) -> [HeaderField] {
        let allowed = config.corsOrigins
        let allowOrigin: String
        if allowed.contains("*") {
            allowOrigin = "*"
        } else if let origin, allowed.contains(origin) {
            allowOrigin = origin
        } else {
            return []
        }
        return [HeaderField("access-control-allow-headers", "accept, content-type, authorization"),
                HeaderField("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE"),
                HeaderField("access-control-allow-origin", allowOrigin)]
    }

    /// etcd 3.4's rule: unhealthy with an alarm raised (unless excluded), without a leader,
    /// or when a read through the cluster does not complete within a second.
    private func health(excluding excluded: Set<Int32>, _ respond: @escaping @Sendable (PlainHTTPResponse) -> Void) {
        let unhealthy = PlainHTTPResponse(status: 503, headers: [HeaderField("content-type", "text/plain; charset=utf-8"),
                                                                 HeaderField("x-content-type-options", "nosniff")],
                                          body: Array("{\"health\":\"false\"}\n".utf8))
        if alarms.all.contains(where: { !excluded.contains($0.alarmRaw) }) || consensus.leader == 0 {
            metrics.healthChecked(healthy: false)
            return respond(unhealthy)
        }
        let metrics = self.metrics
        let answered = Mutex(false)
        let healthy = PlainHTTPResponse(status: 200, headers: [HeaderField("content-type", "text/plain; charset=utf-8")],
                                        body: Array("{\"health\":\"true\"}".utf8))
        barrier.linearizableRead { error in
            guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
            metrics.healthChecked(healthy: error == nil)
            respond(error == nil ? healthy : unhealthy)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
            metrics.healthChecked(healthy: false)
            respond(unhealthy)
        }
    }

    private func json(_ body: String) -> PlainHTTPResponse {
        PlainHTTPResponse(status: 200, headers: [HeaderField("content-type", "application/json")], body: Array(body.utf8))
    }

    private func metricsText() -> String {
        let (revision, compacted) = (try? store.read { (try $0.currentRevision(), try $0.compactRevision()) }) ?? (0, -1)
        let watch = watchTotals()
        let clusterVersion = membership.clusterVersion.map { $0.split(separator: ".").prefix(2).joined(separator: ".") }
        let state = ServerMetrics.Snapshot(
            memberID: consensus.memberID, hasLeader: consensus.leader != 0, isLeader: consensus.isLeader,
            committedIndex: consensus.committedIndex,
            appliedIndex: consensus.appliedIndex, pendingProposals: pendingProposals(), currentRevision: revision,
            compactRevision: compacted,
            dbSize: KVStore.fileSize(config.backendPath), dbSizeInUse: store.environment.bytesInUse(),
            quotaBytes: config.effectiveQuotaBytes, isLearner: consensus.isLearner, clusterVersion: clusterVersion,
            watchStreams: watch.streams, watchers: watch.watchers)
        return metrics.render(state)
    }
}

/// Adds headers to whatever a handler answers.
struct CORSResponder: PlainHTTPResponder {
    let inner: PlainHTTPResponder
    let headers: [HeaderField]

    func respond(_ response: PlainHTTPResponse) {
        var response = response
        response.headers = headers + response.headers
        inner.respond(response)
    }

    func startStream(status: Int, headers: [HeaderField]) { inner.startStream(status: status, headers: self.headers + headers) }
    func write(_ bytes: [UInt8]) { inner.write(bytes) }
    func endStream(trailers: [HeaderField]) { inner.endStream(trailers: trailers) }
    func onCancel(_ handler: @escaping @Sendable () -> Void) { inner.onCancel(handler) }
}
