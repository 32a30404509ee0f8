#if canImport(Glibc)
import Glibc
#endif
import Raft

/// The write-ahead log, and the Raft core's `LogStorage`: every entry is made durable here
/// before it is acknowledged or applied, and the core reads its stable log back from here.
/// There is no second copy of the log: the WAL keeps, per entry, its term and where its record
/// lies on disk, plus a bounded cache of the newest entries (the ones replication and apply
/// read); older entries are read back from their segment.
///
/// Layout: a directory of segment files named `<sequence>-<firstIndex>.wal` (16 hex digits
/// each). A segment is preallocated to `segmentSize` bytes of zeros and filled with records
/// (see `Record`); a new one is cut when the next write would not fit. Every segment begins
/// with the log's metadata, the latest snapshot mark and the hard state, so the log stays
/// self-describing after older segments are released.
///
/// Recovery reads segments in order. A record that fails its checksum or runs past the end is
/// a torn write if it is in the last segment: the log ends there and the rest of the segment is
/// zeroed before new writes. Anywhere else it is damage, and opening fails.
///
/// Not thread-safe: one loop (the Raft loop) owns it, as it owns the core.
public final class WAL {
    public struct Recovered: Sendable {
        public var metadata: [UInt8]
        public var hardState: HardState
        /// The newest snapshot mark or installed snapshot.
        public var snapshot: (index: UInt64, term: UInt64)
        /// The recovered entries are `firstIndex...lastIndex` (none when first > last).
        public var firstIndex: UInt64
        public var lastIndex: UInt64
    }

    public static let defaultSegmentSize = 64 << 20
    public static let defaultCacheBytes = 8 << 20

    public let directory: String
    let segmentSize: Int
    private var segments: [Segment]
    /// The segment being written, and the write position in it.
    private var fd: Int32
    private var offset: Int
    private var metadata: [UInt8]
    private var hardState: HardState
    /// The newest snapshot mark (entries up to it are covered by the store).
    private var snapshotMark: (index: UInt64, term: UInt64)

    /// The log: `base` stands for the entry just before `locations[0]` (a snapshot or the
    /// compaction point); `locations[i]` is entry `base.index + 1 + i`.
    private var base: SnapshotMetadata
    private var locations: [Location] = []
    /// The newest entries, `cache[i]` being entry `cacheFirst + i`; always a suffix of the log.
    private var cache: [Entry] = []
    private var cacheFirst: UInt64 = 1
    private var cacheBytes = 0
    private let cacheLimit: Int
    /// Read-only descriptors of older segments, opened on demand.
    private var readers: [UInt64: Int32] = [:]

    /// Called with the duration of each fsync, in nanoseconds (metrics).
    public var onSync: ((UInt64) -> Void)?

    /// What `snapshot()` answers: the state the application can send to a follower that needs
    /// compacted entries. Without it the storage offers only its base (no data).
    public var snapshotSource: (() throws(StorageError) -> Snapshot)?

    struct Segment {
        var sequence: UInt64
        var firstIndex: UInt64
        var name: String { hex16(sequence) + "-" + hex16(firstIndex) + ".wal" }
    }

    struct Location {
        var term: UInt64
        var segment: UInt64
        var offset: Int
        var size: Int
    }

