/// Identifies a member of a Raft group. Zero means "nobody" (no leader, no vote).
public typealias NodeID = UInt64

/// The reserved "no node" value.
public let noNode: NodeID = 0

/// What an entry's `data` holds. The raw values are those of etcd's `raftpb.EntryType`.
public enum EntryType: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Application data (for etcd: an encoded request). An empty normal entry is the no-op a new
    /// leader appends to commit entries from earlier terms (§5.4.2).
    case normal = 0
    /// An encoded `ConfChange`, applied with `RaftNode.applyConfChange` once committed.
    case confChange = 1

    public var description: String {
        switch self {
        case .normal: return "normal"
        case .confChange: return "confChange"
        }
    }
}

/// One record of the replicated log.
public struct Entry: Sendable, Hashable {
    public var term: UInt64
    public var index: UInt64
    public var type: EntryType
    public var data: [UInt8]

    public init(term: UInt64 = 0, index: UInt64 = 0, type: EntryType = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.type = type
        self.data = data
    }

    /// The entry's size on the wire. Flow control (`maxSizePerMessage`, committed-entry paging)
    /// is measured in these bytes.
    public var encodedSize: Int { RaftWire.encodedSize(of: self) }
}

/// Trims `entries` so their total encoded size stays within `maxSize`, always keeping the first
/// entry so that progress is possible whatever the limit.
func limitSize(_ entries: [Entry], maxSize: UInt64) -> [Entry] {
    guard entries.count > 1, maxSize != .max else { return entries }
    var size = UInt64(entries[0].encodedSize)
    var count = 1
    while count < entries.count {
        size += UInt64(entries[count].encodedSize)
        if size > maxSize { break }
        count += 1
    }
    return count == entries.count ? entries : Array(entries[..<count])
}
