import EtcdProto
import Foundation
import GRPC
import MVCC
import COpenSSL
import ServerLog

/// etcdserverpb.Maintenance: status, alarms (through the log, so every member lists the same),
/// leadership transfer and the key history hash.
struct MaintenanceService {
    let headers: HeaderSource
    let consensus: ConsensusStatus
    let proposer: Proposing
    let transfer: LeadershipTransfer
    let alarms: AlarmTable
    let backendPath: String
    let backendInUse: @Sendable () -> Int
    /// HashKV over the local store (every member answers for itself, as in etcd).
    let store: KVStore
    let readQueue: DispatchQueue
    let logger: Logger
    /// Defragment, Snapshot, Hash and HashKV need the root role when auth is on.
    let gate: AuthGate
    /// Defragmentations run here, one at a time, off the reads' queue.
    static let defragmentQueue = DispatchQueue(label: "etcd.defragment", qos: .utility)
    static let serverVersion = "3.4.23"

    func register(into router: inout Router) {
        let service = self
        router.unary("/etcdserverpb.Maintenance/Status", StatusRequest.self) { _, responder in
            responder.succeed(service.status())
        }
        router.unary("/etcdserverpb.Maintenance/Alarm", AlarmRequest.self) { request, responder in
            service.proposer.propose({ $0.alarm = request }, deadline: responder.deadline) { result in
                switch result {
                // etcd's AlarmResponse carries no header.
                case .success(.alarm(let response)): responder.succeed(response)
                case .failure(let error): responder.fail(error)
                case .success: responder.fail(GRPCStatus(.internal, "etcdserver: unexpected response type"))
                }
            }
        }
        router.unary("/etcdserverpb.Maintenance/HashKV", HashKVRequest.self) { request, responder in
            if let refusal = service.gate.checkMaintenanceAdmin(responder.call) { return responder.fail(refusal) }
            service.readQueue.async {
                do {
                    let hashed = try service.store.read { try $0.hashKV(revision: request.revision) }
                    responder.succeed(HashKVResponse(header: service.headers.header(revision: hashed.currentRevision),
                                                     hash: hashed.hash, compactRevision: hashed.compactRevision))
                } catch {
                    responder.fail(etcdError(error))
                }
            }
        }
        router.unary("/etcdserverpb.Maintenance/Hash", HashRequest.self) { _, responder in
            if let refusal = service.gate.checkMaintenanceAdmin(responder.call) { return responder.fail(refusal) }
            service.readQueue.async {
                do {
                    let (hash, revision) = try service.store.read { (try $0.etcdBackendHash(), try $0.currentRevision()) }
                    responder.succeed(HashResponse(header: service.headers.header(revision: revision), hash: hash))
                } catch {
                    responder.fail(etcdError(error))
                }
            }
        }
        router.unary("/etcdserverpb.Maintenance/Defragment", DefragmentRequest.self) { _, responder in
            if let refusal = service.gate.checkMaintenanceAdmin(responder.call) { return responder.fail(refusal) }
            MaintenanceService.defragmentQueue.async {
                do {
                    try service.defragment()
                    // etcd's DefragmentResponse carries no header.
                    responder.succeed(DefragmentResponse())
                } catch {
                    responder.fail(GRPCStatus(.unknown, "\(error)"))
                }
            }
        }
        router.register("/etcdserverpb.Maintenance/Snapshot", .streaming { call in
            SnapshotCall(call: call, store: service.store, logger: service.logger,
                         refusal: service.gate.checkMaintenanceAdmin(call))
        })
        router.unary("/etcdserverpb.Maintenance/MoveLeader", MoveLeaderRequest.self) { request, responder in
            guard service.consensus.isLeader else { return responder.fail(.notLeader) }
            service.transfer.moveLeader(to: request.targetID) { error in
                if let error { return responder.fail(error) }
                // etcd's MoveLeaderResponse carries no header.
                responder.succeed(MoveLeaderResponse())
            }
        }
    }

    /// Compacts the store file while it serves (see `KVStore.defragment`), with etcd's logs.
    func defragment() throws {
        logger.info("starting defragment", text: "starting to defragment the storage backend...", package: "etcdserver/api/v3rpc")
        let started = Date()
        do {
            let outcome = try store.defragment()
            logger.info("defragmented", ["path": backendPath, "current-db-size-bytes-diff": outcome.sizeAfter - outcome.sizeBefore,
                                         "current-db-size-bytes": outcome.sizeAfter,
                                         "current-db-size-in-use-bytes-diff": outcome.sizeInUseAfter - outcome.sizeInUseBefore,
                                         "current-db-size-in-use-bytes": outcome.sizeInUseAfter,
                                         "took": String(format: "%.6fs", Date().timeIntervalSince(started))],
                        text: "defragmented \(backendPath) (\(outcome.sizeBefore) -> \(outcome.sizeAfter) bytes)",
                        package: "mvcc/backend")
        } catch {
            logger.warn("failed to defragment", ["error": "\(error)"],
                        text: "failed to defragment the storage backend (\(error))", package: "etcdserver/api/v3rpc")
            throw error
        }
        logger.info("finished defragment", text: "finished defragmenting the storage backend", package: "etcdserver/api/v3rpc")
    }

