import EtcdProto
import Foundation
import MVCC
import Raft

/// The cluster's membership as this member has applied it: who is in (voters and the one
/// learner etcd allows), who was removed for good, and the cluster version. The members table
/// in the store is the record; this is its in-memory copy, changed by the applier in the same
/// step as the table, and read from any thread (services, the peer transport, strict
/// reconfiguration checks).
final class ClusterMembership: @unchecked Sendable {
    /// etcd allows one learner at a time.
    static let maxLearners = 1

    private let lock = NSLock()
    private var members: [UInt64: Member] = [:]
    private var removed: Set<UInt64> = []
    private var version: String?
    /// Called after every applied change, outside the lock (the transport adds and removes
    /// peers; metrics follow the learner flag).
    var onChange: (@Sendable () -> Void)?

    init() {}

    /// Replaces the copy with what the store holds (at start and after a snapshot install).
    func load(from store: KVStore) throws {
        let (stored, removedIDs, clusterVersion) = try store.read { reader in
            (try reader.members(), try reader.removedMemberIDs(), try reader.clusterVersion())
        }
        lock.withLock {
            members = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
            removed = Set(removedIDs)
            version = clusterVersion
        }
        onChange?()
    }

    // MARK: Reading

    /// Every member, sorted by ID.
    var all: [Member] { lock.withLock { members.values.sorted { $0.id < $1.id } } }

    func member(_ id: UInt64) -> Member? { lock.withLock { members[id] } }

    func isRemoved(_ id: UInt64) -> Bool { lock.withLock { removed.contains(id) } }

    var clusterVersion: String? { lock.withLock { version } }

    var votingMembers: [Member] { all.filter { !$0.isLearner } }

    /// The membership as Raft sees it.
    var confState: ConfState {
        let current = all
        return ConfState(voters: current.filter { !$0.isLearner }.map(\.id), learners: current.filter(\.isLearner).map(\.id))
    }

    /// A member counts as started once it has published its name (etcd's `IsStarted`).
    static func isStarted(_ member: Member) -> Bool { !member.name.isEmpty }

    // MARK: etcd's strict reconfiguration rules (counting started voters)

    func isReadyToAddVotingMember() -> Bool {
        let voters = votingMembers
        let started = voters.filter(Self.isStarted).count
        let total = voters.count + 1
        // Adding a second member to a one-member cluster (how a restored cluster grows).
        if started == 1 && total == 2 { return true }
        return started >= total / 2 + 1
    }

    func isReadyToRemoveVotingMember(_ id: UInt64) -> Bool {
        let others = votingMembers.filter { $0.id != id }
        return others.filter(Self.isStarted).count >= others.count / 2 + 1
    }

    func isReadyToPromoteMember(_ id: UInt64) -> Bool {
        let voters = votingMembers
        // The learner counts as a started voter of the new configuration.
        let started = voters.filter(Self.isStarted).count + 1
        return started >= (voters.count + 1) / 2 + 1
    }

    // MARK: Applying (the apply thread, inside the batch's transaction)

    /// etcd's `ValidateConfigurationChange`: whether a committed change may take effect, judged
    /// on the applied membership, so every member decides the same.
    func validate(_ change: ConfChange) -> EtcdError? {
        lock.withLock {
            let id = change.nodeID
            if removed.contains(id) { return .memberNotFound }
            switch change.type {
            case .addNode, .addLearnerNode:
                guard let context = MemberJSON.decode(change.context) else { return .unmapped("membership: bad context") }
                if context.isPromote == true {
                    guard let existing = members[id] else { return .memberNotFound }
                    if !existing.isLearner { return .memberNotLearner }
                    return nil
                }
                if members[id] != nil { return .memberExists }
                let taken = Set(members.values.flatMap(\.peerURLs))
                if (context.peerURLs ?? []).contains(where: taken.contains) { return .peerURLExists }
                if context.isLearner == true && members.values.filter(\.isLearner).count + 1 > Self.maxLearners {
                    return .tooManyLearners
                }
                return nil
            case .removeNode:
                return members[id] == nil ? .memberNotFound : nil
            case .updateNode:
                guard members[id] != nil else { return .memberNotFound }
                let taken = Set(members.values.filter { $0.id != id }.flatMap(\.peerURLs))
                let urls = MemberJSON.decode(change.context)?.peerURLs ?? []
                return urls.contains(where: taken.contains) ? .peerURLExists : nil
            }
        }
    }

    /// Makes a validated change in the table and here.
    func apply(_ change: ConfChange, in batch: WriteBatch) throws {
        let id = change.nodeID
        let context = MemberJSON.decode(change.context)
        var updated: Member?
        lock.withLock {
            switch change.type {
            case .addNode, .addLearnerNode:
                if context?.isPromote == true {
                    members[id]?.isLearner = false
                } else if let context {
                    var member = context.member
                    member.isLearner = change.type == .addLearnerNode
                    members[id] = member
                }
                updated = members[id]
            case .removeNode:
                members[id] = nil
                removed.insert(id)
            case .updateNode:
                // etcd replaces the raft attributes: peer URLs and the learner flag.
                members[id]?.peerURLs = context?.peerURLs ?? []
                members[id]?.isLearner = context?.isLearner ?? false
                updated = members[id]
            }
        }
        if let updated {
            try batch.putMember(updated)
        } else if change.type == .removeNode {
            try batch.removeMember(id)
        }
    }

    /// A member's published name and client URLs; ignored for a member not (or no longer) in
    /// the cluster.
    func setAttributes(id: UInt64, name: String, clientURLs: [String], in batch: WriteBatch) throws {
        let updated = lock.withLock { () -> Member? in
            guard members[id] != nil else { return nil }
            members[id]?.name = name
            members[id]?.clientURLs = clientURLs
            return members[id]
        }
        if let updated { try batch.putMember(updated) }
    }

    func setClusterVersion(_ value: String, in batch: WriteBatch) throws {
        lock.withLock { version = value }
        try batch.setClusterVersion(value)
    }

    /// Tells listeners that the batch with these changes is committed.
    func changed() { onChange?() }
}
