import EtcdServer
import Foundation

// The etcd server: flags and environment in, a running member out; SIGTERM/SIGINT stop it.

let arguments = Array(CommandLine.arguments.dropFirst())
var pendingWarnings: [ConfigWarning] = []
let config: ServerConfig
// Errors before the logger exists are written in capnslog's format, as etcd does.
let bootLogger = Logger(level: .info, format: .capnslog)
do {
    config = try ServerConfig.parse(arguments: arguments, environment: ProcessInfo.processInfo.environment,
                                    warn: { pendingWarnings.append($0) })
} catch .help {
    FileHandle.standardError.write(Data((Usage.usageLine + "\n").utf8))
    FileHandle.standardOutput.write(Data(Usage.flagsText.utf8))
    exit(0)
} catch .version {
    print(Usage.versionText)
    exit(0)
} catch .flagError(let message) {
    FileHandle.standardError.write(Data((message + "\n" + Usage.usageLine + "\n").utf8))
    exit(2)
} catch .environmentConflict(let message) {
    bootLogger.log(.fatal, message, text: message, package: "pkg/flags")
    exit(1)
} catch {
    bootLogger.error("error verifying flags", ["error": error.description],
                     text: "error verifying flags, \(error.description). See 'etcd --help'.", package: "etcdmain")
    exit(1)
}
for warning in pendingWarnings { bootLogger.log(warning.level, warning.text, text: warning.text, package: "pkg/flags") }

let logger = Logger(level: config.logLevel, format: config.logFormat)
if config.logFormat == .capnslog {
    FileHandle.standardError.write(Data("[WARNING] Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead\n".utf8))
}

signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
signal(SIGPIPE, SIG_IGN)

let server: EtcdServer
do {
    server = try await EtcdServer.start(config: config, logger: logger)
} catch {
    logger.fatal("failed to start etcd server", ["error": "\(error)"], text: "\(error)", package: "etcdmain")
}
let signals = AsyncStream<Int32> { continuation in
    for number in [SIGTERM, SIGINT] {
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
        nonisolated(unsafe) let retained = source
        continuation.onTermination = { _ in retained.cancel() }
    }
}
for await number in signals {
    let name = number == SIGTERM ? "terminated" : "interrupt"
    logger.info("received signal; shutting down", ["signal": name],
                text: "received \(name) signal, shutting down...", package: "pkg/osutil")
    await server.stop()
    // etcd dies by the signal it received (a shell sees 128+signal).
    signal(number, SIG_DFL)
    raise(number)
}
exit(0)
