// raft-simulator: runs the deterministic Raft simulation over a range of seeds.
//
//   raft-simulator --seeds N [--start S] [--members 3|5|both] [--fault-ticks T] [--verbose] [--trace]
//   raft-simulator --seed X [--members 3|5|both] [--verbose]      (reproduce one seed)
//
// Each seed fully determines a run (configuration, faults, workload). With --members both, every
// seed runs twice: once with 3 members and once with 5. A failing run prints its seed and the
// command that replays it; the exit status is non-zero if any run failed.

import RaftSimulation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Arguments {
    var firstSeed: UInt64 = 1
    var seedCount: UInt64 = 100
    var memberCounts: [Int] = [3, 5]
    var faultTicks = 1200
    var verbose = false
    var singleSeed = false
    var printTrace = false
}

/// Writes a line straight to standard output, unbuffered, so progress shows up promptly even
/// when the output goes to a file, and lines never interleave with the crash reporter's.
func emit(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}

func usage() -> Never {
    emit("""
        usage: raft-simulator --seeds N [--start S] [--members 3|5|both] [--fault-ticks T] [--verbose] [--trace]
               raft-simulator --seed X [--members 3|5|both] [--fault-ticks T] [--verbose]
        """)
    exit(2)
}

func parseArguments() -> Arguments {
    var arguments = Arguments()
    var iterator = CommandLine.arguments.dropFirst().makeIterator()
    func value(_ flag: String) -> String {
        guard let value = iterator.next() else {
            emit("\(flag) needs a value")
            usage()
        }
        return value
    }
    while let flag = iterator.next() {
        switch flag {
        case "--seeds":
            guard let count = UInt64(value(flag)) else { usage() }
            arguments.seedCount = count
        case "--start":
            guard let start = UInt64(value(flag)) else { usage() }
            arguments.firstSeed = start
        case "--seed":
            guard let seed = UInt64(value(flag)) else { usage() }
            arguments.firstSeed = seed
            arguments.seedCount = 1
            arguments.singleSeed = true
        case "--members":
            switch value(flag) {
            case "3": arguments.memberCounts = [3]
            case "5": arguments.memberCounts = [5]
            case "both": arguments.memberCounts = [3, 5]
            default: usage()
            }
        case "--fault-ticks":
            guard let ticks = Int(value(flag)), ticks > 0 else { usage() }
            arguments.faultTicks = ticks
        case "--verbose", "-v":
            arguments.verbose = true
        case "--trace":
            arguments.printTrace = true
        case "--help", "-h":
            usage()
        default:
            emit("unknown argument \(flag)")
            usage()
        }
    }
    return arguments
}

func membersFlag(_ count: Int) -> String { String(count) }

// A failed precondition in the core (or the checkers) kills the process; make sure the seed
// that did it is still printed. Before each run a message naming it is prepared; the handler
// writes it (async-signal-safe) and hands the signal on to the previous handler (Swift's
// backtracer).
let crashMessageCapacity = 512
nonisolated(unsafe) let crashMessage = UnsafeMutablePointer<UInt8>.allocate(capacity: crashMessageCapacity)
nonisolated(unsafe) var crashMessageLength = 0
let crashSignals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]
nonisolated(unsafe) let savedActions = UnsafeMutablePointer<sigaction>.allocate(capacity: crashSignals.count)

func prepareCrashMessage(_ text: String) {
    let bytes = Array(text.utf8.prefix(crashMessageCapacity))
    bytes.withUnsafeBufferPointer { crashMessage.update(from: $0.baseAddress!, count: bytes.count) }
    crashMessageLength = bytes.count
}

func installCrashReporter() {
    for (slot, signalNumber) in crashSignals.enumerated() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signalNumber in
            _ = write(2, crashMessage, crashMessageLength)
            // Restore the previous handler; returning re-raises the fault into it.
            for (slot, number) in crashSignals.enumerated() where number == signalNumber {
                sigaction(number, savedActions + slot, nil)
            }
        }
        sigemptyset(&action.sa_mask)
        sigaction(signalNumber, &action, savedActions + slot)
    }
}

