#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LMDB

/// Sizes before and after a defragmentation, for etcd's "defragmented" log line.
public struct DefragmentOutcome: Sendable {
    public var sizeBefore: Int64
    public var sizeInUseBefore: Int64
    public var sizeAfter: Int64
    public var sizeInUseAfter: Int64
}

extension KVStore {
    /// Rewrites the store file compactly while reads and writes go on.
    ///
    /// LMDB copies the store, skipping free pages, from one read transaction; every write
    /// committed meanwhile is also journaled. Writers then pause only for the journal to be
    /// replayed onto the copy (whose databases are opened in the same order, so handles match),
    /// the copy to be flushed and renamed over the store file, and the copy to become the
    /// environment new transactions use. Transactions already running finish on the old one,
    /// which closes when the last of them ends. A crash before the rename leaves the old file
    /// (the copy is removed at the next start); after it, the copy is complete and flushed.
    public func defragment() throws -> DefragmentOutcome {
        defragmenting.lock()
        defer { defragmenting.unlock() }
        let old = environment
        let before = (KVStore.fileSize(path), Int64(old.usedBytes()))
        let copyPath = KVStore.defragmentCopyPath(of: path)
        KVStore.removeDefragmentCopy(of: path)
        try old.startJournal()
        do {
            try old.copyCompacted(to: copyPath)
            let fresh = try Environment(path: copyPath, mapSize: old.mapSize(), maxDatabases: Schema.maxDatabases,
                                        flags: KVStore.environmentFlags)
            var duplicateSorted = Set<Database>()
            for (name, db, flags) in allDatabases {
                guard try fresh.openDatabase(name, flags: flags) == db else {
                    throw MVCCError.corrupt("defragment: database \(name) opened with another handle in the copy")
                }
                if flags.contains(.dupSort) { duplicateSorted.insert(db) }
            }
            writers.lock()
            defer { writers.unlock() }
            let journal = try old.write { txn in old.takeJournal(txn) }
            try fresh.write { txn in try journal?.replay(into: txn, duplicateSorted: duplicateSorted) }
            try fresh.sync()
            guard rename(copyPath, path) == 0 else {
                throw MVCCError.corrupt("defragment: rename \(copyPath) to \(path): \(String(cString: strerror(errno)))")
            }
            KVStore.syncDirectory(of: path)
            replaceEnvironment(with: fresh)
            return DefragmentOutcome(sizeBefore: before.0, sizeInUseBefore: before.1,
                                     sizeAfter: KVStore.fileSize(path), sizeInUseAfter: Int64(fresh.usedBytes()))
        } catch {
            _ = try? old.write { txn in old.takeJournal(txn) }
            KVStore.removeDefragmentCopy(of: path)
            throw error
        }
    }

    static func defragmentCopyPath(of path: String) -> String { path + ".defrag" }

    static func removeDefragmentCopy(of path: String) {
        let copy = defragmentCopyPath(of: path)
        unlink(copy)
        unlink(copy + "-lock")
    }

    /// The size of the file at `path`, 0 if there is none.
    public static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
