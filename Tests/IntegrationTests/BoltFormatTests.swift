import Bolt
@testable import MVCC
import Checksum
import Foundation
import Testing

/// bbolt files from `BoltWriter`, judged by Go's bbolt (the library etcd uses, through the
/// boltcheck tool: its consistency check and a listing of every bucket) and by the stock
/// `etcdctl snapshot status`, which opens the file with bbolt and hashes every bucket.
@Suite struct BoltFormatTests {
    typealias Buckets = [(name: String, entries: [(key: [UInt8], value: [UInt8])])]

    struct Listing: Decodable {
        struct Bucket: Decodable {
            var name: String
            var count: Int
            var digest: UInt32
            var inline: Bool
            var depth: Int
        }
        var errors: [String]?
        var pages: Int
        var page_size: Int
        var buckets: [Bucket]?
    }

    struct Status: Decodable {
        var hash: UInt32
        var revision: Int64
        var totalKey: Int
        var totalSize: Int
    }

    private func write(_ buckets: Buckets, to path: String) throws -> UInt64 {
        let writer = try BoltWriter(path: path)
        for bucket in buckets {
            try writer.beginBucket(Array(bucket.name.utf8))
            for entry in bucket.entries { try writer.append(key: entry.key, value: entry.value) }
            try writer.endBucket()
        }
        return try writer.finish(txid: 7)
    }

    /// Writes `buckets`, then checks what Go's bbolt and etcdctl read back.
    @discardableResult
    private func check(_ buckets: Buckets, _ label: String) throws -> Listing? {
        let tool = try #require(Binaries.goTool("boltcheck"), "boltcheck not built; run `make test` (GO_TOOLS)")
        let path = temporaryDirectory("bolt") + "/\(label).db"
        let pages = try write(buckets, to: path)
        let result = try run(tool, [path])
        #expect(result.status == 0, "\(label): \(result.stderr)")
        let listing = try result.summary(as: Listing.self)
        #expect(listing.errors ?? [] == [], "\(label)")
        #expect(listing.page_size == 4096)
        #expect(UInt64(listing.pages) == pages, "\(label)")
        let read = listing.buckets ?? []
        #expect(read.map(\.name) == buckets.map(\.name), "\(label)")
        // Our own reader gives back exactly what was written.
        let reader = try BoltReader(path: path)
        #expect(try reader.bucketNames() == buckets.map { Array($0.name.utf8) }, "\(label)")
        for bucket in buckets {
            var entries: [(key: [UInt8], value: [UInt8])] = []
            try reader.forEach(inBucket: Array(bucket.name.utf8)) { entries.append(($0, $1)) }
            #expect(entries.map(\.key) == bucket.entries.map(\.key), "\(label)/\(bucket.name)")
            #expect(entries.map(\.value) == bucket.entries.map(\.value), "\(label)/\(bucket.name)")
        }
        for (bucket, got) in zip(buckets, read) {
            var digest: UInt32 = 0
            for entry in bucket.entries {
                digest = CRC32C.checksum(Self.length(entry.key.count) + entry.key + Self.length(entry.value.count) + entry.value,
                                         initial: digest)
            }
            #expect(got.count == bucket.entries.count, "\(label)/\(bucket.name)")
            #expect(got.digest == digest, "\(label)/\(bucket.name)")
        }

        // etcdctl's status: a CRC-32C over every bucket's name, keys and values, the entry count,
        // and the size in pages.
        let status = try run(Binaries.etcdctl, ["snapshot", "status", path, "-w", "json"], environment: ["ETCDCTL_API": "3"])
        #expect(status.status == 0, "\(label): \(status.stderr)")
        if status.status == 0 {
            let decoded = try JSONDecoder().decode(Status.self, from: Data(status.stdout.utf8))
            var hash: UInt32 = 0
            for bucket in buckets {
                hash = CRC32C.checksum(Array(bucket.name.utf8), initial: hash)
                for entry in bucket.entries { hash = CRC32C.checksum(entry.key + entry.value, initial: hash) }
            }
            #expect(decoded.hash == hash, "\(label)")
            #expect(decoded.totalKey == buckets.reduce(0) { $0 + $1.entries.count }, "\(label)")
            #expect(decoded.totalSize == Int(pages) * 4096, "\(label)")
        }
        return listing
    }

