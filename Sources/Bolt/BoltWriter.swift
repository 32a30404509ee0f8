#if canImport(Glibc)
import Glibc
#endif

/// Writes a bbolt database file (the format etcd 3.4 keeps its backend, and streams as its
/// snapshot) from buckets given in order, without holding them in memory: pages go to the file
/// as they fill, and only each page's first key is kept to build the branch levels.
///
/// Layout: pages 0 and 1 are the metas (txids T and T−1, as bbolt's own copy writes them);
/// every large bucket's leaves, then its branch levels, follow from page 2; the root bucket's
/// leaf, listing the top-level buckets (small ones inline), comes last. No page is free, so the
/// freelist is not persisted (the sentinel etcd's own files carry on Linux).
public final class BoltWriter {
    public static let pageSize = 4096
    /// bbolt writes a bucket inline when its pseudo-page fits in a quarter page.
    static let maxInlineBucketSize = pageSize / 4

    static let branchFlag: UInt16 = 0x01
    static let leafFlag: UInt16 = 0x02
    static let metaFlag: UInt16 = 0x04
    static let bucketLeafFlag: UInt32 = 0x01
    static let magic: UInt32 = 0xED0C_DAED
    static let noFreelist = UInt64.max

    private let fd: Int32
    private var nextPage: UInt64 = 2
    /// The top-level buckets so far: name, and the value of its root-leaf element.
    private var buckets: [(name: [UInt8], value: [UInt8])] = []
    private var current: OpenBucket?

