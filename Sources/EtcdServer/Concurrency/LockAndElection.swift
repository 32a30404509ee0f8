import EtcdProto
import GRPC
import HTTP2
import ProtoWire

/// etcd's concurrency recipes (sessions, mutexes, elections) as its Lock and Election services
/// run them: ordinary KV, lease and watch calls made in-process as the caller. A contender's
/// key is `name/<lease in hex>`; whoever holds the oldest key under `name/` holds the lock or
/// leads; the others wait for every older key to be deleted.
struct ConcurrencyRecipes: Sendable {
    let client: InternalClient

    /// Errors reach the caller flattened to code Unknown, as they come out of etcd's
    /// in-process client.
    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
        init(_ status: GRPCStatus) { self.message = status.message }
        var status: GRPCStatus { GRPCStatus(.unknown, message) }
    }

    static let missingLeader = Failure("\"leader\" field must be provided")

    // MARK: Building blocks

    private func call<Response: ProtoMessage>(_ path: String, _ request: some ProtoMessage, _ metadata: [HeaderField],
                                              as: Response.Type = Response.self) async throws(Failure) -> Response {
        do {
            return try await client.call(path, request, metadata: metadata)
        } catch {
            throw Failure(error)
        }
    }

    private func txn(_ request: TxnRequest, _ metadata: [HeaderField]) async throws(Failure) -> TxnResponse {
        try await call("/etcdserverpb.KV/Txn", request, metadata)
    }

    /// A session's lease: the given one, or (0) a new 60-second lease nobody keeps alive.
    private func sessionLease(_ lease: Int64, _ metadata: [HeaderField]) async throws(Failure) -> Int64 {
        guard lease == 0 else { return lease }
        var grant = LeaseGrantRequest()
        grant.ttl = 60
        let response: LeaseGrantResponse = try await call("/etcdserverpb.Lease/LeaseGrant", grant, metadata)
        return response.id
    }

    /// `name/<lease>`, the lease as Go's %x prints an int64.
    static func contenderKey(_ name: [UInt8], lease: Int64) -> [UInt8] {
        name + Array("/".utf8) + Array(String(lease, radix: 16).utf8)
    }

    /// The end of the range of keys starting with `prefix`.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    /// The key under `prefix` created first (or, with `maxCreate`, the newest created at or
    /// before it).
    private func edge(_ prefix: [UInt8], newestBefore maxCreate: Int64? = nil) -> RangeRequest {
        var range = RangeRequest()
        range.key = prefix
        range.rangeEnd = ConcurrencyRecipes.prefixEnd(prefix)
        range.sortTarget = .create
        range.sortOrder = maxCreate == nil ? .ascend : .descend
        range.limit = 1
        if let maxCreate { range.maxCreateRevision = maxCreate }
        return range
    }

    private func createdAt(_ key: [UInt8], _ revision: Int64) -> Compare {
        Compare(result: .equal, target: .create, key: key, targetUnion: .createRevision(revision))
    }

    private func put(_ key: [UInt8], _ value: [UInt8], lease: Int64) -> RequestOp {
        var put = PutRequest()
        put.key = key
        put.value = value
        put.lease = lease
        return RequestOp(.requestPut(put))
    }

    private func get(_ key: [UInt8]) -> RequestOp {
        var range = RangeRequest()
        range.key = key
        return RequestOp(.requestRange(range))
    }

    private func rangeResponse(_ response: TxnResponse, _ index: Int) -> RangeResponse? {
        guard index < response.responses.count, case .responseRange(let range)? = response.responses[index].response else {
            return nil
        }
        return range
    }

    /// Waits until every key under `prefix` created at or before `maxCreate` is gone; returns
    /// the header of the last look.
    private func waitDeletes(_ prefix: [UInt8], _ maxCreate: Int64, _ metadata: [HeaderField]) async throws(Failure) -> ResponseHeader? {
        while true {
            let range: RangeResponse = try await call("/etcdserverpb.KV/Range", edge(prefix, newestBefore: maxCreate), metadata)
            guard let newest = range.kvs.first else { return range.header }
            try await waitDelete(newest.key, from: range.header?.revision ?? 0, metadata)
        }
    }

    private func waitDelete(_ key: [UInt8], from revision: Int64, _ metadata: [HeaderField]) async throws(Failure) {
        var create = WatchCreateRequest()
        create.key = key
        create.startRevision = revision
        for await response in client.watch(create, metadata: metadata) {
            if Task.isCancelled { break }
            if response.events.contains(where: { $0.type == .delete }) { return }
            if response.canceled { break }
        }
        if Task.isCancelled { throw Failure("context canceled") }
        throw Failure("lost watcher waiting for delete")
    }

    // MARK: Lock

    func lock(_ request: LockRequest, _ metadata: [HeaderField]) async throws(Failure) -> LockResponse {
        let lease = try await sessionLease(request.lease, metadata)
        let prefix = request.name + Array("/".utf8)
        let key = ConcurrencyRecipes.contenderKey(request.name, lease: lease)
        let response = try await txn(TxnRequest(compare: [createdAt(key, 0)],
                                                success: [put(key, [], lease: lease), RequestOp(.requestRange(edge(prefix)))],
                                                failure: [get(key), RequestOp(.requestRange(edge(prefix)))]), metadata)
        var myRevision = response.header?.revision ?? 0
        if !response.succeeded, let mine = rangeResponse(response, 0)?.kvs.first {
            myRevision = mine.createRevision
        }
        let owner = rangeResponse(response, 1)?.kvs.first
        if owner == nil || owner?.createRevision == myRevision {
            return LockResponse(header: response.header, key: key)
        }
        do {
            let header = try await waitDeletes(prefix, myRevision - 1, metadata)
            return LockResponse(header: header, key: key)
        } catch {
            // A waiter that gives up leaves no key behind.
            var delete = DeleteRangeRequest()
            delete.key = key
            _ = try? await call("/etcdserverpb.KV/DeleteRange", delete, metadata, as: DeleteRangeResponse.self)
            throw error
        }
    }

    func unlock(_ request: UnlockRequest, _ metadata: [HeaderField]) async throws(Failure) -> UnlockResponse {
        var delete = DeleteRangeRequest()
        delete.key = request.key
        let response: DeleteRangeResponse = try await call("/etcdserverpb.KV/DeleteRange", delete, metadata)
        var answer = UnlockResponse()
        answer.header = response.header
        return answer
    }

    // MARK: Election

    func campaign(_ request: CampaignRequest, _ metadata: [HeaderField]) async throws(Failure) -> CampaignResponse {
        let lease = try await sessionLease(request.lease, metadata)
        let prefix = request.name + Array("/".utf8)
        let key = ConcurrencyRecipes.contenderKey(request.name, lease: lease)
        let response = try await txn(TxnRequest(compare: [createdAt(key, 0)], success: [put(key, request.value, lease: lease)],
                                                failure: [get(key)]), metadata)
        var leaderRevision = response.header?.revision ?? 0
        if !response.succeeded, let existing = rangeResponse(response, 0)?.kvs.first {
            leaderRevision = existing.createRevision
            if existing.value != request.value {
                let leader = LeaderKey(name: request.name, key: key, rev: leaderRevision, lease: lease)
                do {
                    _ = try await proclaim(leader: leader, value: request.value, lease: lease, metadata)
                } catch {
                    _ = try? await resign(leader, lease: lease, metadata)
                    throw error
                }
            }
        }
        do {
            _ = try await waitDeletes(prefix, leaderRevision - 1, metadata)
        } catch {
            if Task.isCancelled {
                _ = try? await resign(LeaderKey(name: request.name, key: key, rev: leaderRevision, lease: lease), lease: lease, metadata)
            }
            throw error
        }
        // The header is the first transaction's, as etcd answers.
        return CampaignResponse(header: response.header,
                                leader: LeaderKey(name: request.name, key: key, rev: leaderRevision, lease: lease))
    }

    func proclaim(_ request: ProclaimRequest, _ metadata: [HeaderField]) async throws(Failure) -> ProclaimResponse {
        guard let leader = request.leader else { throw ConcurrencyRecipes.missingLeader }
        let lease = try await sessionLease(leader.lease, metadata)
        var answer = ProclaimResponse()
        answer.header = try await proclaim(leader: leader, value: request.value, lease: lease, metadata)
        return answer
    }

    private func proclaim(leader: LeaderKey, value: [UInt8], lease: Int64, _ metadata: [HeaderField]) async throws(Failure) -> ResponseHeader? {
        let response = try await txn(TxnRequest(compare: [createdAt(leader.key, leader.rev)],
                                                success: [put(leader.key, value, lease: lease)]), metadata)
        guard response.succeeded else { throw Failure("election: not leader") }
        return response.header
    }

    func resign(_ request: ResignRequest, _ metadata: [HeaderField]) async throws(Failure) -> ResignResponse {
        guard let leader = request.leader else { throw ConcurrencyRecipes.missingLeader }
        let lease = try await sessionLease(leader.lease, metadata)
        var answer = ResignResponse()
        answer.header = try await resign(leader, lease: lease, metadata)
        return answer
    }

    /// Deletes the leader key if it is still the one created at `leader.rev`; never fails on
    /// ownership.
    private func resign(_ leader: LeaderKey, lease: Int64, _ metadata: [HeaderField]) async throws(Failure) -> ResponseHeader? {
        var delete = DeleteRangeRequest()
        delete.key = leader.key
        let response = try await txn(TxnRequest(compare: [createdAt(leader.key, leader.rev)],
                                                success: [RequestOp(.requestDeleteRange(delete))]), metadata)
        return response.header
    }

    func leader(_ request: LeaderRequest, _ metadata: [HeaderField]) async throws(Failure) -> LeaderResponse {
        let range: RangeResponse = try await call("/etcdserverpb.KV/Range", edge(request.name + Array("/".utf8)), metadata)
        guard let kv = range.kvs.first else { throw Failure("election: no leader") }
        var answer = LeaderResponse()
        answer.header = range.header
        answer.kv = kv
        return answer
    }

    /// Sends the leader whenever it changes or proclaims, until the caller stops; ends quietly
    /// when a lookup or a watch fails.
    func observe(_ request: LeaderRequest, _ metadata: [HeaderField], send: @Sendable (LeaderResponse) -> Void) async {
        let prefix = request.name + Array("/".utf8)
        while !Task.isCancelled {
            guard let range: RangeResponse = try? await call("/etcdserverpb.KV/Range", edge(prefix), metadata) else { return }
            var header = range.header
            var leaderKV = range.kvs.first
            if leaderKV == nil {
                // Wait for the first put under the prefix.
                var create = WatchCreateRequest()
                create.key = prefix
                create.rangeEnd = ConcurrencyRecipes.prefixEnd(prefix)
                create.startRevision = range.header?.revision ?? 0
                for await response in client.watch(create, metadata: metadata) {
                    if response.canceled { return }
                    if let event = response.events.first(where: { $0.type == .put }), let kv = event.kv {
                        header = response.header
                        header?.revision = kv.modRevision
                        leaderKV = kv
                        break
                    }
                }
            }
            guard let kv = leaderKV, !Task.isCancelled else { return }
            var answer = LeaderResponse()
            answer.header = header
            answer.kv = kv
            send(answer)
            // Follow the leader key until it is deleted.
            var create = WatchCreateRequest()
            create.key = kv.key
            create.startRevision = (header?.revision ?? 0) + 1
            var deleted = false
            for await response in client.watch(create, metadata: metadata) {
                if response.canceled { return }
                for event in response.events {
                    if event.type == .delete {
                        deleted = true
                        break
                    }
                    if let put = event.kv {
                        var update = LeaderResponse()
                        update.header = response.header
                        update.kv = put
                        send(update)
                    }
                }
                if deleted { break }
            }
            if !deleted { return }
        }
    }
}

