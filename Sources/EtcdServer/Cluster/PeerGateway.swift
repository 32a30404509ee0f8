import Bolt
import EtcdProto
import Foundation
import Lease
import MVCC
import Peer
import ProtoWire
import Raft
import ServerLog
import WAL

/// The member's side of the peer port: Raft messages go to the Raft thread, snapshots are
/// saved and installed, and the peer HTTP endpoints etcd members call are answered
/// (`/members`, `/members/promote/<id>`, `/version`, `/leases`, `/leases/internal`).
final class PeerGateway: RaftTransportDelegate, @unchecked Sendable {
    private let store: KVStore
    private let membership: ClusterMembership
    private let lessor: Lessor
    private let logger: Logger
    let snapshotDirectory: String
    private let clusterID: UInt64
    private let mapSize: Int
    /// Set once the parts exist (they need the transport, which needs this).
    var host: RaftHost?
    var isLeader: @Sendable () -> Bool = { false }
    var promote: (@Sendable (UInt64, @escaping @Sendable (Result<[Member], EtcdError>) -> Void) -> Void)?
    var onRemoved: (@Sendable () -> Void)?

    init(store: KVStore, membership: ClusterMembership, lessor: Lessor, snapshotDirectory: String, clusterID: UInt64,
         mapSize: Int, logger: Logger) {
        self.store = store
        self.membership = membership
        self.lessor = lessor
        self.snapshotDirectory = snapshotDirectory
        self.clusterID = clusterID
        self.mapSize = mapSize
        self.logger = logger
    }

    // MARK: Raft traffic

    func receive(_ message: Message) { host?.step(message) }

    func reportUnreachable(_ member: NodeID) { host?.reportUnreachable(member) }

    func reportSnapshot(to member: NodeID, succeeded: Bool) { host?.reportSnapshot(to: member, succeeded: succeeded) }

    func isRemoved(_ member: NodeID) -> Bool { membership.isRemoved(member) }

    func removedFromCluster() { onRemoved?() }

    // MARK: Snapshots

    /// Where a received snapshot's database waits until Raft installs it (etcd's name).
    static func databasePath(in directory: String, index: UInt64) -> String {
        let hex = String(index, radix: 16)
        return "\(directory)/\(String(repeating: "0", count: max(0, 16 - hex.count)) + hex).snap.db"
    }

    /// A snapshot's database arrived at `databasePath`: etcd's backend (bbolt, from an etcd
    /// leader or ours), converted into a store copy, with the membership the message's v2
    /// store carries; or a copy of our own store (from an older build of ours). It waits as
    /// `<index>.snap.db` until Raft installs it.
    func snapshotReceived(_ message: Message, databasePath: String) throws {
        guard let snapshot = message.snapshot else { throw WALError("snapshot message without a snapshot") }
        let index = snapshot.metadata.index
        let target = Self.databasePath(in: snapshotDirectory, index: index)
        if access(target, F_OK) == 0 {
            unlink(databasePath)
            host?.step(message)
            return
        }
        var copyPath = databasePath
        if BoltReader.isBoltFile(databasePath) {
            copyPath = databasePath + ".store"
            defer { unlink(databasePath) }
            do {
                try convert(databasePath, to: copyPath, snapshot: snapshot)
            } catch {
                unlink(copyPath)
                throw error
            }
        }
        // Refuse what cannot be installed now rather than fail when Raft installs it.
        let copy = try KVStore.describeCopy(at: copyPath, mapSize: mapSize)
        guard copy.appliedIndex == index else {
            unlink(copyPath)
            throw WALError("snapshot database covers index \(copy.appliedIndex), the message says \(index)")
        }
        guard rename(copyPath, target) == 0 else { throw WALError("rename \(copyPath): \(String(cString: strerror(errno)))") }
        try syncDirectory(snapshotDirectory)
        logger.info("received and saved database snapshot", ["snapshot-index": index, "snapshot-path": target],
                    package: "rafthttp")
        host?.step(message)
    }

