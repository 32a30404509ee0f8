import Raft
import Testing
@testable import Peer

/// The peer streams' encodings, checked against bytes etcd 3.4 wrote on a live link
/// (shared/research/etcd34-peer-protocol.md, §2.2 to §2.4) and against themselves across every
/// way the bytes may be split into reads.
@Suite struct StreamCodecTests {
    /// etcd's link heartbeat on the message stream: a 30-byte gogo encoding with every scalar
    /// field present at zero and an empty snapshot.
    static let etcdLinkHeartbeat: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x1e,
        0x08, 0x08, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x30, 0x00, 0x40, 0x00, 0x4a, 0x0a,
        0x12, 0x08, 0x0a, 0x02, 0x28, 0x00, 0x10, 0x00, 0x18, 0x00, 0x50, 0x00, 0x58, 0x00]

    @Test func etcdsLinkHeartbeatIsReadAndDropped() throws {
        #expect(Self.etcdLinkHeartbeat.count == 38)
        var decoder = MessageStreamDecoder()
        let heartbeat = Message(type: .heartbeat, to: 2, from: 1, term: 3, commit: 4)
        var bytes = Self.etcdLinkHeartbeat
        MessageStreamEncoder().encode(heartbeat, into: &bytes)
        let messages = try decoder.feed(bytes)
        #expect(messages.count == 1)
        #expect(messages.first?.type == .heartbeat)
        #expect(messages.first?.from == 1)
        #expect(messages.first?.commit == 4)
    }

    @Test func ourLinkHeartbeatIsAHeartbeatFromNobody() throws {
        var bytes: [UInt8] = []
        MessageStreamEncoder().linkHeartbeat(into: &bytes)
        #expect(bytes == [0, 0, 0, 0, 0, 0, 0, 2, 0x08, 0x08])
        var msgapp: [UInt8] = []
        MsgAppEncoder().linkHeartbeat(into: &msgapp)
        #expect(msgapp == [0x00])
    }

    private static func appends(from start: UInt64, term: UInt64, count: Int) -> [Message] {
        var index = start
        var messages: [Message] = []
        for round in 0..<count {
            let entries = (0..<(round % 3)).map { offset in
                Entry(term: term, index: index + 1 + UInt64(offset), data: Array("value-\(round)-\(offset)".utf8))
            }
            messages.append(Message(type: .append, to: 2, from: 1, term: term, logTerm: term, index: index,
                                    entries: entries, commit: index))
            index += UInt64(entries.count)
        }
        return messages
    }

    /// The first frame of a connection is a full message (0x02); appends that continue the last
    /// one in the same term are compact (0x01); a term change or a jump is full again.
    @Test func msgAppFramesAsEtcdWritesThem() throws {
        var encoder = MsgAppEncoder()
        let messages = Self.appends(from: 10, term: 5, count: 6)
        var kinds: [UInt8] = []
        var bytes: [UInt8] = []
        for message in messages {
            var frame: [UInt8] = []
            encoder.encode(message, into: &frame)
            kinds.append(frame[0])
            bytes += frame
        }
        #expect(kinds == [0x02, 0x01, 0x01, 0x01, 0x01, 0x01])
        // A later term: full message again.
        var frame: [UInt8] = []
        let next = Message(type: .append, to: 2, from: 1, term: 6, logTerm: 5, index: 20, entries: [], commit: 20)
        encoder.encode(next, into: &frame)
        #expect(frame[0] == 0x02)

        var decoder = MsgAppDecoder(local: 2, remote: 1)
        #expect(try decoder.feed(bytes) == messages)
    }

    /// Whatever the read sizes, the decoders produce the same messages.
    @Test(arguments: [1, 2, 3, 7, 64])
    func decodingIsIndependentOfChunking(chunk: Int) throws {
        var encoder = MsgAppEncoder()
        let messages = Self.appends(from: 0, term: 2, count: 12)
        var bytes: [UInt8] = []
        for (position, message) in messages.enumerated() {
            encoder.encode(message, into: &bytes)
            if position % 4 == 0 { encoder.linkHeartbeat(into: &bytes) }
        }
        var decoder = MsgAppDecoder(local: 2, remote: 1)
        var decoded: [Message] = []
        var offset = 0
        while offset < bytes.count {
            decoded += try decoder.feed(bytes[offset..<min(offset + chunk, bytes.count)])
            offset += chunk
        }
        #expect(decoded == messages)

        var stream: [UInt8] = []
        let others = [Message(type: .vote, to: 2, from: 1, term: 9, logTerm: 8, index: 7),
                      Message(type: .heartbeatResponse, to: 1, from: 2, term: 9, context: [1, 2, 3])]
        for message in others { MessageStreamEncoder().encode(message, into: &stream) }
        MessageStreamEncoder().linkHeartbeat(into: &stream)
        var messageDecoder = MessageStreamDecoder()
        var got: [Message] = []
        offset = 0
        while offset < stream.count {
            got += try messageDecoder.feed(stream[offset..<min(offset + chunk, stream.count)])
            offset += chunk
        }
        #expect(got.map(\.type) == others.map(\.type))
        #expect(got.last?.context == [1, 2, 3])
    }

    @Test func hostileBytesAreRefusedNotTrusted() throws {
        var decoder = MessageStreamDecoder()
        #expect(throws: StreamDecodingError.frameTooLarge(UInt64.max)) {
            try decoder.feed([UInt8](repeating: 0xFF, count: 8))
        }
        var appDecoder = MsgAppDecoder(local: 1, remote: 2)
        #expect(throws: StreamDecodingError.unknownFrameType(7)) { try appDecoder.feed([7]) }
        var garbage = MessageStreamDecoder()
        #expect(throws: StreamDecodingError.self) { try garbage.feed([0, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF]) }
    }

    @Test func versionsGateStreams() {
        #expect(SemanticVersion("3.4.23")?.supportsStreams == true)
        #expect(SemanticVersion("2.1.0")?.supportsStreams == true)
        #expect(SemanticVersion("2.0.0")?.supportsStreams == false)
        #expect(SemanticVersion("3.4") == nil)
    }
}
