import CProtoOracle
import EtcdProto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ProtoWire
import Testing

/// Repacks `bytes` with libprotobuf-c: decode as `fullName`, encode again.
func oracleRepack(_ fullName: String, _ bytes: [UInt8]) -> Result<[UInt8], OracleError> {
    var out: UnsafeMutablePointer<UInt8>?
    var outCount = 0
    let status = bytes.withUnsafeBufferPointer { input in
        oracle_repack(fullName, input.baseAddress, input.count, &out, &outCount)
    }
    guard status == Int32(ORACLE_OK) else { return .failure(OracleError(status: status)) }
    defer { oracle_free(out) }
    return .success(Array(UnsafeBufferPointer(start: out, count: outCount)))
}

struct OracleError: Error, Equatable {
    let status: Int32
}

/// Every message type with its full protobuf name, as the oracle knows it.
struct OracleCase: Sendable, CustomTestStringConvertible {
    let fullName: String
    /// Runs `count` random instances from `seed`; returns a description of the first failure.
    let check: @Sendable (_ seed: UInt64, _ count: Int) -> String?

    init<M: Arbitrary>(_ fullName: String, _ type: M.Type) {
        self.fullName = fullName
        self.check = { seed, count in checkAgainstOracle(M.self, fullName, seed: seed, count: count) }
    }

    var testDescription: String { fullName }
}

/// Swift encodes a random value; protobuf-c must decode it and encode exactly the same bytes; Swift
/// must decode those bytes back to the value.
func checkAgainstOracle<M: Arbitrary>(_ type: M.Type, _ fullName: String, seed: UInt64, count: Int) -> String? {
    var seeds = Gen(seed: seed)
    for _ in 0..<count {
        let instanceSeed = seeds.next()
        var g = Gen(seed: instanceSeed)
        let value = M.arbitrary(&g)
        let bytes = value.serializedBytes()
        let context = "\(fullName), instance seed 0x\(String(instanceSeed, radix: 16))"
        if bytes.count != value.serializedSize {
            return "\(context): serializedSize \(value.serializedSize) but encoded \(bytes.count) bytes"
        }
        let repacked: [UInt8]
        switch oracleRepack(fullName, bytes) {
        case .failure(let error): return "\(context): protobuf-c rejected our bytes (status \(error.status)): \(bytes)"
        case .success(let output): repacked = output
        }
        if repacked != bytes {
            return "\(context): protobuf-c re-encoded differently\n  swift: \(bytes)\n  c:     \(repacked)"
        }
        do {
            let decoded = try M(serializedBytes: repacked)
            if decoded != value { return "\(context): decoded value differs\n  \(value)\n  \(decoded)" }
        } catch {
            return "\(context): Swift failed to decode protobuf-c's bytes: \(error)"
        }
    }
    return nil
}

/// Environment knobs: ORACLE_SEED (a base seed, decimal or 0x-hex) and ORACLE_COUNT (instances per type).
private func environmentInteger(_ name: String) -> UInt64? {
    guard let raw = getenv(name).map({ String(cString: $0) }) else { return nil }
    return raw.hasPrefix("0x") ? UInt64(raw.dropFirst(2), radix: 16) : UInt64(raw)
}

/// FNV-1a, so that each type gets its own stable seed (Swift's hashValue is randomized per run).
private func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
    return hash
}

