import Raft

/// The network between simulated members: every message gets a latency, and may be dropped,
/// duplicated, delayed far enough to be reordered, or cut by a partition. Links are
/// directional, so partitions can be asymmetric.
struct SimulatedNetwork {
    var random: SeededRandom
    var dropRate: Double
    var duplicateRate: Double
    var slowRate: Double
    let baseLatency: ClosedRange<SimTime>
    let slowLatency: ClosedRange<SimTime>
    /// Directional cuts: `blocked[from]` holds the members `from` cannot reach.
    private var blocked: [NodeID: Set<NodeID>] = [:]

    init(random: SeededRandom, options: SimulationOptions) {
        self.random = random
        dropRate = options.dropRate
        duplicateRate = options.duplicateRate
        slowRate = options.slowRate
        baseLatency = options.baseLatencySteps
        slowLatency = options.slowLatencySteps
    }

    func canReach(from: NodeID, to: NodeID) -> Bool {
        !(blocked[from]?.contains(to) ?? false)
    }

    var isPartitioned: Bool { blocked.values.contains { !$0.isEmpty } }

    /// Delivery times for one sent message: none if it is lost, two if duplicated.
    mutating func deliveryDelays() -> [SimTime] {
        if random.chance(dropRate) { return [] }
        var delays = [latency()]
        if random.chance(duplicateRate) { delays.append(latency()) }
        return delays
    }

    private mutating func latency() -> SimTime {
        random.chance(slowRate)
            ? SimTime.random(in: slowLatency, using: &random)
            : SimTime.random(in: baseLatency, using: &random)
    }

    mutating func heal() {
        blocked = [:]
    }

    /// Replaces the current partition with one that cuts `loner` off from `members`.
    mutating func isolate(_ loner: NodeID, among members: [NodeID]) -> String {
        blocked = [:]
        for other in members where other != loner {
            blocked[loner, default: []].insert(other)
            blocked[other, default: []].insert(loner)
        }
        return "isolate \(loner)"
    }

    /// Replaces the current partition with a new random one over `members`.
    mutating func partition(_ members: [NodeID]) -> String {
        blocked = [:]
        guard members.count > 1 else { return "no partition" }
        func cut(_ a: NodeID, _ b: NodeID) { blocked[a, default: []].insert(b) }
        switch Int.random(in: 0..<5, using: &random) {
        case 0:
            // Isolate one member completely.
            let loner = members.randomElement(using: &random)!
            for other in members where other != loner {
                cut(loner, other)
                cut(other, loner)
            }
            return "isolate \(loner)"
        case 1, 2:
            // Split into two groups.
            var sides = members.map { _ in random.chance(0.5) }
            if !sides.contains(true) { sides[0] = true }
            if !sides.contains(false) { sides[sides.count - 1] = false }
            for (i, a) in members.enumerated() {
                for (j, b) in members.enumerated() where sides[i] != sides[j] {
                    cut(a, b)
                }
            }
            let left = members.indices.filter { sides[$0] }.map { members[$0] }
            let right = members.indices.filter { !sides[$0] }.map { members[$0] }
            return "split \(left) | \(right)"
        case 3:
            // A bridge: two members cannot talk to each other, but both reach everyone else.
            let pair = members.shuffled(using: &random).prefix(2)
            cut(pair.first!, pair.last!)
            cut(pair.last!, pair.first!)
            return "bridge: cut \(pair.first!) <-> \(pair.last!)"
        default:
            // Asymmetric: one member can hear but not speak (or speak but not hear).
            let member = members.randomElement(using: &random)!
            let deaf = random.chance(0.5)
            for other in members where other != member {
                if deaf { cut(other, member) } else { cut(member, other) }
            }
            return deaf ? "deafen \(member)" : "mute \(member)"
        }
    }
}
