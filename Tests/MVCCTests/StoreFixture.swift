#if canImport(Glibc)
import Glibc
#endif
import EtcdProto
import Foundation
@testable import MVCC

/// A store in a fresh temporary directory, removed when the fixture is released.
final class StoreFixture: @unchecked Sendable {
    let directory: String
    let store: KVStore

    /// Files stay when the fixture goes, for a later fixture on the same directory.
    var keepFiles = false

    init(mapSize: Int = 64 << 20) throws {
        var template = Array("/tmp/mvcc-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        directory = String(cString: made)
        store = try KVStore(path: directory + "/db", mapSize: mapSize)
    }

    /// The store in `directory`, as a restarted server opens it.
    init(reopening directory: String, mapSize: Int = 64 << 20) throws {
        self.directory = directory
        store = try KVStore(path: directory + "/db", mapSize: mapSize)
    }

    deinit {
        if !keepFiles { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Runs one store transaction in its own batch.
    @discardableResult
    func txn<T>(_ body: (inout StoreWriter) throws -> T) throws -> T {
        try store.writeBatch { batch in try batch.transaction(body).result }
    }

    func put(_ key: String, _ value: String, lease: Int64 = 0) throws {
        try txn { try $0.put(key: Array(key.utf8), value: Array(value.utf8), lease: lease) }
    }

    func delete(_ key: String, end: String? = nil) throws -> Int {
        try txn { w in
            try w.deleteRange(KeyRange(key: Array(key.utf8), rangeEnd: end.map { Array($0.utf8) } ?? [])).count
        }
    }

    func range(_ key: String, end: String? = nil, options: RangeOptions = RangeOptions()) throws -> RangeResult {
        try store.read { r in
            try r.range(KeyRange(key: Array(key.utf8), rangeEnd: end.map { Array($0.utf8) } ?? []), options: options)
        }
    }

    func revision() throws -> Int64 { try store.read { try $0.currentRevision() } }
}

extension KeyValue {
    var keyString: String { String(decoding: key, as: UTF8.self) }
    var valueString: String { String(decoding: value, as: UTF8.self) }
}
