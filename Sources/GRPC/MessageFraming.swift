/// gRPC length-prefixed messages: a 1-byte compressed flag, a 4-byte big-endian length, then
/// the message.
public enum MessageFraming {
    public static let prefixSize = 5

    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(prefixSize + message.count)
        append(message, to: &out)
        return out
    }

    /// Appends `message`, framed, to `out`: for senders that queue many messages in one buffer.
    public static func append(_ message: [UInt8], to out: inout [UInt8]) {
        let n = UInt32(message.count)
        out += [0, UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
                UInt8(truncatingIfNeeded: n)]
        out += message
    }
}

/// Reassembles messages from DATA chunks of arbitrary size.
struct MessageDeframer {
    enum Failure: Error, Equatable {
        /// Length above the limit: (length, limit).
        case tooLarge(Int, Int)
        case compressed
    }

    let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var consumed = 0

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// True if some bytes of an incomplete message are buffered.
    var hasPartialMessage: Bool { buffer.count > consumed }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, if any.
    mutating func next() throws(Failure) -> [UInt8]? {
        let available = buffer.count - consumed
        guard available >= MessageFraming.prefixSize else { compactIfDone(); return nil }
        let flag = buffer[consumed]
        let length = Int(buffer[consumed + 1]) << 24 | Int(buffer[consumed + 2]) << 16
            | Int(buffer[consumed + 3]) << 8 | Int(buffer[consumed + 4])
        if length > maxMessageBytes { throw .tooLarge(length, maxMessageBytes) }
        if flag != 0 { throw .compressed }
        guard available >= MessageFraming.prefixSize + length else { return nil }
        let start = consumed + MessageFraming.prefixSize
        let message = Array(buffer[start..<(start + length)])
        consumed = start + length
        compactIfDone()
        return message
    }

    private mutating func compactIfDone() {
        if consumed == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            consumed = 0
        } else if consumed > 1 << 16 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
    }
}
