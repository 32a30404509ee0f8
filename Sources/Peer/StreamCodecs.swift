import Raft

/// The two encodings of etcd 3.4's peer streams (rafthttp), written and read as etcd members
/// do, so our members and etcd's share one cluster.
///
/// `message` stream: a sequence of frames, each an 8-byte big-endian length and that many
/// bytes of an encoded raftpb.Message. It carries everything but appends.
///
/// `msgapp` stream (etcd's msgappv2): appends only, in three frame kinds:
///
///     0x00                                   link heartbeat
///     0x01 count:u64 (size:u64 entry)* commit:u64
///                                            an append continuing the previous one: same term,
///                                            log term = term, index = where the last one ended
///     0x02 size:u64 message                  any other append, in full
///
/// Both sides keep (term, index) per connection, starting at zero, so the first frame of a
/// connection is always a full message.
public enum StreamKind: String, Sendable, CaseIterable {
    case message
    case msgapp

    /// The URL path segment, `/raft/stream/<segment>/<from>`.
    public var pathSegment: String { rawValue }

    var description: String { self == .message ? "stream Message" : "stream MsgApp v2" }
}

/// Bytes shared by both streams and the snapshot body.
enum PeerFrames {
    /// etcd's link heartbeat: a heartbeat from and to nobody, dropped by the reader.
    static let linkHeartbeat = Message(type: .heartbeat)

    static func isLinkHeartbeat(_ message: Message) -> Bool {
        message.type == .heartbeat && message.from == noNode && message.to == noNode
    }

    /// The largest frame a reader accepts (etcd's readBytesLimit).
    static let maxFrameBytes: UInt64 = 512 << 20

    static func appendUInt64(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    static func readUInt64(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[bytes.startIndex + offset + i]) }
        return value
    }
}

/// Encodes the `message` stream.
public struct MessageStreamEncoder: Sendable {
    public init() {}

    public func encode(_ message: Message, into bytes: inout [UInt8]) {
        let body = RaftWire.encode(message)
        PeerFrames.appendUInt64(UInt64(body.count), to: &bytes)
        bytes.append(contentsOf: body)
    }

    public func linkHeartbeat(into bytes: inout [UInt8]) {
        encode(PeerFrames.linkHeartbeat, into: &bytes)
    }
}

/// Errors of a peer stream's bytes; the connection is closed.
public enum StreamDecodingError: Error, Equatable, Sendable {
    case frameTooLarge(UInt64)
    case badMessage(String)
    case unknownFrameType(UInt8)
}

/// Decodes the `message` stream from bytes as they arrive.
public struct MessageStreamDecoder: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    /// Appends `bytes` and returns every complete message (link heartbeats dropped).
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(StreamDecodingError) -> [Message] {
        buffer.append(contentsOf: bytes)
        var messages: [Message] = []
        var offset = 0
        while buffer.count - offset >= 8 {
            let length = PeerFrames.readUInt64(buffer[...], at: offset)
            guard length <= PeerFrames.maxFrameBytes else { throw .frameTooLarge(length) }
            guard buffer.count - offset - 8 >= Int(length) else { break }
            let body = Array(buffer[(offset + 8)..<(offset + 8 + Int(length))])
            offset += 8 + Int(length)
            let message: Message
            do {
                message = try RaftWire.decodeMessage(body)
            } catch {
                throw .badMessage("\(error)")
            }
            if !PeerFrames.isLinkHeartbeat(message) { messages.append(message) }
        }
        if offset > 0 { buffer.removeFirst(offset) }
        return messages
    }
}

/// Encodes the `msgapp` stream (msgappv2) for one connection.
public struct MsgAppEncoder: Sendable {
    private var term: UInt64 = 0
    private var index: UInt64 = 0

    public init() {}

