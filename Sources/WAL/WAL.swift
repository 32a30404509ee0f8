#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead log: every proposal is appended and made durable here before it is applied.
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
public final class WAL {
    public struct Recovered: Sendable {
        public var metadata: [UInt8]
        public var hardState: HardState
        /// The newest snapshot mark: entries up to it are covered by the store.
        public var snapshot: (index: UInt64, term: UInt64)
        /// Entries after the snapshot mark, in index order, with truncations applied.
        public var entries: [Entry]
    }

    public static let defaultSegmentSize = 64 << 20

    public let directory: String
    let segmentSize: Int
    private var segments: [Segment]
    private var fd: Int32
    private var offset: Int
    private var metadata: [UInt8]
    private var hardState: HardState
    private var snapshot: (index: UInt64, term: UInt64)
    /// Index of the last entry written.
    public private(set) var lastIndex: UInt64

    struct Segment {
        var sequence: UInt64
        var firstIndex: UInt64
        var name: String { hex16(sequence) + "-" + hex16(firstIndex) + ".wal" }
    }

    private init(directory: String, segmentSize: Int, segments: [Segment], fd: Int32, offset: Int,
                 metadata: [UInt8], hardState: HardState, snapshot: (UInt64, UInt64), lastIndex: UInt64) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.segments = segments
        self.fd = fd
        self.offset = offset
        self.metadata = metadata
        self.hardState = hardState
        self.snapshot = snapshot
        self.lastIndex = lastIndex
    }

    deinit {
        close(fd)
    }

    /// Whether `directory` holds a log.
    public static func exists(in directory: String) -> Bool {
        (try? segmentFiles(in: directory).isEmpty == false) ?? false
    }

    /// Creates a new, empty log in `directory` (created if missing).
    public static func create(in directory: String, metadata: [UInt8],
                              segmentSize: Int = defaultSegmentSize) throws -> WAL {
        try makeDirectories(directory)
        guard try segmentFiles(in: directory).isEmpty else { throw WALError("wal: \(directory) already holds a log") }
        let wal = WAL(directory: directory, segmentSize: segmentSize, segments: [], fd: -1, offset: 0,
                      metadata: metadata, hardState: HardState(), snapshot: (0, 0), lastIndex: 0)
        try wal.cut()
        return wal
    }

    /// Opens the log in `directory`, recovering its contents.
    public static func open(in directory: String, segmentSize: Int = defaultSegmentSize) throws -> (WAL, Recovered) {
        let segments = try segmentFiles(in: directory)
        guard let last = segments.last else { throw WALError("wal: no log in \(directory)") }
        var recovered = Recovered(metadata: [], hardState: HardState(), snapshot: (0, 0), entries: [])
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
                    try apply(record, to: &recovered)
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
        let target = max(segmentSizeFor(path: path, default: segmentSize), endOffset)
        _ = posix_fallocate(fd, 0, off_t(target))
        guard fdatasync(fd) == 0 else { throw WALError.errno("fdatasync \(path)") }
        let lastIndex = recovered.entries.last?.index ?? recovered.snapshot.index
        let wal = WAL(directory: directory, segmentSize: segmentSize, segments: segments, fd: fd, offset: endOffset,
                      metadata: recovered.metadata, hardState: recovered.hardState, snapshot: recovered.snapshot,
                      lastIndex: lastIndex)
        return (wal, recovered)
    }

    private static func segmentSizeFor(path: String, default size: Int) -> Int { size }

    private static func apply(_ record: Record, to state: inout Recovered) throws {
        switch record {
        case .metadata(let bytes):
            state.metadata = bytes
        case .hardState(let hardState):
            state.hardState = hardState
        case .snapshot(let index, let term):
            if index >= state.snapshot.index {
                state.snapshot = (index, term)
                state.entries.removeAll { $0.index <= index }
            }
        case .entry(let entry):
            if entry.index <= state.snapshot.index { return }
            if let last = state.entries.last, entry.index <= last.index {
                // A newer entry at an existing index replaces the log from there on.
                state.entries.removeAll { $0.index >= entry.index }
            }
            // The first entry may start past the snapshot mark when older segments were
            // released; the caller checks it against what the store has applied.
            if let last = state.entries.last, entry.index != last.index + 1 {
                let expected = last.index + 1
                throw WALError("wal: entry index \(entry.index) does not follow \(expected - 1)")
            }
            state.entries.append(entry)
        }
    }

    /// Appends records with one write. Not durable until `sync()`.
    public func append(entries: [Entry], hardState: HardState? = nil) throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(entries.reduce(64) { $0 + $1.data.count + 48 })
        for entry in entries { RecordCodec.append(.entry(entry), to: &buffer) }
        if let hardState {
            RecordCodec.append(.hardState(hardState), to: &buffer)
        }
        if offset + buffer.count > segmentSize && offset > headerSize() {
            try sync()
            try cut()
        }
        try writeAll(buffer)
        if let last = entries.last { lastIndex = last.index }
        if let hardState { self.hardState = hardState }
    }

    /// Records that entries up to `index` are covered by the store's durable state.
    public func markSnapshot(index: UInt64, term: UInt64) throws {
        var buffer: [UInt8] = []
        RecordCodec.append(.snapshot(index: index, term: term), to: &buffer)
        if offset + buffer.count > segmentSize {
            try sync()
            try cut()
        }
        try writeAll(buffer)
        snapshot = (index, term)
    }

    /// Makes everything appended so far durable.
    public func sync() throws {
        guard fdatasync(fd) == 0 else { throw WALError.errno("fdatasync") }
    }

    /// Deletes segments whose entries all precede `index` (the store has durably applied
    /// them). The current segment always stays.
    public func releaseSegments(before index: UInt64) {
        while segments.count > 1, segments[1].firstIndex <= index {
            unlink(directory + "/" + segments[0].name)
            segments.removeFirst()
        }
    }

    public var segmentCount: Int { segments.count }

    private func headerSize() -> Int {
        var buffer: [UInt8] = []
        appendHeader(to: &buffer)
        return buffer.count
    }

    private func appendHeader(to buffer: inout [UInt8]) {
        RecordCodec.append(.metadata(metadata), to: &buffer)
        RecordCodec.append(.snapshot(index: snapshot.index, term: snapshot.term), to: &buffer)
        RecordCodec.append(.hardState(hardState), to: &buffer)
    }

    /// Starts a new segment: written in full under a temporary name, then renamed into place.
    private func cut() throws {
        let segment = Segment(sequence: (segments.last?.sequence).map { $0 + 1 } ?? 0, firstIndex: lastIndex + 1)
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
        if fd >= 0 { close(fd) }
        fd = newFD
        offset = header.count
        segments.append(segment)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try pwriteAll(fd, bytes, at: offset)
        offset += bytes.count
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

private func readFile(_ path: String) throws -> [UInt8] {
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

private func segmentFiles(in directory: String) throws -> [WAL.Segment] {
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
