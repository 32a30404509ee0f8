import EtcdProto
import GRPC
import MVCC
import ProtoWire

/// etcdserverpb.KV: validate, then read from the store or propose through the log.
struct KVService {
    let core: ServerCore

    func register(into router: inout Router) {
        let core = self.core
        router.unary("/etcdserverpb.KV/Range", RangeRequest.self) { request, responder in
            do throws(EtcdError) { try KVValidation.checkRange(request) } catch { return responder.fail(error) }
            // A single key is cheap: answer on the connection's thread. Ranges can be large.
            if request.rangeEnd.isEmpty {
                KVService.range(request, core: core, responder: responder)
            } else {
                core.readQueue.async { KVService.range(request, core: core, responder: responder) }
            }
        }
        router.unary("/etcdserverpb.KV/Put", PutRequest.self) { request, responder in
            do throws(EtcdError) {
                try core.checkQuota(cost: 256 + request.key.count + request.value.count)
                try KVValidation.checkPut(request)
            } catch {
                return responder.fail(error)
            }
            core.propose({ $0.put = request }) { result in
                KVService.complete(result, core: core, responder: responder)
            }
        }
        router.unary("/etcdserverpb.KV/DeleteRange", DeleteRangeRequest.self) { request, responder in
            do throws(EtcdError) { try KVValidation.checkDelete(request) } catch { return responder.fail(error) }
            core.propose({ $0.deleteRange = request }) { result in
                KVService.complete(result, core: core, responder: responder)
            }
        }
        router.unary("/etcdserverpb.KV/Txn", TxnRequest.self) { request, responder in
            do throws(EtcdError) {
                try core.checkQuota(cost: KVService.txnCost(request))
                try KVValidation.checkTxn(request, maxTxnOps: Int(clamping: core.config.maxTxnOps))
            } catch {
                return responder.fail(error)
            }
            if KVSemantics.isReadOnly(request) {
                core.readQueue.async { KVService.readOnlyTxn(request, core: core, responder: responder) }
                return
            }
            core.propose({ $0.txn = request }) { result in
                KVService.complete(result, core: core, responder: responder)
            }
        }
        router.unary("/etcdserverpb.KV/Compact", CompactionRequest.self) { request, responder in
            core.propose({ $0.compaction = request }) { result in
                guard request.physical, case .success(.compaction) = result else {
                    KVService.complete(result, core: core, responder: responder)
                    return
                }
                // physical: answer once the old revisions are gone.
                core.compactor.waitForPhysical(revision: request.revision) {
                    KVService.complete(result, core: core, responder: responder)
                }
            }
        }
    }

    static func range(_ request: RangeRequest, core: ServerCore, responder: Responder) {
        if KVService.passesValuesThrough(request) {
            return encodedRange(request, core: core, responder: responder)
        }
        do {
            var response = try core.store.read { reader in
                try core.semantics.range(request, in: try ReadView(reader))
            }
            core.completeHeader(&response.header)
            responder.succeed(response)
        } catch {
            responder.fail(etcdError(error))
        }
    }

    /// A range whose key-values go out exactly as stored: no sorting, filtering or keys-only.
    static func passesValuesThrough(_ r: RangeRequest) -> Bool {
        r.sortOrderRaw == 0 && r.sortTargetRaw == 0 && !r.keysOnly && !r.countOnly && !r.filtersRevisions
    }

    /// Range with the stored encodings copied straight into the response: no decode and
    /// re-encode per key-value, which matters for large responses.
    static func encodedRange(_ request: RangeRequest, core: ServerCore, responder: Responder) {
        do {
            let limit = max(0, request.limit)
            let options = RangeOptions(limit: limit > 0 ? Int(clamping: limit) + 1 : 0, revision: max(0, request.revision))
            var result = try core.store.read { reader in
                try reader.rangeEncoded(KeyRange(key: request.key, rangeEnd: request.rangeEnd), options: options)
            }
            let more = limit > 0 && result.kvs.count > limit
            if more { result.kvs.removeSubrange(Int(limit)...) }
            // RangeResponse: header = 1, kvs = 2, more = 3, count = 4.
            let header = core.header(revision: result.currentRevision)
            var writer = ProtoWriter(capacity: 64 + result.kvs.reduce(0) { $0 + $1.count + 6 })
            writer.writeMessage(1, header)
            for kv in result.kvs { writer.writeBytesAlways(2, kv) }
            writer.writeBool(3, more)
            writer.writeInt64(4, Int64(result.count))
            responder.call.respond(.success(writer.bytes))
        } catch {
            responder.fail(etcdError(error))
        }
    }

    static func readOnlyTxn(_ request: TxnRequest, core: ServerCore, responder: Responder) {
        do {
            var response = try core.store.read { reader -> TxnResponse in
                var view = try ReadView(reader)
                let path = try core.semantics.path(of: request, in: view)
                try core.semantics.checkPath(request, path: path, in: view, isWrite: false)
                return try core.semantics.execute(request, path: path, in: &view)
            }
            core.completeHeader(&response.header)
            responder.succeed(response)
        } catch {
            responder.fail(etcdError(error))
        }
    }

    /// Completes a proposal's call with the applied response (or its error).
    static func complete(_ result: ApplyResult, core: ServerCore, responder: Responder) {
        switch result {
        case .failure(let error):
            responder.fail(error)
        case .success(.put(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.deleteRange(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.txn(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.compaction(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.leaseGrant(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.leaseRevoke(var response)):
            core.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.none):
            responder.fail(GRPCStatus(.internal, "etcdserver: unexpected response type"))
        }
    }

    /// etcd's quota cost of a txn: the larger of the top-level branches' put sizes.
    static func txnCost(_ request: TxnRequest) -> Int {
        func cost(_ ops: [RequestOp]) -> Int {
            ops.reduce(0) { total, op in
                if case .requestPut(let put)? = op.request { return total + 256 + put.key.count + put.value.count }
                return total
            }
        }
        return max(cost(request.success), cost(request.failure))
    }
}
