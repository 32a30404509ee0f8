import Foundation
import Testing

/// A cluster of server processes on loopback: ours, the reference etcd, or a mix, started with
/// the same flags etcd's own docs use (`--initial-cluster`, a token, state new).
final class TestCluster: @unchecked Sendable {
    private(set) var members: [ServerProcess]
    let token: String
    let clientScheme: String
    let peerScheme: String
    /// TLS credentials etcdctl presents.
    let etcdctlFlags: [String]
    /// Flags every member gets (added members too).
    let memberArguments: [String]

    /// `binaries[i]` runs member `n<i+1>`, on `clientPorts[i]` when given (peers one above).
    init(binaries: [String], token: String = "tok", namePrefix: String = "n", clientPorts: [Int]? = nil,
         clientScheme: String = "http", peerScheme: String = "http", etcdctlFlags: [String] = [],
         extraArguments: [String] = []) {
        self.token = token
        self.clientScheme = clientScheme
        self.peerScheme = peerScheme
        self.etcdctlFlags = etcdctlFlags
        self.memberArguments = extraArguments
        var members: [ServerProcess] = []
        for (index, binary) in binaries.enumerated() {
            members.append(ServerProcess(binary: binary, name: "\(namePrefix)\(index + 1)", clientPort: clientPorts?[index],
                                         clientScheme: clientScheme, peerScheme: peerScheme, etcdctlFlags: etcdctlFlags,
                                         extraArguments: ["--initial-cluster-token", token] + memberArguments + extraArguments))
        }
        let initialCluster = members.map { "\($0.name)=\($0.advertisedPeerURL)" }.joined(separator: ",")
        for member in members { member.initialCluster = initialCluster }
        self.members = members
    }

    convenience init(size: Int, binary: String = Binaries.etcd, extraArguments: [String] = []) {
        self.init(binaries: Array(repeating: binary, count: size), extraArguments: extraArguments)
    }

    /// Starts every member (they wait for each other) and waits until all serve.
    func start(timeout: TimeInterval = 30) throws {
        for member in members { try member.launch() }
        for member in members { try member.waitReady(timeout: timeout) }
    }

    func stop() {
        for member in members { member.stop() }
    }

    deinit {
        for member in members { member.kill9() }
    }

    /// Every member's endpoint, comma-separated (etcdctl's --endpoints).
    var endpoints: String { members.filter(\.isRunning).map(\.endpoint).joined(separator: ",") }

    /// The stock etcdctl against `endpoints` (all running members by default).
    func etcdctl(_ arguments: [String], endpoints: String? = nil, stdin: String? = nil,
                 commandTimeout: String = "10s") throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = "3"
        return try run(Binaries.etcdctl, ["--endpoints=\(endpoints ?? self.endpoints)", "--command-timeout=\(commandTimeout)"]
                       + etcdctlFlags + arguments, stdin: stdin, environment: environment, timeout: 60)
    }

    func etcdctl(_ arguments: String..., on member: Int? = nil) throws -> CommandResult {
        try etcdctl(arguments, endpoints: member.map { members[$0].endpoint })
    }

    struct Status: Decodable {
        struct Header: Decodable {
            var member_id: UInt64
            var raft_term: UInt64
        }
        struct Inner: Decodable {
            var header: Header
            var leader: UInt64
            var raftIndex: UInt64
            var raftTerm: UInt64
            var raftAppliedIndex: UInt64?
            var isLearner: Bool?
        }
        var Endpoint: String
        var Status: Inner
    }

    /// `endpoint status -w json` of one member, nil if it does not answer.
    func status(_ member: Int) -> Status.Inner? {
        guard members[member].isRunning,
              let result = try? etcdctl(["endpoint", "status", "-w", "json"], endpoints: members[member].endpoint,
                                        commandTimeout: "3s"),
              result.status == 0,
              let statuses = try? JSONDecoder().decode([Status].self, from: Data(result.stdout.utf8)) else { return nil }
        return statuses.first?.Status
    }

    /// Member IDs, by position.
    func memberID(_ member: Int) -> UInt64? { status(member)?.header.member_id }

    /// The position of the member every running member agrees leads, waiting up to `timeout`.
    func waitForLeader(timeout: TimeInterval = 15, excluding excluded: Set<Int> = []) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let running = members.indices.filter { members[$0].isRunning && !excluded.contains($0) }
            let statuses = running.map { ($0, status($0)) }
            if statuses.allSatisfy({ $0.1 != nil }), let first = statuses.first?.1, first.leader != 0,
               statuses.allSatisfy({ $0.1!.leader == first.leader }),
               let leader = statuses.first(where: { $0.1!.header.member_id == first.leader })?.0 {
                return leader
            }
            usleep(100_000)
        }
        return nil
    }

    /// Waits until every running member has applied the same index (nothing in flight).
    func waitForConvergence(timeout: TimeInterval = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let applied = members.indices.filter { members[$0].isRunning }.map { status($0)?.raftAppliedIndex }
            if !applied.isEmpty, applied.allSatisfy({ $0 != nil }), Set(applied).count == 1 { return true }
            usleep(200_000)
        }
        return false
    }

    /// Adds a member with `member add` through the cluster and returns it, not yet started:
    /// its `--initial-cluster` is the one etcdctl printed, with state "existing".
    func add(name: String, binary: String = Binaries.etcd, learner: Bool = false,
             extraArguments: [String] = []) throws -> (ServerProcess, CommandResult) {
        let member = ServerProcess(binary: binary, name: name, clientScheme: clientScheme, peerScheme: peerScheme,
                                   etcdctlFlags: etcdctlFlags,
                                   extraArguments: ["--initial-cluster-token", token] + memberArguments + extraArguments)
        let result = try etcdctl(["member", "add", name, "--peer-urls=\(member.advertisedPeerURL)"] + (learner ? ["--learner"] : []))
        if let line = result.stdout.split(separator: "\n").first(where: { $0.hasPrefix("ETCD_INITIAL_CLUSTER=") }) {
            member.initialCluster = String(line.dropFirst("ETCD_INITIAL_CLUSTER=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        member.initialClusterState = "existing"
        members.append(member)
        return (member, result)
    }
}
