import EtcdServer
import ServerLog
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

// SIGTERM and SIGINT: the handler only writes the signal number to a pipe (async-signal-safe);
// a thread reads it and hands it to the shutdown code below.
nonisolated(unsafe) var signalPipe: [Int32] = [-1, -1]
guard pipe(&signalPipe) == 0 else { fatalError("pipe: \(errno)") }
signal(SIGPIPE, SIG_IGN)
for number in [SIGTERM, SIGINT] {
    signal(number) { received in
        var byte = UInt8(truncatingIfNeeded: received)
        _ = write(signalPipe[1], &byte, 1)
    }
}
let (signals, signalContinuation) = AsyncStream<Int32>.makeStream()
let signalReader = Thread {
    var byte: UInt8 = 0
    while read(signalPipe[0], &byte, 1) == 1 { signalContinuation.yield(Int32(byte)) }
}
signalReader.start()

let server: EtcdServer
do {
    server = try await EtcdServer.start(config: config, logger: logger)
} catch {
    logger.fatal("failed to start etcd server", ["error": "\(error)"], text: "\(error)", package: "etcdmain")
}
// A member removed from its cluster stops by itself, as etcd's does.
server.onStopped = { code in exit(code) }
for await number in signals {
    let name = number == SIGTERM ? "terminated" : "interrupt"
    logger.info("received signal; shutting down", ["signal": name],
                text: "received \(name) signal, shutting down...", package: "pkg/osutil")
    await server.stop()
    // etcd dies by the signal it received (a shell sees 128+signal). The signal is sent to the
    // process, not this thread: libdispatch's worker threads block signals.
    signal(number, SIG_DFL)
    kill(getpid(), number)
    exit(128 + number)
}
exit(0)
