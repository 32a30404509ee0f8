import Foundation
import GRPC
import HTTP2
import ProtoJSON
import Synchronization

/// etcd's grpc-gateway under /v3/: JSON over HTTP for the gRPC services, each request made as
/// an in-process call to the same handlers gRPC clients reach (so admission, auth, quotas and
/// metrics apply alike). JSON follows jsonpb with the proto field names; errors are
/// {"error","message","code"} with grpc-gateway's HTTP statuses; streams answer one
/// {"result":...} line per message.
struct JSONGateway: Sendable {
    enum Kind: Sendable {
        case unary
        /// Client and server stream (watch, keep-alive): the body is a sequence of requests.
        case bidirectional
        /// One request, a stream of responses (snapshot, observe).
        case serverStream
    }

    struct Route: Sendable {
        var method: String
        var request: String
        var response: String
        var kind: Kind
    }

    let router: Router
    let codec = ProtoJSON(schema: .etcd)
    /// Gateway calls share one stream budget, as etcd's gateway shares its one HTTP/2
    /// connection to the server (`--max-concurrent-streams`).
    let streams: StreamBudget

    init(router: Router, maxConcurrentStreams: UInt32) {
        self.router = router
        self.streams = StreamBudget(limit: Int(clamping: maxConcurrentStreams))
    }

    static let routes: [String: Route] = {
        func route(_ method: String, _ request: String, _ response: String, _ kind: Kind = .unary) -> Route {
            Route(method: method, request: request, response: response, kind: kind)
        }
        let kv = "/etcdserverpb.KV/", lease = "/etcdserverpb.Lease/", cluster = "/etcdserverpb.Cluster/"
        let maintenance = "/etcdserverpb.Maintenance/", auth = "/etcdserverpb.Auth/"
        let election = "/v3electionpb.Election/", e = "v3electionpb.", p = "etcdserverpb."
        var table: [String: Route] = [
            "/v3/kv/range": route(kv + "Range", p + "RangeRequest", p + "RangeResponse"),
            "/v3/kv/put": route(kv + "Put", p + "PutRequest", p + "PutResponse"),
            "/v3/kv/deleterange": route(kv + "DeleteRange", p + "DeleteRangeRequest", p + "DeleteRangeResponse"),
            "/v3/kv/txn": route(kv + "Txn", p + "TxnRequest", p + "TxnResponse"),
            "/v3/kv/compaction": route(kv + "Compact", p + "CompactionRequest", p + "CompactionResponse"),
            "/v3/watch": route("/etcdserverpb.Watch/Watch", p + "WatchRequest", p + "WatchResponse", .bidirectional),
            "/v3/lease/grant": route(lease + "LeaseGrant", p + "LeaseGrantRequest", p + "LeaseGrantResponse"),
            "/v3/lease/keepalive": route(lease + "LeaseKeepAlive", p + "LeaseKeepAliveRequest", p + "LeaseKeepAliveResponse",
                                         .bidirectional),
            "/v3/cluster/member/add": route(cluster + "MemberAdd", p + "MemberAddRequest", p + "MemberAddResponse"),
            "/v3/cluster/member/remove": route(cluster + "MemberRemove", p + "MemberRemoveRequest", p + "MemberRemoveResponse"),
            "/v3/cluster/member/update": route(cluster + "MemberUpdate", p + "MemberUpdateRequest", p + "MemberUpdateResponse"),
            "/v3/cluster/member/list": route(cluster + "MemberList", p + "MemberListRequest", p + "MemberListResponse"),
            "/v3/cluster/member/promote": route(cluster + "MemberPromote", p + "MemberPromoteRequest", p + "MemberPromoteResponse"),
            "/v3/maintenance/alarm": route(maintenance + "Alarm", p + "AlarmRequest", p + "AlarmResponse"),
            "/v3/maintenance/status": route(maintenance + "Status", p + "StatusRequest", p + "StatusResponse"),
            "/v3/maintenance/defragment": route(maintenance + "Defragment", p + "DefragmentRequest", p + "DefragmentResponse"),
            // 3.4 registers Hash and HashKV on this path; Hash comes first and wins.
            "/v3/maintenance/hash": route(maintenance + "Hash", p + "HashRequest", p + "HashResponse"),
            "/v3/maintenance/snapshot": route(maintenance + "Snapshot", p + "SnapshotRequest", p + "SnapshotResponse",
                                              .serverStream),
            "/v3/maintenance/transfer-leadership": route(maintenance + "MoveLeader", p + "MoveLeaderRequest",
                                                         p + "MoveLeaderResponse"),
            "/v3/auth/enable": route(auth + "AuthEnable", p + "AuthEnableRequest", p + "AuthEnableResponse"),
            "/v3/auth/disable": route(auth + "AuthDisable", p + "AuthDisableRequest", p + "AuthDisableResponse"),
            "/v3/auth/authenticate": route(auth + "Authenticate", p + "AuthenticateRequest", p + "AuthenticateResponse"),
            "/v3/lock/lock": route("/v3lockpb.Lock/Lock", "v3lockpb.LockRequest", "v3lockpb.LockResponse"),
            "/v3/lock/unlock": route("/v3lockpb.Lock/Unlock", "v3lockpb.UnlockRequest", "v3lockpb.UnlockResponse"),
            "/v3/election/campaign": route(election + "Campaign", e + "CampaignRequest", e + "CampaignResponse"),
            "/v3/election/proclaim": route(election + "Proclaim", e + "ProclaimRequest", e + "ProclaimResponse"),
            "/v3/election/leader": route(election + "Leader", e + "LeaderRequest", e + "LeaderResponse"),
            "/v3/election/observe": route(election + "Observe", e + "LeaderRequest", e + "LeaderResponse", .serverStream),
            "/v3/election/resign": route(election + "Resign", e + "ResignRequest", e + "ResignResponse"),
        ]
        // Lease calls are reachable under /v3/kv/lease/ as well.
        for name in ["revoke", "timetolive", "leases"] {
            let method = ["revoke": "LeaseRevoke", "timetolive": "LeaseTimeToLive", "leases": "LeaseLeases"][name] ?? ""
            let r = route(lease + method, p + method + "Request", p + method + "Response")
            table["/v3/lease/" + name] = r
            table["/v3/kv/lease/" + name] = r
        }
        for (name, method) in [("add", "UserAdd"), ("get", "UserGet"), ("list", "UserList"), ("delete", "UserDelete"),
                               ("changepw", "UserChangePassword"), ("grant", "UserGrantRole"), ("revoke", "UserRevokeRole")] {
            table["/v3/auth/user/" + name] = route(auth + method, p + "Auth" + method + "Request", p + "Auth" + method + "Response")
        }
        for (name, method) in [("add", "RoleAdd"), ("get", "RoleGet"), ("list", "RoleList"), ("delete", "RoleDelete"),
                               ("grant", "RoleGrantPermission"), ("revoke", "RoleRevokePermission")] {
            table["/v3/auth/role/" + name] = route(auth + method, p + "Auth" + method + "Request", p + "Auth" + method + "Response")
        }
        return table
    }()

