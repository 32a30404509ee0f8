import Testing
@testable import ProtoWire

@Suite struct VarintTests {
    @Test func roundTripsBoundaryValues() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 16383, 16384, UInt64(Int64.max), UInt64.max] {
            var writer = ProtoWriter()
            writer.writeVarint(value)
            #expect(writer.bytes.count == ProtoSize.varint(value))
            let decoded = try writer.bytes.withUnsafeBytes { buffer in
                var reader = ProtoReader(buffer)
                return try reader.readVarint()
            }
            #expect(decoded == value)
        }
    }

    @Test func rejectsOverlongAndTruncated() {
        let overlong: [UInt8] = Array(repeating: 0xFF, count: 10) + [0x01]
        let truncated: [UInt8] = [0x80, 0x80]
        for bytes in [overlong, truncated] {
            #expect(throws: ProtoDecodingError.self) {
                try bytes.withUnsafeBytes { buffer in
                    var reader = ProtoReader(buffer)
                    _ = try reader.readVarint()
                }
            }
        }
    }
}
