import Foundation

/// Text-file tests in the data-driven style: each block is a command line (plus optional input
/// lines), a `----` separator, and the expected output, ended by a blank line. Lines starting
/// with `#` between blocks are comments. With `REWRITE=1` in the environment the expected
/// outputs are replaced by the actual ones and the file is written back.
struct DataDrivenFile {
    struct Block {
        /// Comment and blank lines before the command, kept verbatim for rewriting.
        var preamble: [String]
        var command: String
        var input: [String]
        var expected: [String]
        var line: Int
    }

    let path: String
    var blocks: [Block] = []
    var trailer: [String] = []

    init(path: String) throws {
        self.path = path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        var i = 0
        var preamble: [String] = []
        while i < lines.count {
            let line = lines[i]
            if line.isEmpty || line.hasPrefix("#") {
                preamble.append(line)
                i += 1
                continue
            }
            let start = i + 1
            let command = line
            i += 1
            var input: [String] = []
            while i < lines.count && lines[i] != "----" {
                input.append(lines[i])
                i += 1
            }
            precondition(i < lines.count, "\(path):\(start): command without ----")
            i += 1
            var expected: [String] = []
            while i < lines.count && !lines[i].isEmpty {
                expected.append(lines[i])
                i += 1
            }
            i += 1  // the blank line that ends the block
            blocks.append(Block(preamble: preamble, command: command, input: input, expected: expected, line: start))
            preamble = []
        }
        trailer = preamble
    }

    func render(outputs: [[String]]) -> String {
        var lines: [String] = []
        for (block, output) in zip(blocks, outputs) {
            lines += block.preamble
            lines.append(block.command)
            lines += block.input
            lines.append("----")
            lines += output
            lines.append("")
        }
        lines += trailer
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    static var rewriting: Bool { ProcessInfo.processInfo.environment["REWRITE"] == "1" }
}

/// A parsed command: `name arg arg key=value`.
struct ScenarioCommand {
    var name: String
    var positional: [String]
    var named: [String: String]

    init(_ line: String) {
        let words = line.split(separator: " ").map(String.init)
        name = words.first ?? ""
        positional = []
        named = [:]
        for word in words.dropFirst() {
            if let equals = word.firstIndex(of: "=") {
                named[String(word[..<equals])] = String(word[word.index(after: equals)...])
            } else {
                positional.append(word)
            }
        }
    }

    func id(_ position: Int) -> UInt64 {
        guard position < positional.count, let id = UInt64(positional[position]) else {
            preconditionFailure("\(name): argument \(position + 1) must be a node id")
        }
        return id
    }

    func ids(from position: Int) -> [UInt64] {
        positional.dropFirst(position).compactMap { UInt64($0) }
    }

    func list(_ key: String) -> [UInt64] {
        (named[key] ?? "").split(separator: ",").compactMap { UInt64($0) }
    }

    func flag(_ key: String) -> Bool {
        positional.contains(key) || named[key] == "true"
    }
}
