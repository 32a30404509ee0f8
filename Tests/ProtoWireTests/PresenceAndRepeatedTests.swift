import Testing
@testable import ProtoWire

/// The helpers for fields with presence (oneof members, proto2 optionals), repeated strings and
/// bytes, and packed int32/enum fields.
@Suite struct PresenceAndRepeatedTests {
    private func written(_ body: (inout ProtoWriter) -> Void) -> [UInt8] {
        var writer = ProtoWriter()
        body(&writer)
        return writer.bytes
    }

    @Test func alwaysHelpersWriteDefaults() {
        #expect(written { $0.writeUInt64Always(1, 0) } == [0x08, 0x00])
        #expect(written { $0.writeInt64Always(4, 0) } == [0x20, 0x00])
        #expect(written { $0.writeInt32Always(2, -1) } == [0x10] + Array(repeating: 0xFF, count: 9) + [0x01])
        #expect(written { $0.writeBoolAlways(5, false) } == [0x28, 0x00])
        #expect(written { $0.writeBoolAlways(5, true) } == [0x28, 0x01])
        #expect(ProtoSize.uint64Always(1, 0) == 2)
        #expect(ProtoSize.int64Always(4, -1) == 11)
        #expect(ProtoSize.int32Always(2, -1) == 11)
        #expect(ProtoSize.boolAlways(5) == 2)
    }

    @Test func repeatedStringsAndBytesKeepEmptyElements() {
        let strings = ["a", "", "é"]
        let bytes = written { $0.writeRepeatedString(3, strings) }
        #expect(bytes == [0x1A, 0x01, 0x61, 0x1A, 0x00, 0x1A, 0x02, 0xC3, 0xA9])
        #expect(ProtoSize.repeatedString(3, strings) == bytes.count)

        let blobs: [[UInt8]] = [[], [0x00, 0xFF]]
        let blobBytes = written { $0.writeRepeatedBytes(5, blobs) }
        #expect(blobBytes == [0x2A, 0x00, 0x2A, 0x02, 0x00, 0xFF])
        #expect(ProtoSize.repeatedBytes(5, blobs) == blobBytes.count)
    }

    @Test func packedInt32RoundTripsBothForms() throws {
        let values: [Int32] = [0, 1, -1, Int32.max, Int32.min]
        let bytes = written { $0.writePackedInt32(5, values) }
        #expect(bytes.count == ProtoSize.packedInt32(5, values))
        let bodyLength: UInt8 = 1 + 1 + 10 + 5 + 10  // 0, 1, -1, Int32.max, Int32.min
        #expect(Array(bytes.prefix(2)) == [0x2A, bodyLength])
        #expect(written { $0.writePackedInt32(5, []) } == [])

        func decode(_ bytes: [UInt8]) throws -> [Int32] {
            try bytes.withUnsafeBytes { buffer in
                var reader = ProtoReader(buffer)
                var decoded: [Int32] = []
                while let (field, wireType) = try reader.readTag() {
                    #expect(field == 5)
                    try reader.readPackedInt32(wireType, field: field, into: &decoded)
                }
                return decoded
            }
        }
        #expect(try decode(bytes) == values)

        // The same values unpacked, one tag each, mixed with a packed run.
        var unpacked = ProtoWriter()
        for value in values.prefix(3) { unpacked.writeInt32Always(5, value) }
        unpacked.writePackedInt32(5, Array(values.suffix(2)))
        #expect(try decode(unpacked.bytes) == values)

        #expect(throws: ProtoDecodingError.wrongWireType(field: 5)) {
            try decode([0x2D, 0, 0, 0, 0])  // field 5 as fixed32
        }
        #expect(throws: ProtoDecodingError.self) {
            try decode([0x2A, 0x02, 0x80])  // packed body cut inside a varint
        }
    }
}
