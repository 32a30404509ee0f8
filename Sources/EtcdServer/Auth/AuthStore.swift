import EtcdProto
import Foundation
import MVCC

/// Who a request comes from: the user a token (or a client certificate) names, and the auth
/// revision the request was checked at (etcd's AuthInfo).
struct AuthInfo: Sendable, Equatable {
    var username: String
    var revision: UInt64
}

/// What an applied auth request answers (the service builds the typed response).
public enum AuthReply: Sendable {
    case empty
    case token(String)
    case roles([String])
    case users([String])
    case permissions([Permission])
}

/// etcd 3.4's auth store: users, roles and their key permissions, the enabled flag and the auth
/// revision, kept in the store's auth table exactly as etcd keeps its buckets (so imports,
/// snapshots and Maintenance.Hash carry them), and mirrored here for the checks. Changed only
/// by applying log entries, on every member alike; read from any thread.
final class AuthStore: @unchecked Sendable {
    private let lock = NSLock()
    private var enabled = false
    private var revision: UInt64 = 1
    private var users: [String: User] = [:]
    private var roles: [String: Role] = [:]
    /// Each user's merged permissions (etcd's range permission cache).
    private var cache: [String: UserPermissions] = [:]
    let tokens: SimpleTokens
    /// `--auth-token jwt,...`: tokens are signed JWTs instead of simple ones.
    let jwt: JWTTokens?
    let bcryptCost: Int

    static let root = "root"
    /// User and role names become store keys (behind a one-byte tag): LMDB's key limit bounds
    /// them, where etcd's bbolt allows 32 KiB.
    static let maxNameBytes = 500

    init(tokens: SimpleTokens, jwt: JWTTokens? = nil, bcryptCost: Int) {
        self.tokens = tokens
        self.jwt = jwt
        self.bcryptCost = bcryptCost
    }

    /// Replaces the copy with what the store holds (at start and after a snapshot install).
    func load(from store: KVStore) throws {
        let (auth, storedUsers, storedRoles) = try store.read { reader in
            (try reader.etcdAuthBucket(.auth), try reader.etcdAuthBucket(.authUsers), try reader.etcdAuthBucket(.authRoles))
        }
        var loadedUsers: [String: User] = [:]
        for (key, value) in storedUsers { loadedUsers[String(decoding: key, as: UTF8.self)] = try User(serializedBytes: value) }
        var loadedRoles: [String: Role] = [:]
        for (key, value) in storedRoles { loadedRoles[String(decoding: key, as: UTF8.self)] = try Role(serializedBytes: value) }
        var isEnabled = false
        var storedRevision: UInt64 = 1
        for (key, value) in auth {
            if key == Array("authEnabled".utf8) { isEnabled = value == [1] }
            if key == Array("authRevision".utf8), let stored = value.withUnsafeBytes({ int64(bigEndian: $0) }) {
                storedRevision = UInt64(bitPattern: stored)
            }
        }
        // Tokens of users that are gone or have another password now (a snapshot installed).
        let stale = lock.withLock {
            users.filter { loadedUsers[$0.key]?.password != $0.value.password }.map(\.key)
        }
        for name in stale { tokens.invalidate(user: name) }
        lock.withLock {
            users = loadedUsers
            roles = loadedRoles
            enabled = isEnabled
            revision = max(storedRevision, 1)
            rebuildCache()
        }
        if isEnabled { tokens.enable() } else { tokens.disable() }
    }

    var isEnabled: Bool { lock.withLock { enabled } }
    var currentRevision: UInt64 { lock.withLock { revision } }

    // MARK: Checks

    /// etcd's `IsAdminPermitted`: with auth on, only a user holding the root role.
    func adminCheck(_ info: AuthInfo?) -> EtcdError? {
        lock.withLock {
            guard enabled else { return nil }
            guard let info, !info.username.isEmpty else { return .userEmpty }
            guard let user = users[info.username] else { return .userNotFound }
            return user.roles.contains(Self.root) ? nil : .permissionDenied
        }
    }

    /// etcd's `isOpPermitted` for a key or a range (`rangeEnd` empty: the key alone; "\0": from
    /// the key on).
    func permitted(_ info: AuthInfo?, key: [UInt8], rangeEnd: [UInt8], write: Bool) -> EtcdError? {
        lock.withLock {
            guard enabled else { return nil }
            guard let info, info.revision != 0 else { return .userEmpty }
            if info.revision < revision { return .authOldRevision }
            guard let user = users[info.username] else { return .permissionDenied }
            if user.roles.contains(Self.root) { return nil }
            guard let permissions = cache[info.username] else { return .permissionDenied }
            let intervals = write ? permissions.write : permissions.read
            return IntervalCheck.allows(intervals, key: key, rangeEnd: rangeEnd) ? nil : .permissionDenied
        }
    }

