import Raft

/// Everything that shapes one simulated run. `swarm(seed:memberCount:)` derives it from the
/// seed (swarm testing: the configuration varies, not only the inputs), so seed and member
/// count alone reproduce a run.
public struct SimulationOptions: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var memberCount: Int

    // Time.
    /// Simulation steps per Raft tick. Message latencies are in steps, so several round trips
    /// fit in a heartbeat interval, as on a real network.
    public var stepsPerTick: SimTime = 10
    /// How long faults are injected, in ticks.
    public var faultTicks: Int
    /// After the faults heal, the cluster must elect a leader and commit a new entry on every
    /// member within this many ticks.
    public var livenessBoundTicks: Int = 600

    // Raft.
    public var electionTimeoutTicks = 10
    public var heartbeatIntervalTicks = 1
    public var preVote: Bool
    public var checkQuorum: Bool
    public var maxSizePerMessage: UInt64
    public var maxInflightMessages: Int
    /// Each member snapshots (and compacts) after this many applied entries.
    public var snapshotInterval: UInt64
    /// Entries kept behind a snapshot when compacting.
    public var entriesKeptAfterCompaction: UInt64

    // Network faults.
    public var dropRate: Double
    public var duplicateRate: Double
    /// Share of messages delayed far beyond the usual latency, which reorders them.
    public var slowRate: Double
    public var baseLatencySteps: ClosedRange<SimTime> = 1...3
    public var slowLatencySteps: ClosedRange<SimTime> = 5...150
    /// Mean ticks between partition changes.
    public var partitionEveryTicks: Int

    // Process and disk faults.
    /// Mean ticks between crashes (of any one member at random).
    public var crashEveryTicks: Int
    public var downtimeTicks: ClosedRange<Int> = 1...150
    /// Steps a persist takes; inputs keep arriving meanwhile (the node accepts them between
    /// `ready()` and `advance()`).
    public var diskLatencySteps: ClosedRange<SimTime>
    /// Chance that a crash strikes in the middle of a persist (a torn write: a prefix of the
    /// entries survives, the hard state does not) rather than between events.
    public var tornWriteRate: Double
    /// Per tick of member clock: the extra steps it may drift (clock skew).
    public var clockDriftSteps: SimTime
    /// Chance that a member that just became leader is struck (crashed, or cut off from
    /// everyone) within a few steps: the moments right after an election are where the subtle
    /// bugs live (an inherited tail not yet covered by the new term's first entry).
    public var newLeaderFaultRate: Double
    /// A storm run: faults far denser than usual (see `swarm`).
    public var storm = false

    // Workload.
    public var clientCount: Int
    public var keyCount: UInt64
    /// Ticks a client waits for an answer before giving up (outcome unknown).
    public var clientTimeoutTicks: Int = 40
    public var getRatio: Double
    /// Add learners, promote them, remove members, one change at a time.
    public var membershipChanges: Bool

    /// Record every role change in the trace, not just new leaders (for reading one seed).
    public var detailedTrace = false

    public init(seed: UInt64, memberCount: Int, faultTicks: Int = 1200) {
        self.seed = seed
        self.memberCount = memberCount
        self.faultTicks = faultTicks
        preVote = true
        checkQuorum = true
        maxSizePerMessage = 1 << 20
        maxInflightMessages = 256
        snapshotInterval = 50
        entriesKeptAfterCompaction = 5
        dropRate = 0.05
        duplicateRate = 0.02
        slowRate = 0.05
        partitionEveryTicks = 150
        crashEveryTicks = 200
        diskLatencySteps = 0...2
        tornWriteRate = 0.1
        clockDriftSteps = 1
        newLeaderFaultRate = 0.1
        clientCount = 3
        keyCount = 3
        getRatio = 0.5
        membershipChanges = false
    }

    /// A configuration drawn from the seed. Every fault kind is on in every run; the seed picks
    /// how hard each one hits.
    public static func swarm(seed: UInt64, memberCount: Int, faultTicks: Int = 1200) -> SimulationOptions {
        var random = SeededRandom(seed: seed ^ 0x5157_4152_4D00_0000)
        var options = SimulationOptions(seed: seed, memberCount: memberCount, faultTicks: faultTicks)
        options.preVote = random.chance(0.75)
        options.checkQuorum = random.chance(0.75)
        options.maxSizePerMessage = [64, 512, 1 << 20].randomElement(using: &random)!
        options.maxInflightMessages = [1, 4, 256].randomElement(using: &random)!
        options.snapshotInterval = [8, 25, 100, 400].randomElement(using: &random)!
        options.entriesKeptAfterCompaction = [0, 3, 20].randomElement(using: &random)!
        options.dropRate = [0.005, 0.02, 0.05, 0.15].randomElement(using: &random)!
        options.duplicateRate = [0.005, 0.02, 0.08].randomElement(using: &random)!
        options.slowRate = [0.01, 0.05, 0.15].randomElement(using: &random)!
        options.partitionEveryTicks = [40, 120, 400].randomElement(using: &random)!
        options.crashEveryTicks = [40, 150, 500].randomElement(using: &random)!
        options.diskLatencySteps = [0...0, 0...2, 1...6].randomElement(using: &random)!
        options.tornWriteRate = [0.05, 0.3].randomElement(using: &random)!
        options.clockDriftSteps = [0, 1, 3].randomElement(using: &random)!
        options.newLeaderFaultRate = [0.02, 0.1, 0.3].randomElement(using: &random)!
        options.clientCount = Int.random(in: 1...5, using: &random)
        options.keyCount = UInt64.random(in: 1...4, using: &random)
        options.getRatio = [0.2, 0.5, 0.8].randomElement(using: &random)!
        options.membershipChanges = random.chance(0.5)
        // Half the runs are storms: leadership churns constantly and logs diverge, with one
        // entry per append so acknowledgements cover inherited tails piecemeal. Rare interleavings
        // (Figure 8 of the paper, say) need this density of faults to show up at all.
        options.storm = random.chance(0.5)
        if options.storm {
            options.maxSizePerMessage = [1, 64].randomElement(using: &random)!
            options.partitionEveryTicks = [10, 20].randomElement(using: &random)!
            options.crashEveryTicks = [15, 30].randomElement(using: &random)!
            // Members bounce back quickly: churn, not a dead cluster.
            options.downtimeTicks = 1...20
            options.newLeaderFaultRate = [0.3, 0.6].randomElement(using: &random)!
            options.dropRate = [0.1, 0.2].randomElement(using: &random)!
            // Keep entries flowing through the churn: many writers that give up quickly.
            options.clientCount = Int.random(in: 4...8, using: &random)
            options.clientTimeoutTicks = 8
            options.getRatio = 0.2
        }
        return options
    }

    public var description: String {
        """
        seed=\(seed) members=\(memberCount) faultTicks=\(faultTicks) preVote=\(preVote) \
        checkQuorum=\(checkQuorum) maxMsg=\(maxSizePerMessage) inflight=\(maxInflightMessages) \
        snapEvery=\(snapshotInterval) keep=\(entriesKeptAfterCompaction) drop=\(dropRate) \
        dup=\(duplicateRate) slow=\(slowRate) partitionEvery=\(partitionEveryTicks) \
        crashEvery=\(crashEveryTicks) disk=\(diskLatencySteps) torn=\(tornWriteRate) \
        drift=\(clockDriftSteps) newLeaderFaults=\(newLeaderFaultRate) clients=\(clientCount) keys=\(keyCount) gets=\(getRatio) \
        membership=\(membershipChanges) storm=\(storm)
        """
    }
}
