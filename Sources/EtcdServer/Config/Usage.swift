/// Texts for --help and --version.
public enum Usage {
    public static var versionText: String {
        """
        etcd Version: \(MaintenanceService.serverVersion)
        Git SHA: Not provided (swift-etcd)
        Go Version: not applicable (built with Swift)
        Go OS/Arch: linux/amd64
        """
    }

    /// The usage block etcd prints to stderr with every flag-parsing error and for --help.
    public static let usageLine = """
        Usage:

          etcd [flags]
            Start an etcd server.

          etcd --version
            Show the version of etcd.

          etcd -h | --help
            Show the help information about etcd.

          etcd --config-file
            Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.

          etcd gateway
            Run the stateless pass-through etcd TCP connection forwarding proxy.

          etcd grpc-proxy
            Run the stateless etcd v3 gRPC L7 reverse proxy.

        """

    /// The flag list --help prints to stdout: every flag with its default, and whether this
    /// server implements it.
    public static var flagsText: String {
        var lines = [""]
        for definition in EtcdFlags.all {
            let spec = definition.spec
            var line = "  --\(spec.name)"
            if spec.kind != .bool { line += " '\(spec.defaultValue)'" }
            lines.append(line)
            var help = "    " + spec.help
            switch definition.support {
            case .supported: break
            case .noEffect: help += " (accepted; no effect in this server)"
            case .unsupported: help += " (not supported yet)"
            }
            lines.append(help)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
