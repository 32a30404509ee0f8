#if canImport(Glibc)
import Glibc
#endif
import GRPC
import NIOCore
import NIOPosix
import TLS

/// Accepts client connections on one address and serves gRPC and HTTP on each.
public final class Listener: Sendable {
    public let channel: Channel
    private let connections: ConnectionRegistry

    public enum Address: Sendable {
        /// TCP on `host:port` (port 0 picks a free port; see `localPort`).
        case tcp(host: String, port: Int)
        /// A unix domain socket at `path` (etcd's unix:// URLs use "host:port" as the path).
        case unix(path: String)
    }

    /// `tls` makes the port serve TLS (and, when it says so, plaintext beside it).
    public static func bind(_ address: Address, group: EventLoopGroup, configuration: GRPCServerConfiguration,
                            router: Router, httpHandler: @escaping HTTPHandler, tls: TLSServing? = nil) async throws -> Listener {
        let connections = ConnectionRegistry()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 << 10, high: 64 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(configuration: configuration, router: router, httpHandler: httpHandler,
                                          connections: connections))
                    try tls?.install(on: channel)
                }
            }
        let channel: Channel
        switch address {
        case .tcp(let host, let port):
            channel = try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port).get()
        case .unix(let path):
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        return Listener(channel: channel, connections: connections)
    }

    private init(channel: Channel, connections: ConnectionRegistry) {
        self.channel = channel
        self.connections = connections
    }

    public var localPort: Int? { channel.localAddress?.port }

    /// Stops accepting, sends GOAWAY to HTTP/2 clients and closes idle HTTP/1 connections.
    public func shutdown() async {
        try? await channel.close()
        connections.shutdownAll()
    }

    public var openConnections: Int { connections.count }
}

/// The current time as an HTTP date (RFC 9110 IMF-fixdate).
func httpDate() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 64)
    let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