    private init(directory: String, segmentSize: Int, cacheLimit: Int, segments: [Segment], fd: Int32, offset: Int,
                 metadata: [UInt8], hardState: HardState, snapshotMark: (UInt64, UInt64)) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.cacheLimit = cacheLimit
        self.segments = segments
        self.fd = fd
        self.offset = offset
        self.metadata = metadata
        self.hardState = hardState
        self.snapshotMark = snapshotMark
        self.base = SnapshotMetadata()
    }

    deinit {
        if fd >= 0 { close(fd) }
        for reader in readers.values { close(reader) }
    }

    /// Whether `directory` holds a log.
    public static func exists(in directory: String) -> Bool {
        (try? segmentFiles(in: directory).isEmpty == false) ?? false
    }

    /// Creates a new, empty log in `directory` (created if missing).
    public static func create(in directory: String, metadata: [UInt8], segmentSize: Int = defaultSegmentSize,
                              cacheBytes: Int = defaultCacheBytes) throws -> WAL {
        try makeDirectories(directory)
        guard try segmentFiles(in: directory).isEmpty else { throw WALError("wal: \(directory) already holds a log") }
        let wal = WAL(directory: directory, segmentSize: segmentSize, cacheLimit: cacheBytes, segments: [], fd: -1,
                      offset: 0, metadata: metadata, hardState: HardState(), snapshotMark: (0, 0))
        try wal.cut()
        return wal
    }

    /// Opens the log in `directory`, recovering its contents.
    public static func open(in directory: String, segmentSize: Int = defaultSegmentSize,
                            cacheBytes: Int = defaultCacheBytes) throws -> (WAL, Recovered) {
        let segments = try segmentFiles(in: directory)
        guard let last = segments.last else { throw WALError("wal: no log in \(directory)") }
        let wal = WAL(directory: directory, segmentSize: segmentSize, cacheLimit: cacheBytes, segments: segments,
                      fd: -1, offset: 0, metadata: [], hardState: HardState(), snapshotMark: (0, 0))
        var endOffset = 0
        for (position, segment) in segments.enumerated() {
            let isLast = position == segments.count - 1
            let path = directory + "/" + segment.name
            let bytes = try readFile(path)
            var offset = 0
            scan: while true {
                let result = bytes.withUnsafeBytes { RecordCodec.decode($0, at: offset) }
                switch result {
                case .record(let record, let size):
                    try wal.recover(record, at: Location(term: 0, segment: segment.sequence, offset: offset, size: size))
                    offset += size
                case .end:
                    break scan
                case .invalid(let reason):
                    guard isLast else { throw WALError("wal: segment \(segment.name) is damaged at offset \(offset): \(reason)") }
                    // A torn write at the tail: the log ends here.
                    break scan
                }
            }
            if isLast { endOffset = offset }
        }
        let path = directory + "/" + last.name
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw WALError.errno("open \(path)") }
        // Zero everything after the end so that stale bytes of a torn write can never be read
        // as records once new ones are written in front of them.
        let fileSize = Int(lseek(fd, 0, SEEK_END))
        if fileSize > endOffset {
            guard ftruncate(fd, off_t(endOffset)) == 0 else { throw WALError.errno("ftruncate \(path)") }
        }
        _ = posix_fallocate(fd, 0, off_t(max(segmentSize, endOffset)))
        guard fdatasync(fd) == 0 else { throw WALError.errno("fdatasync \(path)") }
        wal.fd = fd
        wal.offset = endOffset
        let recovered = Recovered(metadata: wal.metadata, hardState: wal.hardState, snapshot: wal.snapshotMark,
                                  firstIndex: wal.base.index + 1, lastIndex: wal.lastIndex())
        return (wal, recovered)
    }

    /// Replays one record into the in-memory state.
    private func recover(_ record: Record, at location: Location) throws {
        switch record {
        case .metadata(let bytes):
            metadata = bytes
        case .hardState(let state):
            hardState = state
        case .snapshot(let index, let term):
            if index >= snapshotMark.index { snapshotMark = (index, term) }
            if index > base.index { dropThrough(index, term: term) }
        case .reset(let index, let term):
            snapshotMark = (index, term)
            resetLog(to: SnapshotMetadata(index: index, term: term))
        case .entry(let entry):
            if entry.index <= base.index { return }
            if locations.isEmpty && entry.index > base.index + 1 {
                // Older segments were released: the log starts here. The caller checks it
                // against what the store has applied.
                resetLog(to: SnapshotMetadata(index: entry.index - 1, term: 0))
            }
            guard entry.index <= lastIndex() + 1 else {
                throw WALError("wal: entry index \(entry.index) does not follow \(lastIndex())")
            }
            // A newer entry at an existing index replaces the log from there on.
            truncate(after: entry.index - 1)
            var located = location
            located.term = entry.term
            locations.append(located)
            remember(entry)
        }
    }

    // MARK: Writing

    /// Persists a Ready's log state: a snapshot received from the leader (it replaces the whole
    /// log), then entries (replacing any stored entries from the first one's index on), then
    /// the hard state; all in one write, made durable when `sync` is true.
    public func save(snapshot: Snapshot? = nil, entries: [Entry], hardState: HardState?, sync: Bool) throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(entries.reduce(64) { $0 + $1.data.count + 48 })
        if let snapshot {
            RecordCodec.append(.reset(index: snapshot.metadata.index, term: snapshot.metadata.term), to: &buffer)
        }
        var recordStarts: [Int] = []
        recordStarts.reserveCapacity(entries.count)
        for entry in entries {
            recordStarts.append(buffer.count)
            RecordCodec.append(.entry(entry), to: &buffer)
        }
        let entriesEnd = buffer.count
        if let hardState {
            RecordCodec.append(.hardState(hardState), to: &buffer)
        }
        if buffer.isEmpty { return }
        if offset + buffer.count > segmentSize && offset > headerSize() {
            try syncCurrent()
            try cut()
        }
        let start = offset
        try writeAll(buffer)
        if let snapshot {
            snapshotMark = (snapshot.metadata.index, snapshot.metadata.term)
            resetLog(to: snapshot.metadata)
        }
        if let first = entries.first {
            precondition(first.index > base.index && first.index <= lastIndex() + 1,
                         "wal: appending \(first.index) to a log of \(base.index + 1)...\(lastIndex())")
            truncate(after: first.index - 1)
            let segment = segments[segments.count - 1].sequence
            for (position, entry) in entries.enumerated() {
                let end = position + 1 < entries.count ? recordStarts[position + 1] : entriesEnd
                locations.append(Location(term: entry.term, segment: segment, offset: start + recordStarts[position],
                                          size: end - recordStarts[position]))
                remember(entry)
            }
        }
        if let hardState { self.hardState = hardState }
        if sync { try syncCurrent() }
    }

    /// Records that the store durably holds everything through `index`: recovery starts after
    /// it. Entries stay readable until `compact(through:)`.
    public func markSnapshot(index: UInt64, term: UInt64) throws {
        var buffer: [UInt8] = []
        RecordCodec.append(.snapshot(index: index, term: term), to: &buffer)
        if offset + buffer.count > segmentSize {
            try syncCurrent()
            try cut()
        }
        try writeAll(buffer)
        if index >= snapshotMark.index { snapshotMark = (index, term) }
    }

    /// Makes everything written so far durable.
    public func sync() throws {
        try syncCurrent()
    }

    /// Starts the log after `snapshot`, which the application's state covers (after a
    /// restart: the store's applied index, term and membership). Entries up to it are dropped;
    /// entries after it must follow on.
    public func start(after snapshot: SnapshotMetadata) throws {
        if snapshot.index < base.index {
            throw WALError("wal: the log starts after \(base.index) but the state covers only \(snapshot.index)")
        }
        if snapshot.index >= lastIndex() {
            resetLog(to: snapshot)
            if snapshot.index > snapshotMark.index {
                // Recovery must know that the next entry follows the snapshot, not the log's old end.
                try markSnapshot(index: snapshot.index, term: snapshot.term)
                try syncCurrent()
            }
            return
        }
        dropThrough(snapshot.index, term: snapshot.term)
        base = snapshot
        // Entries with a lower term than the snapshot's last entry cannot belong to its log:
        // they come from a history the snapshot replaced.
        if let stale = locations.firstIndex(where: { $0.term < snapshot.term }) {
            truncate(after: snapshot.index + UInt64(stale))
        }
    }

    /// Discards entries up to and including `index` from the log the core sees (the state
    /// covers them, and followers that need them get a snapshot), and deletes segment files
    /// that hold nothing newer than both `index` and the latest snapshot mark, keeping the
    /// newest `keepSegments` files in all (0 keeps every file, as etcd's `--max-wals 0`).
    public func compact(through index: UInt64, keepSegments: Int = 1) {
        guard index > base.index else { return }
        precondition(index <= lastIndex(), "wal: compact through \(index) beyond the last index \(lastIndex())")
        let term = locations[Int(index - base.index - 1)].term
        dropThrough(index, term: term)
        guard keepSegments > 0 else { return }
        releaseSegments(through: min(index, snapshotMark.index), keeping: keepSegments)
    }

    /// Deletes segments whose entries all lie at or before `index` while more than `keeping`
    /// remain. The current segment stays.
    private func releaseSegments(through index: UInt64, keeping: Int) {
        while segments.count > max(1, keeping), segments[1].firstIndex <= index + 1 {
            let released = segments.removeFirst()
            if let reader = readers.removeValue(forKey: released.sequence) { close(reader) }
            unlink(directory + "/" + released.name)
        }
    }

    public var segmentCount: Int { segments.count }

    // MARK: In-memory log bookkeeping

    private func resetLog(to snapshot: SnapshotMetadata) {
        base = snapshot
        locations = []
        cache = []
        cacheBytes = 0
        cacheFirst = snapshot.index + 1
    }

    /// Drops entries through `index` (which is past `base`), making it the new base.
    private func dropThrough(_ index: UInt64, term: UInt64) {
        let count = Int(min(index, lastIndex()) - base.index)
        locations.removeFirst(count)
        var newBase = base
        newBase.index = index
        newBase.term = term
        base = newBase
        if index >= cacheFirst {
            let drop = min(Int(index - cacheFirst + 1), cache.count)
            cacheBytes -= cache[..<drop].reduce(0) { $0 + $1.data.count }
            cache.removeFirst(drop)
            cacheFirst = index + 1
        }
        if locations.isEmpty { cacheFirst = index + 1 }
    }

    /// Drops entries after `index`.
    private func truncate(after index: UInt64) {
        guard index < lastIndex() else { return }
        locations.removeSubrange(Int(index - base.index)...)
        if index + 1 < cacheFirst {
            cache = []
            cacheBytes = 0
            cacheFirst = index + 1
        } else {
            let keep = Int(index + 1 - cacheFirst)
            cacheBytes -= cache[keep...].reduce(0) { $0 + $1.data.count }
            cache.removeSubrange(keep...)
        }
    }

    /// Adds the newest entry (just appended to `locations`) to the cache, evicting the oldest
    /// cached entries beyond the limit.
    private func remember(_ entry: Entry) {
        if cache.isEmpty { cacheFirst = entry.index }
        precondition(cacheFirst + UInt64(cache.count) == entry.index, "wal: cache out of step")
        cache.append(entry)
        cacheBytes += entry.data.count
        if cacheBytes > cacheLimit && cache.count > 1 {
            var drop = 0
            var freed = 0
            while cacheBytes - freed > cacheLimit / 2 && drop < cache.count - 1 {
                freed += cache[drop].data.count
                drop += 1
            }
            cache.removeFirst(drop)
            cacheBytes -= freed
            cacheFirst += UInt64(drop)
        }
    }

    // MARK: Reading back

    private func lastIndexValue() -> UInt64 { base.index + UInt64(locations.count) }

    private func entry(at index: UInt64) throws -> Entry {
        if index >= cacheFirst && index < cacheFirst + UInt64(cache.count) {
            return cache[Int(index - cacheFirst)]
        }
        let location = locations[Int(index - base.index - 1)]
        let reader = try readDescriptor(for: location.segment)
        var bytes = [UInt8](repeating: 0, count: location.size)
        try bytes.withUnsafeMutableBytes { buffer in
            var done = 0
            while done < location.size {
                let n = pread(reader, buffer.baseAddress! + done, location.size - done, off_t(location.offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WALError.errno("pread")
                }
                if n == 0 { throw WALError("wal: entry \(index) runs past the end of its segment") }
                done += n
            }
        }
        guard case .record(.entry(let entry), _) = bytes.withUnsafeBytes({ RecordCodec.decode($0, at: 0) }),
              entry.index == index else {
            throw WALError("wal: the record of entry \(index) does not read back")
        }
        return entry
    }

    private func readDescriptor(for sequence: UInt64) throws -> Int32 {
        if sequence == segments[segments.count - 1].sequence { return fd }
        if let reader = readers[sequence] { return reader }
        guard let segment = segments.first(where: { $0.sequence == sequence }) else {
            throw WALError("wal: segment \(sequence) was released while still in use")
        }
        let path = directory + "/" + segment.name
        let reader = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw WALError.errno("open \(path)") }
        readers[sequence] = reader
        return reader
    }

    // MARK: Files

    private func headerSize() -> Int {
        var buffer: [UInt8] = []
        appendHeader(to: &buffer)
        return buffer.count
    }

    private func appendHeader(to buffer: inout [UInt8]) {
        RecordCodec.append(.metadata(metadata), to: &buffer)
        RecordCodec.append(.snapshot(index: snapshotMark.index, term: snapshotMark.term), to: &buffer)
        RecordCodec.append(.hardState(hardState), to: &buffer)
    }

    private func syncCurrent() throws {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        guard fdatasync(fd) == 0 else { throw WALError.errno("fdatasync") }
        if let onSync {
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &end)
            let nanoseconds = (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)
            onSync(UInt64(max(0, nanoseconds)))
        }
    }

    /// Starts a new segment: written in full under a temporary name, then renamed into place.
    private func cut() throws {
        let segment = Segment(sequence: (segments.last?.sequence).map { $0 + 1 } ?? 0, firstIndex: lastIndexValue() + 1)
        let path = directory + "/" + segment.name
        let temporary = path + ".tmp"
        let newFD = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard newFD >= 0 else { throw WALError.errno("open \(temporary)") }
        _ = posix_fallocate(newFD, 0, off_t(segmentSize))
        var header: [UInt8] = []
        appendHeader(to: &header)
        try pwriteAll(newFD, header, at: 0)
        guard fdatasync(newFD) == 0 else { throw WALError.errno("fdatasync \(temporary)") }
        guard rename(temporary, path) == 0 else { throw WALError.errno("rename \(temporary)") }
        try syncDirectory(directory)
        if fd >= 0 {
            // The finished segment stays readable for older entries.
            if let previous = segments.last { readers[previous.sequence] = fd } else { close(fd) }
        }
        fd = newFD
        offset = header.count
        segments.append(segment)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try pwriteAll(fd, bytes, at: offset)
        offset += bytes.count
    }
}

