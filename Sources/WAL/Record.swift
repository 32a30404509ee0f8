import Checksum
import Raft

/// On-disk record format (all integers little-endian):
///
///     +----------------+----------------+------+---------------------+---------+
///     | length: UInt32 | crc32c: UInt32 | type | body (length-1 B)   | padding |
///     +----------------+----------------+------+---------------------+---------+
///
/// `length` counts the type byte and the body; `crc32c` covers the same bytes. Records are
/// padded with zeros to a multiple of 8 bytes. A header whose length is 0 marks the end of the
/// written part of a (preallocated, zero-filled) segment.
public enum Record: Equatable, Sendable {
    /// A log entry. A later entry with the same or a lower index replaces the earlier ones
    /// from that index on (Raft log truncation).
    case entry(Entry)
    /// Raft's persistent state.
    case hardState(HardState)
    /// Entries up to `index` are covered by the store's durable state; replay starts after it.
    /// Later entries are kept.
    case snapshot(index: UInt64, term: UInt64)
    /// A snapshot received from the leader replaced the whole log: every earlier entry is gone,
    /// and the next one is `index + 1`.
    case reset(index: UInt64, term: UInt64)
    /// Opaque metadata written once at the head of the log (member and cluster IDs).
    case metadata([UInt8])

    enum Kind: UInt8 {
        case entry = 1
        case hardState = 2
        case snapshot = 3
        case metadata = 4
        case reset = 5
    }

    static let headerSize = 8
}

enum RecordCodec {
    static func append(_ record: Record, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: [UInt8](repeating: 0, count: Record.headerSize))
        switch record {
        case .entry(let entry):
            out.append(Record.Kind.entry.rawValue)
            appendUInt64(entry.term, to: &out)
            appendUInt64(entry.index, to: &out)
            out.append(entry.type.rawValue)
            out.append(contentsOf: entry.data)
        case .hardState(let state):
            out.append(Record.Kind.hardState.rawValue)
            appendUInt64(state.term, to: &out)
            appendUInt64(state.vote, to: &out)
            appendUInt64(state.commit, to: &out)
        case .snapshot(let index, let term):
            out.append(Record.Kind.snapshot.rawValue)
            appendUInt64(index, to: &out)
            appendUInt64(term, to: &out)
        case .reset(let index, let term):
            out.append(Record.Kind.reset.rawValue)
            appendUInt64(index, to: &out)
            appendUInt64(term, to: &out)
        case .metadata(let bytes):
            out.append(Record.Kind.metadata.rawValue)
            out.append(contentsOf: bytes)
        }
        let length = out.count - start - Record.headerSize
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + Record.headerSize)...])) }
        writeUInt32(UInt32(length), into: &out, at: start)
        writeUInt32(crc, into: &out, at: start + 4)
        let padding = (8 - out.count % 8) % 8
        out.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }

    enum DecodeResult {
        case record(Record, size: Int)
        /// Zero header: nothing more was written.
        case end
        /// A record that is cut short or fails its checksum: a torn write, or damage.
        case invalid(String)
    }

    static func decode(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> DecodeResult {
        let remaining = buffer.count - offset
        if remaining < Record.headerSize {
            return buffer[offset...].allSatisfy({ $0 == 0 }) ? .end : .invalid("truncated header")
        }
        let length = Int(readUInt32(buffer, at: offset))
        let crc = readUInt32(buffer, at: offset + 4)
        if length == 0 {
            return crc == 0 ? .end : .invalid("zero-length record")
        }
        guard length <= remaining - Record.headerSize else { return .invalid("record runs past end of segment") }
        let body = UnsafeRawBufferPointer(rebasing: buffer[(offset + Record.headerSize)..<(offset + Record.headerSize + length)])
        guard CRC32C.checksum(body) == crc else { return .invalid("checksum mismatch") }
        let padded = (Record.headerSize + length + 7) / 8 * 8
        let payload = UnsafeRawBufferPointer(rebasing: body[1...])
        guard let kind = Record.Kind(rawValue: body[0]) else { return .invalid("unknown record type \(body[0])") }
        switch kind {
        case .entry:
            guard payload.count >= 17, let type = EntryType(rawValue: payload[16]) else {
                return .invalid("short entry")
            }
            let entry = Entry(term: readUInt64(payload, at: 0), index: readUInt64(payload, at: 8),
                              type: type, data: Array(payload[17...]))
            return .record(.entry(entry), size: padded)
        case .hardState:
            guard payload.count == 24 else { return .invalid("bad hard state") }
            return .record(.hardState(HardState(term: readUInt64(payload, at: 0), vote: readUInt64(payload, at: 8),
                                                commit: readUInt64(payload, at: 16))), size: padded)
        case .snapshot, .reset:
            guard payload.count == 16 else { return .invalid("bad snapshot record") }
            let index = readUInt64(payload, at: 0), term = readUInt64(payload, at: 8)
            return .record(kind == .snapshot ? .snapshot(index: index, term: term) : .reset(index: index, term: term),
                           size: padded)
        case .metadata:
            return .record(.metadata(Array(payload)), size: padded)
        }
    }

    static func appendUInt64(_ value: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    static func writeUInt32(_ value: UInt32, into out: inout [UInt8], at offset: Int) {
        for i in 0..<4 { out[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    static func readUInt32(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(buffer[offset + i]) << (8 * UInt32(i)) }
        return value
    }

    static func readUInt64(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(buffer[offset + i]) << (8 * UInt64(i)) }
        return value
    }
}
