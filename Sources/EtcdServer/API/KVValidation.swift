import EtcdProto

/// Checks etcd runs on KV requests before they reach the log.
enum KVValidation {
    static func checkRange(_ r: RangeRequest) throws(EtcdError) {
        if r.key.isEmpty { throw .emptyKey }
    }

    static func checkPut(_ r: PutRequest) throws(EtcdError) {
        if r.key.isEmpty { throw .emptyKey }
        if r.ignoreValue && !r.value.isEmpty { throw .valueProvided }
        if r.ignoreLease && r.lease != 0 { throw .leaseProvided }
    }

    static func checkDelete(_ r: DeleteRangeRequest) throws(EtcdError) {
        if r.key.isEmpty { throw .emptyKey }
    }

    /// The size limit, the per-op checks (nested txns get the budget their parent leaves), then
    /// the duplicate-key check on each top-level branch.
    static func checkTxn(_ r: TxnRequest, maxTxnOps: Int) throws(EtcdError) {
        try checkTxnOps(r, maxTxnOps: maxTxnOps)
        _ = try intervals(r.success)
        _ = try intervals(r.failure)
    }

    private static func checkTxnOps(_ r: TxnRequest, maxTxnOps: Int) throws(EtcdError) {
        let opCount = max(r.compare.count, r.success.count, r.failure.count)
        if opCount > maxTxnOps { throw .tooManyOps }
        for compare in r.compare where compare.key.isEmpty { throw .emptyKey }
        for op in r.success + r.failure {
            switch op.request {
            case .requestRange(let range)?: try checkRange(range)
            case .requestPut(let put)?: try checkPut(put)
            case .requestDeleteRange(let delete)?: try checkDelete(delete)
            case .requestTxn(let inner)?: try checkTxnOps(inner, maxTxnOps: maxTxnOps - opCount)
            case nil: throw .keyNotFound
            }
        }
    }

    /// A delete's span: `[key, end)`, or just `key` when there is no end. A from-key delete
    /// ("\0" end) spans nothing here, as in etcd, so it never conflicts.
    struct Interval {
        var start: [UInt8]
        var end: [UInt8]

        func contains(_ key: [UInt8]) -> Bool {
            !key.lexicographicallyPrecedes(start) && key.lexicographicallyPrecedes(end)
        }
    }

    /// etcd's duplicate-key rule for one list of ops: no key may be put twice, and no put may
    /// fall inside a delete, across this level and its nested txns. The two branches of one
    /// nested txn exclude each other. Deletes never conflict with deletes; ranges are ignored.
    static func intervals(_ ops: [RequestOp]) throws(EtcdError) -> (puts: Set<[UInt8]>, deletes: [Interval]) {
        var deletes: [Interval] = []
        for op in ops {
            if case .requestDeleteRange(let d)? = op.request {
                deletes.append(Interval(start: d.key, end: d.rangeEnd.isEmpty ? d.key + [0] : d.rangeEnd))
            }
        }
        var puts = Set<[UInt8]>()
        for op in ops {
            guard case .requestTxn(let inner)? = op.request else { continue }
            let then = try intervals(inner.success)
            let otherwise = try intervals(inner.failure)
            for key in then.puts {
                if puts.contains(key) || deletes.contains(where: { $0.contains(key) }) { throw .duplicateKey }
                puts.insert(key)
            }
            for key in otherwise.puts {
                if (puts.contains(key) && !then.puts.contains(key)) || deletes.contains(where: { $0.contains(key) }) {
                    throw .duplicateKey
                }
                puts.insert(key)
            }
            deletes += then.deletes + otherwise.deletes
        }
        for op in ops {
            guard case .requestPut(let p)? = op.request else { continue }
            if puts.contains(p.key) || deletes.contains(where: { $0.contains(p.key) }) { throw .duplicateKey }
            puts.insert(p.key)
        }
        return (puts, deletes)
    }
}
