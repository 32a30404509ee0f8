import Testing
@testable import EtcdServer

/// `--auto-compaction-*` as etcd 3.4 reads and runs them; the schedules are driven with made-up
/// times here, and by a real server in IntegrationTests.
@Suite struct AutoCompactionTests {
    @Test func retentionIsReadAsEtcdReadsIt() throws {
        #expect(try AutoCompactionPolicy.parse(mode: "periodic", retention: "0") == nil)
        #expect(try AutoCompactionPolicy.parse(mode: "periodic", retention: "1") == .periodic(seconds: 3600))
        #expect(try AutoCompactionPolicy.parse(mode: "periodic", retention: "90m") == .periodic(seconds: 5400))
        #expect(try AutoCompactionPolicy.parse(mode: "periodic", retention: "2.5s") == .periodic(seconds: 2.5))
        #expect(try AutoCompactionPolicy.parse(mode: "revision", retention: "1000") == .revision(1000))
        // A duration in revision mode is its nanoseconds, as in etcd.
        #expect(try AutoCompactionPolicy.parse(mode: "revision", retention: "1ms") == .revision(1_000_000))
        #expect(try AutoCompactionPolicy.parse(mode: "", retention: "5") == nil)
        #expect(throws: ConfigError.invalid("unknown auto-compaction-mode \"hourly\"")) {
            try AutoCompactionPolicy.parse(mode: "hourly", retention: "1")
        }
        #expect(throws: ConfigError.invalid("error parsing CompactionRetention: time: invalid duration \"abc\"")) {
            try AutoCompactionPolicy.parse(mode: "periodic", retention: "abc")
        }
        #expect(throws: ConfigError.invalid("error parsing CompactionRetention: time: missing unit in duration \"-5\"")) {
            try AutoCompactionPolicy.parse(mode: "revision", retention: "-5")
        }
    }

    @Test func periodicCompactsToTheRevisionOfAPeriodAgo() {
        // A 10 s period: revisions recorded every second, the first compaction after 10 s.
        var schedule = PeriodicCompactionSchedule(period: 10, now: 0)
        #expect(schedule.retryInterval == 1)
        var compacted: [(at: Int, revision: Int64)] = []
        schedule.record(100)
        for second in 1...35 {
            if let revision = schedule.due(now: Double(second)) {
                compacted.append((second, revision))
                schedule.succeeded(now: Double(second))
            }
            schedule.record(100 + Int64(second) * 10)  // ten writes a second
        }
        #expect(compacted.map(\.at) == [10, 20, 30])
        // etcd keeps period/interval + 1 recordings: at 10 s the oldest is the one at 0 s, at
        // 20 s the one at 9 s.
        #expect(compacted.map(\.revision) == [100, 190, 290])
    }

    @Test func longPeriodsCompactHourly() {
        // 24 h of history, compacted every hour once the first day has passed.
        var schedule = PeriodicCompactionSchedule(period: 24 * 3600, now: 0)
        #expect(schedule.retryInterval == 360)
        var times: [Double] = []
        var now = 0.0
        schedule.record(1)
        while now < 27 * 3600 {
            now += schedule.retryInterval
            if let revision = schedule.due(now: now) {
                times.append(now)
                let expected = Int64(max(0, now - 24 * 3600 - 360) / 360) + 1
                #expect(revision == expected)
                schedule.succeeded(now: now)
            }
            schedule.record(Int64(now / 360) + 1)
        }
        let hours: [Double] = [24, 25, 26, 27].map { $0 * 3600 }
        #expect(times == hours)
    }

    @Test func revisionModeKeepsTheLastRevisions() {
        var schedule = RevisionCompactionSchedule(retention: 10)
        #expect(schedule.due(current: 5) == nil)
        #expect(schedule.due(current: 10) == nil)
        #expect(schedule.due(current: 100) == 90)
        schedule.succeeded(90)
        #expect(schedule.due(current: 100) == nil)
        #expect(schedule.due(current: 101) == 91)
    }

    @Test func durationsPrintAsGoPrintsThem() {
        #expect(goDuration(3600) == "1h0m0s")
        #expect(goDuration(90) == "1m30s")
        #expect(goDuration(2) == "2s")
        #expect(goDuration(1.5) == "1.5s")
        #expect(goDuration(0.3) == "300ms")
        #expect(goDuration(0.0000015) == "1.5µs")
        #expect(goDuration(0) == "0s")
        #expect(goDuration(300) == "5m0s")
    }
}
