import EtcdProto
import Foundation
import GRPC

/// etcdserverpb.Maintenance (status and alarms for now).
struct MaintenanceService {
    let core: ServerCore
    static let serverVersion = "3.4.23"

    func register(into router: inout Router) {
        let core = self.core
        router.unary("/etcdserverpb.Maintenance/Status", StatusRequest.self) { _, responder in
            var response = StatusResponse()
            response.header = core.header(revision: 0)
            response.version = MaintenanceService.serverVersion
            response.dbSize = MaintenanceService.fileSize(core.config.backendPath)
            response.dbSizeInUse = Int64(core.store.environment.usedBytes())
            response.leader = core.memberID
            response.raftIndex = core.pipeline.committedIndex
            response.raftTerm = core.term
            response.raftAppliedIndex = core.pipeline.appliedIndex
            responder.succeed(response)
        }
        router.unary("/etcdserverpb.Maintenance/Alarm", AlarmRequest.self) { _, responder in
            var response = AlarmResponse()
            response.header = core.header(revision: 0)
            responder.succeed(response)
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}

/// etcdserverpb.Cluster (member list for now).
struct ClusterService {
    let core: ServerCore

    func register(into router: inout Router) {
        let core = self.core
        router.unary("/etcdserverpb.Cluster/MemberList", MemberListRequest.self) { _, responder in
            do {
                var response = MemberListResponse()
                response.header = core.header(revision: 0)
                response.members = try core.membership.members()
                responder.succeed(response)
            } catch {
                responder.fail(etcdError(error))
            }
        }
    }
}