    /// Whether the user holds `role` (a user may read its own roles).
    func hasRole(_ name: String, role: String) -> Bool {
        lock.withLock { users[name]?.roles.contains(role) ?? false }
    }

    /// etcd's `CheckPassword`, made before an Authenticate is proposed: the auth revision it
    /// was checked at, or why not.
    func checkPassword(name: String, password: String) -> Result<UInt64, EtcdError> {
        let (user, atRevision, isEnabled) = lock.withLock { (users[name], revision, enabled) }
        guard isEnabled else { return .failure(.authNotEnabled) }
        guard let user, !password.utf8.contains(0) else { return .failure(.authFailed) }
        if user.options?.noPassword == true {
            return .failure(.unmapped("auth: authentication failed, password was given for no password user"))
        }
        guard PasswordHash.verify(password, hash: String(decoding: user.password, as: UTF8.self)) else {
            return .failure(.authFailed)
        }
        return .success(atRevision)
    }

    // MARK: Applying (the apply thread, inside the batch's transaction)

    /// Applies an auth request; nil if `request` is not one. `index` is the entry's (simple
    /// tokens end with it).
    func apply(_ request: InternalRaftRequest, index: UInt64, in batch: WriteBatch) throws -> ApplyResult? {
        let info = request.header.map { AuthInfo(username: $0.username, revision: $0.authRevision) }
        func admin(_ body: () throws -> AuthReply) throws -> ApplyResult {
            if let refusal = adminCheck(info) { return .failure(refusal) }
            do { return .success(.auth(try body())) } catch let error as EtcdError { return .failure(error) }
        }
        if request.authEnable != nil { return try admin { try enable(in: batch) } }
        if request.authDisable != nil { return try admin { try disable(in: batch) } }
        if let authenticate = request.authenticate {
            let result: EtcdError? = lock.withLock {
                guard enabled else { return .authNotEnabled }
                guard let user = users[authenticate.name], user.options?.noPassword != true else { return .authFailed }
                return nil
            }
            if let result { return .failure(result) }
            if let jwt {
                do {
                    return .success(.auth(.token(try jwt.assign(username: authenticate.name, revision: currentRevision))))
                } catch let error as EtcdError {
                    return .failure(error)
                }
            }
            let token = "\(authenticate.simpleToken).\(index)"
            tokens.assign(token, to: authenticate.name)
            return .success(.auth(.token(token)))
        }
        if let add = request.authUserAdd { return try admin { try userAdd(add, in: batch) } }
        if let delete = request.authUserDelete { return try admin { try userDelete(delete.name, in: batch) } }
        if let change = request.authUserChangePassword { return try admin { try changePassword(change, in: batch) } }
        if let grant = request.authUserGrantRole { return try admin { try grantRole(grant.role, to: grant.user, in: batch) } }
        if let revoke = request.authUserRevokeRole { return try admin { try revokeRole(revoke.role, from: revoke.name, in: batch) } }
        if request.authUserList != nil { return try admin { .users(lock.withLock { users.keys.sorted(by: Self.bytewise) }) } }
        if request.authRoleList != nil { return try admin { .roles(lock.withLock { roles.keys.sorted(by: Self.bytewise) }) } }
        if let add = request.authRoleAdd { return try admin { try roleAdd(add.name, in: batch) } }
        if let delete = request.authRoleDelete { return try admin { try roleDelete(delete.role, in: batch) } }
        if let grant = request.authRoleGrantPermission { return try admin { try grantPermission(grant, in: batch) } }
        if let revoke = request.authRoleRevokePermission { return try admin { try revokePermission(revoke, in: batch) } }
        if let get = request.authUserGet {
            // A user may read itself; anyone else needs the root role.
            if let refusal = adminCheck(info), info?.username != get.name { return .failure(refusal) }
            guard let user = lock.withLock({ users[get.name] }) else { return .failure(.userNotFound) }
            return .success(.auth(.roles(user.roles)))
        }
        if let get = request.authRoleGet {
            if let refusal = adminCheck(info), !hasRole(info?.username ?? "", role: get.role) { return .failure(refusal) }
            guard let role = lock.withLock({ roles[get.role] }) else { return .failure(.roleNotFound) }
            return .success(.auth(.permissions(role.keyPermission)))
        }
        return nil
    }

