import Testing
@testable import Bolt

/// Page encodings checked byte by byte; files as a whole are judged by Go's bbolt in
/// IntegrationTests (BoltFormatTests).
@Suite struct BoltWriterTests {
    func u32(_ page: [UInt8], _ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(page[offset + $1]) << (8 * UInt32($1)) } }
    func u64(_ page: [UInt8], _ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(page[offset + $1]) << (8 * UInt64($1)) } }

    @Test func fnv1aMatchesTheReferenceVectors() {
        #expect(BoltWriter.fnv1a64([]) == 0xCBF2_9CE4_8422_2325)
        #expect(BoltWriter.fnv1a64(Array("a".utf8)[...]) == 0xAF63_DC4C_8601_EC8C)
        #expect(BoltWriter.fnv1a64(Array("foobar".utf8)[...]) == 0x85944171F73967E8)
    }

    @Test func metaPageCarriesTheChecksum() {
        let page = BoltWriter.metaPage(id: 1, root: 9, pages: 10, txid: 6)
        #expect(page.count == 4096)
        #expect(u64(page, 0) == 1 && page[8] == 0x04)
        #expect(u32(page, 16) == 0xED0C_DAED && u32(page, 20) == 2 && u32(page, 24) == 4096)
        #expect(u64(page, 32) == 9 && u64(page, 48) == UInt64.max && u64(page, 56) == 10 && u64(page, 64) == 6)
        #expect(u64(page, 72) == BoltWriter.fnv1a64(page[16..<72]))
    }

    @Test func leafElementsPointAtTheirData() {
        let page = BoltWriter.leafPage(id: 5, entries: [(Array("ab".utf8), Array("xyz".utf8)), (Array("c".utf8), [])],
                                       overflow: 0, padded: true)
        #expect(page.count == 4096)
        #expect(u64(page, 0) == 5 && page[8] == 0x02 && page[10] == 2 && u32(page, 12) == 0)
        // Element 0 at 16: pos is relative to the element; data starts after both elements (48).
        #expect(u32(page, 16 + 4) == 32 && u32(page, 16 + 8) == 2 && u32(page, 16 + 12) == 3)
        #expect(Array(page[48..<53]) == Array("abxyz".utf8))
        #expect(u32(page, 32 + 4) == 53 - 32 && u32(page, 32 + 8) == 1 && u32(page, 32 + 12) == 0)
        #expect(page[53] == UInt8(ascii: "c"))
        // An inline bucket's pseudo-page is not padded.
        let inline = BoltWriter.leafPage(id: 0, entries: [], overflow: 0, padded: false)
        #expect(inline.count == 16)
    }

    @Test func branchElementsNameTheirChildren() {
        let page = BoltWriter.branchPage(id: 7, children: [(Array("a".utf8), 3), (Array("m".utf8), 4)])
        #expect(page[8] == 0x01 && page[10] == 2)
        #expect(u32(page, 16) == 32 && u32(page, 20) == 1 && u64(page, 24) == 3)
        #expect(u32(page, 32) == 17 && u32(page, 36) == 1 && u64(page, 40) == 4)
        #expect(page[48] == UInt8(ascii: "a") && page[49] == UInt8(ascii: "m"))
    }

    @Test func orderIsEnforced() throws {
        let writer = try BoltWriter(path: "/dev/null")
        try writer.beginBucket(Array("b".utf8))
        try writer.append(key: [2], value: [])
        #expect(throws: BoltWriter.WriteError.self) { try writer.append(key: [1], value: []) }
        #expect(throws: BoltWriter.WriteError.self) { try writer.append(key: [], value: []) }
    }
}
