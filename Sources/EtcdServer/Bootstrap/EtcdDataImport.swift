import Bolt
import EtcdProto
import Foundation
import Lease
import MVCC
import Raft
import ServerLog
import WAL

/// Starting on a data dir etcd 3.4 wrote (its bbolt `member/snap/db`, `member/wal/*.wal` and
/// `member/snap/*.snap`; also what `etcdctl snapshot restore` writes): the member keeps its
/// identity and everything it held, and runs on our store from then on.
///
/// What comes from where, as etcd itself restarts (see etcd's `NewServer`):
/// - member and cluster IDs, the hard state and the log: the WAL;
/// - membership and cluster version: the v2 store in the newest `.snap` the WAL names, then
///   the membership entries up to the backend's `consistent_index`;
/// - keys and their history, compaction, leases, alarms: the backend, `consistent_index`
///   included; committed entries after it are applied again once the member runs, as etcd
///   applies them again.
///
/// The converted member is built beside the original in `member.import`, flushed, and switched
/// in by two renames: `member` becomes `member.etcd34` (kept: a way back to etcd) and
/// `member.import` becomes `member`. A crash before the first rename leaves the original as it
/// was (the next start builds the copy again); a crash between them is finished at the next
/// start. A separate `--wal-dir` is converted the same way, switched right after.
struct EtcdDataImport {
    let config: ServerConfig
    let mapSize: Int
    let logger: Logger

    var dataDir: String { config.dataDir }
    var memberDir: String { config.memberDirectory }
    var stagingDir: String { dataDir + "/member.import" }
    var backendPath: String { config.backendPath }

    /// Whether the member directory holds etcd's files rather than ours.
    static func isEtcdDataDir(_ config: ServerConfig) -> Bool {
        BoltReader.isBoltFile(config.backendPath) || EtcdWAL.isEtcdLog(in: config.walDirectory)
    }

    /// With `--wal-dir`, the converted log is staged beside etcd's: `<wal-dir>.import`, complete
    /// once renamed from `<wal-dir>.import.tmp`; it replaces etcd's (kept as `<wal-dir>.etcd34`)
    /// right after the member directory is switched.
    var separateWAL: Bool { !config.walDir.isEmpty && walInsideMember == nil }
    /// A `--wal-dir` inside the member directory moves with it: its path below the member dir.
    var walInsideMember: String? {
        config.walDir.hasPrefix(memberDir + "/") ? String(config.walDir.dropFirst(memberDir.count)) : nil
    }
    var walStaging: String { separateWAL ? config.walDir + ".import" : stagingDir + (walInsideMember ?? "/wal") }

    /// Finishes an interrupted switch-over, then converts the member directory if it is etcd's.
    func runIfNeeded() throws {
        let files = FileManager.default
        if !files.fileExists(atPath: memberDir) && files.fileExists(atPath: stagingDir + "/snap/db") {
            try rename(stagingDir, to: memberDir)
            try syncDirectory(dataDir)
            logger.info("finished switching to the imported data", ["path": memberDir])
        }
        try? files.removeItem(atPath: stagingDir)
        if separateWAL {
            let memberIsOurs = files.fileExists(atPath: backendPath) && !BoltReader.isBoltFile(backendPath)
            if memberIsOurs && files.fileExists(atPath: walStaging) {
                try switchWAL()
                logger.info("finished switching to the imported log", ["path": config.walDir])
            }
            try? files.removeItem(atPath: walStaging)
            try? files.removeItem(atPath: walStaging + ".tmp")
        }
        guard Self.isEtcdDataDir(config) else { return }
        try convert()
    }

    /// Moves etcd's log aside and the converted one into `--wal-dir`.
    private func switchWAL() throws {
        if FileManager.default.fileExists(atPath: config.walDir) {
            try rename(config.walDir, to: backupPath(for: config.walDir))
        }
        try rename(walStaging, to: config.walDir)
        try syncDirectory((config.walDir as NSString).deletingLastPathComponent)
    }