    private func enable(in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            if enabled { return }
            guard let root = users[Self.root] else { throw EtcdError.rootUserNotExist }
            guard root.roles.contains(Self.root) else { throw EtcdError.rootRoleNotExist }
            try batch.putEtcdAuth(.auth, key: Array("authEnabled".utf8), value: [1])
            enabled = true
            rebuildCache()
        }
        tokens.enable()
        return .empty
    }

    private func disable(in batch: WriteBatch) throws -> AuthReply {
        let wasEnabled = try lock.withLock { () -> Bool in
            guard enabled else { return false }
            try batch.putEtcdAuth(.auth, key: Array("authEnabled".utf8), value: [0])
            enabled = false
            try commitRevision(in: batch)
            return true
        }
        if wasEnabled { tokens.disable() }
        return .empty
    }

    private func userAdd(_ request: AuthUserAddRequest, in batch: WriteBatch) throws -> AuthReply {
        guard !request.name.isEmpty else { throw EtcdError.userEmpty }
        try Self.checkName(request.name, "user")
        let noPassword = request.options?.noPassword == true
        // etcd hashes before it looks for the user, at apply time on every member.
        let hash = noPassword ? "" : try hashPassword(request.password)
        try lock.withLock {
            guard users[request.name] == nil else { throw EtcdError.userAlreadyExists }
            let user = User(name: Array(request.name.utf8), password: Array(hash.utf8), roles: [],
                            options: request.options ?? UserAddOptions(noPassword: false))
            try put(user, in: batch)
            try commitRevision(in: batch)
        }
        return .empty
    }

    private func userDelete(_ name: String, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            if enabled && name == Self.root { throw EtcdError.invalidAuthManagement }
            guard users[name] != nil else { throw EtcdError.userNotFound }
            try batch.deleteEtcdAuth(.authUsers, key: Array(name.utf8))
            users[name] = nil
            try commitRevision(in: batch)
            rebuildCache()
        }
        tokens.invalidate(user: name)
        return .empty
    }

    private func changePassword(_ request: AuthUserChangePasswordRequest, in batch: WriteBatch) throws -> AuthReply {
        let hash = try hashPassword(request.password)
        try lock.withLock {
            guard var user = users[request.name] else { throw EtcdError.userNotFound }
            user.password = Array(hash.utf8)
            try put(user, in: batch)
            try commitRevision(in: batch)
        }
        tokens.invalidate(user: request.name)
        return .empty
    }

    private func grantRole(_ role: String, to name: String, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            guard var user = users[name] else { throw EtcdError.userNotFound }
            if role != Self.root && roles[role] == nil { throw EtcdError.roleNotFound }
            if user.roles.contains(role) { return }
            user.roles.append(role)
            user.roles.sort(by: Self.bytewise)
            try put(user, in: batch)
            try commitRevision(in: batch)
            rebuildCache()
        }
        return .empty
    }

    private func revokeRole(_ role: String, from name: String, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            if enabled && name == Self.root && role == Self.root { throw EtcdError.invalidAuthManagement }
            guard var user = users[name] else { throw EtcdError.userNotFound }
            guard let position = user.roles.firstIndex(of: role) else { throw EtcdError.roleNotGranted }
            user.roles.remove(at: position)
            try put(user, in: batch)
            try commitRevision(in: batch)
            rebuildCache()
        }
        return .empty
    }

    private func roleAdd(_ name: String, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            guard !name.isEmpty else { throw EtcdError.roleEmpty }
            try Self.checkName(name, "role")
            guard roles[name] == nil else { throw EtcdError.roleAlreadyExists }
            try put(Role(name: Array(name.utf8)), in: batch)
            try commitRevision(in: batch)
        }
        return .empty
    }

    private func roleDelete(_ name: String, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            if enabled && name == Self.root { throw EtcdError.invalidAuthManagement }
            guard roles[name] != nil else { throw EtcdError.roleNotFound }
            try batch.deleteEtcdAuth(.authRoles, key: Array(name.utf8))
            roles[name] = nil
            // The role leaves every user that had it.
            for (userName, var user) in users where user.roles.contains(name) {
                user.roles.removeAll { $0 == name }
                users[userName] = user
                try put(user, in: batch)
            }
            try commitRevision(in: batch)
            rebuildCache()
        }
        return .empty
    }

    private func grantPermission(_ request: AuthRoleGrantPermissionRequest, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            guard var role = roles[request.name] else { throw EtcdError.roleNotFound }
            // etcd dereferences the permission without looking; refuse instead of crashing.
            guard let permission = request.perm else { throw EtcdError.permissionNotGranted }
            // The first permission at or after the key (by key alone): the same key and range
            // only changes its type; anything else is added and the list sorted by key.
            let position = role.keyPermission.firstIndex { !$0.key.lexicographicallyPrecedes(permission.key) }
            if let position, role.keyPermission[position].key == permission.key,
               role.keyPermission[position].rangeEnd == permission.rangeEnd {
                role.keyPermission[position].permTypeRaw = permission.permTypeRaw
            } else {
                role.keyPermission.append(permission)
                role.keyPermission.sort { $0.key.lexicographicallyPrecedes($1.key) }
            }
            try put(role, in: batch)
            try commitRevision(in: batch)
            rebuildCache()
        }
        return .empty
    }

    private func revokePermission(_ request: AuthRoleRevokePermissionRequest, in batch: WriteBatch) throws -> AuthReply {
        try lock.withLock {
            guard var role = roles[request.role] else { throw EtcdError.roleNotFound }
            let before = role.keyPermission.count
            role.keyPermission.removeAll { $0.key == request.key && $0.rangeEnd == request.rangeEnd }
            guard role.keyPermission.count < before else { throw EtcdError.permissionNotGranted }
            try put(role, in: batch)
            try commitRevision(in: batch)
            rebuildCache()
        }
        return .empty
    }

    // MARK: Helpers (under the lock)

    private func put(_ user: User, in batch: WriteBatch) throws {
        try batch.putEtcdAuth(.authUsers, key: user.name, value: user.serializedBytes())
        users[String(decoding: user.name, as: UTF8.self)] = user
    }

    private func put(_ role: Role, in batch: WriteBatch) throws {
        try batch.putEtcdAuth(.authRoles, key: role.name, value: role.serializedBytes())
        roles[String(decoding: role.name, as: UTF8.self)] = role
    }

    private func commitRevision(in batch: WriteBatch) throws {
        revision += 1
        try batch.putEtcdAuth(.auth, key: Array("authRevision".utf8), value: bigEndianBytes(Int64(bitPattern: revision)))
    }

    /// A name that cannot be a store key is refused on every member alike.
    static func checkName(_ name: String, _ kind: String) throws {
        if name.utf8.count > maxNameBytes { throw EtcdError.unmapped("auth: \(kind) name is longer than \(maxNameBytes) bytes") }
    }

    private func hashPassword(_ password: String) throws -> String {
        // bcrypt through C stops at a NUL byte; Go's does not: refuse rather than disagree.
        if password.utf8.contains(0) { throw EtcdError.unmapped("auth: password contains a NUL byte") }
        do {
            return try PasswordHash.hash(password, cost: bcryptCost)
        } catch {
            throw EtcdError.unmapped("\(error)")
        }
    }

    private func rebuildCache() {
        cache = [:]
        for (name, user) in users {
            var merged = UserPermissions()
            for roleName in user.roles {
                for permission in roles[roleName]?.keyPermission ?? [] {
                    guard let interval = IntervalCheck.interval(permission) else { continue }
                    switch permission.permTypeRaw {
                    case 0: merged.read.append(interval)
                    case 1: merged.write.append(interval)
                    case 2: merged.read.append(interval); merged.write.append(interval)
                    default: break
                    }
                }
            }
            cache[name] = merged
        }
    }

    static func bytewise(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
}

