import ServerLog
import EtcdProto
import Foundation
import MVCC
import Raft
import WAL

/// Where a member's identity and log come from when it starts:
/// - **restart**: the WAL exists; member and cluster IDs are in its metadata, and the log
///   resumes after what the store has applied;
/// - **new cluster** (`--initial-cluster-state new`): IDs are computed from the flags as etcd
///   computes them, and the log begins with one committed AddNode entry per founding member
///   at term 1, exactly as every etcd founder writes it;
/// - **join** (`--initial-cluster-state existing`): the cluster is fetched from a running
///   member's `/members`, checked against `--initial-cluster`, and the log starts empty: the
///   leader replicates everything (or sends a snapshot).
struct MemberBootstrap {
    struct Started {
        var memberID: UInt64
        var clusterID: UInt64
        var wal: WAL
        /// The first start of a member of a new cluster (it publishes the cluster version).
        var isNewMember: Bool
        /// Peers to connect to before the log has told us the membership (a joining member).
        var knownPeers: [Member]
    }

    let config: ServerConfig
    let logger: Logger

    /// - Parameters:
    ///   - installSnapshot: installs the saved database of a snapshot at an index (a crash came
    ///     between logging a snapshot from the leader and installing it).
    ///   - fetchMembers: asks running members' `/members` (a join).
    func start(store: KVStore, membership: ClusterMembership, installSnapshot: (UInt64) throws -> Void,
               fetchMembers: ([String], _ timeoutSeconds: Int64) throws -> (clusterID: UInt64, members: [Member])) throws -> Started {
        if WAL.exists(in: config.walDirectory) {
            return try restart(store: store, membership: membership, installSnapshot: installSnapshot)
        }
        let founders = try ClusterIdentity.parseInitialCluster(config.initialCluster, token: config.initialClusterToken)
        guard let me = founders.first(where: { $0.name == config.name }) else {
            throw ConfigError.invalid("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
        }
        let advertised = config.initialAdvertisePeerURLs.map(\.text).sorted()
        guard advertised == me.peerURLs else {
            throw ConfigError.invalid("--initial-cluster has \(config.name)=\(me.peerURLs.joined(separator: ",")) but missing from --initial-advertise-peer-urls=\(advertised.joined(separator: ",")) (\"\(advertised.joined(separator: ","))\"(resolved from \(advertised.joined(separator: ","))) != \"\(me.peerURLs.joined(separator: ","))\"(resolved from \(me.peerURLs.joined(separator: ","))))")
        }
        if config.initialClusterState == "existing" {
            return try join(founders: founders, me: me, fetchMembers: { try fetchMembers($0, 10) })
        }
        // A member whose data dir was lost must not found the cluster again: etcd asks the
        // other founders whether they already know it as a started member.
        let others = founders.filter { $0.name != me.name }.flatMap(\.peerURLs).sorted()
        if !others.isEmpty, let (_, existing) = try? fetchMembers(others, 1),
           existing.first(where: { $0.id == me.id })?.clientURLs.isEmpty == false {
            throw ConfigError.invalid("member \(ClusterIdentity.hex(me.id)) has already been bootstrapped")
        }
        return try bootstrapNew(founders: founders, me: me)
    }

    private func bootstrapNew(founders: [InitialMember], me: InitialMember) throws -> Started {
        let clusterID = ClusterIdentity.clusterID(memberIDs: founders.map(\.id))
        let wal = try WAL.create(in: config.walDirectory,
                                 metadata: WALMetadata(nodeID: me.id, clusterID: clusterID).serializedBytes())
        // Every founder writes the same entries: AddNode per member, in ID order, term 1.
        let sorted = founders.sorted { $0.id < $1.id }
        let contexts = sorted.map { Array(MemberJSON.encode(Member(id: $0.id, name: $0.name, peerURLs: $0.peerURLs)).utf8) }
        let (entries, hardState) = RaftBootstrap.initialLog(voters: sorted.map(\.id), contexts: contexts)
        try wal.save(entries: entries, hardState: hardState, sync: true)
        logger.info("starting local member", ["local-member-id": ClusterIdentity.hex(me.id),
                                              "cluster-id": ClusterIdentity.hex(clusterID)],
                    text: "starting member \(ClusterIdentity.hex(me.id)) in cluster \(ClusterIdentity.hex(clusterID))")
        return Started(memberID: me.id, clusterID: clusterID, wal: wal, isNewMember: true,
                       knownPeers: sorted.map { Member(id: $0.id, name: $0.name, peerURLs: $0.peerURLs) })
    }

    private func join(founders: [InitialMember], me: InitialMember,
                      fetchMembers: ([String]) throws -> (clusterID: UInt64, members: [Member])) throws -> Started {
        let otherURLs = founders.filter { $0.name != config.name }.flatMap(\.peerURLs).sorted()
        let (clusterID, existing) = try fetchMembers(otherURLs)
        // Every running member must appear in --initial-cluster with the same peer URLs.
        if existing.count != founders.count {
            throw ConfigError.invalid("error validating peerURLs \(Self.describe(clusterID, existing)): member count is unequal")
        }
        var myID: UInt64?
        for member in existing {
            let urls = member.peerURLs.sorted()
            guard let local = founders.first(where: { $0.peerURLs == urls }) else {
                throw ConfigError.invalid("error validating peerURLs \(Self.describe(clusterID, existing)): PeerURLs: no match found for existing member (\(ClusterIdentity.hex(member.id)), [\(urls.joined(separator: " "))]), last resolver error (<nil>)")
            }
            if local.name == me.name { myID = member.id }
        }
        guard let memberID = myID else {
            throw ConfigError.invalid("member \(config.name) has not been added to the cluster")
        }
        let wal = try WAL.create(in: config.walDirectory,
                                 metadata: WALMetadata(nodeID: memberID, clusterID: clusterID).serializedBytes())
        logger.info("starting local member", ["local-member-id": ClusterIdentity.hex(memberID),
                                              "cluster-id": ClusterIdentity.hex(clusterID)],
                    text: "starting member \(ClusterIdentity.hex(memberID)) in cluster \(ClusterIdentity.hex(clusterID))")
        return Started(memberID: memberID, clusterID: clusterID, wal: wal, isNewMember: false, knownPeers: existing)
    }

    private static func describe(_ clusterID: UInt64, _ members: [Member]) -> String {
        let list = members.map { "&{ID:\(ClusterIdentity.hex($0.id)) RaftAttributes:{PeerURLs:[\($0.peerURLs.joined(separator: " "))] IsLearner:\($0.isLearner)} Attributes:{Name:\($0.name) ClientURLs:[\($0.clientURLs.joined(separator: " "))]}}" }
        return "{ClusterID:\(ClusterIdentity.hex(clusterID)) Members:[\(list.joined(separator: " "))] RemovedMemberIDs:[]}"
    }

    private func restart(store: KVStore, membership: ClusterMembership,
                         installSnapshot: (UInt64) throws -> Void) throws -> Started {
        let (wal, recovered) = try WAL.open(in: config.walDirectory)
        let metadata = try WALMetadata(serializedBytes: recovered.metadata)
        guard let memberID = metadata.nodeID, let clusterID = metadata.clusterID else {
            throw ConfigError.invalid("wal: metadata in \(config.walDirectory) names no member")
        }
        var applied = try store.read { try $0.appliedIndex() }
        if applied < recovered.snapshot.index {
            // The log records a snapshot from the leader that the store never installed.
            try installSnapshot(recovered.snapshot.index)
            applied = try store.read { try $0.appliedIndex() }
        }
        // The log resumes after what the store holds; the store's membership is Raft's.
        let term = try store.read { try $0.appliedTerm() }
        try wal.start(after: SnapshotMetadata(confState: membership.confState, index: applied, term: term))
        logger.info("restarting local member", ["local-member-id": ClusterIdentity.hex(memberID),
                                                "cluster-id": ClusterIdentity.hex(clusterID),
                                                "commit-index": recovered.hardState.commit],
                    text: "restarting member \(ClusterIdentity.hex(memberID)) in cluster \(ClusterIdentity.hex(clusterID)) at commit index \(recovered.hardState.commit)")
        return Started(memberID: memberID, clusterID: clusterID, wal: wal, isNewMember: false, knownPeers: [])
    }
}
