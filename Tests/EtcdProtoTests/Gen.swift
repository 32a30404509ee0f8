import EtcdProto
import ProtoWire

/// A seeded source of random message contents (SplitMix64). The same seed gives the same values on
/// every platform, so a failing seed printed by a test reproduces the failure.
struct Gen {
    private var state: UInt64
    /// Nesting level of the message being generated; keeps recursive types (TxnRequest) finite.
    private(set) var depth = 0
    static let maximumDepth = 4

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % width)
    }

    /// True with probability 1/n.
    mutating func oneIn(_ n: Int) -> Bool { next() % UInt64(n) == 0 }

    mutating func pick<T>(_ choices: [T]) -> T { choices[int(0...(choices.count - 1))] }

    // MARK: scalars; each is the default now and then, and otherwise spread over every varint length

    mutating func uint64() -> UInt64 {
        switch int(0...9) {
        case 0, 1: return 0
        case 2: return pick([1, 127, 128, 16383, 16384, UInt64(UInt32.max), 1 << 63, UInt64.max])
        default: return next() >> UInt64(int(0...63))
        }
    }

    mutating func int64() -> Int64 {
        switch int(0...9) {
        case 0, 1: return 0
        case 2: return pick([1, -1, Int64.max, Int64.min, Int64(Int32.min), -128, 300])
        default:
            let magnitude = Int64(bitPattern: next() >> UInt64(int(1...63)))
            return oneIn(3) ? -magnitude : magnitude
        }
    }

    mutating func uint32() -> UInt32 { UInt32(truncatingIfNeeded: uint64()) }

    mutating func bool() -> Bool { next() & 1 == 1 }

    /// A raw enum value: mostly one of the `known` cases, sometimes a value the schema does not
    /// define (open enums keep those), negative ones included.
    mutating func enumRaw(known: Int32) -> Int32 {
        switch int(0...9) {
        case 0: return pick([-1, known, 1000, Int32.max, Int32.min])
        default: return Int32(int(0...Int(known - 1)))
        }
    }

    mutating func bytes() -> [UInt8] {
        let count: Int
        switch int(0...9) {
        case 0, 1: count = 0
        case 2: count = int(128...400)  // two-byte length prefix
        default: count = int(1...24)
        }
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// A string drawn from several scripts: one-, two-, three- and four-byte UTF-8, combining marks.
    /// Never contains U+0000: protobuf-c keeps strings NUL-terminated and would cut them there.
    mutating func string() -> String {
        let count = int(0...9) < 2 ? 0 : int(1...16)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<count {
            let range: ClosedRange<UInt32> = pick([
                0x20...0x7E, 0x01...0x1F, 0xA0...0x24F, 0x300...0x36F, 0x400...0x4FF,
                0x4E00...0x9FFF, 0xE000...0xF8FF, 0x1F300...0x1FAFF, 0x10000...0x10FFFF,
            ])
            let value = range.lowerBound + UInt32(next() % UInt64(range.count))
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    // MARK: structure

    mutating func array<T>(max: Int = 4, _ element: (inout Gen) -> T) -> [T] {
        let count = int(0...max)
        var result: [T] = []
        for _ in 0..<count { result.append(element(&self)) }
        return result
    }

    mutating func strings() -> [String] { array { $0.string() } }

    /// A nested message, or nil (absent) now and then and always beyond the maximum depth.
    mutating func message<M: Arbitrary>(_ type: M.Type = M.self) -> M? {
        guard depth < Gen.maximumDepth, !oneIn(5) else { return nil }
        return nested(M.self)
    }

    /// A nested message that is always present (repeated elements, oneof members).
    mutating func nested<M: Arbitrary>(_ type: M.Type = M.self) -> M {
        depth += 1
        defer { depth -= 1 }
        return M.arbitrary(&self)
    }

    /// Repeated message elements; none beyond the maximum depth.
    mutating func messages<M: Arbitrary>(_ type: M.Type = M.self, max: Int = 3) -> [M] {
        guard depth < Gen.maximumDepth else { return [] }
        return array(max: max) { $0.nested(M.self) }
    }
}

/// A message type the tests can fill with random contents.
protocol Arbitrary: ProtoMessage {
    static func arbitrary(_ g: inout Gen) -> Self
}

extension Arbitrary where Self: EmptyMessage {
    static func arbitrary(_ g: inout Gen) -> Self { Self() }
}

extension Arbitrary where Self: HeaderOnlyResponse {
    static func arbitrary(_ g: inout Gen) -> Self { Self(header: g.message()) }
}

extension Arbitrary where Self: MembersResponse {
    static func arbitrary(_ g: inout Gen) -> Self { Self(header: g.message(), members: g.messages()) }
}