struct UserPermissions {
    var read: [KeyInterval] = []
    var write: [KeyInterval] = []
}

/// A permitted key range: from `start` up to `end` (nil: no end).
struct KeyInterval: Equatable {
    var start: [UInt8]
    var end: [UInt8]?
}

/// etcd's range permission checks: a key is allowed if some interval holds it; a range if the
/// intervals that meet it join up to cover all of it.
enum IntervalCheck {
    /// A stored permission as an interval: a key alone, from the key on ("\0"), or a range. A
    /// permission with an empty key covers nothing (etcd compares an empty key above all keys).
    static func interval(_ permission: Permission) -> KeyInterval? {
        guard !permission.key.isEmpty else { return nil }
        if permission.rangeEnd.isEmpty { return KeyInterval(start: permission.key, end: permission.key + [0]) }
        if permission.rangeEnd == [0] { return KeyInterval(start: permission.key, end: nil) }
        return KeyInterval(start: permission.key, end: permission.rangeEnd)
    }

    static func allows(_ intervals: [KeyInterval], key: [UInt8], rangeEnd: [UInt8]) -> Bool {
        func below(_ value: [UInt8], _ end: [UInt8]?) -> Bool { end.map { value.lexicographicallyPrecedes($0) } ?? true }
        if rangeEnd.isEmpty {
            return intervals.contains { !key.lexicographicallyPrecedes($0.start) && below(key, $0.end) }
        }
        let end: [UInt8]? = rangeEnd == [0] ? nil : rangeEnd
        var cursor = key
        while true {
            // The furthest any interval holding the cursor reaches.
            var reach: [UInt8]?? = .none
            for interval in intervals where !cursor.lexicographicallyPrecedes(interval.start) && below(cursor, interval.end) {
                guard let current = reach else { reach = .some(interval.end); continue }
                guard let currentEnd = current, let candidate = interval.end else { reach = .some(nil); continue }
                if currentEnd.lexicographicallyPrecedes(candidate) { reach = .some(candidate) }
            }
            guard let reached = reach else { return false }
            guard let next = reached else { return true }
            if let end, !next.lexicographicallyPrecedes(end) { return true }
            cursor = next
        }
    }
}
