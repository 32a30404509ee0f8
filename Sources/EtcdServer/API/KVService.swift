import EtcdProto
import GRPC
import MVCC
import ProtoWire

/// etcdserverpb.KV: validate, then read (after the linearizable-read barrier unless the
/// request is serializable) or propose through the log.
struct KVService {
    let headers: HeaderSource
    let proposer: Proposing
    let barrier: ReadBarrier
    let keys: KeySpace
    let quota: BackendQuota
    let compactor: Compactor
    let maxTxnOps: Int
    /// A learner serves only serializable ranges.
    let isLearner: @Sendable () -> Bool
    /// Who calls: reads are checked here, writes where they apply.
    let gate: AuthGate

    func register(into router: inout Router) {
        let service = self
        router.unary("/etcdserverpb.KV/Range", RangeRequest.self) { request, responder in
            do throws(EtcdError) { try KVValidation.checkRange(request) } catch { return responder.fail(error) }
            if !request.serializable && service.isLearner() { return responder.fail(.notSupportedForLearner) }
            service.gate.withIdentity(responder) { info in
                service.afterBarrier(serializable: request.serializable, responder: responder) {
                    if let refusal = service.gate.checkRead(info, key: request.key, rangeEnd: request.rangeEnd) {
                        return responder.fail(refusal)
                    }
                    // A single key is cheap: answer on the calling thread. Ranges can be large.
                    if request.rangeEnd.isEmpty {
                        service.range(request, responder: responder)
                    } else {
                        service.keys.readQueue.async { service.range(request, responder: responder) }
                    }
                }
            }
        }
        router.unary("/etcdserverpb.KV/Put", PutRequest.self) { request, responder in
            do throws(EtcdError) {
                try service.quota.check(cost: 256 + request.key.count + request.value.count)
                try KVValidation.checkPut(request)
            } catch {
                return responder.fail(error)
            }
            service.propose(responder, { $0.put = request })
        }
        router.unary("/etcdserverpb.KV/DeleteRange", DeleteRangeRequest.self) { request, responder in
            do throws(EtcdError) { try KVValidation.checkDelete(request) } catch { return responder.fail(error) }
            service.propose(responder, { $0.deleteRange = request })
        }
        router.unary("/etcdserverpb.KV/Txn", TxnRequest.self) { request, responder in
            do throws(EtcdError) {
                try service.quota.check(cost: KVService.txnCost(request))
                try KVValidation.checkTxn(request, maxTxnOps: service.maxTxnOps)
            } catch {
                return responder.fail(error)
            }
            if KVSemantics.isReadOnly(request) {
                service.gate.withIdentity(responder) { info in
                    service.afterBarrier(serializable: KVService.isSerializable(request), responder: responder) {
                        if let refusal = service.gate.checkTxnReads(info, request) { return responder.fail(refusal) }
                        service.keys.readQueue.async { service.readOnlyTxn(request, responder: responder) }
                    }
                }
                return
            }
            service.propose(responder, { $0.txn = request })
        }
        router.unary("/etcdserverpb.KV/Compact", CompactionRequest.self) { request, responder in
            service.gate.propose(service.proposer, responder, { $0.compaction = request }) { result in
                guard request.physical, case .success(.compaction) = result else {
                    service.complete(result, responder: responder)
                    return
                }
                // physical: answer once the old revisions are gone.
                service.compactor.waitForPhysical(revision: request.revision) {
                    service.complete(result, responder: responder)
                }
            }
        }
    }

    /// Proposes a write as the caller; the applying members check its permissions.
    private func propose(_ responder: Responder, _ fill: @escaping @Sendable (inout InternalRaftRequest) -> Void) {
        gate.propose(proposer, responder, fill) { complete($0, responder: responder) }
    }

    /// Runs `read` at once for a serializable request, or once a linearizable read may be
    /// served here.
    private func afterBarrier(serializable: Bool, responder: Responder, _ read: @escaping @Sendable () -> Void) {
        if serializable { return read() }
        barrier.linearizableRead { error in
            if let error { return responder.fail(error) }
            read()
        }
    }

    /// etcd serves a read-only txn without the barrier only when every range in it (nested
    /// txns included) is serializable.
    static func isSerializable(_ request: TxnRequest) -> Bool {
        func serializable(_ ops: [RequestOp]) -> Bool {
            ops.allSatisfy { op in
                switch op.request {
                case .requestRange(let range)?: return range.serializable
                case .requestTxn(let txn)?: return isSerializable(txn)
                default: return true
                }
            }
        }
        return serializable(request.success) && serializable(request.failure)
    }

    func range(_ request: RangeRequest, responder: Responder) {
        if KVService.passesValuesThrough(request) {
            return encodedRange(request, responder: responder)
        }
        do {
            var response = try keys.store.read { reader in
                try keys.semantics.range(request, in: try ReadView(reader))
            }
            headers.completeHeader(&response.header)
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
    func encodedRange(_ request: RangeRequest, responder: Responder) {
        do {
            let limit = max(0, request.limit)
            let options = RangeOptions(limit: limit > 0 ? Int(clamping: limit) + 1 : 0, revision: max(0, request.revision))
            var result = try keys.store.read { reader in
                try reader.rangeEncoded(KeyRange(key: request.key, rangeEnd: request.rangeEnd), options: options)
            }
            let more = limit > 0 && result.kvs.count > limit
            if more { result.kvs.removeSubrange(Int(limit)...) }
            // RangeResponse: header = 1, kvs = 2, more = 3, count = 4.
            let header = headers.header(revision: result.currentRevision)
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

    func readOnlyTxn(_ request: TxnRequest, responder: Responder) {
        do {
            var response = try keys.store.read { reader -> TxnResponse in
                var view = try ReadView(reader)
                let path = try keys.semantics.path(of: request, in: view)
                try keys.semantics.checkPath(request, path: path, in: view, isWrite: false)
                return try keys.semantics.execute(request, path: path, in: &view)
            }
            headers.completeHeader(&response.header)
            responder.succeed(response)
        } catch {
            responder.fail(etcdError(error))
        }
    }

    func complete(_ result: ApplyResult, responder: Responder) {
        KVService.complete(result, headers: headers, responder: responder)
    }

    /// Completes a proposal's call with the applied response (or its error).
    static func complete(_ result: ApplyResult, headers: HeaderSource, responder: Responder) {
        switch result {
        case .failure(let error):
            responder.fail(error)
        case .success(.put(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.deleteRange(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.txn(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.compaction(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.leaseGrant(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.leaseRevoke(var response)):
            headers.completeHeader(&response.header)
            responder.succeed(response)
        case .success(.none), .success(.members), .success(.alarm), .success(.auth):
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
