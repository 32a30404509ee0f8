import EtcdProto
import MVCC
import ProtoWire

/// One change as watchers see it, with its mvccpb.Event encoding computed once however many
/// watchers receive it.
public final class WatchEvent: @unchecked Sendable {
    public let kind: Change.Kind
    public let kv: KeyValue
    /// The key's value before the change (for prev_kv); nil if it did not exist.
    public let previous: KeyValue?
    public var revision: Int64 { kv.modRevision }

    private var encoded: [UInt8]?
    private var encodedWithPrevious: [UInt8]?

    public init(kind: Change.Kind, kv: KeyValue, previous: KeyValue?) {
        self.kind = kind
        self.kv = kv
        self.previous = previous
    }

    convenience init(_ change: Change) {
        self.init(kind: change.kind, kv: change.kv, previous: change.previous)
    }

    /// The encoded mvccpb.Event. Callers serialize access (the hub's lock, or one thread).
    public func encodedEvent(withPrevious: Bool) -> [UInt8] {
        if withPrevious, let cached = encodedWithPrevious { return cached }
        if !withPrevious, let cached = encoded { return cached }
        let event = Event(type: kind == .put ? .put : .delete, kv: kv, prevKV: withPrevious ? previous : nil)
        let bytes = event.serializedBytes()
        if withPrevious { encodedWithPrevious = bytes } else { encoded = bytes }
        return bytes
    }
}

/// What a watcher asked for.
public struct WatchSpec: Sendable {
    public var range: KeyRange
    /// First revision to deliver; 0 means the next one.
    public var startRevision: Int64
    public var prevKV: Bool
    public var filterPuts: Bool
    public var filterDeletes: Bool
    public var fragment: Bool
    public var progressNotify: Bool

    public init(range: KeyRange, startRevision: Int64 = 0, prevKV: Bool = false, filterPuts: Bool = false,
                filterDeletes: Bool = false, fragment: Bool = false, progressNotify: Bool = false) {
        self.range = range
        self.startRevision = startRevision
        self.prevKV = prevKV
        self.filterPuts = filterPuts
        self.filterDeletes = filterDeletes
        self.fragment = fragment
        self.progressNotify = progressNotify
    }

    func wants(_ event: WatchEvent) -> Bool {
        if event.kind == .put && filterPuts { return false }
        if event.kind == .delete && filterDeletes { return false }
        return range.contains(event.kv.key)
    }
}

/// Where a watcher's responses go: a Watch stream. The hub calls `send*` for many watchers and
/// then `flush` once, so a sink can batch its output.
public protocol WatchSink: AnyObject, Sendable {
    /// Events for one watcher, in revision order; `revision` goes in the response header.
    func send(events: [WatchEvent], to watchID: Int64, revision: Int64, spec: WatchSpec)
    /// The watcher's start revision is older than the last compaction; the hub dropped it.
    func sendCompacted(watchID: Int64, compactRevision: Int64, currentRevision: Int64)
    /// A periodic progress notification for a watcher with nothing to send.
    func sendProgress(watchID: Int64, revision: Int64)
    func flush()
    /// Bytes sent but not yet on the wire; above the hub's limit the sink's watchers stop
    /// getting live events and catch up from the store later.
    var backlogBytes: Int { get }
}
