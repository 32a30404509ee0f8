import Foundation
import Testing

/// A huge response on a connection shared by many requests starves none of them: small gets on
/// the same connection complete while a 50 MB range is still being delivered.
@Suite struct SharedConnectionTests {
    static let script = Binaries.script("shared_connection.py")

    struct Outcome: Decodable {
        var big_done: Double
        var big_count: Int
        var small_done: [Double]
        var small_max_latency: Double
    }

    @Test func smallRequestsFinishWhileAHugeRangeStreams() throws {
        let server = ServerProcess(name: "shared")
        try server.start()
        defer { server.stop() }
        let result = try run(Binaries.python, [SharedConnectionTests.script, server.endpoint])
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.big_count == 50)
        // Small gets kept completing through the second half of the large range's life, when
        // its bytes are on the wire: a connection blocked behind them would complete none.
        let lateHalf = outcome.small_done.filter { $0 > outcome.big_done / 2 && $0 < outcome.big_done }
        #expect(lateHalf.count >= 5, "small gets done at \(outcome.small_done), big range at \(outcome.big_done)")
    }
}
