// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-etcd",
    products: [
        .executable(name: "etcd", targets: ["etcd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries, found through pkg-config, each behind a small shim header.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // libxcrypt: bcrypt password hashes for auth.
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),

        // Wire formats.
        .target(name: "ProtoWire"),
        .target(name: "EtcdProto", dependencies: ["ProtoWire", "ProtoJSON"]),
        // Protobuf messages as the grpc-gateway writes them in JSON, driven by a schema.
        .target(name: "ProtoJSON", dependencies: ["ProtoWire"]),

        // Thin safe layers over the C libraries.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "HTTP2", dependencies: ["CNghttp2"]),

        // gRPC calls over HTTP/2 streams; knows nothing of etcd.
        .target(name: "GRPC", dependencies: ["HTTP2"]),

        // TLS through OpenSSL over memory buffers, and as a NIO channel handler.
        .target(name: "TLS", dependencies: [
            "COpenSSL",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),

        // Sockets and event loops (SwiftNIO): HTTP/2 (gRPC) and HTTP/1.1 on one port.
        .target(name: "Transport", dependencies: [
            "GRPC", "HTTP2", "TLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // Logs in etcd's formats (zap JSON, capnslog text).
        .target(name: "ServerLog"),

        // The peer port: etcd 3.4's rafthttp (streams, pipeline, snapshots) over HTTP/1.1.
        .target(name: "Peer", dependencies: [
            "Raft", "ServerLog", "TLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // Storage. CRC-32C serves the WAL's records and etcd's HashKV.
        .target(name: "Checksum"),
        // etcd's bbolt file format (its backend and snapshot stream), written from ordered buckets.
        .target(name: "Bolt"),
        .target(name: "WAL", dependencies: ["Raft", "Checksum", "ProtoWire"]),
        .target(name: "MVCC", dependencies: ["LMDB", "EtcdProto", "ProtoWire", "ProtoJSON", "COpenSSL", "Checksum", "Bolt"]),
        // Leases: TTLs, expiry, attached keys; no I/O, an injected clock.
        .target(name: "Lease"),
        // Watchers: committed changes fanned out, laggards caught up from the store.
        .target(name: "Watch", dependencies: ["MVCC", "EtcdProto", "ProtoWire"]),

        // The server: configuration, apply pipeline, API services, listeners.
        .target(name: "EtcdServer", dependencies: [
            "EtcdProto", "GRPC", "HTTP2", "MVCC", "WAL", "LMDB", "COpenSSL", "Transport", "ProtoWire", "Lease", "Watch",
            "Raft", "Peer", "ServerLog", "TLS", "ProtoJSON", "Bolt", "CCrypt",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .executableTarget(name: "etcd", dependencies: ["EtcdServer", "ServerLog"]),

        // Consensus: a pure Raft state machine (no I/O, no clocks, no system randomness), the
        // deterministic simulator that runs it under faults, and the simulator's command line.
        // Its wire codec uses the shared protobuf primitives, which are pure as well.
        .target(name: "Raft", dependencies: ["ProtoWire"]),
        .target(name: "RaftSimulation", dependencies: ["Raft"]),
        .executableTarget(name: "raft-simulator", dependencies: ["RaftSimulation", "Raft"]),

        // Tests mirror the modules.
        .testTarget(name: "ProtoWireTests", dependencies: ["ProtoWire"]),
        .testTarget(name: "ProtoJSONTests", dependencies: ["ProtoJSON", "ProtoWire"]),
        // libprotobuf-c as an independent oracle for the Swift codecs (scripts/gen-proto-oracle.sh).
        .target(
            name: "CProtoOracle",
            path: "Tests/CProtoOracle",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .testTarget(name: "EtcdProtoTests", dependencies: ["EtcdProto", "ProtoWire", "CProtoOracle"]),
        .testTarget(name: "MVCCTests", dependencies: ["MVCC", "LMDB", "EtcdProto", "Bolt"]),
        .testTarget(name: "WALTests", dependencies: ["WAL", "Raft", "Checksum", "ProtoWire"]),
        .testTarget(name: "BoltTests", dependencies: ["Bolt", "Checksum"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "COpenSSL", .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOEmbedded", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "PeerTests", dependencies: ["Peer", "Raft"]),
        .testTarget(name: "EtcdServerTests", dependencies: ["EtcdServer", "EtcdProto", "Raft", "MVCC", "Peer"]),
        .testTarget(name: "LeaseTests", dependencies: ["Lease"]),
        .testTarget(name: "WatchTests", dependencies: ["Watch", "MVCC", "EtcdProto", "LMDB"]),
        // An in-memory nghttp2 client shared by the HTTP/2 and gRPC tests.
        .target(name: "HTTP2TestSupport", dependencies: ["HTTP2", "CNghttp2"], path: "Tests/HTTP2TestSupport"),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "CNghttp2", "HTTP2TestSupport"]),
        .testTarget(name: "GRPCTests", dependencies: ["GRPC", "HTTP2", "CNghttp2", "HTTP2TestSupport"]),
        // Start the built etcd binary and drive it with the stock etcdctl (and the reference etcd).
        // Histories recorded against real clusters are checked with the simulator's checker.
        .testTarget(name: "IntegrationTests", dependencies: ["RaftSimulation", "MVCC", "LMDB", "Bolt", "Checksum"], exclude: ["Scripts", "Fixtures"]),
        .testTarget(
            name: "RaftTests",
            dependencies: ["Raft", "RaftSimulation", "ProtoWire"],
            exclude: ["testdata"]
        ),
    ]
)
