#if canImport(Glibc)
import Glibc
#endif
import Checksum
import Foundation
import ProtoWire
import Raft
import Testing
@testable import WAL

/// Writes logs the way etcd 3.4 frames them (8-byte length with the padding in its top byte,
/// walpb.Record, one CRC-32C chain across files) and reads them back with `EtcdWAL`.
private struct EtcdLogWriter {
    var crc: UInt32 = 0
    var files: [[UInt8]] = [[]]

    mutating func record(_ type: Int64, _ data: [UInt8]?) {
        if type != 4, let data { crc = CRC32C.checksum(data, initial: crc) }
        var writer = ProtoWriter()
        writer.writeInt64Always(1, type)
        writer.writeUInt64Always(2, UInt64(crc))
        if let data { writer.writeBytesAlways(3, data) }
        let body = writer.bytes
        let padding = (8 - body.count % 8) % 8
        var field = UInt64(body.count)
        if padding > 0 { field |= UInt64(0x80 | padding) << 56 }
        for i in 0..<8 { files[files.count - 1].append(UInt8(truncatingIfNeeded: field >> (8 * UInt64(i)))) }
        files[files.count - 1] += body + [UInt8](repeating: 0, count: padding)
    }

    mutating func start(metadata: [UInt8]) {
        record(4, nil)
        record(1, metadata)
    }

    mutating func entry(_ index: UInt64, term: UInt64 = 1) { record(2, Entry(term: term, index: index, data: Array("e\(index)".utf8)).serializedBytes()) }
    mutating func state(_ state: HardState) { record(3, RaftWire.encode(state)) }
    mutating func snapshot(_ index: UInt64, _ term: UInt64) {
        var writer = ProtoWriter()
        writer.writeUInt64(1, index)
        writer.writeUInt64(2, term)
        record(5, writer.bytes)
    }

    /// Writes the files (each followed by zeros, as etcd preallocates them) into a new directory.
    func write() -> String {
        var template = Array("/tmp/etcd-wal-test-XXXXXX".utf8CString)
        let directory = String(cString: mkdtemp(&template)!)
        for (sequence, bytes) in files.enumerated() {
            let name = String(format: "%016llx-%016llx.wal", UInt64(sequence), UInt64(sequence * 10))
            FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes + [UInt8](repeating: 0, count: 4096)))
        }
        return directory
    }
}

@Suite struct EtcdWALTests {
    let metadata: [UInt8] = [0x08, 0x05, 0x10, 0x07]

    @Test func readsRecordsAcrossFilesWithTruncation() throws {
        var log = EtcdLogWriter()
        log.start(metadata: metadata)
        log.snapshot(0, 0)
        for i in 1...5 { log.entry(UInt64(i)) }
        log.state(HardState(term: 1, vote: 5, commit: 5))
        log.snapshot(4, 1)
        // A new file begins with the running crc, the metadata and the hard state.
        log.files.append([])
        log.record(4, nil)
        log.record(1, metadata)
        // A new leader overwrote entries from 5 on.
        log.entry(5, term: 2)
        log.entry(6, term: 2)
        log.state(HardState(term: 2, vote: 5, commit: 6))
        let directory = log.write()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        #expect(EtcdWAL.isEtcdLog(in: directory))
        let wal = try EtcdWAL(directory: directory)
        #expect(wal.metadata == metadata && !wal.tornTail)
        #expect(wal.hardState == HardState(term: 2, vote: 5, commit: 6))
        #expect(wal.validSnapshots.map(\.index) == [0, 0, 4])
        let all = try wal.entries(after: (0, 0))
        #expect(all.map(\.index) == [1, 2, 3, 4, 5, 6] && all.map(\.term) == [1, 1, 1, 1, 2, 2])
        #expect(try wal.entries(after: (4, 1)).map(\.index) == [5, 6])
        #expect(throws: WALError.self) { try wal.entries(after: (3, 1)) }
        #expect(throws: WALError.self) { try wal.entries(after: (4, 2)) }
    }

    @Test func tornTailEndsTheLogButDamageElsewhereIsAnError() throws {
        var log = EtcdLogWriter()
        log.start(metadata: metadata)
        log.entry(1)
        log.state(HardState(term: 1, vote: 5, commit: 1))
        let good = log.files[0].count
        log.record(2, [UInt8](repeating: 7, count: 1200))
        // The last record's second sector never reached the disk.
        var torn = log
        #expect(good < 1024 && torn.files[0].count > 1100)
        for i in 1024..<torn.files[0].count { torn.files[0][i] = 0 }
        let tornDirectory = torn.write()
        defer { try? FileManager.default.removeItem(atPath: tornDirectory) }
        let wal = try EtcdWAL(directory: tornDirectory)
        #expect(wal.tornTail && wal.hardState.commit == 1)
        #expect(try wal.entries(after: (0, 0)).map(\.index) == [1])

        // A flipped byte with no zero sector is corruption.
        var flipped = log
        flipped.files[0][good + 20] ^= 0xFF
        let flippedDirectory = flipped.write()
        defer { try? FileManager.default.removeItem(atPath: flippedDirectory) }
        #expect(throws: WALError.self) { try EtcdWAL(directory: flippedDirectory) }
    }

    @Test func conflictingMetadataAndOurOwnLogAreRefused() throws {
        var log = EtcdLogWriter()
        log.start(metadata: metadata)
        log.files.append([])
        log.record(4, nil)
        log.record(1, [0x08, 0x06])
        let directory = log.write()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: WALError.self) { try EtcdWAL(directory: directory) }

        // Our own log format is not mistaken for etcd's.
        var template = Array("/tmp/etcd-wal-test-XXXXXX".utf8CString)
        let ours = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: ours) }
        let wal = try WAL.create(in: ours, metadata: metadata, segmentSize: 1 << 16)
        try wal.save(entries: [Entry(term: 1, index: 1, data: [1])], hardState: HardState(term: 1, vote: 0, commit: 1), sync: true)
        #expect(!EtcdWAL.isEtcdLog(in: ours))
    }
}
