import Foundation
import Testing

/// A watcher whose client stops reading blocks neither writes nor other watchers, its memory
/// stays bounded, and once it reads again it gets every event, in order.
@Suite struct StalledWatcherTests {
    static let script = Binaries.script("stalled_watcher.py")

    struct Outcome: Decodable {
        var write_seconds: Double
        var live_events: Int
        var rss_growth_kib: Int
        var stalled_events: Int
        var stalled_in_order: Bool
    }

    @Test func stalledWatcherIsIsolated() throws {
        let server = ServerProcess(binary: Binaries.releaseEtcd, name: "stalled")
        try server.start()
        defer { server.stop() }
        guard let pid = server.process?.processIdentifier else { return }
        let result = try run(Binaries.python, [StalledWatcherTests.script, server.endpoint, "\(pid)"])
        #expect(result.status == 0, "\(result.stderr)")
        let outcome = try result.summary(as: Outcome.self)
        #expect(outcome.live_events == 500, "the reading watcher got every event")
        #expect(outcome.stalled_events == 500)
        #expect(outcome.stalled_in_order)
        // 50 MB went by the stalled watcher; the server buffered only about a backlog's worth.
        #expect(outcome.rss_growth_kib < 40 * 1024, "RSS grew \(outcome.rss_growth_kib) KiB")
    }
}