    // MARK: Serving

    /// Serves a request whose path starts with /v3/ (after /v3beta/ was rewritten).
    func handle(_ request: PlainHTTPRequest, path: String, _ responder: PlainHTTPResponder) {
        guard let route = JSONGateway.routes[path] else {
            return responder.respond(GatewayResponse.text(404, "Not Found\n"))
        }
        guard request.method == "POST" else {
            return responder.respond(GatewayResponse.text(405, "Method Not Allowed\n"))
        }
        var metadata: [HeaderField] = []
        var timeout: String?
        for header in request.headers {
            switch header.name {
            case "authorization": metadata.append(HeaderField("authorization", header.value))
            case "grpc-timeout": timeout = header.value
            default:
                if header.name.hasPrefix("grpc-metadata-") {
                    metadata.append(HeaderField(String(header.name.dropFirst("grpc-metadata-".count)), header.value))
                } else if GatewayResponse.permanentHeaders.contains(header.name) {
                    metadata.append(HeaderField("grpcgateway-" + canonicalHeaderName(header.name), header.value))
                }
            }
        }
        if let timeout, GRPCTimeout.parse(timeout) == nil {
            return responder.respond(GatewayResponse.localError(GRPCStatus(.invalidArgument, "invalid grpc-timeout: \(timeout)")))
        }
        var reader = JSONReader(request.body)
        let first: [UInt8]
        do {
            // An empty body reads as an empty message.
            first = try codec.wire(fromJSON: reader.next() ?? .null, message: route.request)
        } catch {
            // Streams surface the first request's problem unwrapped (code Unknown).
            let code: GRPCStatus.Code = route.kind == .bidirectional ? .unknown : .invalidArgument
            return responder.respond(GatewayResponse.localError(GRPCStatus(code, "\(error)")))
        }
        let emptyBody = request.body.allSatisfy { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
        // Later values follow the first; the first one that does not decode ends the sending side.
        var rest: [[UInt8]] = []
        while route.kind == .bidirectional {
            guard let next = try? reader.next(), let bytes = try? codec.wire(fromJSON: next, message: route.request) else { break }
            rest.append(bytes)
        }
        let requests = rest
        let callMetadata = metadata
        let callTimeout = timeout
        streams.acquire { [self] release in
            let exchange = GatewayExchange(codec: codec, route: route, responder: responder, release: release)
            let call = LocalCall(router: router, path: route.method, metadata: callMetadata,
                                 executor: SerialQueueExecutor(label: "gateway"),
                                 // etcd's gateway calls with its own identity: the HTTP client's
                                 // certificate never names an auth user.
                                 clientCommonName: nil,
                                 onMessage: { exchange.message($0) }, onFinish: { exchange.finish($0) })
            responder.onCancel {
                call.cancel()
                exchange.cancelled()
            }
            call.start(timeout: callTimeout)
            switch route.kind {
            case .unary, .serverStream:
                call.send(first)
                call.closeSend()
            case .bidirectional:
                // etcd's gateway never sends an empty body's "request": no watch is created
                // and nothing is answered until the client leaves.
                if emptyBody && route.request == "etcdserverpb.WatchRequest" { return }
                if !emptyBody { call.send(first) }
                for request in requests { call.send(request) }
                if route.request == "etcdserverpb.WatchRequest" {
                    // The watch server ignores the client's half-close: the stream stays open.
                    return
                }
                call.closeSend()
            }
        }
    }
}

/// One gateway call's answer: JSON for each message, the status at the end.
final class GatewayExchange: @unchecked Sendable {
    private let codec: ProtoJSON
    private let route: JSONGateway.Route
    private let responder: PlainHTTPResponder
    private let lock = NSLock()
    private var release: (@Sendable () -> Void)?
    private var messages: [String] = []
    private var streaming = false

