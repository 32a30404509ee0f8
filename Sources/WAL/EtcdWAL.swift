import Checksum
import Foundation
import ProtoWire
import Raft

/// etcd 3.4's write-ahead log, read (never written): what the import of an etcd data dir needs.
///
/// Files are named `<seq>-<index>.wal` (16 hex digits each). Each frame is an 8-byte
/// little-endian length whose low 56 bits count the record's bytes and whose top byte, when
/// its high bit is set, carries the padding (`0x80 | pad`) that aligns the next frame to 8
/// bytes; a zero length ends the file. A record is walpb.Record{type = 1, crc = 2, data = 3}.
/// The CRC-32C runs over every record's data across all files; a crc record (type 4) restates
/// the running value at the head of each file.
public struct EtcdWAL: Sendable {
    public enum RecordType: Int64 {
        case metadata = 1, entry = 2, state = 3, crc = 4, snapshot = 5
    }

    /// etcdserverpb.Metadata of the log: the member's and the cluster's IDs.
    public var metadata: [UInt8]
    public var hardState: HardState
    /// Every snapshot record, in log order.
    public var snapshots: [(index: UInt64, term: UInt64)]
    /// Every entry record, in log order (later ones at an index replace earlier ones from it).
    private var entryRecords: [Entry]
    /// The last file ended in a torn write, which etcd would cut off (and so do we, in memory).
    public var tornTail: Bool

    /// Whether `directory` holds etcd's log rather than ours: its first file starts with an
    /// etcd frame holding a crc record.
    public static func isEtcdLog(in directory: String) -> Bool {
        guard let first = try? segmentFiles(in: directory).first,
              let bytes = try? readFile(directory + "/" + first.name), bytes.count >= 16 else { return false }
        guard case .frame(let record, _)? = try? Self.frame(bytes, at: 0) else { return false }
        return record.type == RecordType.crc.rawValue
    }

    /// Reads every file of the log in `directory`, checking the CRC chain.
    public init(directory: String) throws {
        let files = try segmentFiles(in: directory)
        guard !files.isEmpty else { throw WALError("wal: no etcd log in \(directory)") }
        for (position, file) in files.enumerated().dropFirst() where file.sequence != files[position - 1].sequence + 1 {
            throw WALError("wal: file not found (the sequence of \(file.name) does not follow)")
        }
        metadata = []
        hardState = HardState()
        snapshots = []
        entryRecords = []
        tornTail = false
        var crc: UInt32 = 0
        var sawMetadata = false
        for (position, file) in files.enumerated() {
            let isLast = position == files.count - 1
            let bytes = try readFile(directory + "/" + file.name)
            var offset = 0
            while offset < bytes.count {
                let next: Frame
                do {
                    next = try Self.frame(bytes, at: offset)
                } catch {
                    guard isLast, Self.isTorn(bytes, from: offset) else {
                        throw WALError("wal: \(file.name) at offset \(offset): \(error)")
                    }
                    tornTail = true
                    break
                }
                guard case .frame(let record, let size) = next else { break }
                if record.type == RecordType.crc.rawValue {
                    if crc != 0 && record.crc != crc { throw WALError("wal: crc mismatch in \(file.name) at offset \(offset)") }
                    crc = record.crc
                    offset += size
                    continue
                }
                let running = CRC32C.checksum(record.data, initial: crc)
                guard running == record.crc else {
                    if isLast && Self.isTorn(bytes, from: offset) { tornTail = true; break }
                    throw WALError("wal: crc mismatch in \(file.name) at offset \(offset)")
                }
                crc = running
                offset += size
                switch RecordType(rawValue: record.type) {
                case .metadata:
                    if sawMetadata && record.data != metadata { throw WALError("wal: conflicting metadata found") }
                    metadata = record.data
                    sawMetadata = true
                case .entry:
                    entryRecords.append(try Entry(serializedBytes: record.data))
                case .state:
                    hardState = try RaftWire.decodeHardState(record.data)
                case .snapshot:
                    let snapshot = try Self.walSnapshot(record.data)
                    snapshots.append(snapshot)
                default:
                    throw WALError("wal: unexpected block type \(record.type) in \(file.name)")
                }
            }
        }
        guard sawMetadata else { throw WALError("wal: no metadata record in \(directory)") }
    }

    /// Snapshot records a restart may start from: those the hard state's commit covers.
    public var validSnapshots: [(index: UInt64, term: UInt64)] {
        [(0, 0)] + snapshots.filter { $0.index <= hardState.commit }
    }

    /// The entries after `snapshot`, as etcd's ReadAll leaves them: an entry at index i drops
    /// every earlier one at i or later.
    public func entries(after snapshot: (index: UInt64, term: UInt64)) throws -> [Entry] {
        guard snapshot.index == 0 || snapshots.contains(where: { $0.index == snapshot.index }) else {
            throw WALError("wal: snapshot not found")
        }
        if let record = snapshots.last(where: { $0.index == snapshot.index }), record.term != snapshot.term {
            throw WALError("wal: snapshot mismatch")
        }
        var entries: [Entry] = []
        for entry in entryRecords where entry.index > snapshot.index {
            let position = Int(entry.index - snapshot.index - 1)
            guard position <= entries.count else { throw WALError("wal: slice bounds out of range") }
            entries.removeSubrange(position...)
            entries.append(entry)
        }
        return entries
    }

    // MARK: Frames