let oracleCases: [OracleCase] = [
    OracleCase("mvccpb.KeyValue", KeyValue.self),
    OracleCase("mvccpb.Event", Event.self),

    OracleCase("authpb.UserAddOptions", UserAddOptions.self),
    OracleCase("authpb.User", User.self),
    OracleCase("authpb.Permission", Permission.self),
    OracleCase("authpb.Role", Role.self),

    OracleCase("etcdserverpb.ResponseHeader", ResponseHeader.self),
    OracleCase("etcdserverpb.RangeRequest", RangeRequest.self),
    OracleCase("etcdserverpb.RangeResponse", RangeResponse.self),
    OracleCase("etcdserverpb.PutRequest", PutRequest.self),
    OracleCase("etcdserverpb.PutResponse", PutResponse.self),
    OracleCase("etcdserverpb.DeleteRangeRequest", DeleteRangeRequest.self),
    OracleCase("etcdserverpb.DeleteRangeResponse", DeleteRangeResponse.self),
    OracleCase("etcdserverpb.RequestOp", RequestOp.self),
    OracleCase("etcdserverpb.ResponseOp", ResponseOp.self),
    OracleCase("etcdserverpb.Compare", Compare.self),
    OracleCase("etcdserverpb.TxnRequest", TxnRequest.self),
    OracleCase("etcdserverpb.TxnResponse", TxnResponse.self),
    OracleCase("etcdserverpb.CompactionRequest", CompactionRequest.self),
    OracleCase("etcdserverpb.CompactionResponse", CompactionResponse.self),

    OracleCase("etcdserverpb.WatchRequest", WatchRequest.self),
    OracleCase("etcdserverpb.WatchCreateRequest", WatchCreateRequest.self),
    OracleCase("etcdserverpb.WatchCancelRequest", WatchCancelRequest.self),
    OracleCase("etcdserverpb.WatchProgressRequest", WatchProgressRequest.self),
    OracleCase("etcdserverpb.WatchResponse", WatchResponse.self),

    OracleCase("etcdserverpb.LeaseGrantRequest", LeaseGrantRequest.self),
    OracleCase("etcdserverpb.LeaseGrantResponse", LeaseGrantResponse.self),
    OracleCase("etcdserverpb.LeaseRevokeRequest", LeaseRevokeRequest.self),
    OracleCase("etcdserverpb.LeaseRevokeResponse", LeaseRevokeResponse.self),
    OracleCase("etcdserverpb.LeaseCheckpoint", LeaseCheckpoint.self),
    OracleCase("etcdserverpb.LeaseCheckpointRequest", LeaseCheckpointRequest.self),
    OracleCase("etcdserverpb.LeaseCheckpointResponse", LeaseCheckpointResponse.self),
    OracleCase("etcdserverpb.LeaseKeepAliveRequest", LeaseKeepAliveRequest.self),
    OracleCase("etcdserverpb.LeaseKeepAliveResponse", LeaseKeepAliveResponse.self),
    OracleCase("etcdserverpb.LeaseTimeToLiveRequest", LeaseTimeToLiveRequest.self),
    OracleCase("etcdserverpb.LeaseTimeToLiveResponse", LeaseTimeToLiveResponse.self),
    OracleCase("etcdserverpb.LeaseLeasesRequest", LeaseLeasesRequest.self),
    OracleCase("etcdserverpb.LeaseStatus", LeaseStatus.self),
    OracleCase("etcdserverpb.LeaseLeasesResponse", LeaseLeasesResponse.self),

    OracleCase("etcdserverpb.Member", Member.self),
    OracleCase("etcdserverpb.MemberAddRequest", MemberAddRequest.self),
    OracleCase("etcdserverpb.MemberAddResponse", MemberAddResponse.self),
    OracleCase("etcdserverpb.MemberRemoveRequest", MemberRemoveRequest.self),
    OracleCase("etcdserverpb.MemberRemoveResponse", MemberRemoveResponse.self),
    OracleCase("etcdserverpb.MemberUpdateRequest", MemberUpdateRequest.self),
    OracleCase("etcdserverpb.MemberUpdateResponse", MemberUpdateResponse.self),
    OracleCase("etcdserverpb.MemberListRequest", MemberListRequest.self),
    OracleCase("etcdserverpb.MemberListResponse", MemberListResponse.self),
    OracleCase("etcdserverpb.MemberPromoteRequest", MemberPromoteRequest.self),
    OracleCase("etcdserverpb.MemberPromoteResponse", MemberPromoteResponse.self),

    OracleCase("etcdserverpb.HashRequest", HashRequest.self),
    OracleCase("etcdserverpb.HashResponse", HashResponse.self),
    OracleCase("etcdserverpb.HashKVRequest", HashKVRequest.self),
    OracleCase("etcdserverpb.HashKVResponse", HashKVResponse.self),
    OracleCase("etcdserverpb.SnapshotRequest", SnapshotRequest.self),
    OracleCase("etcdserverpb.SnapshotResponse", SnapshotResponse.self),
    OracleCase("etcdserverpb.DefragmentRequest", DefragmentRequest.self),
    OracleCase("etcdserverpb.DefragmentResponse", DefragmentResponse.self),
    OracleCase("etcdserverpb.MoveLeaderRequest", MoveLeaderRequest.self),
    OracleCase("etcdserverpb.MoveLeaderResponse", MoveLeaderResponse.self),
    OracleCase("etcdserverpb.AlarmRequest", AlarmRequest.self),
    OracleCase("etcdserverpb.AlarmMember", AlarmMember.self),
    OracleCase("etcdserverpb.AlarmResponse", AlarmResponse.self),
    OracleCase("etcdserverpb.StatusRequest", StatusRequest.self),
    OracleCase("etcdserverpb.StatusResponse", StatusResponse.self),

    OracleCase("etcdserverpb.AuthEnableRequest", AuthEnableRequest.self),
    OracleCase("etcdserverpb.AuthDisableRequest", AuthDisableRequest.self),
    OracleCase("etcdserverpb.AuthenticateRequest", AuthenticateRequest.self),
    OracleCase("etcdserverpb.AuthUserAddRequest", AuthUserAddRequest.self),
    OracleCase("etcdserverpb.AuthUserGetRequest", AuthUserGetRequest.self),
    OracleCase("etcdserverpb.AuthUserDeleteRequest", AuthUserDeleteRequest.self),
    OracleCase("etcdserverpb.AuthUserChangePasswordRequest", AuthUserChangePasswordRequest.self),
    OracleCase("etcdserverpb.AuthUserGrantRoleRequest", AuthUserGrantRoleRequest.self),
    OracleCase("etcdserverpb.AuthUserRevokeRoleRequest", AuthUserRevokeRoleRequest.self),
    OracleCase("etcdserverpb.AuthRoleAddRequest", AuthRoleAddRequest.self),
    OracleCase("etcdserverpb.AuthRoleGetRequest", AuthRoleGetRequest.self),
    OracleCase("etcdserverpb.AuthUserListRequest", AuthUserListRequest.self),
    OracleCase("etcdserverpb.AuthRoleListRequest", AuthRoleListRequest.self),
    OracleCase("etcdserverpb.AuthRoleDeleteRequest", AuthRoleDeleteRequest.self),
    OracleCase("etcdserverpb.AuthRoleGrantPermissionRequest", AuthRoleGrantPermissionRequest.self),
    OracleCase("etcdserverpb.AuthRoleRevokePermissionRequest", AuthRoleRevokePermissionRequest.self),
    OracleCase("etcdserverpb.AuthEnableResponse", AuthEnableResponse.self),
    OracleCase("etcdserverpb.AuthDisableResponse", AuthDisableResponse.self),
    OracleCase("etcdserverpb.AuthenticateResponse", AuthenticateResponse.self),
    OracleCase("etcdserverpb.AuthUserAddResponse", AuthUserAddResponse.self),
    OracleCase("etcdserverpb.AuthUserGetResponse", AuthUserGetResponse.self),
    OracleCase("etcdserverpb.AuthUserDeleteResponse", AuthUserDeleteResponse.self),
    OracleCase("etcdserverpb.AuthUserChangePasswordResponse", AuthUserChangePasswordResponse.self),
    OracleCase("etcdserverpb.AuthUserGrantRoleResponse", AuthUserGrantRoleResponse.self),
    OracleCase("etcdserverpb.AuthUserRevokeRoleResponse", AuthUserRevokeRoleResponse.self),
    OracleCase("etcdserverpb.AuthRoleAddResponse", AuthRoleAddResponse.self),
    OracleCase("etcdserverpb.AuthRoleGetResponse", AuthRoleGetResponse.self),
    OracleCase("etcdserverpb.AuthRoleListResponse", AuthRoleListResponse.self),
    OracleCase("etcdserverpb.AuthUserListResponse", AuthUserListResponse.self),
    OracleCase("etcdserverpb.AuthRoleDeleteResponse", AuthRoleDeleteResponse.self),
    OracleCase("etcdserverpb.AuthRoleGrantPermissionResponse", AuthRoleGrantPermissionResponse.self),
    OracleCase("etcdserverpb.AuthRoleRevokePermissionResponse", AuthRoleRevokePermissionResponse.self),

    OracleCase("etcdserverpb.RequestHeader", RequestHeader.self),
    OracleCase("etcdserverpb.InternalRaftRequest", InternalRaftRequest.self),
    OracleCase("etcdserverpb.EmptyResponse", EmptyResponse.self),
    OracleCase("etcdserverpb.InternalAuthenticateRequest", InternalAuthenticateRequest.self),
    OracleCase("etcdserverpb.Request", V2Request.self),
    OracleCase("etcdserverpb.Metadata", WALMetadata.self),

    OracleCase("v3lockpb.LockRequest", LockRequest.self),
    OracleCase("v3lockpb.LockResponse", LockResponse.self),
    OracleCase("v3lockpb.UnlockRequest", UnlockRequest.self),
    OracleCase("v3lockpb.UnlockResponse", UnlockResponse.self),

    OracleCase("v3electionpb.CampaignRequest", CampaignRequest.self),
    OracleCase("v3electionpb.CampaignResponse", CampaignResponse.self),
    OracleCase("v3electionpb.LeaderKey", LeaderKey.self),
    OracleCase("v3electionpb.LeaderRequest", LeaderRequest.self),
    OracleCase("v3electionpb.LeaderResponse", LeaderResponse.self),
    OracleCase("v3electionpb.ResignRequest", ResignRequest.self),
    OracleCase("v3electionpb.ResignResponse", ResignResponse.self),
    OracleCase("v3electionpb.ProclaimRequest", ProclaimRequest.self),
    OracleCase("v3electionpb.ProclaimResponse", ProclaimResponse.self),
]

