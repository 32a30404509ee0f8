import Foundation
import Testing

/// Watch fan-out under load through the Go client: every watcher receives every event, once,
/// in revision order.
@Suite(.serialized) struct WatchLoadTests {
    struct Outcome: Decodable {
        var ok: Bool
        var deliveries: Int
        var failed_watchers: Int
        var first_error: String
    }

    func fanout(watchers: Int, streams: Int, puts: Int) throws {
        // The tool itself gives up on a watcher after ten minutes.
        guard let result = try watchload("fanout", ["-watchers", "\(watchers)", "-streams", "\(streams)", "-puts", "\(puts)"],
                                         timeout: 900) else { return }
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.ok, "\(outcome.first_error) \(result.stderr)")
        #expect(outcome.failed_watchers == 0)
        #expect(outcome.deliveries == watchers * puts)
    }

    @Test func thousandWatchersOnOneStream() throws {
        try fanout(watchers: 1000, streams: 1, puts: 10_000)
    }

    @Test func thousandWatchersOnTenStreams() throws {
        try fanout(watchers: 1000, streams: 10, puts: 10_000)
    }
}