    /// etcd's backend at `path` into a store copy at `copyPath`.
    private func convert(_ path: String, to copyPath: String, snapshot: Snapshot) throws {
        let membership = try V2StoreJSON.membership(snapshot.data)
        let backend = try BoltReader(path: path)
        let copy = try KVStore(path: copyPath, mapSize: mapSize)
        try copy.importEtcdBackend(backend, appliedTerm: snapshot.metadata.term, membership: membership)
    }

    /// What a snapshot for a follower carries, from one read of the store: etcd's backend
    /// (what an etcd member installs, and ours), and the membership as etcd's v2 store JSON.
    func prepareSnapshot(_ message: Message) throws -> (message: Message, databasePath: String) {
        let path = "\(snapshotDirectory)/tmp-send-\(UInt64.random(in: 0...UInt64.max))"
        let (index, term, membership) = try store.read { reader in
            try reader.exportEtcdBackend(to: path)
            return (try reader.appliedIndex(), try reader.appliedTerm(),
                    ImportedMembership(members: try reader.members(), removedIDs: try reader.removedMemberIDs(),
                                       clusterVersion: try reader.clusterVersion()))
        }
        var outgoing = message
        let voters = membership.members.filter { !$0.isLearner }.map(\.id)
        let learners = membership.members.filter(\.isLearner).map(\.id)
        outgoing.snapshot = Snapshot(data: V2StoreJSON.encode(membership),
                                     metadata: SnapshotMetadata(confState: ConfState(voters: voters, learners: learners),
                                                                index: index, term: term))
        return (outgoing, path)
    }

    // MARK: The other endpoints

