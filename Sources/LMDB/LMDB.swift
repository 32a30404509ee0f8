import CLMDB

/// An LMDB error code with LMDB's own description.
public struct LMDBError: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: Int32
    public let function: String

    public static let notFound = MDB_NOTFOUND
    public static let mapFull = MDB_MAP_FULL
    public static let keyExists = MDB_KEYEXIST

    public var isMapFull: Bool { code == MDB_MAP_FULL }

    public var description: String {
        "\(function): \(String(cString: mdb_strerror(code)))"
    }
}

/// The one funnel for LMDB return codes.
@inline(__always)
func check(_ code: Int32, _ function: StaticString) throws {
    guard code == MDB_SUCCESS else { throw LMDBError(code: code, function: "\(function)") }
}

/// A named database handle; valid for the life of the environment.
public struct Database: Sendable, Hashable {
    public let handle: MDB_dbi
}

public struct DatabaseFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let create = DatabaseFlags(rawValue: UInt32(MDB_CREATE))
    public static let dupSort = DatabaseFlags(rawValue: UInt32(MDB_DUPSORT))
    /// With dupSort: every duplicate value has the same size.
    public static let dupFixed = DatabaseFlags(rawValue: UInt32(MDB_DUPFIXED))
}

public struct EnvironmentFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Commits do not fsync; durability comes from `Environment.sync()` (and, in this project,
    /// from the write-ahead log, which is replayed past the last synced applied index).
    public static let noSync = EnvironmentFlags(rawValue: UInt32(MDB_NOSYNC))
    public static let noMetaSync = EnvironmentFlags(rawValue: UInt32(MDB_NOMETASYNC))
    public static let noReadAhead = EnvironmentFlags(rawValue: UInt32(MDB_NORDAHEAD))
    public static let writeMap = EnvironmentFlags(rawValue: UInt32(MDB_WRITEMAP))
    public static let readOnly = EnvironmentFlags(rawValue: UInt32(MDB_RDONLY))
    /// No lock file: for a file only this process opens (a snapshot being installed).
    public static let noLock = EnvironmentFlags(rawValue: UInt32(MDB_NOLOCK))
}

/// An LMDB environment opened with `MDB_NOTLS`, so read transactions are tied to transaction
/// objects rather than threads and work from any thread.
///
/// Rules the wrapper enforces by construction: every transaction lives inside a closure and
/// ends when it returns (commit on success, abort on throw), and values read inside a
/// transaction are only reachable as buffers within that closure.
public final class Environment: @unchecked Sendable {
    let env: OpaquePointer
    /// While set, every committed write is also recorded here (see `WriteJournal`). Read and
    /// changed only inside write transactions, which LMDB serializes.
    private var journal: WriteJournal?

    public let maxKeySize: Int

