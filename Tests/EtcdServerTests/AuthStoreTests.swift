import EtcdProto
import Foundation
import MVCC
import Testing
@testable import EtcdServer

/// The auth store's rules, as etcd 3.4 applies them (the differential tests check the same
/// through etcdctl against the reference).
@Suite struct AuthStoreTests {
    /// A hash Go's bcrypt wrote (etcd 3.4.23, `user add gouser:correct-horse`).
    static let goHash = "$2a$10$uUUYrAEqYbpyw7rz2D0DzuvhYXnJ7rsjwiEhJ8PYkdDNbzEPwhlFu"

    @Test func bcryptReadsGosHashesAndWritesTheSameForm() throws {
        #expect(PasswordHash.verify("correct-horse", hash: Self.goHash))
        #expect(!PasswordHash.verify("correct-horsf", hash: Self.goHash))
        #expect(!PasswordHash.verify("correct-horse", hash: ""))
        #expect(!PasswordHash.verify("correct-horse", hash: "$2a$10$short"))
        let ours = try PasswordHash.hash("pw", cost: 4)
        #expect(ours.hasPrefix("$2a$04$") && ours.utf8.count == 60, "\(ours)")
        #expect(PasswordHash.verify("pw", hash: ours) && !PasswordHash.verify("pw2", hash: ours))
        #expect(try PasswordHash.hash("pw", cost: 4) != ours, "a fresh salt each time")
    }

    private func interval(_ key: String, _ end: String = "") -> KeyInterval {
        IntervalCheck.interval(Permission(permType: .read, key: Array(key.utf8), rangeEnd: Array(end.utf8)))!
    }

    @Test func rangesJoinUpAsEtcdsIntervalTree() {
        let b = { (s: String) in Array(s.utf8) }
        let joined = [interval("a", "b"), interval("b", "c")]
        #expect(IntervalCheck.allows(joined, key: b("a"), rangeEnd: b("c")))
        #expect(!IntervalCheck.allows(joined, key: b("a"), rangeEnd: b("d")))
        #expect(IntervalCheck.allows(joined, key: b("bz"), rangeEnd: []))
        #expect(!IntervalCheck.allows(joined, key: b("c"), rangeEnd: []))
        // A key alone covers just that key.
        let point = [interval("foo")]
        #expect(IntervalCheck.allows(point, key: b("foo"), rangeEnd: []))
        #expect(!IntervalCheck.allows(point, key: b("foo"), rangeEnd: b("fop")))
        #expect(IntervalCheck.allows(point, key: b("foo"), rangeEnd: b("foo") + [0]))
        // From the key on ("\0").
        let fromKey = [IntervalCheck.interval(Permission(permType: .read, key: b("m"), rangeEnd: [0]))!]
        #expect(IntervalCheck.allows(fromKey, key: b("zzz"), rangeEnd: [0]))
        #expect(!IntervalCheck.allows(fromKey, key: b("a"), rangeEnd: [0]))
        #expect(!IntervalCheck.allows(joined, key: b("a"), rangeEnd: [0]))
        // An empty key covers nothing.
        #expect(IntervalCheck.interval(Permission(permType: .read, key: [], rangeEnd: b("z"))) == nil)
        #expect(!IntervalCheck.allows([], key: b("a"), rangeEnd: []))
    }

    @Test func simpleTokensSlideAndGo() {
        let now = Clock()
        let tokens = SimpleTokens(ttlSeconds: 2, clock: { now.value })
        tokens.assign("abc.7", to: "alice")
        tokens.assign("def.8", to: "bob")
        now.value += 1_500_000_000
        #expect(tokens.user(for: "abc.7") == "alice")
        now.value += 1_500_000_000
        #expect(tokens.user(for: "abc.7") == "alice", "the use extended it")
        #expect(tokens.user(for: "def.8") == nil, "unused for 3 s")
        tokens.invalidate(user: "alice")
        #expect(tokens.user(for: "abc.7") == nil)
        #expect(SimpleTokens.index(of: "abcdefghijklmnop.42") == 42)
        #expect(SimpleTokens.index(of: "nodot") == nil && SimpleTokens.index(of: "a.b.c") == nil)
        let prefix = SimpleTokens.prefix()
        #expect(prefix.count == 16 && prefix.allSatisfy(\.isLetter))
    }

    final class Clock: @unchecked Sendable { var value: UInt64 = 1_000_000_000 }

    /// Applies auth requests to a fresh store, as root.
    final class Fixture {
        let directory: String
        let store: KVStore
        let auth = AuthStore(tokens: SimpleTokens(ttlSeconds: 300), bcryptCost: 4)
        var index: UInt64 = 0