    init(codec: ProtoJSON, route: JSONGateway.Route, responder: PlainHTTPResponder, release: @escaping @Sendable () -> Void) {
        self.codec = codec
        self.route = route
        self.responder = responder
        self.release = release
    }

    func message(_ bytes: [UInt8]) {
        let json = (try? codec.json(fromWire: bytes, message: route.response)) ?? "{}"
        lock.lock()
        defer { lock.unlock() }
        switch route.kind {
        case .unary:
            messages.append(json)
        case .bidirectional, .serverStream:
            if !streaming {
                streaming = true
                responder.startStream(status: 200, headers: GatewayResponse.successHeaders)
            }
            responder.write(Array("{\"result\":\(json)}\n".utf8))
        }
    }

    func finish(_ status: GRPCStatus) {
        lock.lock()
        let wasStreaming = streaming
        let body = messages.last
        let release = self.release
        self.release = nil
        lock.unlock()
        release?()
        switch route.kind {
        case .unary:
            if status.code == .ok, let body {
                responder.respond(GatewayResponse.success(body))
            } else {
                GatewayResponse.serverError(status.code == .ok ? GRPCStatus(.internal, "no response") : status, to: responder)
            }
        case .bidirectional, .serverStream:
            if wasStreaming {
                if status.code != .ok { responder.write(Array(GatewayResponse.streamError(status).utf8)) }
                responder.endStream(trailers: [])
            } else if status.code == .ok {
                responder.startStream(status: 200, headers: [HeaderField("content-type", "application/json")])
                responder.endStream(trailers: [])
            } else {
                GatewayResponse.serverError(status, to: responder)
            }
        }
    }

    func cancelled() {
        lock.lock()
        let release = self.release
        self.release = nil
        lock.unlock()
        release?()
    }
}

/// The HTTP shapes of the gateway's answers.
enum GatewayResponse {
    static let successHeaders = [HeaderField("content-type", "application/json"),
                                 HeaderField("grpc-metadata-content-type", "application/grpc")]

    /// Request headers the gateway forwards as "grpcgateway-<Name>" metadata.
    static let permanentHeaders: Set<String> = [
        "accept", "accept-charset", "accept-language", "accept-ranges", "cache-control", "content-type", "cookie",
        "date", "expect", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-schedule-tag-match",
        "if-unmodified-since", "max-forwards", "origin", "pragma", "referer", "user-agent", "via", "warning",
    ]

