import EtcdProto
import Foundation
import GRPC
import MVCC
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
        router.unary("/etcdserverpb.Maintenance/Defragment", DefragmentRequest.self) { _, responder in
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
        response.dbSize = MaintenanceService.fileSize(backendPath)
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

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
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