let arguments = parseArguments()
installCrashReporter()
let clock = ContinuousClock()
let started = clock.now
var runs = 0
var failures: [(seed: UInt64, members: Int, message: String)] = []
var totalTicks = 0
var worstRecovery = 0
var checkedOperations = 0

let lastSeed = arguments.firstSeed &+ arguments.seedCount &- 1
emit("raft-simulator: seeds \(arguments.firstSeed)...\(lastSeed), members \(arguments.memberCounts.map(String.init).joined(separator: " and ")), \(arguments.faultTicks) fault ticks per run")

var seed = arguments.firstSeed
for _ in 0..<arguments.seedCount {
    for memberCount in arguments.memberCounts {
        var options = SimulationOptions.swarm(seed: seed, memberCount: memberCount, faultTicks: arguments.faultTicks)
        options.detailedTrace = arguments.printTrace
        prepareCrashMessage("\nCRASHED during seed \(seed) with \(memberCount) members; reproduce: raft-simulator --seed \(seed) --members \(memberCount) --fault-ticks \(arguments.faultTicks) --verbose\n")
        let outcome = runSimulation(options)
        runs += 1
        totalTicks += outcome.stats.simulatedTicks
        worstRecovery = max(worstRecovery, outcome.stats.recoveryTicks)
        checkedOperations += outcome.stats.operationsCompleted
        if arguments.verbose {
            let s = outcome.stats
            emit("seed \(seed) members \(memberCount): \(outcome.passed ? "ok" : "FAILED")  [\(options)]")
            emit("  ticks=\(s.simulatedTicks) events=\(s.events) sent=\(s.messagesSent) dropped=\(s.messagesDropped) leaders=\(s.leadersElected) crashes=\(s.crashes) torn=\(s.tornWrites) partitions=\(s.partitions) snapshotsSent=\(s.snapshotsSent) confChangesApplied=\(s.membershipChangesApplied) commit=\(s.highestCommitIndex) ops=\(s.operationsCompleted) (reads \(s.readsCompleted)) unknown=\(s.operationsUnknown) recoveryTicks=\(s.recoveryTicks)")
        }
        if arguments.printTrace && outcome.passed {
            for line in outcome.trace { emit("    \(line)") }
        }
        if let failure = outcome.failure {
            failures.append((seed, memberCount, failure))
            emit("FAILED seed \(seed) with \(memberCount) members: \(failure)")
            if arguments.verbose || arguments.singleSeed {
                emit("  options: \(options)")
                emit("  last events:")
                for line in outcome.trace.suffix(80) { emit("    \(line)") }
            }
            emit("  reproduce: raft-simulator --seed \(seed) --members \(membersFlag(memberCount)) --fault-ticks \(arguments.faultTicks) --verbose")
        }
        if !arguments.verbose && runs % 500 == 0 {
            let elapsed = clock.now - started
            emit("  \(runs) runs, \(failures.count) failures, \(elapsed)")
        }
    }
    seed &+= 1
}

let elapsed = clock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let rate = seconds > 0 ? Double(runs) / seconds : 0
emit("summary: runs=\(runs) seeds=\(arguments.seedCount) failures=\(failures.count) time=\(String(format: seconds, digits: 1))s rate=\(String(format: rate, digits: 1)) runs/s simulatedTicks=\(totalTicks) worstRecoveryTicks=\(worstRecovery) completedOperations=\(checkedOperations)")
if !failures.isEmpty {
    emit("failing seeds:")
    for failure in failures {
        emit("  raft-simulator --seed \(failure.seed) --members \(failure.members) --fault-ticks \(arguments.faultTicks) --verbose")
    }
    exit(1)
}

func String(format value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return "\(rounded)"
}