    public init(path: String, mapSize: Int, maxDatabases: Int, flags: EnvironmentFlags = []) throws {
        var envPointer: OpaquePointer?
        try check(mdb_env_create(&envPointer), "mdb_env_create")
        guard let envPointer else { throw LMDBError(code: EINVAL_CODE, function: "mdb_env_create") }
        env = envPointer
        do throws {
            try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, 1024), "mdb_env_set_maxreaders")
            let openFlags = UInt32(MDB_NOTLS) | UInt32(MDB_NOSUBDIR) | flags.rawValue
            try check(mdb_env_open(env, path, openFlags, 0o600), "mdb_env_open")
        } catch {
            mdb_env_close(env)
            throw error
        }
        maxKeySize = Int(mdb_env_get_maxkeysize(env))
        // Readers left behind by a process that died hold pages; clear them at start-up.
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    deinit {
        mdb_env_close(env)
    }

    public func openDatabase(_ name: String, flags: DatabaseFlags) throws -> Database {
        try write { txn throws in
            var dbi: MDB_dbi = 0
            try check(mdb_dbi_open(txn.txn, name, flags.rawValue, &dbi), "mdb_dbi_open")
            return Database(handle: dbi)
        }
    }

    /// Runs `body` in a read-only transaction.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        var txnPointer: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txnPointer), "mdb_txn_begin")
        guard let txnPointer else { throw LMDBError(code: EINVAL_CODE, function: "mdb_txn_begin") }
        defer { mdb_txn_abort(txnPointer) }
        return try body(ReadTransaction(txn: txnPointer))
    }

    /// Runs `body` in the write transaction; commits when it returns, aborts when it throws.
    /// LMDB serializes writers; callers keep all writes on one thread.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        var txnPointer: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txnPointer), "mdb_txn_begin")
        guard let txnPointer else { throw LMDBError(code: EINVAL_CODE, function: "mdb_txn_begin") }
        let pending = journal.map { _ in WriteJournal() }
        let result: T
        do {
            result = try body(WriteTransaction(txn: txnPointer, pending: pending))
        } catch {
            mdb_txn_abort(txnPointer)
            throw error
        }
        try check(mdb_txn_commit(txnPointer), "mdb_txn_commit")
        if let pending { journal?.operations += pending.operations }
        return result
    }

    /// Starts recording every committed write (a copy is being taken whose later writes must
    /// be carried over). Writes committed from here on are in the journal.
    public func startJournal() throws {
        try write { _ in journal = WriteJournal() }
    }

    /// Stops recording; returns what was recorded. Called inside `write` so that no write
    /// commits between taking the journal and the caller's next step.
    public func takeJournal(_ txn: WriteTransaction) -> WriteJournal? {
        defer { journal = nil }
        return journal
    }

    /// Flushes committed data to disk.
    public func sync() throws {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
    }

    /// Bytes in use by the data file (pages up to the last used one).
    public func usedBytes() -> Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return (Int(info.me_last_pgno) + 1) * Int(stat.ms_psize)
    }

    /// Bytes of the data file holding data: `usedBytes` less the free pages LMDB reuses
    /// before it grows the file (bbolt's "size in use").
    public func bytesInUse() -> Int {
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        let free = (try? freePages()) ?? 0
        return max(0, usedBytes() - free * Int(stat.ms_psize))
    }

    /// Pages on LMDB's free list: each record of the free database (handle 0) is a list of
    /// page numbers whose first word is its length.
    func freePages() throws -> Int {
        try read { txn in
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(txn.txn, 0, &cursor), "mdb_cursor_open")
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val(), data = MDB_val()
            var total = 0
            var rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
            while rc == MDB_SUCCESS {
                if data.mv_size >= MemoryLayout<Int>.size, let words = data.mv_data {
                    total += words.loadUnaligned(as: Int.self)
                }
                rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
            return total
        }
    }

    public func mapSize() -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    /// Writes a compacted copy of the environment to `path` (used by defragmentation and
    /// snapshots).
    public func copyCompacted(to path: String) throws {
        try check(mdb_env_copy2(env, path, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2")
    }
}

let EINVAL_CODE: Int32 = 22

@inline(__always)
func withVal<R>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    var val = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try body(&val)
}

@inline(__always)
func buffer(_ val: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size)
}

/// Operations shared by read and write transactions.
public protocol Transaction {
    var txn: OpaquePointer { get }
}

extension Transaction {
    /// Opens an existing database inside this transaction (nil if there is none by that name).
    public func openExistingDatabase(_ name: String, flags: DatabaseFlags) throws -> Database? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(txn, name, flags.rawValue & ~UInt32(MDB_CREATE), &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open")
        return Database(handle: dbi)
    }

    /// Looks up `key`; the returned buffer is valid only until the transaction ends or the
    /// next write.
    public func get(_ db: Database, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var value = MDB_val()
        let rc = withVal(key) { k in mdb_get(txn, db.handle, &k, &value) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        return buffer(value)
    }

    public func get(_ db: Database, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { (k: UnsafeRawBufferPointer) throws in try get(db, k) }
    }

    public func cursor(_ db: Database) throws -> Cursor {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.handle, &cursor), "mdb_cursor_open")
        guard let cursor else { throw LMDBError(code: EINVAL_CODE, function: "mdb_cursor_open") }
        return Cursor(cursor: cursor)
    }

    public func entryCount(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.handle, &stat), "mdb_stat")
        return stat.ms_entries
    }
}

public struct ReadTransaction: Transaction {
    public let txn: OpaquePointer
}

/// Writes recorded in commit order, each absolute (a value set, a key or a duplicate
/// removed, a database emptied): replayed in order onto a copy that already holds any prefix of
/// them, they leave the copy equal to the original.
public final class WriteJournal: @unchecked Sendable {
    public enum Operation {
        case put(Database, key: [UInt8], value: [UInt8])
        case delete(Database, key: [UInt8], value: [UInt8]?)
        case clear(Database)
    }

    public fileprivate(set) var operations: [Operation] = []

    /// Replays the operations into `txn` (of another environment whose databases were opened
    /// in the same order, so their handles match).
    public func replay(into txn: WriteTransaction, duplicateSorted: Set<Database>) throws {
        for operation in operations {
            switch operation {
            case .put(let db, let key, let value):
                do {
                    try txn.put(db, key, value, flags: duplicateSorted.contains(db) ? .noDupData : [])
                } catch let error as LMDBError where error.code == MDB_KEYEXIST {
                    continue  // the duplicate is there already
                }
            case .delete(let db, let key, let value):
                try txn.delete(db, key, value: value)
            case .clear(let db):
                try txn.clear(db)
            }
        }
    }
}

