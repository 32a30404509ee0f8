import Foundation
import RaftSimulation
import Testing

/// A concurrent history of puts and linearizable gets, recorded by the Go client against a real
/// 3-member cluster of ours while random members (the leader among them) are killed with
/// SIGKILL and restarted, checked with the same linearizability checker the Raft simulator
/// uses (key by key; a put whose client gave up may take effect at any later time or never).
@Suite(.serialized) struct LinearizabilityTests {
    struct Record: Decodable {
        var client: UInt64
        var op: String
        var key: String
        var value: String?
        var call: UInt64
        var `return`: UInt64?
        var status: String
    }

    @Test func historyUnderKillsIsLinearizable() throws {
        guard let tool = Binaries.goTool("history") else {
            Issue.record("history not built; run `make test` (GO_TOOLS)")
            return
        }
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let historyPath = temporaryDirectory("history") + "/history.jsonl"
        let seconds = 16
        let recorder = ConcurrentResult {
            try run(tool, ["-endpoints", cluster.members.map(\.endpoint).joined(separator: ","), "-clients", "8", "-keys", "4",
                           "-duration", "\(seconds)s", "-out", historyPath], timeout: TimeInterval(seconds + 60))
        }
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        let end = Date().addingTimeInterval(TimeInterval(seconds - 4))
        while Date() < end {
            usleep(UInt32.random(in: 1_500_000...2_500_000, using: &generator))
            let leader = cluster.waitForLeader(timeout: 5)
            let victim = (kills % 2 == 0 ? leader : nil) ?? Int.random(in: 0..<3, using: &generator)
            cluster.members[victim].kill9()
            kills += 1
            usleep(UInt32.random(in: 500_000...1_500_000, using: &generator))
            try cluster.members[victim].start(timeout: 30)
        }
        let result = recorder.wait()
        #expect(result.status == 0, "\(result)")
        #expect(kills >= 3)

        let lines = try String(contentsOfFile: historyPath, encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
        #expect(records.count > 1000, "only \(records.count) operations recorded")
        #expect(records.filter { $0.status == "ok" && $0.op == "get" }.count > 300)
        #expect(records.filter { $0.status == "ok" && $0.op == "put" }.count > 300)

        // Values are unique strings; the model takes numbers.
        var numbers: [String: UInt64] = [:]
        func number(_ value: String) -> UInt64 {
            if let known = numbers[value] { return known }
            let next = UInt64(numbers.count + 1)
            numbers[value] = next
            return next
        }
        var byKey: [String: [HistoryOperation<KVInput, KVOutput>]] = [:]
        for record in records where record.status != "failed" {
            let operation: HistoryOperation<KVInput, KVOutput>
            if record.op == "put", let value = record.value {
                operation = HistoryOperation(clientID: record.client, input: .put(number(value)), output: .written,
                                             call: record.call, returned: record.status == "ok" ? record.return : nil)
            } else if record.op == "get", record.status == "ok" {
                operation = HistoryOperation(clientID: record.client, input: .get, output: .read(record.value.map(number)),
                                             call: record.call, returned: record.return)
            } else {
                continue
            }
            byKey[record.key, default: []].append(operation)
        }
        #expect(byKey.count == 4)
        for (key, operations) in byKey.sorted(by: { $0.key < $1.key }) {
            let verdict = LinearizabilityChecker.check(KVRegisterModel.self, operations)
            #expect(verdict == .linearizable, "\(key): \(verdict) over \(operations.count) operations")
        }
    }
}
