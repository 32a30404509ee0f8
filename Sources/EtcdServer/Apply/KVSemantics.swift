import EtcdProto
import MVCC

/// The store as one KV request sees it: a read view, or the write transaction of a request
/// being applied (which also sees its own earlier changes).
protocol KVView {
    /// The revision reads see right now.
    var currentRevision: Int64 { get }
    func compactRevision() throws -> Int64
    func range(_ range: KeyRange, options: RangeOptions) throws -> RangeResult
    func get(_ key: [UInt8]) throws -> KeyValue?
    mutating func put(key: [UInt8], value: [UInt8], lease: Int64) throws -> KeyValue?
    mutating func deleteRange(_ range: KeyRange) throws -> [KeyValue]
}

extension StoreWriter: KVView {}

/// A read-only view for ranges and read-only txns.
struct ReadView: KVView {
    let reader: StoreReadView
    let currentRevision: Int64

    init(_ reader: StoreReadView) throws {
        self.reader = reader
        self.currentRevision = try reader.currentRevision()
    }

    func compactRevision() throws -> Int64 { try reader.compactRevision() }
    func range(_ range: KeyRange, options: RangeOptions) throws -> RangeResult { try reader.range(range, options: options) }
    func get(_ key: [UInt8]) throws -> KeyValue? { try reader.get(key) }

    mutating func put(key: [UInt8], value: [UInt8], lease: Int64) throws -> KeyValue? {
        preconditionFailure("put on a read-only view: read-only txns hold only ranges")
    }

    mutating func deleteRange(_ range: KeyRange) throws -> [KeyValue] {
        preconditionFailure("delete on a read-only view: read-only txns hold only ranges")
    }
}

/// Whether a lease exists; the lease manager answers.
protocol LeaseLookup: Sendable {
    func leaseExists(_ id: Int64) -> Bool
}

/// Maps store errors to the errors clients see.
func etcdError(_ error: Error) -> EtcdError {
    switch error {
    case let error as EtcdError: return error
    case MVCCError.compacted: return .compacted
    case MVCCError.futureRevision: return .futureRevision
    default: return .unmapped("\(error)")
    }
}

/// etcd's KV request semantics over a `KVView`, shared by plain requests and txn operations.
struct KVSemantics {
    let leases: LeaseLookup
    /// Where executed operations are counted (etcd_mvcc_*); nil counts nothing.
    var counters: MVCCCounters?

    init(leases: LeaseLookup, counters: MVCCCounters? = nil) {
        self.leases = leases
        self.counters = counters
    }

    // MARK: Range

