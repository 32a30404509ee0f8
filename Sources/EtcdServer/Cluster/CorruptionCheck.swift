import EtcdProto
import Foundation
import MVCC
import Peer
import ServerLog

/// etcd 3.4's corruption checks, which compare HashKV across members through the peer
/// endpoint `/members/hashkv`:
/// - `--experimental-initial-corrupt-check`: a restarted member compares its hash with every
///   peer's at its own revision before it serves, and refuses to start on a mismatch at the
///   same compaction;
/// - `--experimental-corrupt-check-time`: the leader compares, at that interval, its hash with
///   its followers' and raises the CORRUPT alarm (for member 0, as etcd does) on a mismatch,
///   a follower ahead of it, or a follower compacted further.
final class CorruptionCheck: @unchecked Sendable {
    private let store: KVStore
    private let membership: ClusterMembership
    private let localID: UInt64
    private let client: PeerHTTPClient
    private let logger: Logger
    private let timeoutSeconds: Double
    private let raiseAlarm: @Sendable () -> Void
    private let linearizableRead: (@escaping @Sendable (EtcdError?) -> Void) -> Void
    private let condition = NSCondition()
    private var stopped = false

    init(store: KVStore, membership: ClusterMembership, localID: UInt64, client: PeerHTTPClient, logger: Logger,
         timeoutSeconds: Double, raiseAlarm: @escaping @Sendable () -> Void,
         linearizableRead: @escaping (@escaping @Sendable (EtcdError?) -> Void) -> Void) {
        self.store = store
        self.membership = membership
        self.localID = localID
        self.client = client
        self.logger = logger
        self.timeoutSeconds = timeoutSeconds
        self.raiseAlarm = raiseAlarm
        self.linearizableRead = linearizableRead
    }

    struct PeerHash {
        var id: UInt64
        var endpoints: [String]
        var response: HashKVResponse?
        var error: String?
    }

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    private var localHex: String { ClusterIdentity.hex(localID) }

    /// The initial check; throws when a peer at the same compaction has another hash.
    func checkInitial() throws {
        logger.info("starting initial corruption check", ["local-member-id": localHex, "timeout": goDuration(timeoutSeconds)],
                    text: "\(localHex) starting initial corruption check with timeout \(goDuration(timeoutSeconds))...",
                    package: "etcdserver")
        let local: KeyHistoryHash
        do {
            local = try store.read { try $0.hashKV(revision: 0) }
        } catch {
            throw Mismatch(description: "\(localHex) failed to fetch hash (\(Self.mvccText(error)))")
        }
        var mismatches = 0
        for peer in peerHashes(revision: local.currentRevision) {
            if let response = peer.response {
                guard response.hash != local.hash else { continue }
                let peerRevision = response.header?.revision ?? 0
                let fields: KeyValuePairs<String, Any> = [
                    "local-member-id": localHex, "local-member-revision": local.currentRevision,
                    "local-member-compact-revision": local.compactRevision, "local-member-hash": local.hash,
                    "remote-peer-id": ClusterIdentity.hex(response.header?.memberID ?? 0), "remote-peer-endpoints": peer.endpoints,
                    "remote-peer-revision": peerRevision, "remote-peer-compact-revision": response.compactRevision,
                    "remote-peer-hash": response.hash]
                if response.compactRevision == local.compactRevision {
                    logger.warn("found different hash values from remote peer", fields,
                                text: "\(localHex)'s hash \(local.hash) != \(ClusterIdentity.hex(response.header?.memberID ?? 0))'s hash \(response.hash) (revision \(local.currentRevision), peer revision \(peerRevision), compact revision \(local.compactRevision))",
                                package: "etcdserver")
                    mismatches += 1
                } else {
                    logger.warn("found different compact revision values from remote peer", fields, package: "etcdserver")
                }
            } else if let error = peer.error, error.contains("future revision") || error.contains("compacted") {
                let message = error.contains("future revision")
                    ? "cannot fetch hash from slow remote peer" : "cannot fetch hash from remote peer; local member is behind"
                logger.warn(message, ["local-member-id": localHex, "local-member-revision": local.currentRevision,
                                      "remote-peer-id": ClusterIdentity.hex(peer.id), "remote-peer-endpoints": peer.endpoints],
                            package: "etcdserver")
            }
        }
        if mismatches > 0 { throw Mismatch(description: "\(localHex) found data inconsistency with peers") }
        logger.info("initial corruption checking passed; no corruption", ["local-member-id": localHex],
                    text: "\(localHex) succeeded on initial corruption checking: no corruption", package: "etcdserver")
    }

