import EtcdProto
import Foundation
import GRPC
import MVCC
import ProtoWire
import Watch

/// etcdserverpb.Watch: one bidirectional stream carries many watchers.
struct WatchService {
    let headers: HeaderSource
    let hub: WatchHub
    /// etcd's gRPC receive limit doubles as the watch fragment limit.
    let maxResponseBytes: Int
    /// A watcher needs read permission on its range when auth is on.
    var gate: AuthGate?

    func register(into router: inout Router) {
        let service = self
        router.register("/etcdserverpb.Watch/Watch", .streaming { call in
            WatchStream(call: call, headers: service.headers, hub: service.hub, maxResponseBytes: service.maxResponseBytes,
                        gate: service.gate)
        })
    }
}

/// One Watch stream: turns requests into watchers in the hub, and the hub's deliveries into
/// WatchResponses. Responses are queued and sent once per `flush`, so a round of deliveries to
/// many watchers on this stream costs one hop to the connection's thread.
final class WatchStream: StreamingCallDelegate, WatchSink, @unchecked Sendable {
    let call: ServerCall
    let headers: HeaderSource
    let hub: WatchHub
    let maxResponseBytes: Int
    let gate: AuthGate?
    private let lock = NSLock()
    private var pending: [UInt8] = []
    /// Watch IDs live on this stream; deliveries for others (cancelled meanwhile) are dropped.
    private var active: Set<Int64> = []
    private var nextWatchID: Int64 = 0

    init(call: ServerCall, headers: HeaderSource, hub: WatchHub, maxResponseBytes: Int, gate: AuthGate? = nil) {
        self.gate = gate
        self.call = call
        self.headers = headers
        self.hub = hub
        self.maxResponseBytes = maxResponseBytes
    }

    // MARK: requests (on the connection's thread)

    func received(_ message: [UInt8]) {
        let request: WatchRequest
        do {
            request = try WatchRequest(serializedBytes: message)
        } catch {
            call.finish(GRPCStatus(.internal, "grpc: error unmarshalling request: \(error)"))
            hub.removeAll(self)
            return
        }
        switch request.requestUnion {
        case .createRequest(let create)?: self.create(create)
        case .cancelRequest(let cancel)?: self.cancel(cancel.watchID)
        case .progressRequest?: progress()
        case nil: break
        }
        flush()
    }

    private func create(_ request: WatchCreateRequest) {
        // An empty key means the smallest key, "\0".
        let range = KeyRange(key: request.key.isEmpty ? [0] : request.key, rangeEnd: request.rangeEnd)
        if let refusal = permissionRefusal(key: request.key.isEmpty ? [0] : request.key, rangeEnd: request.rangeEnd) {
            // etcd's reason is the whole status text.
            refuseCreate(reason: "rpc error: code = \(refusal.code.goName) desc = \(refusal.message)")
            return
        }
        // As etcd does, the range is checked before the ID.
        if case .bounded(let start, let end) = range, !start.lexicographicallyPrecedes(end) {
            refuseCreate(reason: "mvcc: watcher range is empty")
            return
        }
        let assigned = lock.withLock { () -> Int64? in
            var id = request.watchID
            if id == 0 {
                while active.contains(nextWatchID) { nextWatchID += 1 }
                id = nextWatchID
                nextWatchID += 1
            } else if active.contains(id) {
                return nil
            }
            active.insert(id)
            return id
        }
        guard let id = assigned else {
            refuseCreate(reason: "mvcc: duplicate watch ID provided on the WatchStream")
            return
        }
        let filters = request.filters
        let spec = WatchSpec(range: range, startRevision: request.startRevision, prevKV: request.prevKV,
                             filterPuts: filters.contains(.noPut), filterDeletes: filters.contains(.noDelete),
                             fragment: request.fragment, progressNotify: request.progressNotify)
        // "created" first: the hub may deliver events as soon as the watcher is added.
        var response = WatchResponse()
        response.header = headers.header(revision: hub.currentRevision)
        response.watchID = id
        response.created = true
        enqueue(response)
        flush()
        hub.add(self, watchID: id, spec: spec)
    }

    private func cancel(_ watchID: Int64) {
        let known = lock.withLock { active.remove(watchID) != nil }
        guard known else { return }
        hub.remove(self, watchID: watchID)
        var response = WatchResponse()
        response.header = headers.header(revision: hub.currentRevision)
        response.watchID = watchID
        response.canceled = true
        enqueue(response)
    }