public struct WriteTransaction: Transaction {
    public let txn: OpaquePointer
    /// This transaction's writes, when the environment keeps a journal.
    let pending: WriteJournal?

    init(txn: OpaquePointer, pending: WriteJournal?) {
        self.txn = txn
        self.pending = pending
    }

    public struct PutFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Key sorts after every existing key (bulk loading in order).
        public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
        /// Duplicate sorts after every existing duplicate of the key.
        public static let appendDup = PutFlags(rawValue: UInt32(MDB_APPENDDUP))
        public static let noDupData = PutFlags(rawValue: UInt32(MDB_NODUPDATA))
    }

    public func put(_ db: Database, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                    flags: PutFlags = []) throws {
        let rc = withVal(key) { k in withVal(value) { v in mdb_put(txn, db.handle, &k, &v, flags.rawValue) } }
        try check(rc, "mdb_put")
        pending?.operations.append(.put(db, key: Array(key), value: Array(value)))
    }

    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], flags: PutFlags = []) throws {
        try key.withUnsafeBytes { (k: UnsafeRawBufferPointer) throws in
            try value.withUnsafeBytes { (v: UnsafeRawBufferPointer) throws in
                try put(db, k, v, flags: flags)
            }
        }
    }

    /// Deletes `key` (all duplicates of it when `value` is nil). Returns false if absent.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8], value: [UInt8]? = nil) throws -> Bool {
        let rc: Int32 = key.withUnsafeBytes { k in
            withVal(k) { kv in
                if let value {
                    return value.withUnsafeBytes { v in withVal(v) { vv in mdb_del(txn, db.handle, &kv, &vv) } }
                }
                return mdb_del(txn, db.handle, &kv, nil)
            }
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del")
        pending?.operations.append(.delete(db, key: key, value: value))
        return true
    }

    /// Removes every entry of `db`.
    public func clear(_ db: Database) throws {
        try check(mdb_drop(txn, db.handle, 0), "mdb_drop")
        pending?.operations.append(.clear(db))
    }
}

/// A cursor; closed by `close()` (callers use `defer`). Positioning calls return the key and
/// value at the new position, or nil when there is none; the buffers follow the transaction's
/// lifetime rules.
public struct Cursor {
    let cursor: OpaquePointer

    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    public func close() { mdb_cursor_close(cursor) }

    @inline(__always)
    func op(_ operation: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil,
            value: UnsafeRawBufferPointer? = nil) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(cursor, &k, &v, operation)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get")
        return (buffer(k), buffer(v))
    }

    public func first() throws -> Entry? { try op(MDB_FIRST) }
    public func last() throws -> Entry? { try op(MDB_LAST) }
    public func next() throws -> Entry? { try op(MDB_NEXT) }
    public func previous() throws -> Entry? { try op(MDB_PREV) }
    public func current() throws -> Entry? { try op(MDB_GET_CURRENT) }
    /// Next key (skipping remaining duplicates of this one).
    public func nextKey() throws -> Entry? { try op(MDB_NEXT_NODUP) }
    /// Last duplicate of the previous key.
    public func previousKey() throws -> Entry? { try op(MDB_PREV_NODUP) }
    public func nextDuplicate() throws -> Entry? { try op(MDB_NEXT_DUP) }
    public func previousDuplicate() throws -> Entry? { try op(MDB_PREV_DUP) }
    public func firstDuplicate() throws -> Entry? { try op(MDB_FIRST_DUP) }
    public func lastDuplicate() throws -> Entry? { try op(MDB_LAST_DUP) }

    /// Positions at the first key >= `key` (the first key of all when `key` is empty; LMDB
    /// itself rejects empty keys).
    public func seek(atLeast key: UnsafeRawBufferPointer) throws -> Entry? {
        key.isEmpty ? try first() : try op(MDB_SET_RANGE, key: key)
    }

    public func seek(atLeast key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { (k: UnsafeRawBufferPointer) throws in try seek(atLeast: k) }
    }

    /// Positions exactly at `key` (its first duplicate).
    public func seek(exactly key: UnsafeRawBufferPointer) throws -> Entry? {
        try op(MDB_SET_KEY, key: key)
    }

    /// Positions at `key` and its first duplicate >= `value` (dupSort databases).
    public func seek(key: UnsafeRawBufferPointer, duplicateAtLeast value: UnsafeRawBufferPointer) throws -> Entry? {
        try op(MDB_GET_BOTH_RANGE, key: key, value: value)
    }

    public func duplicateCount() throws -> Int {
        var count: Int = 0
        try check(mdb_cursor_count(cursor, &count), "mdb_cursor_count")
        return count
    }
}
