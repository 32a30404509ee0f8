/// A store revision: `main` increments once per write transaction, `sub` numbers the changes
/// inside it. Encoded as 16 big-endian bytes so that LMDB's byte order is revision order.
public struct Revision: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64 = 0) {
        self.main = main
        self.sub = sub
    }

    public static func < (a: Revision, b: Revision) -> Bool {
        a.main != b.main ? a.main < b.main : a.sub < b.sub
    }

    public var description: String { "\(main)_\(sub)" }

    public static let encodedSize = 16

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Revision.encodedSize)
        write(into: &out, at: 0)
        return out
    }

    func write(into out: inout [UInt8], at offset: Int) {
        putBigEndian(UInt64(bitPattern: main), into: &out, at: offset)
        putBigEndian(UInt64(bitPattern: sub), into: &out, at: offset + 8)
    }

    /// Decodes the first 16 bytes of `buffer`; nil if it is shorter (a corrupt store).
    init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count >= Revision.encodedSize else { return nil }
        main = Int64(bitPattern: readBigEndian(buffer, at: 0))
        sub = Int64(bitPattern: readBigEndian(buffer, at: 8))
    }
}

@inline(__always)
func putBigEndian(_ value: UInt64, into out: inout [UInt8], at offset: Int) {
    for i in 0..<8 { out[offset + i] = UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64(i))) }
}

@inline(__always)
func readBigEndian(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<8 { value = value << 8 | UInt64(buffer[offset + i]) }
    return value
}

/// The eight big-endian bytes of `value`: keys that sort in numeric order (for non-negative values).
public func bigEndianBytes(_ value: Int64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 8)
    putBigEndian(UInt64(bitPattern: value), into: &out, at: 0)
    return out
}

/// Reads `bigEndianBytes` back; nil unless the buffer holds exactly eight bytes.
public func int64(bigEndian buffer: UnsafeRawBufferPointer?) -> Int64? {
    guard let buffer, buffer.count == 8 else { return nil }
    return Int64(bitPattern: readBigEndian(buffer, at: 0))
}

/// One entry of a key's history in the index: the revision of a change, whether the change was a
/// delete (a tombstone ends a "generation" of the key), and the lease the key was put with (so
/// that lease attachments can be rebuilt from the index alone).
///
/// Encoded in 25 bytes: revision (16), tombstone flag (1), lease (8, big-endian).
public struct IndexEntry: Equatable, Sendable {
    public var revision: Revision
    public var isTombstone: Bool
    public var lease: Int64

    static let encodedSize = Revision.encodedSize + 1 + 8

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: IndexEntry.encodedSize)
        revision.write(into: &out, at: 0)
        out[16] = isTombstone ? 1 : 0
        putBigEndian(UInt64(bitPattern: lease), into: &out, at: 17)
        return out
    }

    init(revision: Revision, isTombstone: Bool, lease: Int64 = 0) {
        self.revision = revision
        self.isTombstone = isTombstone
        self.lease = lease
    }

    init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count == IndexEntry.encodedSize, let revision = Revision(buffer) else { return nil }
        self.revision = revision
        self.isTombstone = buffer[16] != 0
        self.lease = Int64(bitPattern: readBigEndian(buffer, at: 17))
    }

    /// The smallest encoded entry at main revision `main`: a seek bound.
    static func lowerBound(main: Int64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: IndexEntry.encodedSize)
        Revision(main: main, sub: 0).write(into: &out, at: 0)
        return out
    }
}
