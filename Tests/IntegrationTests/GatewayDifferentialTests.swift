import Foundation
import Testing

/// The JSON gateway and the plain HTTP endpoints, request for request against the reference:
/// status, the headers clients look at, and body bytes (Scripts/gateway_requests.py).
@Suite struct GatewayDifferentialTests {
    static let script = Binaries.script("gateway_requests.py")

    @Test(arguments: ["kv", "errors", "lease", "cluster", "watch", "lock", "basic"])
    func gatewayAnswersAsEtcdDoes(_ group: String) throws {
        let outputs = try Differential.withServers(name: "gw-\(group)") { theirs, ours -> (String, String) in
            func transcript(_ server: ServerProcess) throws -> String {
                let result = try run(Binaries.python, [GatewayDifferentialTests.script, server.endpoint, group], timeout: 120)
                #expect(result.status == 0, "\(result.stderr)")
                return result.stdout.replacingOccurrences(of: String(server.clientPort), with: "PORT")
                    .replacingOccurrences(of: String(server.peerPort), with: "PEERPORT")
            }
            return (try transcript(theirs), try transcript(ours))
        }
        guard let (expected, actual) = outputs else { return }
        #expect(expected.contains("== "), "the script sent requests: \(expected)")
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var differences: [String] = []
        var request = ""
        for index in 0..<max(expectedLines.count, actualLines.count) {
            let theirs = index < expectedLines.count ? String(expectedLines[index]) : "(none)"
            let ours = index < actualLines.count ? String(actualLines[index]) : "(none)"
            if theirs.hasPrefix("== ") { request = theirs }
            if theirs != ours { differences.append("\(request)\n  reference: \(theirs)\n  ours:      \(ours)") }
        }
        #expect(differences.isEmpty, "\(differences.prefix(10).joined(separator: "\n"))")
    }
}