extension WAL: LogStorage, RaftLogWriter {
    public func initialState() -> (hardState: HardState, snapshot: SnapshotMetadata) {
        (hardState, base)
    }

    public func entries(from lo: UInt64, to hi: UInt64, maxSize: UInt64) throws(StorageError) -> [Entry] {
        if lo <= base.index { throw .compacted }
        precondition(hi <= lastIndexValue() + 1, "entries(\(lo)..<\(hi)) beyond last index \(lastIndexValue())")
        precondition(lo <= hi, "entries(\(lo)..<\(hi)) is an inverted range")
        var result: [Entry] = []
        var size: UInt64 = 0
        var index = lo
        while index < hi {
            let entry: Entry
            do {
                entry = try self.entry(at: index)
            } catch {
                // The log cannot be read back: continuing would serve a partial view of it.
                preconditionFailure("\(error)")
            }
            size += UInt64(entry.encodedSize)
            if !result.isEmpty && size > maxSize { break }
            result.append(entry)
            index += 1
        }
        return result
    }

    public func term(at index: UInt64) throws(StorageError) -> UInt64 {
        if index < base.index { throw .compacted }
        if index == base.index { return base.term }
        if index > lastIndexValue() { throw .unavailable }
        return locations[Int(index - base.index - 1)].term
    }