/// The v3lockpb.Lock and v3electionpb.Election services.
struct LockAndElectionServices {
    let recipes: ConcurrencyRecipes

    func register(into router: inout Router) {
        let recipes = self.recipes
        unary(&router, "/v3lockpb.Lock/Lock", LockRequest.self) { try await recipes.lock($0, $1) }
        unary(&router, "/v3lockpb.Lock/Unlock", UnlockRequest.self) { try await recipes.unlock($0, $1) }
        unary(&router, "/v3electionpb.Election/Campaign", CampaignRequest.self) { try await recipes.campaign($0, $1) }
        unary(&router, "/v3electionpb.Election/Proclaim", ProclaimRequest.self) { try await recipes.proclaim($0, $1) }
        unary(&router, "/v3electionpb.Election/Leader", LeaderRequest.self) { try await recipes.leader($0, $1) }
        unary(&router, "/v3electionpb.Election/Resign", ResignRequest.self) { try await recipes.resign($0, $1) }
        router.register("/v3electionpb.Election/Observe", .streaming { call in
            ObserveCall(call: call, recipes: recipes)
        })
    }

    private func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ router: inout Router, _ path: String, _ type: Request.Type,
        _ body: @escaping @Sendable (Request, [HeaderField]) async throws -> Response
    ) {
        router.register(path, .unary { call, bytes in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                return call.respond(.failure(GRPCStatus(.internal, "grpc: error unmarshalling request: \(error)")))
            }
            let metadata = call.metadata
            let task = Task {
                do {
                    let response = try await body(request, metadata)
                    call.respond(.success(response.serializedBytes()))
                } catch {
                    call.respond(.failure((error as? ConcurrencyRecipes.Failure)?.status ?? GRPCStatus(.unknown, "\(error)")))
                }
            }
            call.onCancel { task.cancel() }
        })
    }
}

/// One Observe stream: the request arrives, then leaders are sent until the client leaves.
final class ObserveCall: StreamingCallDelegate, @unchecked Sendable {
    private let call: ServerCall
    private let recipes: ConcurrencyRecipes
    private var task: Task<Void, Never>?

    init(call: ServerCall, recipes: ConcurrencyRecipes) {
        self.call = call
        self.recipes = recipes
    }

    func received(_ message: [UInt8]) {
        guard task == nil else { return }
        guard let request = try? LeaderRequest(serializedBytes: message) else {
            call.finish(GRPCStatus(.internal, "grpc: error unmarshalling request"))
            return
        }
        let call = self.call
        let recipes = self.recipes
        let metadata = call.metadata
        task = Task {
            await recipes.observe(request, metadata) { call.send($0.serializedBytes()) }
            call.finish(.ok)
        }
    }

    func receivedEnd() {}

    func cancelled() { task?.cancel() }
}