    func status() -> StatusResponse {
        var response = StatusResponse()
        response.header = headers.header(revision: 0)
        response.version = MaintenanceService.serverVersion
        response.dbSize = KVStore.fileSize(backendPath)
        response.dbSizeInUse = Int64(backendInUse())
        response.leader = consensus.leader
        response.raftIndex = consensus.committedIndex
        response.raftTerm = consensus.term
        response.raftAppliedIndex = consensus.appliedIndex
        response.isLearner = consensus.isLearner
        if response.leader == 0 { response.errors.append(EtcdError.noLeader.grpcStatus.message) }
        for alarm in alarms.all { response.errors.append(alarm.etcdText) }
        return response
    }

}

extension AlarmMember {
    /// gogo-protobuf's compact text form, which etcd puts in StatusResponse.errors.
    var etcdText: String {
        let name: String
        switch alarm {
        case .noAlarm?: name = "NONE"
        case .noSpace?: name = "NOSPACE"
        case .corrupt?: name = "CORRUPT"
        case nil: name = "\(alarmRaw)"
        }
        return "memberID:\(memberID) alarm:\(name) "
    }
}

/// One Maintenance.Snapshot stream: the store exported as etcd's bbolt backend (from one read
/// transaction, so writes go on), sent in 32 KiB messages, then its SHA-256 as the last one, as
/// etcd sends it. Sending waits while more than a megabyte is still unsent to this client, so a
/// slow reader never makes the server hold the file in memory.
final class SnapshotCall: StreamingCallDelegate, @unchecked Sendable {
    private let call: ServerCall
    private let store: KVStore
    private let logger: Logger
    private let lock = NSLock()
    private var started = false
    private var stopped = false
    static let chunkBytes = 32 * 1024
    static let maxUnsentBytes = 1 << 20

    /// Why the caller may not have a snapshot (auth), if it may not.
    private let refusal: GRPCStatus?

    init(call: ServerCall, store: KVStore, logger: Logger, refusal: GRPCStatus? = nil) {
        self.call = call
        self.store = store
        self.logger = logger
        self.refusal = refusal
    }

    func received(_ message: [UInt8]) {
        guard lock.withLock({ () -> Bool in defer { started = true }; return !started }) else { return }
        if let refusal { return call.finish(refusal) }
        guard (try? SnapshotRequest(serializedBytes: message)) != nil else {
            call.finish(GRPCStatus(.internal, "grpc: error unmarshalling request"))
            return
        }
        let thread = Thread { [self] in stream() }
        thread.name = "snapshot-send"
        thread.start()
    }

    func receivedEnd() {}

    func cancelled() { lock.withLock { stopped = true } }

    private var isCancelled: Bool { lock.withLock { stopped } }

    private func stream() {
        let path: String
        do {
            path = try store.writeEtcdSnapshot()
        } catch {
            call.finish(GRPCStatus(.unknown, "\(error)"))
            return
        }
        defer { unlink(path) }
        guard let file = FileHandle(forReadingAtPath: path) else {
            call.finish(GRPCStatus(.unknown, "open \(path) failed"))
            return
        }
        defer { try? file.close() }
        let total = Int(KVStore.fileSize(path))
        let started = Date()
        logger.info("sending database snapshot to client", ["total-bytes": total, "size": humanBytes(total)],
                    text: "sending database snapshot to client \(humanBytes(total)) [\(total) bytes]", package: "etcdserver/api/v3rpc")
        guard let digest = EVP_MD_CTX_new() else {
            call.finish(GRPCStatus(.unknown, "sha256: no context"))
            return
        }
        defer { EVP_MD_CTX_free(digest) }
        EVP_DigestInit_ex(digest, EVP_sha256(), nil)
        var sent = 0
        while sent < total {
            while call.outstandingBytes > Self.maxUnsentBytes && !isCancelled { usleep(1000) }
            if isCancelled { return }
            let chunk = [UInt8](file.readData(ofLength: Self.chunkBytes))
            guard !chunk.isEmpty else {
                call.finish(GRPCStatus(.unknown, "unexpected EOF"))
                return
            }
            chunk.withUnsafeBytes { _ = EVP_DigestUpdate(digest, $0.baseAddress, $0.count) }
            sent += chunk.count
            var response = SnapshotResponse()
            response.remainingBytes = UInt64(total - sent)
            response.blob = chunk
            call.send(response.serializedBytes())
        }
        var sha = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        sha.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(digest, $0.baseAddress, &length) }
        logger.info("sending database sha256 checksum to client", ["total-bytes": total, "checksum-size": sha.count],
                    text: "sending database sha256 checksum to client [\(sha.count) bytes]", package: "etcdserver/api/v3rpc")
        var last = SnapshotResponse()
        last.blob = sha
        call.send(last.serializedBytes())
        call.finish(.ok)
        logger.info("successfully sent database snapshot to client",
                    ["total-bytes": total, "size": humanBytes(total), "took": goDuration(Date().timeIntervalSince(started))],
                    text: "successfully sent database snapshot to client \(humanBytes(total)) [\(total) bytes]",
                    package: "etcdserver/api/v3rpc")
    }
}

/// go-humanize's Bytes: SI units, one decimal below 10 ("82 kB", "1.2 MB").
func humanBytes(_ count: Int) -> String {
    guard count >= 10 else { return "\(count) B" }
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    let exponent = min(Int(log(Double(count)) / log(1000)), units.count - 1)
    let value = Double(count) / pow(1000, Double(exponent))
    let text = value < 10 ? String(format: "%.1f", (value * 10).rounded() / 10) : String(format: "%.0f", value.rounded())
    return "\(text) \(units[exponent])"
}
