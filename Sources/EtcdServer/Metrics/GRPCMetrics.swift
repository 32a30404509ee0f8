import Foundation
import GRPC

/// go-grpc-prometheus's server metrics: calls started and handled (by status code), messages
/// received and sent, per method. Every method registered up front gets its series at zero,
/// all seventeen codes included, as grpc_prometheus.Register creates them; methods added
/// later (etcd's Lock and Election) appear once called.
final class GRPCMetrics: CallObserver, @unchecked Sendable {
    /// grpc-go's code names.
    static let codeNames = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
                            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
                            "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"]

    private struct Method {
        var service: String
        var name: String
        var type: String
        var started: UInt64 = 0
        var received: UInt64 = 0
        var sent: UInt64 = 0
        var handled: [Int: UInt64] = [:]
    }

    private let lock = NSLock()
    private var methods: [String: Method] = [:]
    private var receivedBytes: UInt64 = 0
    private var sentBytes: UInt64 = 0

    /// The gRPC type of a method path: etcd's streaming methods by name, unary otherwise.
    static func type(of path: String) -> String {
        switch path {
        case "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive": return "bidi_stream"
        case "/etcdserverpb.Maintenance/Snapshot", "/v3electionpb.Election/Observe": return "server_stream"
        default: return "unary"
        }
    }

    /// Creates the zero series of every method in `paths`.
    func preregister(_ paths: [String]) {
        lock.withLock {
            for path in paths where methods[path] == nil {
                if let method = GRPCMetrics.method(path, precreated: true) { methods[path] = method }
            }
        }
    }

    private static func method(_ path: String, precreated: Bool) -> Method? {
        let parts = path.split(separator: "/")
        guard parts.count == 2 else { return nil }
        var method = Method(service: String(parts[0]), name: String(parts[1]), type: type(of: path))
        if precreated { for code in 0..<codeNames.count { method.handled[code] = 0 } }
        return method
    }

    private func update(_ path: String, _ body: (inout Method) -> Void) {
        lock.withLock {
            if methods[path] == nil { methods[path] = GRPCMetrics.method(path, precreated: false) }
            if methods[path] != nil { body(&methods[path]!) }
        }
    }

    func callStarted(_ path: String) { update(path) { $0.started += 1 } }

    func messageReceived(_ path: String, bytes: Int) {
        update(path) { $0.received += 1 }
        lock.withLock { receivedBytes += UInt64(bytes) }
    }

    func messageSent(_ path: String, bytes: Int) {
        update(path) { $0.sent += 1 }
        lock.withLock { sentBytes += UInt64(bytes) }
    }

    func callFinished(_ path: String, code: GRPCStatus.Code) {
        update(path) { $0.handled[code.rawValue, default: 0] += 1 }
    }

    /// The four families, plus the client byte counters etcd keeps beside them.
    func families() -> [MetricFamily] {
        let (snapshot, received, sent) = lock.withLock { (methods.values.sorted { ($0.service, $0.name) < ($1.service, $1.name) },
                                                          receivedBytes, sentBytes) }
        func labels(_ method: Method) -> String {
            "grpc_method=\"\(method.name)\",grpc_service=\"\(method.service)\",grpc_type=\"\(method.type)\""
        }
        var handled: [String] = []
        for method in snapshot {
            for (code, count) in method.handled.sorted(by: { GRPCMetrics.codeNames[$0.key] < GRPCMetrics.codeNames[$1.key] }) {
                handled.append("{grpc_code=\"\(GRPCMetrics.codeNames[code])\",\(labels(method))} \(count)")
            }
        }
        return [
            MetricFamily("grpc_server_handled_total", "counter",
                         "Total number of RPCs completed on the server, regardless of success or failure.", handled),
            MetricFamily("grpc_server_msg_received_total", "counter", "Total number of RPC stream messages received on the server.",
                         snapshot.map { "{\(labels($0))} \($0.received)" }),
            MetricFamily("grpc_server_msg_sent_total", "counter", "Total number of gRPC stream messages sent by the server.",
                         snapshot.map { "{\(labels($0))} \($0.sent)" }),
            MetricFamily("grpc_server_started_total", "counter", "Total number of RPCs started on the server.",
                         snapshot.map { "{\(labels($0))} \($0.started)" }),
            MetricFamily("etcd_network_client_grpc_received_bytes_total", "counter",
                         "The total number of bytes received from grpc clients.", [" \(received)"]),
            MetricFamily("etcd_network_client_grpc_sent_bytes_total", "counter",
                         "The total number of bytes sent to grpc clients.", [" \(sent)"]),
        ]
    }
}

/// One family as the Prometheus text format writes it: samples are the text after the name
/// (labels and value).
struct MetricFamily {
    var name: String
    var type: String
    var help: String
    var samples: [String]
    /// Pre-rendered lines (histograms write their own).
    var lines: [String]?

    init(_ name: String, _ type: String, _ help: String, _ samples: [String]) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }

    init(histogram name: String, help: String, lines: [String]) {
        self.name = name
        self.type = "histogram"
        self.help = help
        self.samples = []
        self.lines = lines
    }

    func render(into out: inout [String]) {
        guard lines != nil || !samples.isEmpty else { return }
        out.append("# HELP \(name) \(help)")
        out.append("# TYPE \(name) \(type)")
        if let lines {
            out += lines
        } else {
            for sample in samples { out.append(name + sample) }
        }
    }
}
