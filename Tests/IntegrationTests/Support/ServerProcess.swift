import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Paths of the binaries under test, from the environment `make test` sets.
enum Binaries {
    static var etcd: String {
        if let path = ProcessInfo.processInfo.environment["ETCD_BINARY"] { return path }
        // Running `swift test` directly: the debug build next to the test bundle.
        let candidates = [".build/debug/etcd", "../../.build/debug/etcd"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? ".build/debug/etcd"
    }

    static var referenceEtcd: String? {
        let candidates = [ProcessInfo.processInfo.environment["REFERENCE_ETCD"], ".build/reference/usr/bin/etcd", "/usr/bin/etcd"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The optimized build, for load tests (falls back to the debug build).
    static var releaseEtcd: String { ProcessInfo.processInfo.environment["ETCD_RELEASE_BINARY"] ?? etcd }

    /// The Go-client tools from bench/ and Scripts/rawproto (built by `make test`).
    static func goTool(_ name: String) -> String? {
        let dirs = [ProcessInfo.processInfo.environment["GO_TOOLS"], ".build/go-tools"].compactMap { $0 }
        return dirs.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let etcdctl = "/usr/bin/etcdctl"
    static let python = "/usr/bin/python3"

    /// A test script in Tests/IntegrationTests/Scripts.
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/\(name)").path
    }
}

/// Free TCP ports for test servers, from a range below the kernel's ephemeral ports (32768
/// and up on Linux): a port the kernel may hand to any client socket can be taken between the
/// moment a test picks it and the moment its server binds it, which with clusters of servers
/// happens often enough to fail runs. Servers listen for peers on `p + 1`, so no port or its
/// neighbour is handed out twice in one test run (suites run in parallel).
enum Ports {
    private static let handedOut = Mutex<Set<Int>>([])
    static let range = 20000..<30000
    /// Where `block` takes contiguous ranges (for tools that derive their ports from a base).
    static let blockRange = 30000..<32000

    static func free(_ count: Int) -> [Int] {
        handedOut.withLock { taken in
            var ports: [Int] = []
            while ports.count < count {
                let port = Int.random(in: range) & ~1
                let neighbours = [port - 1, port, port + 1, port + 2]
                guard !neighbours.contains(where: taken.contains), isFree(port), isFree(port + 1) else { continue }
                taken.formUnion([port, port + 1])
                ports.append(port)
            }
            return ports
        }
    }

    /// A base port such that `base ..< base + size` are all free and handed to nobody else.
    static func block(_ size: Int) -> Int {
        handedOut.withLock { taken in
            while true {
                let base = Int.random(in: blockRange.lowerBound..<(blockRange.upperBound - size))
                let ports = base..<(base + size)
                guard !ports.contains(where: taken.contains), ports.allSatisfy(isFree) else { continue }
                taken.formUnion(ports)
                return base
            }
        }
    }

    /// Whether nothing listens on (or is bound to) `port` on loopback right now.
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A fresh directory under this test run's own root, which is removed when the run exits:
/// data dirs hold 64 MB WAL files, and a leaking run fills a disk.
func temporaryDirectory(_ label: String) -> String {
    var template = Array("\(TestRunRoot.path)/\(label)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    return String(cString: made)
}

enum TestRunRoot {
    static let path: String = {
        var template = Array("/tmp/etcd-it-run-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        atexit { try? FileManager.default.removeItem(atPath: TestRunRoot.path) }
        return String(cString: made)
    }()
}

/// A server process (ours or the reference) on loopback, with its stderr captured to a file.
final class ServerProcess: @unchecked Sendable {
    var binary: String
    let dataDir: String
    let clientPort: Int
    let peerPort: Int
    let name: String
    var extraArguments: [String]
    /// Peer URL advertised (and so hashed into the member ID); fixed when two servers must
    /// report the same IDs.
    let advertisedPeerURL: String
    /// `--initial-cluster`; this member alone unless it belongs to a cluster.
    var initialCluster: String
    var initialClusterState = "new"
    /// "http" or "https", for the client and the peer URLs.
    let clientScheme: String
    let peerScheme: String
    /// What etcdctl needs to reach this server (TLS credentials).
    var etcdctlFlags: [String]
    private(set) var process: Process?
    let logPath: String
    /// Where in the log the current start began.
    private var logOffset = 0
    /// Temporary directories this server made (its log, and its data dir unless given one),
    /// removed with it: test runs leave no 64 MB WAL files behind.
    private let ownedDirectories: [String]

    /// `clientPort` (peers on the next port) is picked free unless given: a differential test
    /// runs the reference and ours on the same ports, so both report the same IDs.
    init(binary: String = Binaries.etcd, name: String = "default", dataDir: String? = nil,
         advertisedPeerURL: String? = nil, clientPort: Int? = nil, clientScheme: String = "http",
         peerScheme: String = "http", etcdctlFlags: [String] = [], extraArguments: [String] = []) {
        let ports = clientPort.map { [$0] } ?? Ports.free(1)
        self.binary = binary
        self.name = name
        self.clientPort = ports[0]
        self.peerPort = ports[0] + 1
        self.clientScheme = clientScheme
        self.peerScheme = peerScheme
        self.etcdctlFlags = etcdctlFlags
        let dataParent = dataDir == nil ? temporaryDirectory("data") : nil
        self.dataDir = dataDir ?? (dataParent ?? "") + "/\(name).etcd"
        let peerURL = advertisedPeerURL ?? "\(peerScheme)://127.0.0.1:\(ports[0] + 1)"
        self.advertisedPeerURL = peerURL
        self.initialCluster = "\(name)=\(peerURL)"
        self.extraArguments = extraArguments
        let logDirectory = temporaryDirectory("log")
        self.logPath = logDirectory + "/server.log"
        self.ownedDirectories = [logDirectory] + (dataParent.map { [$0] } ?? [])
    }

    var endpoint: String { "127.0.0.1:\(clientPort)" }
    var clientURL: String { "\(clientScheme)://127.0.0.1:\(clientPort)" }

    var arguments: [String] {
        ["--name", name, "--data-dir", dataDir,
         "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
         "--listen-peer-urls", "\(peerScheme)://127.0.0.1:\(peerPort)", "--initial-advertise-peer-urls", advertisedPeerURL,
         "--initial-cluster", initialCluster, "--initial-cluster-state", initialClusterState,
         "--logger=zap"] + extraArguments
    }

    /// Starts the server and waits until it logs that it serves clients.
    func start(timeout: TimeInterval = 20) throws {
        try launch()
        try waitReady(timeout: timeout)
    }

    /// Starts the process without waiting (the members of a new cluster wait for each other).
    func launch() throws {
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        // Look for the ready lines only in what this start writes.
        logOffset = Int(log.seekToEndOfFile())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process
    }

    /// Waits until the started process logs that it serves clients (it published itself and
    /// knows the cluster version).
    func waitReady(timeout: TimeInterval = 20) throws {
        guard let process else { throw ServerError.exited(log: "not started") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = logSinceStart
            if text.contains("enabled capabilities for version") && text.contains("published") {
                return
            }
            if !process.isRunning { throw ServerError.exited(log: text) }
            usleep(20_000)
        }
        throw ServerError.timeout(log: logSinceStart)
    }

    /// What the current start has logged.
    var logSinceStart: String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").utf8.dropFirst(logOffset)) ?? ""
    }

    var isRunning: Bool { process?.isRunning ?? false }

    /// SIGTERM, then waits; returns the termination status as a shell reports it.
    @discardableResult
    func stop() -> Int32 {
        guard let process, process.isRunning else { return 0 }
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            // A server that ignores SIGTERM fails the test that checks the status, not the run.
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        self.process = nil
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGKILL: the process gets no chance to flush anything.
    func kill9() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        for directory in ownedDirectories { try? FileManager.default.removeItem(atPath: directory) }
    }

    enum ServerError: Error, CustomStringConvertible {
        case exited(log: String)
        case timeout(log: String)
        var description: String {
            switch self {
            case .exited(let log): return "server exited during start-up:\n\(log)"
            case .timeout(let log): return "server did not become ready:\n\(log)"
            }
        }
    }
}

struct CommandResult: Equatable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

    /// The last line of stdout decoded as JSON: the summary the test scripts and tools print.
    func summary<T: Decodable>(as type: T.Type) throws -> T {
        let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONDecoder().decode(type, from: Data(line.utf8))
    }
}

/// Runs a program to completion, feeding `stdin`. With a timeout, the program is interrupted
/// (SIGINT, then SIGKILL) after that many seconds; long-running commands like `etcdctl watch`
/// are collected that way.
func run(_ executable: String, _ arguments: [String], stdin: String? = nil,
         environment: [String: String]? = nil, timeout: TimeInterval? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    // An interactive command reads until end of input: keep stdin open until the timeout.
    if timeout == nil || stdin == nil { try? input.fileHandleForWriting.close() }
    if let timeout {
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            kill(pid, SIGINT)
            // Close stdin only after the interrupt has had its effect, so that an interactive
            // command ends by the signal, never by end of input (which exits differently).
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                try? input.fileHandleForWriting.close()
                kill(pid, SIGKILL)
            }
        }
    }
    // Read both pipes concurrently so neither fills up.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return CommandResult(status: status, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// The stock etcdctl (v3 API) against one endpoint. Commands that run until stopped (watch,
/// keep-alive) pass `interruptAfter`: they get no command timeout and are interrupted then.
func etcdctl(_ server: ServerProcess, _ arguments: [String], stdin: String? = nil,
             interruptAfter: TimeInterval? = nil) throws -> CommandResult {
    var environment = ProcessInfo.processInfo.environment
    environment["ETCDCTL_API"] = "3"
    let commandTimeout = interruptAfter == nil ? ["--command-timeout=10s"] : []
    return try run(Binaries.etcdctl, ["--endpoints=\(server.endpoint)"] + server.etcdctlFlags + commandTimeout + arguments,
                   stdin: stdin, environment: environment, timeout: interruptAfter)
}

/// Starts the stock etcdctl against `server` without waiting for it (its output discarded):
/// a command a test interrupts by killing the server.
func launchEtcdctl(_ server: ServerProcess, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binaries.etcdctl)
    process.arguments = ["--endpoints=\(server.endpoint)"] + arguments
    process.environment = ["ETCDCTL_API": "3"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// A JSON gateway call (POST `path` with `body`), with an auth token in `Authorization` when
/// given; the response body.
func gatewayPost(_ server: ServerProcess, _ path: String, _ body: String, token: String? = nil) throws -> String {
    let header = token.map { ["-H", "Authorization: \($0)"] } ?? []
    return try run("/usr/bin/curl", ["-s", "-X", "POST", "-d", body] + header + ["http://\(server.endpoint)\(path)"],
                   timeout: 30).stdout
}

func etcdctl(_ server: ServerProcess, _ arguments: String...) throws -> CommandResult {
    try etcdctl(server, arguments)
}
