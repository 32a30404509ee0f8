import Foundation
import Testing

/// The HTTP surface beyond the gateway's request/response pairs: metric values after known
/// traffic, the metrics port, the gateway's stream budget, the gateway and /health over TLS.
@Suite struct HTTPSurfaceTests {
    private func scrape(_ url: String, extra: [String] = []) throws -> String {
        try run("/usr/bin/curl", ["-sS", "-m", "5"] + extra + [url], timeout: 10).stdout
    }

    /// One sample's value, or nil when the series is absent.
    private func sample(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    @Test func metricsCountWhatHappened() throws {
        let metricsPort = Ports.free(1)[0]
        let server = ServerProcess(name: "metrics", extraArguments: ["--listen-metrics-urls", "http://127.0.0.1:\(metricsPort)"])
        try server.start()
        defer { server.stop() }
        #expect(try etcdctl(server, "put", "k", "v").stdout == "OK\n")
        for i in 1...3 {
            #expect(try etcdctl(server, "put", "\(i)", "v").stdout == "OK\n")
            #expect(try etcdctl(server, "del", "\(i)").stdout == "1\n")
            // Each etcdctl watch ends by the client leaving: the stream is handled as Canceled.
            _ = try etcdctl(server, ["watch", "k", "--rev", "1"], interruptAfter: 1)
        }
        _ = try etcdctl(server, "get", "k")
        let txn = try etcdctl(server, ["txn"], stdin: "\nput a 1\nput b 2\n\n\n")
        #expect(txn.stdout.hasPrefix("SUCCESS"), "\(txn)")
        let text = try scrape("http://\(server.endpoint)/metrics")
        #expect(sample(text, "etcd_mvcc_put_total") == "6", "\(text.prefix(2000))")
        #expect(sample(text, "etcd_mvcc_delete_total") == "3")
        #expect(sample(text, "etcd_mvcc_txn_total") == "1")
        #expect(sample(text, "etcd_debugging_mvcc_keys_total") == "3")
        #expect(sample(text, "etcd_server_version{server_version=\"3.4.23\"}") == "1")
        #expect(sample(text, "etcd_cluster_version{cluster_version=\"3.4\"}") == "1")
        #expect(sample(text, "etcd_server_has_leader") == "1")
        #expect(sample(text, #"grpc_server_handled_total{grpc_code="Canceled",grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"}"#) == "3")
        #expect(sample(text, #"grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#) == "4")
        #expect(sample(text, #"grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#) == "0",
                "series exist before any call")
        #expect(Double(sample(text, "process_resident_memory_bytes") ?? "") ?? 0 > 1_000_000)
        // Families come sorted, each with HELP and TYPE.
        let names = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(names.count > 40)
        #expect(names == names.sorted())

        // The metrics port: /metrics and /health, nothing else, no CORS.
        let port = "http://127.0.0.1:\(metricsPort)"
        #expect(try scrape(port + "/metrics").contains("etcd_mvcc_put_total 6"))
        #expect(try scrape(port + "/health") == "{\"health\":\"true\"}")
        #expect(try scrape(port + "/version") == "404 page not found\n")
        let headers = try scrape(port + "/health", extra: ["-i"])
        #expect(!headers.lowercased().contains("access-control-allow-origin"), "\(headers)")
    }

    @Test func gatewayCallsShareTheStreamBudget() throws {
        let server = ServerProcess(name: "streams", extraArguments: ["--max-concurrent-streams", "3"])
        try server.start()
        defer { server.stop() }
        let url = "http://\(server.endpoint)"
        _ = try scrape(url + "/v3/kv/put", extra: ["-d", #"{"key":"Zm9v","value":"YmFy"}"#])
        // Two open watches leave one stream: a range still gets through.
        var watches: [Process] = []
        defer { for watch in watches { kill(watch.processIdentifier, SIGKILL) } }
        func openWatch() throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-sS", "-N", url + "/v3/watch", "-d", #"{"create_request":{"key":"Zm9v","start_revision":1}}"#]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            watches.append(process)
        }
        try openWatch()
        try openWatch()
        usleep(500_000)
        #expect(try scrape(url + "/v3/kv/range", extra: ["-d", #"{"key":"Zm9v"}"#]).contains("\"revision\":\""))
        // A third fills the budget: the range waits (and the client gives up).
        try openWatch()
        usleep(500_000)
        let waited = try run("/usr/bin/curl", ["-sS", "-m", "2", url + "/v3/kv/range", "-d", #"{"key":"Zm9v"}"#], timeout: 10)
        #expect(waited.stderr.contains("Operation timed out"), "\(waited)")
        // A watch ending frees its stream.
        let leaving = watches.removeLast()
        kill(leaving.processIdentifier, SIGKILL)
        leaving.waitUntilExit()
        usleep(500_000)
        #expect(try scrape(url + "/v3/kv/range", extra: ["-d", #"{"key":"Zm9v"}"#]).contains("\"revision\":\""))
    }

    @Test func gatewayAndHealthOverClientMutualTLS() throws {
        let server = ServerProcess(name: "gw-tls", clientScheme: "https", etcdctlFlags: PKI.etcdctlFlags(),
                                   extraArguments: ["--cert-file", PKI.path("member.pem"), "--key-file", PKI.path("member-key.pem"),
                                                    "--trusted-ca-file", PKI.path("ca.pem"), "--client-cert-auth"])
        try server.start()
        defer { server.stop() }
        let base = "https://127.0.0.1:\(server.clientPort)"
        // curl negotiates HTTP/2 by ALPN: the gateway answers there as on HTTP/1.1.
        for version in ["--http2", "--http1.1"] {
            let put = try PKI.curl(base + "/v3/kv/put", extra: [version, "-d", #"{"key":"Zm9v","value":"YmFy"}"#])
            #expect(put.stdout.contains("\"revision\":\""), "\(put)")
            let range = try PKI.curl(base + "/v3beta/kv/range", extra: [version, "-d", #"{"key":"Zm9v"}"#])
            #expect(range.stdout.contains("\"value\":\"YmFy\""), "\(range)")
            let watch = try PKI.curl(base + "/v3/watch", extra: [version, "-N", "-m", "1", "-d",
                                                                  #"{"create_request":{"key":"Zm9v","start_revision":1}}"#])
            #expect(watch.stdout.contains("\"created\":true") && watch.stdout.contains("\"value\":\"YmFy\""), "\(watch)")
            #expect(try PKI.curl(base + "/health", extra: [version]).stdout == "{\"health\":\"true\"}")
        }
        let metrics = try PKI.curl(base + "/metrics", extra: ["--ciphers", "ECDHE-RSA-AES128-GCM-SHA256", "--tls-max", "1.2"])
        #expect(metrics.stdout.contains("etcd_server_version{server_version=\"3.4.23\"} 1"), "\(metrics.stderr)")
    }
}