    /// RequestProgress: answered with the current revision and watch ID -1, but only when every
    /// watcher on the stream is synced.
    private func progress() {
        guard let revision = hub.progressRevision(for: self) else { return }
        var response = WatchResponse()
        response.header = headers.header(revision: revision)
        response.watchID = -1
        enqueue(response)
    }

    func receivedEnd() {
        // The client stopped sending requests; events keep flowing until it closes the stream.
    }

    func cancelled() {
        hub.removeAll(self)
        lock.withLock { active.removeAll() }
    }

    // MARK: WatchSink (called by the hub)

    func send(events: [WatchEvent], to watchID: Int64, revision: Int64, spec: WatchSpec) {
        lock.withLock {
            guard active.contains(watchID) else { return }
            let header = headers.header(revision: revision)
            let encoded = events.map { $0.encodedEvent(withPrevious: spec.prevKV) }
            let limit = maxResponseBytes
            let base = ProtoSize.message(1, header) + ProtoSize.int64(2, watchID)
            let sizes = spec.fragment ? encoded.map { ProtoSize.bytesAlways(11, $0) } : []
            guard spec.fragment, encoded.count >= 2, base + sizes.reduce(0, +) >= limit else {
                appendResponse(header: header, watchID: watchID, events: encoded[...], fragment: false)
                return
            }
            // Fill each fragment until one more event would reach the limit (a fragment always
            // holds at least one event); all but the last carry fragment=true.
            var start = 0
            while start < encoded.count {
                var end = start
                var size = base + ProtoSize.bool(7, true)
                while end < encoded.count {
                    size += sizes[end]
                    if end > start && size >= limit { break }
                    end += 1
                }
                appendResponse(header: header, watchID: watchID, events: encoded[start..<end], fragment: end < encoded.count)
                start = end
            }
        }
    }

    /// The hub has dropped the watcher; its ID stays taken on this stream (as in etcd) until the
    /// client cancels it, which then gets the usual cancel response.
    func sendCompacted(watchID: Int64, compactRevision: Int64, currentRevision: Int64) {
        lock.withLock {
            guard active.contains(watchID) else { return }
            var response = WatchResponse()
            // etcd sends this one with no revision in the header.
            var header = headers.header(revision: currentRevision)
            header.revision = 0
            response.header = header
            response.watchID = watchID
            response.compactRevision = compactRevision
            response.canceled = true
            MessageFraming.append(response.serializedBytes(), to: &pending)
        }
    }

    func sendProgress(watchID: Int64, revision: Int64) {
        lock.withLock {
            guard active.contains(watchID) else { return }
            var response = WatchResponse()
            response.header = headers.header(revision: revision)
            response.watchID = watchID
            MessageFraming.append(response.serializedBytes(), to: &pending)
        }
    }

    /// Hands the queued responses to the connection. Taking the bytes and handing them over
    /// happen under one lock: the hub's publishing and catch-up threads both flush, and a batch
    /// taken first must also reach the connection first, or a watcher moving from catch-up to
    /// live delivery would see its live events before its last caught-up ones.
    func flush() {
        lock.withLock {
            guard !pending.isEmpty else { return }
            call.sendFramed(pending)
            pending.removeAll(keepingCapacity: true)
        }
    }

    var backlogBytes: Int { call.outstandingBytes + lock.withLock { pending.count } }

    /// Why the caller may not watch the range (auth), checked when each watcher is created.
    private func permissionRefusal(key: [UInt8], rangeEnd: [UInt8]) -> GRPCStatus? {
        gate?.readRefusal(call, key: key, rangeEnd: rangeEnd)?.grpcStatus
    }

    /// Answers a create request that makes no watcher, as etcd does: created and canceled at
    /// once, with watch id -1 and the reason.
    private func refuseCreate(reason: String) {
        var response = WatchResponse()
        response.header = headers.header(revision: hub.currentRevision)
        response.watchID = -1
        response.created = true
        response.canceled = true
        response.cancelReason = reason
        enqueue(response)
    }

    private func enqueue(_ response: WatchResponse) {
        lock.withLock { MessageFraming.append(response.serializedBytes(), to: &pending) }
    }

    /// Appends a framed WatchResponse built around already-encoded events (under the lock).
    private func appendResponse(header: ResponseHeader, watchID: Int64, events: ArraySlice<[UInt8]>, fragment: Bool) {
        var writer = ProtoWriter(capacity: 64 + events.reduce(0) { $0 + $1.count + 6 })
        writer.writeMessage(1, header)
        writer.writeInt64(2, watchID)
        writer.writeBool(7, fragment)
        for event in events { writer.writeBytesAlways(11, event) }
        MessageFraming.append(writer.bytes, to: &pending)
    }
}
