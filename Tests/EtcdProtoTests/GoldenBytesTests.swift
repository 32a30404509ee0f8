import EtcdProto
import ProtoWire
import Testing

/// Encodings worked out by hand from the protobuf encoding spec
/// (https://protobuf.dev/programming-guides/encoding/): key = field << 3 | wire type, varints
/// little-endian in 7-bit groups, length-delimited fields prefixed by their length.
@Suite struct GoldenBytesTests {
    private func check<M: ProtoMessage>(_ value: M, _ expected: [UInt8],
                                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(value.serializedBytes() == expected, sourceLocation: sourceLocation)
        #expect(value.serializedSize == expected.count, sourceLocation: sourceLocation)
        #expect(try M(serializedBytes: expected) == value, sourceLocation: sourceLocation)
    }

    @Test func putRequest() throws {
        let put = PutRequest(key: Array("foo".utf8), value: Array("bar".utf8), lease: 0x1234, prevKV: true)
        try check(put, [
            0x0A, 0x03, 0x66, 0x6F, 0x6F,  // 1: key "foo"
            0x12, 0x03, 0x62, 0x61, 0x72,  // 2: value "bar"
            0x18, 0xB4, 0x24,              // 3: lease 4660 = 0b100100_0110100
            0x20, 0x01,                    // 4: prev_kv true
        ])
    }

    @Test func rangeResponseWithHeaderAndKVs() throws {
        let response = RangeResponse(
            header: ResponseHeader(clusterID: 1, memberID: 2, revision: 300, raftTerm: 4),
            kvs: [KeyValue(key: [0x61], createRevision: 2, modRevision: 3, version: 1, value: [0x78], lease: 0)],
            more: false, count: 1)
        try check(response, [
            0x0A, 0x09,                    // 1: header, 9 bytes
            0x08, 0x01, 0x10, 0x02,        //   cluster_id 1, member_id 2
            0x18, 0xAC, 0x02,              //   revision 300
            0x20, 0x04,                    //   raft_term 4
            0x12, 0x0C,                    // 2: kvs[0], 12 bytes
            0x0A, 0x01, 0x61,              //   key "a"
            0x10, 0x02, 0x18, 0x03, 0x20, 0x01,  // create 2, mod 3, version 1
            0x2A, 0x01, 0x78,              //   value "x"
            0x20, 0x01,                    // 4: count 1 (more=false is omitted)
        ])
    }

    @Test func compareWithZeroVersionWritesTheOneofMember() throws {
        let compare = Compare(result: .equal, target: .version, key: [0x6B], targetUnion: .version(0),
                              rangeEnd: [0x00])
        try check(compare, [
            0x1A, 0x01, 0x6B,              // 3: key "k" (result and target are 0, omitted)
            0x20, 0x00,                    // 4: version 0, present because the oneof member is set
            0x82, 0x04, 0x01, 0x00,        // 64: range_end "\0"; key 514 takes two bytes
        ])
        // Without the oneof member nothing is written for field 4.
        var unset = compare
        unset.targetUnion = nil
        #expect(unset.serializedBytes() == [0x1A, 0x01, 0x6B, 0x82, 0x04, 0x01, 0x00])
        // An empty value is a set member too.
        var emptyValue = compare
        emptyValue.targetUnion = .value([])
        #expect(emptyValue.serializedBytes() == [0x1A, 0x01, 0x6B, 0x3A, 0x00, 0x82, 0x04, 0x01, 0x00])
    }

    @Test func negativeEnumTakesTenBytes() throws {
        var compare = Compare()
        compare.resultRaw = -1
        try check(compare, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(compare.result == nil)
    }

    @Test func txnWithNestedOps() throws {
        let txn = TxnRequest(
            compare: [Compare(result: .greater, target: .mod, key: [0x6B], targetUnion: .modRevision(5))],
            success: [RequestOp(.requestPut(PutRequest(key: [0x6B], value: [0x76])))],
            failure: [RequestOp(.requestRange(RangeRequest(key: [0x6B])))])
        try check(txn, [
            0x0A, 0x09,                    // 1: compare, 9 bytes
            0x08, 0x01, 0x10, 0x02,        //   result GREATER, target MOD
            0x1A, 0x01, 0x6B, 0x30, 0x05,  //   key "k", mod_revision 5
            0x12, 0x08,                    // 2: success, 8 bytes
            0x12, 0x06,                    //   request_put, 6 bytes
            0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76,
            0x1A, 0x05,                    // 3: failure, 5 bytes
            0x0A, 0x03,                    //   request_range, 3 bytes
            0x0A, 0x01, 0x6B,
        ])
    }

    @Test func watchRequests() throws {
        try check(WatchRequest(.progressRequest(WatchProgressRequest())), [0x1A, 0x00])
        try check(WatchRequest(.cancelRequest(WatchCancelRequest(watchID: 0))), [0x12, 0x00])
        let create = WatchCreateRequest(key: [0x61], filters: [.noPut, .noDelete], prevKV: true)
        try check(WatchRequest(.createRequest(create)), [
            0x0A, 0x09,
            0x0A, 0x01, 0x61,              // key "a"
            0x2A, 0x02, 0x00, 0x01,        // 5: filters, packed
            0x30, 0x01,                    // 6: prev_kv
        ])
    }

    @Test func internalRaftRequestOrdersFieldsByNumber() throws {
        var request = InternalRaftRequest()
        request.header = RequestHeader(id: 7)
        request.id = 7
        request.authEnable = AuthEnableRequest()
        try check(request, [
            0x08, 0x07,                    // 1: ID
            0xA2, 0x06, 0x02, 0x08, 0x07,  // 100: header {ID 7}; key 802
            0xC2, 0x3E, 0x00,              // 1000: auth_enable {}; key 8002
        ])
    }

    @Test func proto2FieldsArePresentOrAbsent() throws {
        var request = V2Request()
        request.id = 0
        request.method = ""
        request.dir = false
        request.refresh = true
        try check(request, [
            0x08, 0x00,                    // 1: ID 0, present
            0x12, 0x00,                    // 2: Method ""
            0x28, 0x00,                    // 5: Dir false
            0x88, 0x01, 0x01,              // 17: Refresh true; key 136
        ])
        try check(V2Request(), [])
        try check(WALMetadata(nodeID: 0x10, clusterID: 0), [0x08, 0x10, 0x10, 0x00])
    }

    @Test func memberWithRepeatedStrings() throws {
        let member = Member(id: 1, name: "", peerURLs: ["http://a", ""], clientURLs: [], isLearner: true)
        try check(member, [
            0x08, 0x01,
            0x1A, 0x08, 0x68, 0x74, 0x74, 0x70, 0x3A, 0x2F, 0x2F, 0x61,  // 3: "http://a"
            0x1A, 0x00,                    // 3: "" is still an element
            0x28, 0x01,
        ])
    }
}
