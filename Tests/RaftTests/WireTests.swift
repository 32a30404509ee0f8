import ProtoWire
import Testing
@testable import Raft

/// The binary codec: random round trips for every type, golden bytes pinned to etcd's raftpb
/// field numbers, and rejection of malformed input.
@Suite("Wire codec")
struct WireTests {
    private struct Generator {
        var random: SeededRandom

        mutating func uint() -> UInt64 {
            switch random.next() % 4 {
            case 0: return 0
            case 1: return random.next() % 128
            case 2: return random.next() % 100_000
            default: return random.next()
            }
        }

        mutating func bytes() -> [UInt8] {
            (0..<Int(random.next() % 12)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }

        mutating func ids() -> [NodeID] {
            Array(Set((0..<Int(random.next() % 5)).map { _ in 1 + random.next() % 9 })).sorted()
        }

        mutating func entry() -> Entry {
            Entry(term: uint(), index: uint(), type: random.chance(0.3) ? .confChange : .normal, data: bytes())
        }

        mutating func confState() -> ConfState {
            let voters = ids()
            return ConfState(voters: voters, learners: ids().filter { !voters.contains($0) })
        }

        mutating func snapshot() -> Snapshot {
            Snapshot(data: bytes(), metadata: SnapshotMetadata(confState: confState(), index: uint(), term: uint()))
        }

        mutating func message() -> Message {
            Message(
                type: MessageType.allCases.randomElement(using: &random)!, to: uint(), from: uint(), term: uint(),
                logTerm: uint(), index: uint(), entries: (0..<Int(random.next() % 4)).map { _ in entry() },
                commit: uint(), snapshot: random.chance(0.3) ? snapshot() : nil, reject: random.chance(0.5),
                rejectHint: uint(), context: bytes())
        }
    }

    @Test("Every type survives a round trip (1000 random values each)")
    func roundTrips() throws {
        var generator = Generator(random: SeededRandom(seed: 7))
        for _ in 0..<1000 {
            let message = generator.message()
            #expect(try RaftWire.decodeMessage(RaftWire.encode(message)) == message)
            let entry = generator.entry()
            #expect(try RaftWire.decodeEntry(RaftWire.encode(entry)) == entry)
            #expect(RaftWire.encode(entry).count == entry.encodedSize)
            let state = HardState(term: generator.uint(), vote: generator.uint(), commit: generator.uint())
            #expect(try RaftWire.decodeHardState(RaftWire.encode(state)) == state)
            let snapshot = generator.snapshot()
            #expect(try RaftWire.decodeSnapshot(RaftWire.encode(snapshot)) == snapshot)
            let confState = generator.confState()
            #expect(try RaftWire.decodeConfState(RaftWire.encode(confState)) == confState)
            let change = ConfChange(
                id: generator.uint(), type: [.addNode, .removeNode, .updateNode, .addLearnerNode].randomElement(using: &generator.random)!,
                nodeID: generator.uint(), context: generator.bytes())
            #expect(try RaftWire.decodeConfChange(RaftWire.encode(change)) == change)
        }
    }

    @Test("Golden bytes: protobuf with raftpb's field numbers, defaults omitted")
    func goldenBytes() {
        // Entry{Type: ConfChange(1), Term: 2, Index: 3, Data: "ab"}: fields 1, 2, 3, 4.
        #expect(RaftWire.encode(Entry(term: 2, index: 3, type: .confChange, data: [0x61, 0x62]))
            == [0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x22, 0x02, 0x61, 0x62])
        // HardState{term 5, vote 2, commit 300}: 300 is the varint ac 02.
        #expect(RaftWire.encode(HardState(term: 5, vote: 2, commit: 300)) == [0x08, 0x05, 0x10, 0x02, 0x18, 0xAC, 0x02])
        // A heartbeat: type 8, to 2, from 1, term 3, commit 7 (field 8).
        #expect(RaftWire.encode(Message(type: .heartbeat, to: 2, from: 1, term: 3, commit: 7))
            == [0x08, 0x08, 0x10, 0x02, 0x18, 0x01, 0x20, 0x03, 0x40, 0x07])
        // ConfChange{ID 0, Type AddLearnerNode(3), NodeID 4}: field 2 then 3.
        #expect(RaftWire.encode(ConfChange(type: .addLearnerNode, nodeID: 4)) == [0x10, 0x03, 0x18, 0x04])
        // ConfState voters [1, 2], learners [3], unpacked as proto2 writes them.
        #expect(RaftWire.encode(ConfState(voters: [1, 2], learners: [3])) == [0x08, 0x01, 0x08, 0x02, 0x10, 0x03])
    }

    @Test("Decoding accepts what etcd writes: always-present default fields, packed repeated ids, unknown fields")
    func decodesEtcdStyle() throws {
        // gogoproto writes non-nullable fields even when zero: Type 0, Term 0, Index 0.
        #expect(try RaftWire.decodeEntry([0x08, 0x00, 0x10, 0x00, 0x18, 0x00]) == Entry())
        // Packed voters [1, 2, 3] and an unknown field 9 (varint) to skip.
        #expect(try RaftWire.decodeConfState([0x0A, 0x03, 0x01, 0x02, 0x03, 0x48, 0x05]) == ConfState(voters: [1, 2, 3]))
    }

    @Test("Malformed input is rejected, never trusted")
    func rejectsMalformed() {
        #expect(throws: ProtoDecodingError.truncated) { try RaftWire.decodeEntry([0x22, 0x05, 0x61]) }
        #expect(throws: ProtoDecodingError.truncated) { try RaftWire.decodeEntry([0x10]) }
        #expect(throws: ProtoDecodingError.malformedVarint) {
            try RaftWire.decodeHardState([0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01])
        }
        #expect(throws: ProtoDecodingError.unknownEnumValue(field: 1, value: 99)) { try RaftWire.decodeMessage([0x08, 0x63]) }
        #expect(throws: ProtoDecodingError.wrongWireType(field: 2)) { try RaftWire.decodeEntry([0x12, 0x00]) }
        #expect(throws: ProtoDecodingError.unsupported("joint configuration (outgoing voters)")) {
            try RaftWire.decodeConfState([0x18, 0x01])
        }
        #expect(throws: ProtoDecodingError.unsupported("EntryConfChangeV2 (joint consensus)")) { try RaftWire.decodeEntry([0x08, 0x02]) }
        // Random garbage never crashes the decoder.
        var random = SeededRandom(seed: 3)
        for _ in 0..<5000 {
            let garbage = (0..<Int(random.next() % 40)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? RaftWire.decodeMessage(garbage)
        }
    }
}
