import EtcdProto
import ProtoWire
import Testing

/// Decoding hostile input must throw or succeed, never trap, and never recurse without bound.
@Suite struct RobustnessTests {
    /// Decodes and discards; a crash would end the test process.
    private func survive<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) {
        _ = try? M(serializedBytes: bytes)
    }

    private func samples<M: Arbitrary>(_ type: M.Type, count: Int, seed: UInt64) -> [[UInt8]] {
        var g = Gen(seed: seed)
        return (0..<count).map { _ in M.arbitrary(&g).serializedBytes() }
    }

    @Test func everyTruncationThrowsOrDecodes() {
        func truncate<M: Arbitrary>(_ type: M.Type) {
            for bytes in samples(M.self, count: 20, seed: 7) {
                for end in 0..<bytes.count { survive(M.self, Array(bytes[..<end])) }
            }
        }
        truncate(TxnRequest.self)
        truncate(TxnResponse.self)
        truncate(RangeResponse.self)
        truncate(WatchRequest.self)
        truncate(WatchResponse.self)
        truncate(Compare.self)
        truncate(InternalRaftRequest.self)
        truncate(StatusResponse.self)
        truncate(V2Request.self)
        truncate(LeaseTimeToLiveResponse.self)
    }

    @Test func truncatingInsideAFieldThrows() {
        let bytes = PutRequest(key: Array("key".utf8), value: Array("value".utf8), lease: 300).serializedBytes()
        // Cuts inside the key's length prefix, inside the value, and inside the lease varint.
        for end in [1, 3, 7, bytes.count - 1] {
            #expect(throws: ProtoDecodingError.truncated) { try PutRequest(serializedBytes: Array(bytes[..<end])) }
        }
    }

    @Test func randomBytesNeverCrash() {
        var g = Gen(seed: 0xBAD_B17E5)
        for _ in 0..<20_000 {
            let bytes = (0..<g.int(0...48)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            survive(TxnRequest.self, bytes)
            survive(RangeResponse.self, bytes)
            survive(WatchRequest.self, bytes)
            survive(InternalRaftRequest.self, bytes)
            survive(V2Request.self, bytes)
            survive(Member.self, bytes)
        }
    }

    @Test func mutatedEncodingsNeverCrash() {
        var g = Gen(seed: 0x5EED)
        for bytes in samples(TxnRequest.self, count: 200, seed: 11) + samples(InternalRaftRequest.self, count: 200, seed: 12) {
            guard !bytes.isEmpty else { continue }
            for _ in 0..<20 {
                var mutated = bytes
                for _ in 0..<g.int(1...3) {
                    mutated[g.int(0...(mutated.count - 1))] = UInt8(truncatingIfNeeded: g.next())
                }
                survive(TxnRequest.self, mutated)
                survive(InternalRaftRequest.self, mutated)
            }
        }
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        let put = PutRequest(key: Array("k".utf8), value: Array("v".utf8), lease: 9, prevKV: true)
        var unknown = ProtoWriter()
        unknown.writeUInt64Always(99, 1 << 40)              // varint
        unknown.writeTag(100, .fixed64)
        unknown.writeFixed64(0xDEAD_BEEF)                   // fixed64
        unknown.writeBytesAlways(101, [1, 2, 3])            // length-delimited
        unknown.writeTag(102, .startGroup)                  // group holding every wire type and a group
        unknown.writeUInt64Always(1, 5)
        unknown.writeTag(2, .fixed32)
        unknown.bytes += [1, 2, 3, 4]
        unknown.writeTag(3, .startGroup)
        unknown.writeBytesAlways(1, [0xFF])
        unknown.writeTag(3, .endGroup)
        unknown.writeTag(102, .endGroup)
        unknown.writeTag(103, .fixed32)
        unknown.bytes += [9, 9, 9, 9]                       // fixed32

        let known = put.serializedBytes()
        let split = 3  // after field 1 (0A 01 6B), so unknown fields arrive between known ones too
        #expect(try PutRequest(serializedBytes: unknown.bytes + known) == put)
        #expect(try PutRequest(serializedBytes: known + unknown.bytes) == put)
        #expect(try PutRequest(serializedBytes: Array(known[..<split]) + unknown.bytes + Array(known[split...])) == put)

        // Inside a nested message, and for a message without fields.
        let nested = RequestOp(.requestPut(put))
        var writer = ProtoWriter()
        writer.writeTag(2, .lengthDelimited)
        writer.writeVarint(UInt64(known.count + unknown.bytes.count))
        writer.bytes += known + unknown.bytes
        #expect(try RequestOp(serializedBytes: writer.bytes) == nested)
        #expect(try WatchProgressRequest(serializedBytes: unknown.bytes) == WatchProgressRequest())
        #expect(try CompactionResponse(serializedBytes: unknown.bytes) == CompactionResponse())
    }

    @Test func malformedGroupsThrow() {
        // An end-group with no start, a group closed under another number, a group never closed.
        #expect(throws: ProtoDecodingError.unmatchedEndGroup) { try PutRequest(serializedBytes: [0x7C]) }
        #expect(throws: ProtoDecodingError.unmatchedEndGroup) { try PutRequest(serializedBytes: [0x7B, 0x84, 0x01]) }
        #expect(throws: ProtoDecodingError.truncated) { try PutRequest(serializedBytes: [0x7B, 0x08, 0x01]) }
        // Groups nested past the depth limit.
        let deepGroups = Array(repeating: UInt8(0x7B), count: 500) + Array(repeating: UInt8(0x7C), count: 500)
        #expect(throws: ProtoDecodingError.nestingTooDeep) { try PutRequest(serializedBytes: deepGroups) }
    }

    /// A TxnRequest whose success branch holds a RequestOp holding a TxnRequest, `levels` times.
    /// Built outside-in with precomputed lengths, so it costs linear time even for huge depths.
    private func nestedTxn(levels: Int) -> [UInt8] {
        // lengths[i]: size of the TxnRequest at depth i from the bottom (the innermost is empty).
        var txnLengths = [0]
        var opLengths: [Int] = []
        for _ in 0..<levels {
            let inner = txnLengths.last!
            let op = ProtoSize.tag(4) + ProtoSize.varint(UInt64(inner)) + inner  // RequestOp.request_txn
            opLengths.append(op)
            txnLengths.append(ProtoSize.tag(2) + ProtoSize.varint(UInt64(op)) + op)  // TxnRequest.success
        }
        var writer = ProtoWriter(capacity: txnLengths.last!)
        for level in stride(from: levels - 1, through: 0, by: -1) {
            writer.writeTag(2, .lengthDelimited)
            writer.writeVarint(UInt64(opLengths[level]))
            writer.writeTag(4, .lengthDelimited)
            writer.writeVarint(UInt64(txnLengths[level]))
        }
        return writer.bytes
    }

    @Test func nestingUpToTheLimitDecodes() throws {
        // 50 transaction levels are 100 nested messages: the most a reader allows.
        var txn = try TxnRequest(serializedBytes: nestedTxn(levels: 50))
        var levels = 0
        while case .requestTxn(let inner)? = txn.success.first?.request {
            txn = inner
            levels += 1
        }
        #expect(levels == 50)
    }

    @Test func nestingBeyondTheLimitThrows() {
        #expect(throws: ProtoDecodingError.nestingTooDeep) { try TxnRequest(serializedBytes: nestedTxn(levels: 51)) }
        #expect(throws: ProtoDecodingError.nestingTooDeep) { try TxnRequest(serializedBytes: nestedTxn(levels: 100_000)) }
        // The same depth reached through InternalRaftRequest.txn.
        var writer = ProtoWriter()
        let inner = nestedTxn(levels: 60)
        writer.writeBytesAlways(6, inner)
        #expect(throws: ProtoDecodingError.nestingTooDeep) { try InternalRaftRequest(serializedBytes: writer.bytes) }
    }

    @Test func wrongWireTypeForAKnownFieldThrows() {
        let cases: [(String, () throws -> Void, Int)] = [
            ("bytes as varint", { _ = try PutRequest(serializedBytes: [0x08, 0x01]) }, 1),
            ("int64 as length-delimited", { _ = try RangeRequest(serializedBytes: [0x1A, 0x00]) }, 3),
            ("bool as fixed32", { _ = try PutRequest(serializedBytes: [0x25, 0, 0, 0, 0]) }, 4),
            ("message as varint", { _ = try RangeResponse(serializedBytes: [0x08, 0x01]) }, 1),
            ("oneof message as fixed64", { _ = try RequestOp(serializedBytes: [0x09] + Array(repeating: 0, count: 8)) }, 1),
            ("oneof int64 as length-delimited", { _ = try Compare(serializedBytes: [0x22, 0x00]) }, 4),
            ("oneof bytes as varint", { _ = try Compare(serializedBytes: [0x38, 0x00]) }, 7),
            ("repeated enum as fixed32", { _ = try WatchCreateRequest(serializedBytes: [0x2D, 0, 0, 0, 0]) }, 5),
            ("repeated string as varint", { _ = try Member(serializedBytes: [0x18, 0x00]) }, 3),
            ("string as varint", { _ = try WatchResponse(serializedBytes: [0x30, 0x00]) }, 6),
            ("proto2 string as varint", { _ = try V2Request(serializedBytes: [0x10, 0x00]) }, 2),
            ("uint32 as fixed64", { _ = try HashResponse(serializedBytes: [0x11] + Array(repeating: 0, count: 8)) }, 2),
            ("header-only response", { _ = try LeaseRevokeResponse(serializedBytes: [0x08, 0x00]) }, 1),
        ]
        for (name, decode, field) in cases {
            #expect(throws: ProtoDecodingError.wrongWireType(field: field), "\(name)") { try decode() }
        }
    }

    @Test func invalidUTF8InAStringThrows() {
        #expect(throws: ProtoDecodingError.invalidUTF8) {
            try AuthenticateRequest(serializedBytes: [0x0A, 0x02, 0xC3, 0x28])
        }
    }
}
