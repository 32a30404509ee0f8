import Foundation
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
}
