import Foundation
import Testing

/// Scenario tests: each file in `testdata/` is a script of commands with the expected output
/// (every Ready, message and state the commands produce). Run with `REWRITE=1` to regenerate
/// the expected output after an intended change, then review the diff.
@Suite("Scenarios (testdata/*.txt)")
struct ScenarioTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata").path

    static var files: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test("There are scenario files")
    func filesExist() {
        #expect(ScenarioTests.files.count >= 8)
    }

    @Test("Scenario", arguments: ScenarioTests.files)
    func scenario(_ name: String) throws {
        let path = ScenarioTests.directory + "/" + name
        let file = try DataDrivenFile(path: path)
        let environment = ScenarioEnvironment()
        var outputs: [[String]] = []
        for block in file.blocks {
            let actual = environment.run(block.command, input: block.input)
            outputs.append(actual)
            if !DataDrivenFile.rewriting {
                #expect(
                    actual == block.expected,
                    "\(name):\(block.line): \(block.command)\n--- expected\n\(block.expected.joined(separator: "\n"))\n--- actual\n\(actual.joined(separator: "\n"))")
            }
        }
        if DataDrivenFile.rewriting {
            try file.render(outputs: outputs).write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