    static func length(_ count: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: count >> 24), UInt8(truncatingIfNeeded: count >> 16),
         UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
    }

    static func revisionKey(_ main: Int) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: main >> (56 - 8 * $0)) } + [0x5F] + [UInt8](repeating: 0, count: 8)
    }

    /// A snapshot the reference etcd writes (Go's bbolt: free pages, the freelist sentinel, its
    /// own page fill) read by ours: the same buckets, counts and contents as Go's bbolt lists.
    @Test func readsWhatEtcdWrites() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference`")
            return
        }
        let server = ServerProcess(binary: reference, name: "bolt-reader")
        try server.start()
        defer { server.stop() }
        for i in 0..<300 { #expect(try etcdctl(server, "put", "k\(i % 40)", String(repeating: "v", count: i * 7)).status == 0) }
        #expect(try etcdctl(server, "del", "k1", "k2").status == 0)
        #expect(try etcdctl(server, "lease", "grant", "300").status == 0)
        let file = temporaryDirectory("bolt-reader") + "/etcd.db"
        #expect(try etcdctl(server, "snapshot", "save", file).status == 0)

        let tool = try #require(Binaries.goTool("boltcheck"), "boltcheck not built")
        let listing = try run(tool, [file]).summary(as: Listing.self)
        let reader = try BoltReader(path: file)
        #expect(Int(reader.pages) == listing.pages)
        let names = try reader.bucketNames().map { String(decoding: $0, as: UTF8.self) }
        #expect(!names.isEmpty)
        #expect(names == (listing.buckets ?? []).map(\.name))
        for bucket in listing.buckets ?? [] {
            var count = 0
            var digest: UInt32 = 0
            try reader.forEach(inBucket: Array(bucket.name.utf8)) { key, value in
                count += 1
                digest = CRC32C.checksum(Self.length(key.count) + key + Self.length(value.count) + value, initial: digest)
            }
            #expect(count == bucket.count, "\(bucket.name)")
            #expect(digest == bucket.digest, "\(bucket.name)")
        }
        #expect((listing.buckets ?? []).first { $0.name == "key" }?.count ?? 0 >= 300)
    }

    @Test func damagedFilesAreErrorsNotCrashes() throws {
        let path = temporaryDirectory("bolt-damage") + "/db"
        let writer = try BoltWriter(path: path)
        try writer.beginBucket(Array("b".utf8))
        for i in 0..<2000 { try writer.append(key: Array(String(format: "%05d", i).utf8), value: [UInt8](repeating: 7, count: 50)) }
        try writer.endBucket()
        try writer.finish()
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(throws: BoltReader.ReadError.self) { try BoltReader(bytes: Array(good.prefix(100))) }
        // A meta (checksum 0: not checked) claiming 2^53 pages: an error, not an overflow trap.
        var huge = good
        for page in [0, 4096] {
            for i in 0..<8 { huge[page + 56 + i] = UInt8(truncatingIfNeeded: (UInt64(1) << 53) >> (8 * UInt64(i))) }
            for i in 0..<8 { huge[page + 72 + i] = 0 }
        }
        #expect(throws: BoltReader.ReadError.self) { try BoltReader(bytes: huge) }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var bad = good
            for _ in 0..<8 { bad[Int.random(in: 8192..<bad.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            // Either a clean read or an error, never a crash.
            if let reader = try? BoltReader(bytes: bad) {
                _ = try? reader.forEach(inBucket: Array("b".utf8)) { _, _ in }
            }
        }
    }

    @Test func smallBucketsAreInline() throws {
        let listing = try check([("alarm", []), ("cluster", [(Array("clusterVersion".utf8), Array("3.4.0".utf8))]),
                                 ("meta", [(Array("consistent_index".utf8), [0, 0, 0, 0, 0, 0, 0, 9])])], "inline")
        #expect(listing?.buckets?.allSatisfy(\.inline) == true)
        try check([], "empty")
    }

    @Test func largeBucketsGetLeavesAndBranches() throws {
        // 20,000 revisions of ~140 bytes: hundreds of leaves under two branch levels.
        let entries = (1...20_000).map { (key: Self.revisionKey($0), value: Array(String(repeating: "v", count: 100 + $0 % 50).utf8)) }
        let listing = try check([("key", entries), ("lease", []), ("meta", [(Array("x".utf8), [1])])], "deep")
        let key = listing?.buckets?.first { $0.name == "key" }
        #expect(key?.inline == false)
        #expect((key?.depth ?? 0) >= 3)
    }

    @Test func largeValuesAndKeysOverflowPages() throws {
        var entries: [(key: [UInt8], value: [UInt8])] = []
        entries.append((Array("a".utf8), [UInt8](repeating: 1, count: 10_000)))
        entries.append((Array("b".utf8), [UInt8](repeating: 2, count: 100)))
        entries.append((Array("c".utf8), [UInt8](repeating: 3, count: 300_000)))
        entries.append((Array(String(repeating: "d", count: 5000).utf8), [UInt8](repeating: 4, count: 3)))
        for i in 0..<400 { entries.append((Array("e\(1000 + i)".utf8), [UInt8](repeating: 5, count: 900))) }
        entries.append((Array(String(repeating: "f", count: 20_000).utf8), []))
        try check([("big", entries), ("small", [(Array("k".utf8), [])])], "overflow")
    }

    @Test func randomShapes() throws {
        var random = SystemRandomNumberGenerator()
        for round in 0..<6 {
            var buckets: Buckets = []
            let names = Set((0..<Int.random(in: 1...6, using: &random)).map { _ in "b" + String(Int.random(in: 0...999, using: &random)) })
            for name in names.sorted() {
                let count = [0, 1, 5, 60, 700, 3000][Int.random(in: 0...5, using: &random)]
                var keys = Set<[UInt8]>()
                while keys.count < count {
                    keys.insert((0..<Int.random(in: 1...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
                }
                let entries = keys.sorted { $0.lexicographicallyPrecedes($1) }.map { key in
                    (key: key, value: (0..<Int.random(in: 0...(Int.random(in: 0...9, using: &random) == 0 ? 9000 : 200),
                                              using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
                }
                buckets.append((name, entries))
            }
            try check(buckets, "random\(round)")
        }
    }
}

/// Our store exported as etcd's backend, then restored by the stock `etcdctl snapshot restore`
/// and served by the reference etcd: the same keys, values, versions, revisions, lease and
/// compaction as our server served.
@Suite struct EtcdBackendExportTests {
    @Test func theReferenceServesAStoreWeExported() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference`")
            return
        }
        let ours = ServerProcess(name: "export")
        try ours.start()
        for i in 0..<30 { #expect(try etcdctl(ours, "put", "k\(i % 7)", "v\(i)").status == 0) }
        #expect(try etcdctl(ours, "del", "k3").status == 0)
        #expect(try etcdctl(ours, "compaction", "--physical", "20").status == 0)
        let grant = try etcdctl(ours, "lease", "grant", "600")
        let lease = try #require(grant.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try etcdctl(ours, "put", "leased", "x", "--lease=\(lease)").status == 0)
        #expect(try etcdctl(ours, "put", String(repeating: "L", count: 700), String(repeating: "w", count: 9000)).status == 0)
        let expected = try etcdctl(ours, "-w", "json", "get", "", "--from-key")
        let expectedOld = try etcdctl(ours, "get", "k1", "--rev=25")
        ours.stop()

        let exported = temporaryDirectory("export") + "/snapshot.db"
        let store = try KVStore(path: ours.dataDir + "/member/snap/db", mapSize: 1 << 30)
        try store.read { try $0.exportEtcdBackend(to: exported) }

        let tool = try #require(Binaries.goTool("boltcheck"), "boltcheck not built")
        let listing = try run(tool, [exported])
        #expect(listing.status == 0, "\(listing.stderr)")
        let decoded = try listing.summary(as: BoltFormatTests.Listing.self)
        #expect(decoded.errors ?? [] == [])
        #expect(decoded.buckets?.map(\.name) == ["alarm", "auth", "authRoles", "authUsers", "cluster", "key", "lease",
                                                  "members", "members_removed", "meta"])
        let status = try run(Binaries.etcdctl, ["snapshot", "status", exported, "-w", "json"], environment: ["ETCDCTL_API": "3"])
        #expect(status.stdout.contains("\"revision\":34"), "\(status)")

        let restored = temporaryDirectory("restored") + "/restored.etcd"
        let theirs = ServerProcess(binary: reference, name: "restored", dataDir: restored)
        let restore = try run(Binaries.etcdctl, ["snapshot", "restore", exported, "--skip-hash-check", "--data-dir", restored,
                                                 "--name", theirs.name, "--initial-cluster", theirs.initialCluster,
                                                 "--initial-advertise-peer-urls", theirs.advertisedPeerURL],
                              environment: ["ETCDCTL_API": "3"])
        #expect(restore.status == 0, "\(restore)")
        try theirs.start()
        defer { theirs.stop() }
        let served = try etcdctl(theirs, "-w", "json", "get", "", "--from-key")
        // The header differs (another member and cluster); the key-values must not.
        func kvs(_ json: String) -> String { String(json[(json.range(of: "\"kvs\"")?.lowerBound ?? json.startIndex)...]) }
        #expect(kvs(served.stdout) == kvs(expected.stdout))
        #expect(served.stdout.contains("\"revision\":34"))
        #expect(try etcdctl(theirs, "get", "k1", "--rev=25").stdout == expectedOld.stdout)
        #expect(try etcdctl(theirs, "get", "k1", "--rev=19").stderr.contains("required revision has been compacted"))
        #expect(try etcdctl(theirs, "lease", "list").stdout.contains(lease))
    }

    /// `etcdctl snapshot save` against our server: the file ends in its SHA-256 (restore checks
    /// it), `snapshot status` reads it, and the reference etcd serves what `snapshot restore`
    /// makes of it.
    @Test func snapshotSaveRestoresIntoTheReference() throws {
        guard let reference = Binaries.referenceEtcd else {
            Issue.record("reference etcd not found; run `make reference`")
            return
        }
        let ours = ServerProcess(name: "snapshot")
        try ours.start()
        defer { ours.stop() }
        for i in 0..<200 { #expect(try etcdctl(ours, "put", "key\(i % 50)", String(repeating: "v", count: i * 10)).status == 0) }
        let expected = try etcdctl(ours, "-w", "json", "get", "key", "--prefix")
        let file = temporaryDirectory("snapshot") + "/backup.db"
        let save = try etcdctl(ours, "snapshot", "save", file)
        #expect(save.status == 0, "\(save)")
        #expect(save.stdout == "Snapshot saved at \(file)\n")
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        #expect(size % 4096 == 32, "a snapshot is whole pages and a 32-byte SHA-256")
        let status = try run(Binaries.etcdctl, ["snapshot", "status", file, "-w", "json"], environment: ["ETCDCTL_API": "3"])
        #expect(status.stdout.contains("\"revision\":201"), "\(status)")
        #expect(ours.log.contains("successfully sent database snapshot to client"))

        let restored = temporaryDirectory("restored") + "/restored.etcd"
        let theirs = ServerProcess(binary: reference, name: "restored", dataDir: restored)
        let restore = try run(Binaries.etcdctl, ["snapshot", "restore", file, "--data-dir", restored, "--name", theirs.name,
                                                 "--initial-cluster", theirs.initialCluster,
                                                 "--initial-advertise-peer-urls", theirs.advertisedPeerURL],
                              environment: ["ETCDCTL_API": "3"])
        #expect(restore.status == 0, "\(restore)")
        try theirs.start()
        defer { theirs.stop() }
        let served = try etcdctl(theirs, "-w", "json", "get", "key", "--prefix")
        func kvs(_ json: String) -> String { String(json[(json.range(of: "\"kvs\"")?.lowerBound ?? json.startIndex)...]) }
        #expect(served.stdout.contains("\"kvs\""))
        #expect(kvs(served.stdout) == kvs(expected.stdout))
    }

    /// kill -9 while snapshots stream: the member restarts with everything and no scratch file.
    @Test func killedWhileStreamingASnapshotRestartsClean() throws {
        let server = ServerProcess(binary: Binaries.releaseEtcd, name: "snapshot-crash")
        try server.start()
        defer { server.stop() }
        let fill = try run(Binaries.python, [Binaries.script("defrag_under_load.py"), server.endpoint, "fill"], timeout: 240)
        #expect(fill.status == 0, "\(fill.stderr)")
        let directory = temporaryDirectory("snapshot-crash")
        for (round, delay) in [0, 10, 40, 120].enumerated() {
            let save = try launchEtcdctl(server, ["snapshot", "save", directory + "/\(round).db"])
            usleep(useconds_t(delay * 1000))
            server.kill9()
            // A save that had not started its stream waits for the server to come back.
            try server.start()
            let deadline = Date().addingTimeInterval(60)
            while save.isRunning && Date() < deadline { usleep(50_000) }
            if save.isRunning { save.terminate() }
            let count = try etcdctl(server, "-w", "json", "get", "history/", "--prefix", "--keys-only")
            #expect(count.stdout.contains("\"count\":500"), "round \(round): \(count)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.dataDir + "/member/snap")
            #expect(!leftovers.contains { $0.contains(".snapshot-") }, "\(leftovers)")
        }
        #expect(try etcdctl(server, "snapshot", "save", directory + "/final.db").status == 0)
    }
}
