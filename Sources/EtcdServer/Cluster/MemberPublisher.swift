import Dispatch
import Foundation
import NIOCore
import Peer
import ServerLog

/// What every etcd member writes about itself once it runs, and what the leader writes about
/// the cluster:
/// - this member's name and client URLs (a raw v2 PUT of `/0/members/<id>/attributes`),
///   proposed until it is applied; until then the member counts as not started;
/// - the cluster version (a v2 PUT of `/0/version`): the leader asks every member's
///   `/version` and proposes the lowest server version (major.minor.0), or 3.0.0 while some
///   member does not answer and no version is set; it only ever raises it.
final class MemberPublisher: @unchecked Sendable {
    private let proposer: RaftProposer
    private let membership: ClusterMembership
    private let consensus: ConsensusStatus
    private let client: PeerHTTPClient
    private let logger: Logger
    private let memberID: UInt64
    private let clusterID: UInt64
    private let name: String
    private let clientURLs: [String]
    private let lock = NSLock()
    private var published = false
    private var stopped = false
    private var versionTimer: DispatchSourceTimer?
    private var proposingVersion = false
    /// Called once the attributes are applied (the member is ready for clients).
    var onPublished: (() -> Void)?

    static let versionInterval: TimeInterval = 4

    init(proposer: RaftProposer, membership: ClusterMembership, consensus: ConsensusStatus, client: PeerHTTPClient,
         logger: Logger, memberID: UInt64, clusterID: UInt64, name: String, clientURLs: [String]) {
        self.proposer = proposer
        self.membership = membership
        self.consensus = consensus
        self.client = client
        self.logger = logger
        self.memberID = memberID
        self.clusterID = clusterID
        self.name = name
        self.clientURLs = clientURLs
    }

    func start() {
        publish()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + Self.versionInterval, repeating: Self.versionInterval)
        timer.setEventHandler { [weak self] in self?.monitorVersion() }
        timer.resume()
        lock.withLock { versionTimer = timer }
    }

    func stop() {
        lock.withLock {
            stopped = true
            versionTimer?.cancel()
        }
    }

    // MARK: Attributes

    private func publish() {
        let id = ClusterIdentity.hex(memberID)
        let attributes = MemberJSON.attributes(name: name, clientURLs: clientURLs)
        proposer.proposeClusterRequest(method: "PUT", path: "/0/members/\(id)/attributes", value: attributes) { [self] result in
            if case .success = result {
                let wasPublished = lock.withLock { () -> Bool in
                    defer { published = true }
                    return published
                }
                guard !wasPublished else { return }
                let text = "{Name:\(name) ClientURLs:[\(clientURLs.joined(separator: " "))]}"
                logger.info("published local member to cluster through raft", [
                    "local-member-id": id, "local-member-attributes": text,
                    "request-path": "/0/members/\(id)/attributes", "cluster-id": ClusterIdentity.hex(clusterID),
                    "publish-timeout": "7s",
                ], text: "published \(text) to cluster \(ClusterIdentity.hex(clusterID))")
                onPublished?()
            } else {
                // etcd retries the publish until it is applied.
                guard !lock.withLock({ stopped }) else { return }
                logger.warn("failed to publish local member to cluster through raft", [
                    "local-member-id": id, "request-path": "/0/members/\(id)/attributes",
                ], text: "publish error")
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { [self] in publish() }
            }
        }
    }

    // MARK: Cluster version

    /// The leader's job: decide the cluster version from every member's `/version`.
    func monitorVersion() {
        guard consensus.isLeader, !lock.withLock({ stopped || proposingVersion }) else { return }
        let others = membership.all.filter { $0.id != memberID }
        let group = DispatchGroup()
        let versions = Mutex<[String?]>([PeerIdentity.serverVersion])
        for member in others {
            group.enter()
            guard let url = member.peerURLs.first else {
                versions.withLock { $0.append(nil) }
                group.leave()
                continue
            }
            client.request(url, method: .GET, path: "/version", timeout: .seconds(2)).whenComplete { result in
                var server: String?
                if case .success(let response) = result, response.status == 200,
                   let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] {
                    server = object["etcdserver"] as? String
                }
                versions.withLock { $0.append(server) }
                group.leave()
            }
        }
        group.notify(queue: .global()) { [self] in
            let all = versions.withLock { $0 }
            let parsed = all.map { $0.flatMap(Self.majorMinor) }
            let decided = parsed.contains(where: { $0 == nil }) ? nil : parsed.compactMap { $0 }.min { $0 < $1 }
            let current = membership.clusterVersion.flatMap(Self.majorMinor)
            let target: String
            if current == nil {
                target = decided.map { "\($0.0).\($0.1).0" } ?? PeerIdentity.minClusterVersion
            } else if let decided, let current, current < decided {
                target = "\(decided.0).\(decided.1).0"
            } else {
                return
            }
            propose(version: target, from: current)
        }
    }

    private func propose(version: String, from current: (Int, Int)?) {
        let short = version.split(separator: ".").prefix(2).joined(separator: ".")
        if let current {
            logger.info("updating cluster version", ["from": "\(current.0).\(current.1)", "to": short],
                        text: "updating the cluster version from \(current.0).\(current.1) to \(short)")
        } else {
            logger.info("setting up initial cluster version", ["cluster-version": short],
                        text: "setting up the initial cluster version to \(short)")
        }
        lock.withLock { proposingVersion = true }
        proposer.proposeClusterRequest(method: "PUT", path: "/0/version", value: version) { [self] result in
            lock.withLock { proposingVersion = false }
            if case .success = result {
                logger.info("cluster version is updated", ["cluster-version": short])
            }
        }
    }

    static func majorMinor(_ version: String) -> (Int, Int)? {
        let parts = version.split(separator: ".")
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        return (major, minor)
    }
}

/// A lock around a value, for the callbacks above.
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}