    public func firstIndex() -> UInt64 { base.index + 1 }

    public func lastIndex() -> UInt64 { lastIndexValue() }

    public func snapshot() throws(StorageError) -> Snapshot {
        if let snapshotSource { return try snapshotSource() }
        return Snapshot(metadata: base)
    }
}

public struct WALError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }

    static func errno(_ operation: String) -> WALError {
        WALError("\(operation): \(String(cString: strerror(Glibc.errno)))")
    }
}

private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
}

private func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws {
    var written = 0
    try bytes.withUnsafeBytes { buffer in
        while written < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
            if n < 0 {
                if errno == EINTR { continue }
                throw WALError.errno("pwrite")
            }
            written += n
        }
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw WALError.errno("open \(path)") }
    defer { close(fd) }
    let size = Int(lseek(fd, 0, SEEK_END))
    guard size >= 0 else { throw WALError.errno("lseek \(path)") }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    try bytes.withUnsafeMutableBytes { buffer in
        while done < size {
            let n = pread(fd, buffer.baseAddress! + done, size - done, off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw WALError.errno("pread \(path)")
            }
            if n == 0 { break }
            done += n
        }
    }
    return bytes
}

func segmentFiles(in directory: String) throws -> [WAL.Segment] {
    guard let dir = opendir(directory) else {
        if errno == ENOENT { return [] }
        throw WALError.errno("opendir \(directory)")
    }
    defer { closedir(dir) }
    var segments: [WAL.Segment] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        guard name.hasSuffix(".wal"), name.count == 37 else { continue }
        let parts = name.dropLast(4).split(separator: "-")
        guard parts.count == 2, let sequence = UInt64(parts[0], radix: 16),
              let first = UInt64(parts[1], radix: 16) else { continue }
        segments.append(WAL.Segment(sequence: sequence, firstIndex: first))
    }
    return segments.sorted { $0.sequence < $1.sequence }
}

/// Creates `path` and its missing parents.
public func makeDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, 0o700) != 0 && errno != EEXIST {
            throw WALError.errno("mkdir \(current)")
        }
    }
}

public func syncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw WALError.errno("open \(path)") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw WALError.errno("fsync \(path)") }
}
