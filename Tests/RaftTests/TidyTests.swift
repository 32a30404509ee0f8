import Foundation
import Testing

/// Style enforced as a test: the core stays pure, the simulator stays deterministic.
@Suite("Tidy")
struct TidyTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    private func swiftFiles(in module: String) throws -> [(name: String, text: String)] {
        let root = TidyTests.sources.appendingPathComponent(module)
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var files: [(String, String)] = []
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".swift") else { continue }
            files.append((relative, try String(contentsOfFile: root.appendingPathComponent(relative).path, encoding: .utf8)))
        }
        return files
    }

    @Test("Sources/Raft and ProtoWire, its one dependency, do no I/O: no Foundation, clocks, threads, async or system randomness", arguments: [
        "import Foundation", "import Dispatch", "import Glibc", "import Darwin", "Date()", "UUID()",
        "SystemRandomNumberGenerator", "ContinuousClock", "SuspendingClock", "DispatchQueue", "Thread.",
        " async ", "await ", "Task {",
    ])
    func corePurity(_ banned: String) throws {
        let core = try swiftFiles(in: "Raft")
        let wire = try swiftFiles(in: "ProtoWire")
        #expect(core.count > 10 && wire.count >= 3)
        for file in core + wire {
            #expect(!file.text.contains(banned), "\(file.name) uses \(banned)")
        }
    }

    @Test("Randomness in the core comes only from the injected generator")
    func injectedRandomness() throws {
        for file in try swiftFiles(in: "Raft") {
            for line in file.text.split(separator: "\n") where line.contains(".random(") {
                #expect(line.contains("using: &random"), "\(file.name): \(line)")
            }
        }
    }

    @Test("Sources/RaftSimulation reads no clock and draws only seeded randomness")
    func simulatorDeterminism() throws {
        for file in try swiftFiles(in: "RaftSimulation") {
            for banned in ["import Foundation", "Date()", "ContinuousClock", "SystemRandomNumberGenerator", "getenv"] {
                #expect(!file.text.contains(banned), "\(file.name) uses \(banned)")
            }
            for line in file.text.split(separator: "\n") where line.contains(".random(") || line.contains("randomElement(") || line.contains("shuffled(") {
                #expect(line.contains("using: &"), "\(file.name): \(line)")
            }
        }
    }
}