    struct Record {
        var type: Int64 = 0
        var crc: UInt32 = 0
        var data: [UInt8] = []
    }

    enum Frame {
        case frame(Record, size: Int)
        case end
    }

    struct FrameError: Error, CustomStringConvertible {
        let description: String
    }

    /// The frame at `offset`: its record and its length including the length field and padding.
    static func frame(_ bytes: [UInt8], at offset: Int) throws -> Frame {
        guard bytes.count - offset >= 8 else {
            if bytes[offset...].allSatisfy({ $0 == 0 }) { return .end }
            throw FrameError(description: "unexpected EOF")
        }
        var field: UInt64 = 0
        for i in 0..<8 { field |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        if field == 0 { return .end }
        let length = Int(field & 0x00FF_FFFF_FFFF_FFFF)
        let padding = field >> 63 == 1 ? Int((field >> 56) & 0x7) : 0
        guard length <= 10 << 20 else { throw FrameError(description: "record of \(length) bytes exceeds the limit") }
        guard offset + 8 + length + padding <= bytes.count else { throw FrameError(description: "unexpected EOF") }
        let record: Record
        do {
            record = try decodeRecord(Array(bytes[(offset + 8)..<(offset + 8 + length)]))
        } catch {
            throw FrameError(description: "record does not decode: \(error)")
        }
        return .frame(record, size: 8 + length + padding)
    }

    /// walpb.Record{type = 1, crc = 2, data = 3}.
    static func decodeRecord(_ bytes: [UInt8]) throws -> Record {
        var record = Record()
        try readFields(bytes) { reader, number, wireType throws(ProtoDecodingError) in
            switch number {
            case 1: record.type = try reader.readInt64(wireType, field: number)
            case 2: record.crc = try reader.readUInt32(wireType, field: number)
            case 3: record.data = try reader.readBytes(wireType, field: number)
            default: try reader.skip(wireType, field: number)
            }
        }
        return record
    }

    /// Calls `body` for each field of the message in `bytes`.
    static func readFields(_ bytes: [UInt8],
                           _ body: (inout ProtoReader, Int, WireType) throws(ProtoDecodingError) -> Void) throws {
        try ProtoReader.reading(bytes) { reader throws(ProtoDecodingError) in
            while let (number, wireType) = try reader.readTag() {
                try body(&reader, number, wireType)
            }
        }
    }

    /// etcd's torn-write test: a frame that fails, in the last file, whose bytes include a
    /// whole 512-byte sector of zeros (a write the disk never finished).
    static func isTorn(_ bytes: [UInt8], from offset: Int) -> Bool {
        var field: UInt64 = 0
        if bytes.count - offset >= 8 {
            for i in 0..<8 { field |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        }
        let length = Int(field & 0x00FF_FFFF_FFFF_FFFF)
        let end = min(bytes.count, offset + 8 + min(length, bytes.count))
        if end - offset < 8 || offset + 8 + length > bytes.count { return true }
        var chunkStart = offset
        while chunkStart < end {
            let chunkEnd = min(end, (chunkStart / 512 + 1) * 512)
            if bytes[chunkStart..<chunkEnd].allSatisfy({ $0 == 0 }) { return true }
            chunkStart = chunkEnd
        }
        return false
    }

    /// walpb.Snapshot{index = 1, term = 2}.
    static func walSnapshot(_ data: [UInt8]) throws -> (index: UInt64, term: UInt64) {
        var index: UInt64 = 0, term: UInt64 = 0
        try readFields(data) { reader, field, wireType throws(ProtoDecodingError) in
            switch field {
            case 1: index = try reader.readUInt64(wireType, field: field)
            case 2: term = try reader.readUInt64(wireType, field: field)
            default: try reader.skip(wireType, field: field)
            }
        }
        return (index, term)
    }
}

/// etcd's `member/snap/<term>-<index>.snap` files: snappb.Snapshot{crc = 1, data = 2}, the data
/// a raftpb.Snapshot whose own data is the v2 store's JSON.
public enum EtcdSnapFiles {
    /// The newest snapshot file matching one of `valid` (term and index), as etcd loads it;
    /// files that do not decode or fail their CRC are passed over.
    public static func newest(in directory: String, matching valid: [(index: UInt64, term: UInt64)]) -> Snapshot? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".snap") }.sorted(by: >)
        for name in names {
            guard let snapshot = try? read(directory + "/" + name),
                  valid.contains(where: { $0.index == snapshot.metadata.index && $0.term == snapshot.metadata.term })
            else { continue }
            return snapshot
        }
        return nil
    }

    public static func read(_ path: String) throws -> Snapshot {
        let bytes = try readFile(path)
        guard !bytes.isEmpty else { throw WALError("snap: empty snapshot \(path)") }
        var crc: UInt32 = 0
        var data: [UInt8] = []
        try EtcdWAL.readFields(bytes) { reader, field, wireType throws(ProtoDecodingError) in
            switch field {
            case 1: crc = try reader.readUInt32(wireType, field: field)
            case 2: data = try reader.readBytes(wireType, field: field)
            default: try reader.skip(wireType, field: field)
            }
        }
        guard !data.isEmpty, crc != 0 else { throw WALError("snap: empty snapshot \(path)") }
        guard CRC32C.checksum(data) == crc else { throw WALError("snap: crc mismatch in \(path)") }
        return try RaftWire.decodeSnapshot(data)
    }
}