    /// A bucket being written: entries wait here while it might still be inline.
    private struct OpenBucket {
        var name: [UInt8]
        var pending: [(key: [UInt8], value: [UInt8])] = []
        var pendingSize = 16
        var inline = true
        /// The first key and page of every leaf written.
        var leaves: [(key: [UInt8], page: UInt64)] = []
        var lastKey: [UInt8]?
    }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates (or truncates) the file at `path`.
    public init(path: String) throws(WriteError) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw WriteError(description: "open \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Starts the next top-level bucket; names come in bytewise order.
    public func beginBucket(_ name: [UInt8]) throws(WriteError) {
        precondition(current == nil, "a bucket is still open")
        precondition(!name.isEmpty, "bucket names are not empty")
        if let last = buckets.last?.name, !last.lexicographicallyPrecedes(name) {
            throw WriteError(description: "bucket names out of order")
        }
        current = OpenBucket(name: name)
    }

    /// Adds an entry to the open bucket; keys come in strictly increasing bytewise order.
    public func append(key: [UInt8], value: [UInt8]) throws(WriteError) {
        guard var bucket = current else { preconditionFailure("no bucket is open") }
        guard !key.isEmpty else { throw WriteError(description: "empty key") }
        if let last = bucket.lastKey, !last.lexicographicallyPrecedes(key) {
            throw WriteError(description: "keys out of order")
        }
        bucket.lastKey = key
        bucket.pending.append((key, value))
        bucket.pendingSize += 16 + key.count + value.count
        if bucket.inline && bucket.pendingSize > Self.maxInlineBucketSize { bucket.inline = false }
        // A leaf is written once the next entry would not fit in one page.
        if !bucket.inline, bucket.pendingSize > Self.pageSize, bucket.pending.count > 1 {
            let last = bucket.pending.removeLast()
            try writeLeaf(&bucket)
            bucket.pending = [last]
            bucket.pendingSize = 16 + 16 + last.key.count + last.value.count
        }
        current = bucket
    }

    /// Closes the open bucket.
    public func endBucket() throws(WriteError) {
        guard var bucket = current else { preconditionFailure("no bucket is open") }
        current = nil
        if bucket.inline {
            // Header (root 0, sequence 0), then the leaf as a pseudo-page.
            let page = Self.leafPage(id: 0, entries: bucket.pending, overflow: 0, padded: false)
            buckets.append((bucket.name, [UInt8](repeating: 0, count: 16) + page))
            return
        }
        if !bucket.pending.isEmpty { try writeLeaf(&bucket) }
        var level = bucket.leaves
        while level.count > 1 { level = try writeBranches(level) }
        var header = [UInt8](repeating: 0, count: 16)
        Self.put64(&header, 0, level[0].page)
        buckets.append((bucket.name, header))
    }

    /// Writes the root leaf and the metas, and flushes. Returns the number of pages (the file
    /// size is that many pages).
    @discardableResult
    public func finish(txid: UInt64 = 2) throws(WriteError) -> UInt64 {
        precondition(current == nil, "a bucket is still open")
        let root = nextPage
        let entries = buckets.map { (key: $0.name, value: $0.value) }
        try writePage(entries: entries, elementFlags: Self.bucketLeafFlag)
        let pages = nextPage
        try writeAt(0, Self.metaPage(id: 0, root: root, pages: pages, txid: txid))
        try writeAt(1, Self.metaPage(id: 1, root: root, pages: pages, txid: txid > 0 ? txid - 1 : 0))
        guard fsync(fd) == 0 else { throw WriteError(description: "fsync: \(String(cString: strerror(errno)))") }
        return pages
    }

    // MARK: Pages

    private func writeLeaf(_ bucket: inout OpenBucket) throws(WriteError) {
        let page = nextPage
        try writePage(entries: bucket.pending, elementFlags: 0)
        bucket.leaves.append((bucket.pending[0].key, page))
        bucket.pending = []
        bucket.pendingSize = 16
    }

    /// One level of branch pages above `children`; returns the level's own (first key, page).
    private func writeBranches(_ children: [(key: [UInt8], page: UInt64)]) throws(WriteError) -> [(key: [UInt8], page: UInt64)] {
        // Group the children into pages: a page takes children while they fit (two at least).
        var groups: [ArraySlice<(key: [UInt8], page: UInt64)>] = []
        var start = 0
        var size = 16
        for (index, child) in children.enumerated() {
            if size + 16 + child.key.count > Self.pageSize, index - start > 1 {
                groups.append(children[start..<index])
                start = index
                size = 16
            }
            size += 16 + child.key.count
        }
        groups.append(children[start...])
        var parents: [(key: [UInt8], page: UInt64)] = []
        for group in groups {
            parents.append((group[group.startIndex].key, nextPage))
            try writeRaw(Self.branchPage(id: nextPage, children: Array(group)))
        }
        return parents
    }

    /// A leaf page at the next page id, over as many pages as it needs.
    private func writePage(entries: [(key: [UInt8], value: [UInt8])], elementFlags: UInt32) throws(WriteError) {
        let size = 16 + entries.reduce(0) { $0 + 16 + $1.key.count + $1.value.count }
        let overflow = UInt32((size + Self.pageSize - 1) / Self.pageSize - 1)
        try writeRaw(Self.leafPage(id: nextPage, entries: entries, overflow: overflow, padded: true, elementFlags: elementFlags))
    }

    /// Appends whole pages at `nextPage`.
    private func writeRaw(_ page: [UInt8]) throws(WriteError) {
        precondition(page.count % Self.pageSize == 0)
        try writeAt(nextPage, page)
        nextPage += UInt64(page.count / Self.pageSize)
    }

    private func writeAt(_ pageID: UInt64, _ bytes: [UInt8]) throws(WriteError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + offset, raw.count - offset, off_t(pageID) * off_t(Self.pageSize) + off_t(offset))
            }
            guard written > 0 else { throw WriteError(description: "write: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// A leaf page (or an inline bucket's pseudo-page when not padded): header, elements, then
    /// each key and value back to back.
    static func leafPage(id: UInt64, entries: [(key: [UInt8], value: [UInt8])], overflow: UInt32, padded: Bool,
                         elementFlags: UInt32 = 0) -> [UInt8] {
        let dataStart = 16 + 16 * entries.count
        let size = entries.reduce(dataStart) { $0 + $1.key.count + $1.value.count }
        var page = [UInt8](repeating: 0, count: padded ? (Int(overflow) + 1) * pageSize : size)
        header(&page, id: id, flags: leafFlag, count: entries.count, overflow: overflow)
        var data = dataStart
        for (index, entry) in entries.enumerated() {
            let element = 16 + 16 * index
            put32(&page, element, elementFlags)
            put32(&page, element + 4, UInt32(data - element))
            put32(&page, element + 8, UInt32(entry.key.count))
            put32(&page, element + 12, UInt32(entry.value.count))
            page.replaceSubrange(data..<(data + entry.key.count), with: entry.key)
            data += entry.key.count
            page.replaceSubrange(data..<(data + entry.value.count), with: entry.value)
            data += entry.value.count
        }
        return page
    }

    static func branchPage(id: UInt64, children: [(key: [UInt8], page: UInt64)]) -> [UInt8] {
        let dataStart = 16 + 16 * children.count
        let size = children.reduce(dataStart) { $0 + $1.key.count }
        let overflow = UInt32((size + pageSize - 1) / pageSize - 1)
        var page = [UInt8](repeating: 0, count: (Int(overflow) + 1) * pageSize)
        header(&page, id: id, flags: branchFlag, count: children.count, overflow: overflow)
        var data = dataStart
        for (index, child) in children.enumerated() {
            let element = 16 + 16 * index
            put32(&page, element, UInt32(data - element))
            put32(&page, element + 4, UInt32(child.key.count))
            put64(&page, element + 8, child.page)
            page.replaceSubrange(data..<(data + child.key.count), with: child.key)
            data += child.key.count
        }
        return page
    }

    static func metaPage(id: UInt64, root: UInt64, pages: UInt64, txid: UInt64) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageSize)
        header(&page, id: id, flags: metaFlag, count: 0, overflow: 0)
        put32(&page, 16, magic)
        put32(&page, 20, 2)
        put32(&page, 24, UInt32(pageSize))
        put32(&page, 28, 0)
        put64(&page, 32, root)
        put64(&page, 40, 0)
        put64(&page, 48, noFreelist)
        put64(&page, 56, pages)
        put64(&page, 64, txid)
        put64(&page, 72, fnv1a64(page[16..<72]))
        return page
    }

    static func header(_ page: inout [UInt8], id: UInt64, flags: UInt16, count: Int, overflow: UInt32) {
        put64(&page, 0, id)
        page[8] = UInt8(flags & 0xFF)
        page[9] = UInt8(flags >> 8)
        precondition(count < 0xFFFF, "too many elements on one page")
        page[10] = UInt8(count & 0xFF)
        page[11] = UInt8(count >> 8)
        put32(&page, 12, overflow)
    }

    static func put32(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    static func put64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    static func fnv1a64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