    func range(_ request: RangeRequest, in view: some KVView) throws(EtcdError) -> RangeResponse {
        counters?.range()
        // The limit goes down to the store only when nothing reorders or drops results after
        // it; then one extra key tells whether there are more.
        let pushDown = request.sortOrderRaw == RangeRequest.SortOrder.unsorted.rawValue && !request.filtersRevisions
        let limit = max(0, request.limit)
        let options = RangeOptions(limit: pushDown && limit > 0 ? Int(clamping: limit) + 1 : 0,
                                   revision: max(0, request.revision), countOnly: request.countOnly)
        let result: RangeResult
        do {
            result = try view.range(KeyRange(key: request.key, rangeEnd: request.rangeEnd), options: options)
        } catch {
            throw etcdError(error)
        }
        var kvs = result.kvs
        if request.maxModRevision != 0 { kvs.removeAll { $0.modRevision > request.maxModRevision } }
        if request.minModRevision != 0 { kvs.removeAll { $0.modRevision < request.minModRevision } }
        if request.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > request.maxCreateRevision } }
        if request.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < request.minCreateRevision } }
        sort(&kvs, order: request.sortOrderRaw, target: request.sortTargetRaw)
        var response = RangeResponse()
        if limit > 0 && kvs.count > limit {
            kvs.removeSubrange(Int(limit)...)
            response.more = true
        }
        if request.keysOnly {
            for i in kvs.indices { kvs[i].value = [] }
        }
        response.kvs = kvs
        response.count = Int64(result.count)
        response.header = ResponseHeader(revision: result.currentRevision)
        return response
    }

    /// Sorts as etcd does: a non-key target with no order means ascending. Ties keep key order
    /// (etcd's sort is not stable past 12 items; its tie order is not reproduced). An unknown
    /// target leaves the order alone (etcd 3.4 crashes on it).
    private func sort(_ kvs: inout [KeyValue], order: Int32, target: Int32) {
        var order = RangeRequest.SortOrder(rawValue: order)
        guard let target = RangeRequest.SortTarget(rawValue: target) else { return }
        if target != .key && order == .unsorted { order = .ascend }
        guard let order, order != .unsorted else { return }
        let ascending: (KeyValue, KeyValue) -> Bool
        switch target {
        case .key: ascending = { $0.key.lexicographicallyPrecedes($1.key) }
        case .version: ascending = { $0.version < $1.version }
        case .create: ascending = { $0.createRevision < $1.createRevision }
        case .mod: ascending = { $0.modRevision < $1.modRevision }
        case .value: ascending = { $0.value.lexicographicallyPrecedes($1.value) }
        }
        let indexed = kvs.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { a, b in
            let less = order == .ascend ? ascending(a.1, b.1) : ascending(b.1, a.1)
            let greater = order == .ascend ? ascending(b.1, a.1) : ascending(a.1, b.1)
            return less || (!greater && a.0 < b.0)
        }
        kvs = sorted.map(\.1)
    }

    // MARK: Put and DeleteRange

    /// Checks done at apply time for a put: the lease first, then the key for ignore_*.
    func checkPut(_ request: PutRequest, in view: some KVView, leaseFirst: Bool) throws(EtcdError) {
        let leaseMissing = request.lease != 0 && !leases.leaseExists(request.lease)
        if leaseFirst && leaseMissing { throw .leaseNotFound }
        if request.ignoreValue || request.ignoreLease {
            let existing: KeyValue?
            do { existing = try view.get(request.key) } catch { throw etcdError(error) }
            if existing == nil { throw .keyNotFound }
        }
        if leaseMissing { throw .leaseNotFound }
    }

    func put(_ request: PutRequest, in view: inout some KVView) throws -> PutResponse {
        var value = request.value
        var lease = request.lease
        if request.ignoreValue || request.ignoreLease {
            guard let existing = try view.get(request.key) else { throw EtcdError.keyNotFound }
            if request.ignoreValue { value = existing.value }
            if request.ignoreLease { lease = existing.lease }
        }
        let previous = try view.put(key: request.key, value: value, lease: lease)
        counters?.put(bytes: request.key.count + value.count, newKey: previous == nil)
        var response = PutResponse()
        response.header = ResponseHeader(revision: view.currentRevision)
        if request.prevKV { response.prevKV = previous }
        return response
    }

    func deleteRange(_ request: DeleteRangeRequest, in view: inout some KVView) throws -> DeleteRangeResponse {
        let deleted = try view.deleteRange(KeyRange(key: request.key, rangeEnd: request.rangeEnd))
        counters?.delete(keys: deleted.count)
        var response = DeleteRangeResponse()
        response.header = ResponseHeader(revision: view.currentRevision)
        response.deleted = Int64(deleted.count)
        if request.prevKV { response.prevKVs = deleted }
        return response
    }

    // MARK: Txn

    /// The branch each txn level takes, decided before any operation runs: compares at every
    /// level see the state from before the txn.
    struct Path {
        var succeeded: Bool
        /// Paths of the nested txns in the chosen branch, in order.
        var nested: [Path]
    }

    func path(of request: TxnRequest, in view: some KVView) throws -> Path {
        var succeeded = true
        for compare in request.compare where try !evaluate(compare, in: view) {
            succeeded = false
            break
        }
        var nested: [Path] = []
        for op in succeeded ? request.success : request.failure {
            if case .requestTxn(let inner)? = op.request {
                nested.append(try path(of: inner, in: view))
            }
        }
        return Path(succeeded: succeeded, nested: nested)
    }

    private func evaluate(_ compare: Compare, in view: some KVView) throws -> Bool {
        let kvs = try view.range(KeyRange(key: compare.key, rangeEnd: compare.rangeEnd), options: RangeOptions()).kvs
        if kvs.isEmpty {
            // A missing key fails every VALUE compare; other targets compare against zeros.
            if compare.target == .value { return false }
            return compareKV(KeyValue(), compare)
        }
        return kvs.allSatisfy { compareKV($0, compare) }
    }

    private func compareKV(_ kv: KeyValue, _ compare: Compare) -> Bool {
        let order: Int
        switch compare.target {
        case .value:
            var given: [UInt8] = []
            if case .value(let v)? = compare.targetUnion { given = v }
            order = kv.value == given ? 0 : (kv.value.lexicographicallyPrecedes(given) ? -1 : 1)
        case .version:
            order = sign(kv.version, { if case .version(let v)? = compare.targetUnion { return v } else { return 0 } }())
        case .create:
            order = sign(kv.createRevision, { if case .createRevision(let v)? = compare.targetUnion { return v } else { return 0 } }())
        case .mod:
            order = sign(kv.modRevision, { if case .modRevision(let v)? = compare.targetUnion { return v } else { return 0 } }())
        case .lease:
            order = sign(kv.lease, { if case .lease(let v)? = compare.targetUnion { return v } else { return 0 } }())
        case nil:
            order = 0
        }
        switch compare.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        case nil: return true
        }
    }

    private func sign(_ a: Int64, _ b: Int64) -> Int { a == b ? 0 : (a < b ? -1 : 1) }

    /// Apply-time checks over the chosen path, against the pre-txn state: every put (for write
    /// txns), then every range's revision.
    func checkPath(_ request: TxnRequest, path: Path, in view: some KVView, isWrite: Bool) throws(EtcdError) {
        if isWrite { try checkPuts(request, path: path, in: view) }
        try checkRanges(request, path: path, in: view)
    }

    private func checkPuts(_ request: TxnRequest, path: Path, in view: some KVView) throws(EtcdError) {
        var nested = path.nested.makeIterator()
        for op in path.succeeded ? request.success : request.failure {
            switch op.request {
            case .requestPut(let put)?: try checkPut(put, in: view, leaseFirst: false)
            case .requestTxn(let inner)?: if let innerPath = nested.next() { try checkPuts(inner, path: innerPath, in: view) }
            default: break
            }
        }
    }

    private func checkRanges(_ request: TxnRequest, path: Path, in view: some KVView) throws(EtcdError) {
        var nested = path.nested.makeIterator()
        let compacted: Int64
        do { compacted = try view.compactRevision() } catch { throw etcdError(error) }
        for op in path.succeeded ? request.success : request.failure {
            switch op.request {
            case .requestRange(let range)?:
                // etcd compares the raw revision here, so negative revisions below the
                // compaction revision fail as compacted.
                if range.revision > view.currentRevision { throw .futureRevision }
                if range.revision != 0 && range.revision < compacted { throw .compacted }
            case .requestTxn(let inner)?:
                if let innerPath = nested.next() { try checkRanges(inner, path: innerPath, in: view) }
            default: break
            }
        }
    }

    /// Runs the chosen branch; `view` sees each operation's effect on the next.
    func execute(_ request: TxnRequest, path: Path, in view: inout some KVView, topLevel: Bool = true) throws -> TxnResponse {
        var response = TxnResponse()
        response.succeeded = path.succeeded
        var nested = path.nested.makeIterator()
        for op in path.succeeded ? request.success : request.failure {
            var result = ResponseOp()
            switch op.request {
            case .requestRange(let range)?:
                var r = try self.range(range, in: view)
                r.header = ResponseHeader(revision: view.currentRevision)
                result.response = .responseRange(r)
            case .requestPut(let put)?:
                var r = try self.put(put, in: &view)
                r.header = ResponseHeader(revision: view.currentRevision)
                result.response = .responsePut(r)
            case .requestDeleteRange(let delete)?:
                let r = try deleteRange(delete, in: &view)
                result.response = .responseDeleteRange(r)
            case .requestTxn(let inner)?:
                guard let innerPath = nested.next() else { continue }
                result.response = .responseTxn(try execute(inner, path: innerPath, in: &view, topLevel: false))
            case nil:
                continue
            }
            response.responses.append(result)
        }
        // Nested txn responses carry an all-zero header, as etcd's do.
        response.header = ResponseHeader(revision: topLevel ? view.currentRevision : 0)
        if topLevel && KVSemantics.operationCount(request, path: path) > 1 { counters?.transaction() }
        return response
    }

    /// Operations a txn runs on its chosen branches, nested ones included.
    static func operationCount(_ request: TxnRequest, path: Path) -> Int {
        var count = 0
        var nested = path.nested.makeIterator()
        for op in path.succeeded ? request.success : request.failure {
            switch op.request {
            case .requestTxn(let inner)?:
                if let innerPath = nested.next() { count += operationCount(inner, path: innerPath) }
            case nil:
                break
            default:
                count += 1
            }
        }
        return count
    }

    /// Read-only means only ranges in both top-level branches (decided by shape, not by the
    /// branch taken; a nested txn is never read-only).
    static func isReadOnly(_ request: TxnRequest) -> Bool {
        (request.success + request.failure).allSatisfy {
            if case .requestRange? = $0.request { return true }
            return false
        }
    }
}

extension ResponseHeader {
    init(revision: Int64) {
        self.init()
        self.revision = revision
    }
}

extension RangeRequest {
    /// Any of the min/max mod/create revision filters is set: results are dropped after the
    /// store reads them.
    var filtersRevisions: Bool {
        minModRevision != 0 || maxModRevision != 0 || minCreateRevision != 0 || maxCreateRevision != 0
    }
}