    public mutating func encode(_ message: Message, into bytes: inout [UInt8]) {
        precondition(message.type == .append, "the msgapp stream carries appends only")
        if index == message.index && term == message.logTerm && message.logTerm == message.term {
            bytes.append(0x01)
            PeerFrames.appendUInt64(UInt64(message.entries.count), to: &bytes)
            for entry in message.entries {
                let encoded = RaftWire.encode(entry)
                PeerFrames.appendUInt64(UInt64(encoded.count), to: &bytes)
                bytes.append(contentsOf: encoded)
            }
            PeerFrames.appendUInt64(message.commit, to: &bytes)
        } else {
            bytes.append(0x02)
            let body = RaftWire.encode(message)
            PeerFrames.appendUInt64(UInt64(body.count), to: &bytes)
            bytes.append(contentsOf: body)
            term = message.term
        }
        index = message.entries.last?.index ?? message.index
    }

    public func linkHeartbeat(into bytes: inout [UInt8]) {
        bytes.append(0x00)
    }
}

/// Decodes the `msgapp` stream sent by `remote` to `local`.
public struct MsgAppDecoder: Sendable {
    private let local: NodeID
    private let remote: NodeID
    private var term: UInt64 = 0
    private var index: UInt64 = 0
    private var buffer: [UInt8] = []

    public init(local: NodeID, remote: NodeID) {
        self.local = local
        self.remote = remote
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(StreamDecodingError) -> [Message] {
        buffer.append(contentsOf: bytes)
        var messages: [Message] = []
        var offset = 0
        frames: while offset < buffer.count {
            let slice = buffer[offset...]
            switch slice.first! {
            case 0x00:
                offset += 1
            case 0x01:
                guard slice.count >= 9 else { break frames }
                let count = PeerFrames.readUInt64(slice, at: 1)
                guard count <= PeerFrames.maxFrameBytes else { throw .frameTooLarge(count) }
                var position = 9
                var entries: [Entry] = []
                for _ in 0..<count {
                    guard slice.count - position >= 8 else { break frames }
                    let size = PeerFrames.readUInt64(slice, at: position)
                    guard size <= PeerFrames.maxFrameBytes else { throw .frameTooLarge(size) }
                    guard slice.count - position - 8 >= Int(size) else { break frames }
                    let start = slice.startIndex + position + 8
                    do {
                        entries.append(try RaftWire.decodeEntry(Array(buffer[start..<(start + Int(size))])))
                    } catch {
                        throw .badMessage("\(error)")
                    }
                    position += 8 + Int(size)
                }
                guard slice.count - position >= 8 else { break frames }
                let commit = PeerFrames.readUInt64(slice, at: position)
                position += 8
                messages.append(Message(type: .append, to: local, from: remote, term: term, logTerm: term, index: index,
                                        entries: entries, commit: commit))
                index += count
                offset += position
            case 0x02:
                guard slice.count >= 9 else { break frames }
                let size = PeerFrames.readUInt64(slice, at: 1)
                guard size <= PeerFrames.maxFrameBytes else { throw .frameTooLarge(size) }
                guard slice.count - 9 >= Int(size) else { break frames }
                let start = slice.startIndex + 9
                let message: Message
                do {
                    message = try RaftWire.decodeMessage(Array(buffer[start..<(start + Int(size))]))
                } catch {
                    throw .badMessage("\(error)")
                }
                term = message.term
                index = message.entries.last?.index ?? message.index
                messages.append(message)
                offset += 9 + Int(size)
            case let kind:
                throw .unknownFrameType(kind)
            }
        }
        if offset > 0 { buffer.removeFirst(offset) }
        return messages
    }
}

/// The head of a snapshot POST body: the MsgSnap as one `message`-stream frame. The database
/// follows it to the end of the body.
public enum SnapshotBody {
    public static func head(_ message: Message) -> [UInt8] {
        var bytes: [UInt8] = []
        MessageStreamEncoder().encode(message, into: &bytes)
        return bytes
    }
}
