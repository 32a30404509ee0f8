#if canImport(Glibc)
import Glibc
#endif

/// Reads a bbolt database file (etcd 3.4's backend, or a snapshot of it) without Go: the
/// valid meta with the higher txid, then the root bucket's tree and each top-level bucket's,
/// inline or not. Every page reference is checked against the file (and may be reached only
/// once), so a damaged file gives an error, never a crash or a loop. A file is mapped, not
/// read into memory: an imported backend can be gigabytes.
public final class BoltReader {
    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    private let bytes: UnsafeRawBufferPointer
    private let release: () -> Void
    public let pageSize: Int
    /// The high-water mark: pages 0 ..< pages are the database.
    public let pages: UInt64
    public let txid: UInt64
    private let root: UInt64

    /// Maps the file at `path` (its first `pages` pages count; a snapshot's SHA-256 trailer is
    /// ignored).
    public convenience init(path: String) throws(ReadError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(description: "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ReadError(description: "stat \(path)") }
        let size = Int(info.st_size)
        guard size > 0 else { throw ReadError(description: "invalid database: \(path) is empty") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw ReadError(description: "mmap \(path): \(String(cString: strerror(errno)))")
        }
        try self.init(buffer: UnsafeRawBufferPointer(start: mapped, count: size), release: { munmap(mapped, size) })
    }

    /// Reads a database held in memory.
    public convenience init(bytes: [UInt8]) throws(ReadError) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0) }
        try self.init(buffer: UnsafeRawBufferPointer(rebasing: memory[0..<bytes.count]), release: { memory.deallocate() })
    }

    private init(buffer bytes: UnsafeRawBufferPointer, release: @escaping () -> Void) throws(ReadError) {
        func meta(at offset: Int) -> (pageSize: Int, root: UInt64, pages: UInt64, txid: UInt64)? {
            guard bytes.count >= offset + 80,
                  Self.u32(bytes, offset + 16) == BoltWriter.magic, Self.u32(bytes, offset + 20) == 2 else { return nil }
            let checksum = Self.u64(bytes, offset + 72)
            guard checksum == 0 || checksum == BoltWriter.fnv1a64(Array(bytes[(offset + 16)..<(offset + 72)])[...]) else {
                return nil
            }
            return (Int(Self.u32(bytes, offset + 24)), Self.u64(bytes, offset + 32), Self.u64(bytes, offset + 56),
                    Self.u64(bytes, offset + 64))
        }
        guard let first = meta(at: 0) else {
            release()
            throw ReadError(description: "invalid database: meta page 0")
        }
        let second = first.pageSize >= 4096 && first.pageSize <= 1 << 16 ? meta(at: first.pageSize) : nil
        let chosen = second.map { $0.txid > first.txid ? $0 : first } ?? first
        guard chosen.pageSize >= 512, chosen.pageSize <= 1 << 16,
              chosen.pages <= UInt64(bytes.count) / UInt64(chosen.pageSize), chosen.root < chosen.pages else {
            release()
            throw ReadError(description: "invalid database: meta out of range")
        }
        self.bytes = bytes
        self.release = release
        pageSize = chosen.pageSize
        pages = chosen.pages
        txid = chosen.txid
        root = chosen.root
    }

    deinit { release() }

    /// Whether the file at `path` is a bbolt database: its first meta page carries bbolt's magic.
    public static func isBoltFile(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 20)
        guard pread(fd, &head, head.count, 0) == head.count else { return false }
        return u32(head, 16) == BoltWriter.magic
    }

    /// The top-level bucket names, in order.
    public func bucketNames() throws(ReadError) -> [[UInt8]] {
        var names: [[UInt8]] = []
        try walk(page: root, depth: 0) { key, _, flags throws(ReadError) in
            if flags & BoltWriter.bucketLeafFlag != 0 { names.append(key) }
        }
        return names
    }

    /// Visits every entry of the top-level bucket `name` in key order; false if there is none.
    @discardableResult
    public func forEach(inBucket name: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Void) throws -> Bool {
        var header: [UInt8]?
        try walk(page: root, depth: 0) { key, value, flags throws(ReadError) in
            if flags & BoltWriter.bucketLeafFlag != 0 && key == name { header = value }
        }
        guard let header, header.count >= 16 else { return false }
        let bucketRoot = Self.u64(header, 0)
        if bucketRoot == 0 {
            // Inline: a pseudo-page after the 16-byte header.
            let page = Array(header[16...])
            try page.withUnsafeBytes { page in
                try Self.leafEntries(page, at: 0, limit: page.count) { key, value, flags in
                    if flags & BoltWriter.bucketLeafFlag == 0 { try body(key, value) }
                }
            }
            return true
        }
        var failure: Error?
        try walk(page: bucketRoot, depth: 0) { key, value, flags throws(ReadError) in
            guard failure == nil, flags & BoltWriter.bucketLeafFlag == 0 else { return }
            do { try body(key, value) } catch { failure = error }
        }
        if let failure { throw failure }
        return true
    }

    /// Visits the leaf entries under `page` in order.
    private func walk(page id: UInt64, depth: Int,
                      _ visit: ([UInt8], [UInt8], UInt32) throws(ReadError) -> Void) throws(ReadError) {
        var seen = Set<UInt64>()
        try walk(page: id, depth: depth, seen: &seen, visit)
    }

    /// A page reached twice means a damaged tree (a cycle would never end).
    private func walk(page id: UInt64, depth: Int, seen: inout Set<UInt64>,
                      _ visit: ([UInt8], [UInt8], UInt32) throws(ReadError) -> Void) throws(ReadError) {
        guard depth < 64, id >= 2, id < pages else { throw ReadError(description: "page \(id) out of range") }
        guard seen.insert(id).inserted else { throw ReadError(description: "page \(id) referenced twice") }
        let offset = Int(id) * pageSize
        let flags = UInt16(bytes[offset + 8]) | UInt16(bytes[offset + 9]) << 8
        let overflow = Int(Self.u32(bytes, offset + 12))
        let limit = offset + (overflow + 1) * pageSize
        guard UInt64(Int(id) + overflow) < pages else { throw ReadError(description: "page \(id) overflows the file") }
        if flags & BoltWriter.leafFlag != 0 {
            do {
                try Self.leafEntries(bytes, at: offset, limit: limit) { key, value, flags in try visit(key, value, flags) }
            } catch let error as ReadError {
                throw error
            } catch {
                throw ReadError(description: "\(error)")
            }
        } else if flags & BoltWriter.branchFlag != 0 {
            let count = Int(bytes[offset + 10]) | Int(bytes[offset + 11]) << 8
            guard offset + 16 + 16 * count <= limit else { throw ReadError(description: "page \(id): bad count") }
            for index in 0..<count {
                try walk(page: Self.u64(bytes, offset + 16 + 16 * index + 8), depth: depth + 1, seen: &seen, visit)
            }
        } else {
            throw ReadError(description: "page \(id): flags \(flags) are neither branch nor leaf")
        }
    }

    /// The elements of the leaf page starting at `offset` in `page`.
    private static func leafEntries(_ page: UnsafeRawBufferPointer, at offset: Int, limit: Int,
                                    _ visit: ([UInt8], [UInt8], UInt32) throws -> Void) throws {
        guard offset + 16 <= limit, limit <= page.count else { throw ReadError(description: "leaf past the end") }
        let count = Int(page[offset + 10]) | Int(page[offset + 11]) << 8
        guard offset + 16 + 16 * count <= limit else { throw ReadError(description: "leaf: bad count") }
        for index in 0..<count {
            let element = offset + 16 + 16 * index
            let flags = u32(page, element)
            let start = element + Int(u32(page, element + 4))
            let keyLength = Int(u32(page, element + 8))
            let valueLength = Int(u32(page, element + 12))
            guard start + keyLength + valueLength <= limit else { throw ReadError(description: "leaf element past its page") }
            try visit(Array(page[start..<(start + keyLength)]),
                      Array(page[(start + keyLength)..<(start + keyLength + valueLength)]), flags)
        }
    }

    static func u32<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ offset: Int) -> UInt32 where Bytes.Index == Int {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func u64<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ offset: Int) -> UInt64 where Bytes.Index == Int {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}