        init() throws {
            var template = Array("/tmp/auth-test-XXXXXX".utf8CString)
            directory = String(cString: mkdtemp(&template)!)
            store = try KVStore(path: directory + "/db", mapSize: 64 << 20)
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        @discardableResult
        func apply(as user: String = "root", _ fill: (inout InternalRaftRequest) -> Void) throws -> ApplyResult {
            var request = InternalRaftRequest()
            request.header = RequestHeader(id: 1, username: user, authRevision: auth.currentRevision)
            fill(&request)
            index += 1
            return try store.writeBatch { batch in try #require(try auth.apply(request, index: index, in: batch)) }
        }

        func permissions(_ role: String) throws -> [Permission] {
            guard case .success(.auth(.permissions(let permissions))) = try apply({ $0.authRoleGet = AuthRoleGetRequest(role: role) })
            else { return [] }
            return permissions
        }
    }

    @Test func revisionCountsMutationsAsEtcdDoes() throws {
        let fixture = try Fixture()
        #expect(fixture.auth.currentRevision == 1)
        try fixture.apply { $0.authUserAdd = AuthUserAddRequest(name: "root", password: "pw") }
        try fixture.apply { $0.authUserGrantRole = AuthUserGrantRoleRequest(user: "root", role: "root") }
        #expect(fixture.auth.currentRevision == 3)
        // A role already granted: no change.
        try fixture.apply { $0.authUserGrantRole = AuthUserGrantRoleRequest(user: "root", role: "root") }
        #expect(fixture.auth.currentRevision == 3)
        try fixture.apply { $0.authEnable = AuthEnableRequest() }
        #expect(fixture.auth.currentRevision == 3 && fixture.auth.isEnabled, "enable does not count")
        try fixture.apply { $0.authDisable = AuthDisableRequest() }
        #expect(fixture.auth.currentRevision == 4 && !fixture.auth.isEnabled, "disable does")
        // The state is in the store, in etcd's bucket form, and loads back.
        let reloaded = AuthStore(tokens: SimpleTokens(ttlSeconds: 300), bcryptCost: 4)
        try reloaded.load(from: fixture.store)
        #expect(reloaded.currentRevision == 4 && !reloaded.isEnabled)
        let users = try fixture.store.read { try $0.etcdAuthBucket(.authUsers) }
        #expect(users.map(\.key) == [Array("root".utf8)])
        let root = try User(serializedBytes: users[0].value)
        #expect(root.roles == ["root"] && String(decoding: root.password, as: UTF8.self).hasPrefix("$2a$04$"))
    }

    /// Names beyond the store's key limit and passwords with a NUL byte are refused alike on
    /// every member (not a crash of the apply thread, not a bcrypt of a cut password).
    @Test func unstorableNamesAndPasswordsAreRefused() throws {
        let fixture = try Fixture()
        let long = String(repeating: "n", count: 600)
        for result in [try fixture.apply { $0.authUserAdd = AuthUserAddRequest(name: long, password: "pw") },
                       try fixture.apply { $0.authRoleAdd = AuthRoleAddRequest(name: long) },
                       try fixture.apply { $0.authUserAdd = AuthUserAddRequest(name: "u", password: "\u{0}secret") }] {
            guard case .failure(.unmapped) = result else { Issue.record("\(result)"); continue }
        }
        #expect(fixture.auth.currentRevision == 1)
        let added = try fixture.apply { $0.authUserAdd = AuthUserAddRequest(name: String(repeating: "n", count: 500), password: "pw") }
        guard case .success = added else { Issue.record("\(added)"); return }
    }

    @Test func permissionsMergeAndRevokeAsEtcdDoes() throws {
        let fixture = try Fixture()
        try fixture.apply { $0.authRoleAdd = AuthRoleAddRequest(name: "r") }
        func grant(_ type: Permission.PermissionType, _ key: String, _ end: String) throws {
            try fixture.apply {
                $0.authRoleGrantPermission = AuthRoleGrantPermissionRequest(
                    name: "r", perm: Permission(permType: type, key: Array(key.utf8), rangeEnd: Array(end.utf8)))
            }
        }
        try grant(.read, "foo", "")
        try grant(.write, "foo", "")
        #expect(try fixture.permissions("r").map(\.permTypeRaw) == [1], "same key and range: the type is replaced")
        try grant(.read, "foo", "fop")
        try grant(.read, "foo", "fop")
        // etcd finds the first permission at the key (the point one), sees another range, and adds.
        #expect(try fixture.permissions("r").count == 3)
        try grant(.read, "a", "")
        #expect(try fixture.permissions("r").map { String(decoding: $0.key, as: UTF8.self) } == ["a", "foo", "foo", "foo"])
        let revoked = try fixture.apply {
            $0.authRoleRevokePermission = AuthRoleRevokePermissionRequest(role: "r", key: Array("foo".utf8), rangeEnd: Array("fop".utf8))
        }
        guard case .success = revoked else { Issue.record("\(revoked)"); return }
        #expect(try fixture.permissions("r").count == 2, "every equal permission goes")
        let again = try fixture.apply {
            $0.authRoleRevokePermission = AuthRoleRevokePermissionRequest(role: "r", key: Array("foo".utf8), rangeEnd: Array("fop".utf8))
        }
        guard case .failure(.permissionNotGranted) = again else { Issue.record("\(again)"); return }
        // A grant without a permission is refused (etcd crashes on it).
        let empty = try fixture.apply { $0.authRoleGrantPermission = AuthRoleGrantPermissionRequest(name: "r", perm: nil) }
        guard case .failure = empty else { Issue.record("\(empty)"); return }
    }
}