    /// Runs the leader's check every `interval` seconds until stopped.
    func startMonitor(interval: Double, isLeader: @escaping @Sendable () -> Bool) {
        logger.info("enabled corruption checking", ["local-member-id": localHex, "interval": goDuration(interval)],
                    text: "enabled corruption checking with \(goDuration(interval)) interval", package: "etcdserver")
        let thread = Thread { [self] in
            while true {
                let done = condition.withLock { () -> Bool in
                    if !stopped { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
                    return stopped
                }
                if done { return }
                guard isLeader() else { continue }
                if let failure = checkOnce() {
                    logger.warn("failed to check hash KV", ["error": failure], package: "etcdserver")
                }
            }
        }
        thread.name = "corruption-check"
        thread.start()
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    /// The leader's check; returns why it could not run, if it could not.
    func checkOnce() -> String? {
        let first: KeyHistoryHash
        do { first = try store.read { try $0.hashKV(revision: 0) } } catch { return Self.mvccText(error) }
        let peers = peerHashes(revision: first.currentRevision)
        let barrier = DispatchSemaphore(value: 0)
        let failure = LockedValue<EtcdError?>(nil)
        linearizableRead { error in
            failure.set(error)
            barrier.signal()
        }
        if barrier.wait(timeout: .now() + timeoutSeconds) == .timedOut { return "etcdserver: request timed out" }
        if let error = failure.get() { return error.grpcStatus.message }
        let second: KeyHistoryHash
        do { second = try store.read { try $0.hashKV(revision: 0) } } catch { return Self.mvccText(error) }

        var alarmed = false
        func mismatch() {
            guard !alarmed else { return }
            alarmed = true
            raiseAlarm()
        }
        if second.hash != first.hash && second.currentRevision == first.currentRevision
            && second.compactRevision == first.compactRevision {
            logger.warn("found hash mismatch", ["revision-1": first.currentRevision, "compact-revision-1": first.compactRevision,
                                                "hash-1": first.hash, "revision-2": second.currentRevision,
                                                "compact-revision-2": second.compactRevision, "hash-2": second.hash],
                        text: "mismatched hashes \(first.hash) and \(second.hash) for revision \(first.currentRevision)",
                        package: "etcdserver")
            mismatch()
        }
        var checked = 0
        for peer in peers {
            guard let response = peer.response else { continue }
            checked += 1
            let follower = ClusterIdentity.hex(peer.id)
            let revision = response.header?.revision ?? 0
            if revision > second.currentRevision {
                logger.warn("revision from follower must be less than or equal to leader's",
                            ["leader-revision": second.currentRevision, "follower-revision": revision, "follower-peer-id": follower],
                            text: "revision \(revision) from member \(follower), expected at most \(second.currentRevision)",
                            package: "etcdserver")
                mismatch()
            }
            if response.compactRevision > second.compactRevision {
                logger.warn("compact revision from follower must be less than or equal to leader's",
                            ["leader-compact-revision": second.compactRevision,
                             "follower-compact-revision": response.compactRevision, "follower-peer-id": follower],
                            text: "compact revision \(response.compactRevision) from member \(follower), expected at most \(second.compactRevision)",
                            package: "etcdserver")
                mismatch()
            }
            if response.compactRevision == first.compactRevision && response.hash != first.hash {
                logger.warn("same compact revision then hashes must match",
                            ["leader-compact-revision": second.compactRevision, "leader-hash": first.hash,
                             "follower-compact-revision": response.compactRevision, "follower-hash": response.hash,
                             "follower-peer-id": follower],
                            text: "hash \(response.hash) at revision \(first.currentRevision) from member \(follower), expected hash \(first.hash)",
                            package: "etcdserver")
                mismatch()
            }
        }
        logger.info("finished peer corruption check", ["number-of-peers-checked": checked],
                    text: "finished peer corruption check", package: "etcdserver")
        return nil
    }

    /// Every other member's HashKV at `revision`, through each of its peer URLs in turn.
    func peerHashes(revision: Int64) -> [PeerHash] {
        let body = Array(Self.encodeRequest(revision).utf8)
        var hashes: [PeerHash] = []
        for member in membership.all where member.id != localID && !member.peerURLs.isEmpty {
            var result = PeerHash(id: member.id, endpoints: member.peerURLs)
            for url in member.peerURLs {
                do {
                    let response = try client.request(url, method: .GET, path: "/members/hashkv",
                                                      headers: [("Content-Type", "application/json")], body: body,
                                                      timeout: .milliseconds(Int64(timeoutSeconds * 1000))).wait()
                    let text = String(decoding: response.body, as: UTF8.self)
                    guard response.status == 200, let decoded = Self.decodeResponse(response.body) else {
                        throw Mismatch(description: response.status == 400 ? text.trimmingCharacters(in: .newlines)
                                                                          : "unknown error: \(text)")
                    }
                    result.response = decoded
                    result.error = nil
                    break
                } catch {
                    result.error = "\(error)"
                    logger.warn("failed hash kv request", ["local-member-id": localHex, "requested-revision": revision,
                                                           "remote-peer-endpoint": url, "error": "\(error)"],
                                text: "\(localHex) hash-kv error \"\(error)\" on peer \"\(url)\" with revision \(revision)",
                                package: "etcdserver")
                }
            }
            hashes.append(result)
        }
        return hashes
    }

    // MARK: etcd's JSON (Go's encoding/json of the protobuf structs)

    static func encodeRequest(_ revision: Int64) -> String {
        revision == 0 ? "{}" : "{\"revision\":\(revision)}"
    }

    /// The requested revision; nil if the body is not a JSON object (an empty object is 0).
    static func decodeRequest(_ body: [UInt8]) -> Int64? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        guard let value = object["revision"] else { return 0 }
        return (value as? NSNumber)?.int64Value
    }

    static func encodeResponse(_ hashed: KeyHistoryHash) -> String {
        var fields: [String] = []
        if hashed.currentRevision != 0 { fields.append("\"header\":{\"revision\":\(hashed.currentRevision)}") }
        if hashed.hash != 0 { fields.append("\"hash\":\(hashed.hash)") }
        if hashed.compactRevision != 0 { fields.append("\"compact_revision\":\(hashed.compactRevision)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func decodeResponse(_ body: [UInt8]) -> HashKVResponse? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        var response = HashKVResponse()
        if let header = object["header"] as? [String: Any] {
            var decoded = ResponseHeader()
            decoded.revision = (header["revision"] as? NSNumber)?.int64Value ?? 0
            decoded.memberID = (header["member_id"] as? NSNumber)?.uint64Value ?? 0
            response.header = decoded
        }
        response.hash = (object["hash"] as? NSNumber)?.uint32Value ?? 0
        response.compactRevision = (object["compact_revision"] as? NSNumber)?.int64Value ?? 0
        return response
    }

    /// etcd's mvcc error texts (what its handler writes and its client matches on).
    static func mvccText(_ error: Error) -> String {
        switch error {
        case MVCCError.compacted: return "mvcc: required revision has been compacted"
        case MVCCError.futureRevision: return "mvcc: required revision is a future revision"
        default: return "\(error)"
        }
    }
}

/// A value shared between a waiting thread and a callback.
final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ newValue: T) { lock.withLock { value = newValue } }
    func get() -> T { lock.withLock { value } }
}
