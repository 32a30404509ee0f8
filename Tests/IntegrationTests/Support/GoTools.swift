import Foundation
import Testing

/// Runs one mode of the Go-client tool bench/watchload against a fresh release server; nil
/// (with a recorded issue) when the tool is not built. The tool is interrupted after `timeout`.
func watchload(_ mode: String, _ arguments: [String] = [], timeout: TimeInterval) throws -> CommandResult? {
    guard let tool = Binaries.goTool("watchload") else {
        Issue.record("watchload not built; run `make test` (GO_TOOLS)")
        return nil
    }
    let server = ServerProcess(binary: Binaries.releaseEtcd, name: mode)
    try server.start()
    defer { server.stop() }
    let result = try run(tool, ["-endpoint", server.endpoint, "-mode", mode] + arguments, timeout: timeout)
    #expect(result.status == 0, "\(result.stderr)")
    return result
}
