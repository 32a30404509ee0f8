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

    public static var text: String {
        var lines = ["Usage:", "", "  etcd [flags]", "    Start an etcd server.", "", "  etcd --version",
                     "    Show the version of etcd.", "", "  etcd -h | --help", "    Show the help information about etcd.",
                     "", "Flags:"]
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
        return lines.joined(separator: "\n")
    }
}
