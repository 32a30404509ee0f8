import Foundation
import Synchronization
import Testing

/// kill -9 at arbitrary moments during concurrent writes loses no acknowledged write.
@Suite(.serialized) struct CrashTests {
    static let writer = Binaries.script("crash_writer.py")

    @Test func killNineDuringConcurrentWritesLosesNoAcknowledgedWrite() throws {
        let server = ServerProcess(name: "crash")
        var acknowledged: [String] = []
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<4 {
            try server.start()
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: Binaries.python)
            writer.arguments = [CrashTests.writer, server.endpoint, "crash/\(cycle)", "8"]
            let output = Pipe()
            writer.standardOutput = output
            writer.standardError = FileHandle.nullDevice
            try writer.run()
            // Let writes flow, then kill the server at a random moment.
            usleep(UInt32.random(in: 800_000...2_000_000, using: &generator))
            server.kill9()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            writer.waitUntilExit()
            let keys = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            #expect(keys.count > 50, "cycle \(cycle): the writer acknowledged only \(keys.count) puts")
            acknowledged += keys
        }
        try server.start()
        defer { server.stop() }
        let listing = try etcdctl(server, "get", "crash/", "--prefix", "--keys-only")
        let present = Set(listing.stdout.split(separator: "\n").map(String.init))
        let lost = acknowledged.filter { !present.contains($0) }
        #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged writes lost, e.g. \(lost.prefix(5))")
        // The store still works after the crashes.
        #expect(try etcdctl(server, "put", "after-crash", "ok").stdout == "OK\n")
    }

    /// A 3-member cluster under concurrent writes through every member while random members,
    /// the leader included, are killed with SIGKILL and restarted: no acknowledged write is
    /// lost, and at the end every member holds the same keys at the same revision.
    @Test func killNineOfRandomMembersLosesNoAcknowledgedWrite() throws {
        let cluster = TestCluster(size: 3)
        try cluster.start()
        defer { cluster.stop() }
        let seconds = 18.0
        var writers: [(Process, Pipe)] = []
        for (index, member) in cluster.members.enumerated() {
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: Binaries.python)
            writer.arguments = [Binaries.script("cluster_writer.py"), member.endpoint, "chaos/\(index)", "4", "\(seconds)"]
            let output = Pipe()
            writer.standardOutput = output
            writer.standardError = FileHandle.nullDevice
            try writer.run()
            writers.append((writer, output))
        }
        // Read the writers' output as it comes, so their pipes never fill.
        let collected = Mutex<[String]>([])
        let readers = DispatchGroup()
        for (_, pipe) in writers {
            DispatchQueue.global().async(group: readers) {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                let keys = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
                collected.withLock { (all: inout [String]) in all += keys }
            }
        }
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        var killedLeader = false
        let end = Date().addingTimeInterval(seconds - 3)
        while Date() < end {
            usleep(UInt32.random(in: 500_000...1_500_000, using: &generator))
            // Every other time, the leader.
            let leader = cluster.waitForLeader(timeout: 5)
            let victim = (kills % 2 == 0 ? leader : nil) ?? Int.random(in: 0..<3, using: &generator)
            killedLeader = killedLeader || victim == leader
            cluster.members[victim].kill9()
            kills += 1
            usleep(UInt32.random(in: 200_000...1_000_000, using: &generator))
            try cluster.members[victim].start(timeout: 30)
        }
        for (writer, _) in writers { writer.waitUntilExit() }
        readers.wait()
        let acknowledged = collected.withLock { $0 }
        #expect(kills >= 4)
        #expect(killedLeader)
        #expect(acknowledged.count > 100, "only \(acknowledged.count) writes were acknowledged")

        #expect(cluster.waitForLeader() != nil)
        #expect(cluster.waitForConvergence(timeout: 30))
        var listings: [String] = []
        for member in cluster.members {
            let listing = try cluster.etcdctl(["get", "chaos/", "--prefix", "--keys-only", "--consistency=s"],
                                              endpoints: member.endpoint)
            #expect(listing.status == 0)
            listings.append(listing.stdout)
            let present = Set(listing.stdout.split(separator: "\n").map(String.init))
            let lost = acknowledged.filter { !present.contains($0) }
            #expect(lost.isEmpty, "\(member.name): \(lost.count) of \(acknowledged.count) acknowledged writes lost, e.g. \(lost.prefix(5))")
        }
        #expect(Set(listings).count == 1, "every member holds the same keys")
        let revisions = try cluster.members.map { member in
            let result = try cluster.etcdctl(["get", "chaos/", "--prefix", "--limit=1", "-w", "json", "--consistency=s"],
                                             endpoints: member.endpoint)
            return result.stdout.range(of: "\"revision\":[0-9]+", options: .regularExpression).map { String(result.stdout[$0]) }
        }
        #expect(revisions.allSatisfy { $0 != nil } && Set(revisions).count == 1, "every member at the same revision: \(revisions)")
    }
}