@Suite struct OracleTests {
    @Test func everyMessageOfTheSchemaIsChecked() {
        let oracleNames = Set((0..<oracle_message_count()).map { String(cString: oracle_message_name($0)) })
        let checkedNames = oracleCases.map(\.fullName)
        #expect(Set(checkedNames).count == checkedNames.count, "a type is listed twice")
        #expect(Set(checkedNames) == oracleNames)
        #expect(oracleNames.count == 116)
    }

    @Test(arguments: oracleCases)
    func swiftAndProtobufCAgree(_ testCase: OracleCase) {
        let seed = environmentInteger("ORACLE_SEED").map { $0 ^ stableHash(testCase.fullName) }
            ?? stableHash(testCase.fullName)
        let count = environmentInteger("ORACLE_COUNT").map(Int.init) ?? 400
        if let failure = testCase.check(seed, count) {
            Issue.record("\(failure)\n  (base seed 0x\(String(seed, radix: 16)))")
        }
    }

    @Test func unknownNamesAndBadInputAreReported() {
        #expect(oracleRepack("etcdserverpb.NoSuchMessage", []) == .failure(OracleError(status: Int32(ORACLE_UNKNOWN_MESSAGE))))
        #expect(oracleRepack("etcdserverpb.PutRequest", [0x0A, 0x05]) == .failure(OracleError(status: Int32(ORACLE_UNPACK_FAILED))))
    }