    func route(_ head: PeerRequestHead) -> PeerRoute? {
        let clusterHeader = [(name: "X-Etcd-Cluster-Id", value: ClusterIdentity.hex(clusterID))]
        switch head.path {
        case "/members":
            guard head.method == "GET" else { return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "GET")])) }
            return .respond(.json(MemberJSON.memberList(membership.all), headers: clusterHeader))
        case "/version":
            guard head.method == "GET" || head.method == "HEAD" else {
                return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "GET, HEAD")]))
            }
            let cluster = membership.clusterVersion ?? "not_decided"
            return .respond(.json("{\"etcdserver\":\"\(PeerIdentity.serverVersion)\",\"etcdcluster\":\"\(cluster)\"}"))
        case "/members/hashkv":
            guard head.method == "GET" else { return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "GET")])) }
            return .buffered(maxBodyBytes: 1 << 16) { [self] _, body, respond in
                respond(hashKV(body, headers: clusterHeader))
            }
        case "/leases", "/leases/internal":
            guard head.method == "POST" else { return .respond(.text(405, "Method Not Allowed")) }
            let isInternal = head.path == "/leases/internal"
            return .buffered(maxBodyBytes: 1 << 20) { [self] _, body, respond in
                respond(isInternal ? leaseTimeToLive(body) : leaseRenew(body))
            }
        default:
            if head.path.hasPrefix("/members/promote/") {
                guard head.method == "POST" else { return .respond(.text(405, "Method Not Allowed", headers: [("Allow", "POST")])) }
                let text = String(head.path.dropFirst("/members/promote/".count))
                guard let id = UInt64(text) else {
                    return .respond(.text(404, "member \(text) not found in cluster", headers: clusterHeader))
                }
                return .buffered(maxBodyBytes: 1 << 16) { [self] _, _, respond in
                    guard let promote else { return respond(.text(503, "not ready", headers: clusterHeader)) }
                    promote(id) { result in
                        switch result {
                        case .success(let members):
                            respond(.json(MemberJSON.memberList(members) + "\n", headers: clusterHeader))
                        case .failure(let error):
                            self.logger.warn("failed to promote a member", ["member-id": ClusterIdentity.hex(id),
                                                                            "error": error.grpcStatus.message])
                            respond(Self.promoteFailure(error, headers: clusterHeader))
                        }
                    }
                }
            }
            return nil
        }
    }

    /// etcd's answers for a refused promote (its follower maps them back to errors).
    private static func promoteFailure(_ error: EtcdError, headers: [(name: String, value: String)]) -> PeerResponse {
        switch error {
        case .memberNotFound: return .text(404, "membership: ID not found", headers: headers)
        case .memberNotLearner: return .text(412, "membership: can only promote a learner member", headers: headers)
        case .learnerNotReady: return .text(412, error.grpcStatus.message, headers: headers)
        case .timeout: return .text(408, error.grpcStatus.message, headers: headers)
        default: return .text(500, error.grpcStatus.message, headers: headers)
        }
    }

    /// `/members/hashkv`: a member's corruption check asking for this store's HashKV, in JSON
    /// as etcd's handler writes it (only the revision in the header).
    private func hashKV(_ body: [UInt8], headers: [(name: String, value: String)]) -> PeerResponse {
        guard let request = CorruptionCheck.decodeRequest(body) else {
            logger.warn("failed to unmarshal request", ["error": "invalid JSON"])
            return .text(400, "error unmarshalling request")
        }
        do {
            let hashed = try store.read { try $0.hashKV(revision: request) }
            return .json(CorruptionCheck.encodeResponse(hashed), headers: headers)
        } catch {
            let text = CorruptionCheck.mvccText(error)
            logger.warn("failed to get hashKV", ["requested-revision": request, "error": text])
            return .text(400, text)
        }
    }

    /// `/leases`: a follower forwarding a keep-alive to the primary lessor.
    private func leaseRenew(_ body: [UInt8]) -> PeerResponse {
        guard let request = try? LeaseKeepAliveRequest(serializedBytes: body) else {
            return .text(400, "error unmarshalling request")
        }
        guard isLeader() else { return .text(400, "not a primary lessor") }
        var response = LeaseKeepAliveResponse()
        response.id = request.id
        switch lessor.renew(request.id) {
        case .renewed(let ttl): response.ttl = ttl
        case .notFound: return .text(404, "lease not found")
        case .expired: response.ttl = 0
        }
        return PeerResponse(status: 200, headers: [("Content-Type", "application/protobuf")], body: response.serializedBytes())
    }

    /// `/leases/internal`: a follower forwarding a time-to-live query.
    private func leaseTimeToLive(_ body: [UInt8]) -> PeerResponse {
        guard let envelope = try? LeaseInternalEnvelope<LeaseTimeToLiveRequest>(serializedBytes: body),
              let request = envelope.message else {
            return .text(400, "error unmarshalling request")
        }
        guard let lease = lessor.snapshot(request.id) else { return .text(404, "lease not found") }
        var response = LeaseTimeToLiveResponse()
        response.header = ResponseHeader()
        response.id = request.id
        response.ttl = lease.remainingTTL
        response.grantedTTL = lease.grantedTTL
        if request.keys { response.keys = lease.keys }
        var reply = LeaseInternalEnvelope<LeaseTimeToLiveResponse>()
        reply.message = response
        return PeerResponse(status: 200, headers: [("Content-Type", "application/protobuf")], body: reply.serializedBytes())
    }
}

/// leasepb.LeaseInternalRequest / LeaseInternalResponse: one message in field 1.
struct LeaseInternalEnvelope<M: ProtoMessage>: ProtoMessage {
    var message: M?

    init() {}

    var serializedSize: Int { ProtoSize.message(1, message) }

    func encode(to writer: inout ProtoWriter) {
        writer.writeMessage(1, message)
    }

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws(ProtoDecodingError) -> Bool {
        guard field == 1 else { return false }
        try reader.mergeMessage(wireType, field: field, into: &message)
        return true
    }
}
