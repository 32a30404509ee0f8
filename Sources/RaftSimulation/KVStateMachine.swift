import Raft

/// A command in a log entry of the simulated key-value service.
public struct KVCommand: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// Set `key` to `value`.
        case put = 1
        /// No effect on the store; the liveness check proposes these to see the log move.
        case marker = 2
    }

    public var kind: Kind
    public var clientID: UInt64
    /// Per client, increasing: the state machine applies each (client, sequence) at most once,
    /// however often the proposal reached the log (the network duplicates forwarded proposals).
    public var sequence: UInt64
    public var key: UInt64
    public var value: UInt64

    public init(kind: Kind, clientID: UInt64, sequence: UInt64, key: UInt64 = 0, value: UInt64 = 0) {
        self.kind = kind
        self.clientID = clientID
        self.sequence = sequence
        self.key = key
        self.value = value
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [kind.rawValue]
        for field in [clientID, sequence, key, value] {
            appendLittleEndian(field, to: &bytes)
        }
        return bytes
    }

    public init?(decoding bytes: [UInt8]) {
        guard bytes.count == 33, let kind = Kind(rawValue: bytes[0]) else { return nil }
        self.kind = kind
        clientID = readLittleEndian(bytes, at: 1)
        sequence = readLittleEndian(bytes, at: 9)
        key = readLittleEndian(bytes, at: 17)
        value = readLittleEndian(bytes, at: 25)
    }
}

/// The replicated state: a map from keys to values plus the per-client deduplication table.
/// Deterministic, and encoded canonically so two members' snapshots at one index compare equal.
public struct KVStateMachine: Hashable, Sendable {
    public private(set) var values: [UInt64: UInt64] = [:]
    private var lastSequence: [UInt64: UInt64] = [:]

    public init() {}

    /// Applies a command; returns false if it was a duplicate (already applied).
    @discardableResult
    public mutating func apply(_ command: KVCommand) -> Bool {
        if let last = lastSequence[command.clientID], command.sequence <= last { return false }
        lastSequence[command.clientID] = command.sequence
        if command.kind == .put {
            values[command.key] = command.value
        }
        return true
    }

    public func value(of key: UInt64) -> UInt64? { values[key] }

    public func snapshotData() -> [UInt8] {
        var bytes: [UInt8] = []
        appendLittleEndian(UInt64(values.count), to: &bytes)
        for key in values.keys.sorted() {
            appendLittleEndian(key, to: &bytes)
            appendLittleEndian(values[key]!, to: &bytes)
        }
        appendLittleEndian(UInt64(lastSequence.count), to: &bytes)
        for client in lastSequence.keys.sorted() {
            appendLittleEndian(client, to: &bytes)
            appendLittleEndian(lastSequence[client]!, to: &bytes)
        }
        return bytes
    }

    public init(snapshotData bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var position = 0
        func next() -> UInt64 {
            defer { position += 8 }
            return readLittleEndian(bytes, at: position)
        }
        for _ in 0..<next() {
            let key = next()
            values[key] = next()
        }
        for _ in 0..<next() {
            let client = next()
            lastSequence[client] = next()
        }
    }
}

func appendLittleEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 64, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
}

func readLittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<8 {
        value |= UInt64(bytes[offset + i]) << UInt64(8 * i)
    }
    return value
}

/// FNV-1a, for cheap content fingerprints in the checkers (not for security).
func fingerprint(_ bytes: [UInt8], seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
    var hash = seed
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01B3
    }
    return hash
}

func fingerprint(_ entry: Entry) -> UInt64 {
    fingerprint(entry.data, seed: 0xCBF2_9CE4_8422_2325 ^ UInt64(entry.type.rawValue))
}