    /// Why the generators never put U+0000 in a string: protobuf-c stores strings NUL-terminated, so
    /// it keeps only the part before the first NUL. Our codec keeps the whole string.
    @Test func protobufCCutsStringsAtNUL() throws {
        let request = AuthenticateRequest(name: "ab\u{0}cd", password: "")
        let swiftBytes = request.serializedBytes()
        #expect(try AuthenticateRequest(serializedBytes: swiftBytes) == request)
        let repacked = try oracleRepack("etcdserverpb.AuthenticateRequest", swiftBytes).get()
        #expect(try AuthenticateRequest(serializedBytes: repacked).name == "ab")
    }

    /// Repeated enums arrive packed from proto3 encoders but unpacked from old ones; both must decode.
    @Test func unpackedFiltersDecodeLikePackedOnes() throws {
        var g = Gen(seed: 42)
        for _ in 0..<200 {
            let value = WatchCreateRequest.arbitrary(&g)
            var stripped = value
            stripped.filtersRaw = []
            var writer = ProtoWriter()
            stripped.encode(to: &writer)
            for filter in value.filtersRaw { writer.writeInt32Always(5, filter) }
            #expect(try WatchCreateRequest(serializedBytes: writer.bytes) == value)
            // protobuf-c agrees, and packs them on the way out.
            let repacked = try oracleRepack("etcdserverpb.WatchCreateRequest", writer.bytes).get()
            #expect(try WatchCreateRequest(serializedBytes: repacked) == value)
        }
    }
}