    static func success(_ body: String) -> PlainHTTPResponse {
        PlainHTTPResponse(status: 200, headers: successHeaders, body: Array(body.utf8))
    }

    static func text(_ status: Int, _ body: String) -> PlainHTTPResponse {
        PlainHTTPResponse(status: status, headers: [HeaderField("content-type", "text/plain; charset=utf-8"),
                                                    HeaderField("x-content-type-options", "nosniff")],
                          body: Array(body.utf8))
    }

    static func errorBody(_ status: GRPCStatus) -> String {
        "{\"error\":\(quote(status.message)),\"message\":\(quote(status.message)),\"code\":\(status.code.rawValue)}"
    }

    /// An error the gateway found itself (decoding): Content-Length, no trailer.
    static func localError(_ status: GRPCStatus) -> PlainHTTPResponse {
        PlainHTTPResponse(status: httpStatus(status.code), headers: [HeaderField("content-type", "application/json")],
                          body: Array(errorBody(status).utf8))
    }

    /// An error the server returned: chunked, with the Grpc-Trailer-Content-Type trailer.
    static func serverError(_ status: GRPCStatus, to responder: PlainHTTPResponder) {
        responder.startStream(status: httpStatus(status.code), headers: [
            HeaderField("content-type", "application/json"), HeaderField("trailer", "Grpc-Trailer-Content-Type"),
        ])
        responder.write(Array(errorBody(status).utf8))
        responder.endStream(trailers: [HeaderField("grpc-trailer-content-type", "application/grpc")])
    }

    /// The last line of a stream that failed after it began (no newline).
    static func streamError(_ status: GRPCStatus) -> String {
        let http = httpStatus(status.code)
        return "{\"error\":{\"grpc_code\":\(status.code.rawValue),\"http_code\":\(http),\"message\":\(quote(status.message)),"
            + "\"http_status\":\(quote(statusText(http)))}}"
    }

    /// grpc-gateway's HTTPStatusFromCode.
    static func httpStatus(_ code: GRPCStatus.Code) -> Int {
        switch code {
        case .ok: return 200
        case .cancelled: return 408
        case .unknown: return 500
        case .invalidArgument: return 400
        case .deadlineExceeded: return 504
        case .notFound: return 404
        case .alreadyExists: return 409
        case .permissionDenied: return 403
        case .unauthenticated: return 401
        case .resourceExhausted: return 429
        case .failedPrecondition: return 412
        case .aborted: return 409
        case .outOfRange: return 400
        case .unimplemented: return 501
        case .internal: return 500
        case .unavailable: return 503
        case .dataLoss: return 500
        }
    }

    static func statusText(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 412: return "Precondition Failed"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return ""
        }
    }
}

/// `user-agent` → `User-Agent`.
func canonicalHeaderName(_ name: String) -> String {
    name.split(separator: "-", omittingEmptySubsequences: false)
        .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
        .joined(separator: "-")
}

/// A shared limit on concurrent gateway calls; calls beyond it wait their turn.
final class StreamBudget: Sendable {
    private struct State {
        var available: Int
        var waiting: [@Sendable (@escaping @Sendable () -> Void) -> Void] = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(available: max(limit, 1)))
    }

    /// Runs `body` once a slot is free, handing it the function that frees the slot.
    func acquire(_ body: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) {
        let granted = state.withLock { state -> Bool in
            if state.available > 0 {
                state.available -= 1
                return true
            }
            state.waiting.append(body)
            return false
        }
        if granted { body(release) }
    }

    private var release: @Sendable () -> Void {
        let once = Mutex(false)
        return { [self] in
            guard once.withLock({ done in defer { done = true }; return !done }) else { return }
            let next = state.withLock { state -> (@Sendable (@escaping @Sendable () -> Void) -> Void)? in
                if state.waiting.isEmpty {
                    state.available += 1
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?(release)
        }
    }
}

/// grpc-timeout values ("5S", "100m").
enum GRPCTimeout {
    static func parse(_ value: String) -> UInt64? {
        guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = UInt64(value.dropLast()) else { return nil }
        switch unit {
        case "H", "M", "S", "m", "u", "n": return amount
        default: return nil
        }
    }
}