    private func convert() throws {
        let snapDir = memberDir + "/snap"
        let wal = try EtcdWAL(directory: config.walDirectory)
        let metadata = try WALMetadata(serializedBytes: wal.metadata)
        guard let memberID = metadata.nodeID, let clusterID = metadata.clusterID else {
            throw ConfigError.invalid("wal: metadata in \(config.walDirectory) names no member")
        }
        logger.info("importing an etcd data dir", ["data-dir": dataDir, "local-member-id": ClusterIdentity.hex(memberID),
                                                   "cluster-id": ClusterIdentity.hex(clusterID),
                                                   "torn-wal-tail": wal.tornTail],
                    text: "converting etcd 3.4 data in \(memberDir) (member \(ClusterIdentity.hex(memberID)))")
        let snapshot = EtcdSnapFiles.newest(in: snapDir, matching: wal.validSnapshots)
        let snapMeta = snapshot?.metadata ?? SnapshotMetadata()
        var membership = ImportedMembership(members: [], removedIDs: [], clusterVersion: nil)
        if let snapshot {
            membership = try V2StoreJSON.membership(snapshot.data)
            logger.info("recovered membership from a snapshot", ["snapshot-index": snapMeta.index,
                                                                 "members": membership.members.map { ClusterIdentity.hex($0.id) }])
        }
        let entries = try wal.entries(after: (snapMeta.index, snapMeta.term))

        guard access(backendPath, F_OK) == 0 else {
            throw ConfigError.invalid("database file (\(backendPath)) of the backend is missing")
        }
        var backend = try BoltReader(path: backendPath)
        var consistentIndex = try KVStore.etcdMeta(backend).consistentIndex
        if consistentIndex < snapMeta.index {
            // A database the leader sent that etcd had not yet moved into place.
            let received = PeerGateway.databasePath(in: snapDir, index: snapMeta.index)
            guard access(received, F_OK) == 0 else {
                throw ConfigError.invalid("failed to find database snapshot file (snap: snapshot file doesn't exist)")
            }
            backend = try BoltReader(path: received)
            consistentIndex = try KVStore.etcdMeta(backend).consistentIndex
            guard consistentIndex >= snapMeta.index else {
                throw ConfigError.invalid("database file (\(received) index \(consistentIndex)) does not match with snapshot (index \(snapMeta.index))")
            }
        }
        // The term of the last entry the backend reflects.
        let appliedTerm: UInt64
        if consistentIndex == snapMeta.index {
            appliedTerm = snapMeta.term
        } else if let entry = entries.first(where: { $0.index == consistentIndex }) {
            appliedTerm = entry.term
        } else {
            throw ConfigError.invalid("etcd data dir: the backend reflects index \(consistentIndex), which the WAL does not hold")
        }

        try makeDirectories(stagingDir + "/snap")
        let store = try KVStore(path: stagingDir + "/snap/db", mapSize: mapSize)
        let imported = try store.importEtcdBackend(backend, appliedTerm: appliedTerm, membership: membership)
        // Membership changes the backend reflects but the snapshot predates.
        let tables = ClusterMembership()
        try tables.load(from: store)
        let applier = Applier(store: store, membership: tables,
                              leases: LeaseStore(lessor: Lessor(minTTLSeconds: 1, clock: { 0 })),
                              alarms: AlarmTable(logger: logger), localID: memberID, logger: logger)
        let reflected = entries.filter { $0.index <= consistentIndex }
        if !reflected.isEmpty {
            try store.writeBatch { batch in
                for entry in reflected { try applier.applyMembership(entry, in: batch) }
            }
        }
        try store.environment.sync()

        let logDirectory = separateWAL ? walStaging + ".tmp" : walStaging
        try? FileManager.default.removeItem(atPath: logDirectory)
        try makeDirectories((logDirectory as NSString).deletingLastPathComponent)
        let log = try WAL.create(in: logDirectory, metadata: wal.metadata)
        let resumeAt = SnapshotMetadata(confState: tables.confState, index: consistentIndex, term: appliedTerm)
        try log.save(snapshot: Snapshot(metadata: resumeAt), entries: entries.filter { $0.index > consistentIndex },
                     hardState: wal.hardState, sync: true)
        try syncDirectory(logDirectory)
        try syncDirectory(stagingDir + "/snap")
        try syncDirectory(stagingDir)
        if separateWAL {
            try rename(logDirectory, to: walStaging)
            try syncDirectory((walStaging as NSString).deletingLastPathComponent)
        }

        let backup = backupPath(for: memberDir)
        try rename(memberDir, to: backup)
        try rename(stagingDir, to: memberDir)
        try syncDirectory(dataDir)
        if separateWAL { try switchWAL() }
        logger.info("imported an etcd data dir", [
            "local-member-id": ClusterIdentity.hex(memberID), "cluster-id": ClusterIdentity.hex(clusterID),
            "consistent-index": consistentIndex, "commit-index": wal.hardState.commit, "revision": imported.revision,
            "compact-revision": imported.compactRevision, "key-records": imported.keyRecords, "leases": imported.leases,
            "members": tables.all.map { ClusterIdentity.hex($0.id) }, "original-data": backup,
        ], text: "imported etcd data: revision \(imported.revision), \(imported.keyRecords) key records, "
            + "\(imported.leases) leases; the original files are kept in \(backup)")
    }

    /// Where etcd's original directory goes: `<name>.etcd34`, or a dated name beside an earlier
    /// one.
    private func backupPath(for directory: String) -> String {
        let plain = directory + ".etcd34"
        guard FileManager.default.fileExists(atPath: plain) else { return plain }
        return plain + "." + String(Int(Date().timeIntervalSince1970))
    }

    private func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw ConfigError.invalid("rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }
}
