import ServerLog
import EtcdProto
import Foundation
import MVCC

/// Raised alarms (NOSPACE, CORRUPT), changed only through the log so every member lists the
/// same ones, and persisted with the applied index. While one is raised, the applier refuses
/// what etcd refuses under it.
final class AlarmTable: @unchecked Sendable {
    private let lock = NSLock()
    private var raised: Set<AlarmMember> = []
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func load(from store: KVStore) throws {
        let alarms = try store.read { try $0.alarms() }
        lock.withLock { raised = Set(alarms) }
    }

    /// Every raised alarm, by member then type.
    var all: [AlarmMember] {
        lock.withLock { raised.sorted { ($0.memberID, $0.alarmRaw) < ($1.memberID, $1.alarmRaw) } }
    }

    func isRaised(_ type: AlarmType) -> Bool {
        lock.withLock { raised.contains { $0.alarmRaw == type.rawValue } }
    }

    /// Applies an AlarmRequest as etcd does: GET lists (all for NONE, else that type),
    /// ACTIVATE answers with the alarm (new or already raised), DEACTIVATE with the alarm it
    /// removed (nothing when it was not raised).
    func apply(_ request: AlarmRequest, in batch: WriteBatch) throws -> AlarmResponse {
        var response = AlarmResponse()
        var alarm = AlarmMember()
        alarm.memberID = request.memberID
        alarm.alarmRaw = request.alarmRaw
        switch request.action {
        case .get, nil:
            response.alarms = all.filter { request.alarmRaw == 0 || $0.alarmRaw == request.alarmRaw }
        case .activate:
            guard request.alarmRaw != AlarmType.noAlarm.rawValue else { break }
            let isNew = lock.withLock { raised.insert(alarm).inserted }
            if isNew {
                try batch.putAlarm(alarm)
                logger.warn("alarm raised", ["alarm": "\(alarm.alarm.map { "\($0)" } ?? "\(alarm.alarmRaw)")",
                                             "from": ClusterIdentity.hex(alarm.memberID)])
            }
            response.alarms = [alarm]
        case .deactivate:
            let removed = lock.withLock { raised.remove(alarm) != nil }
            if removed {
                try batch.deleteAlarm(alarm)
                logger.warn("alarm disarmed", ["alarm": "\(alarm.alarm.map { "\($0)" } ?? "\(alarm.alarmRaw)")",
                                               "from": ClusterIdentity.hex(alarm.memberID)])
                response.alarms = [alarm]
            }
        }
        return response
    }
}
