import ProtoWire

/// The binary encoding of the Raft types, for the peer transport and the write-ahead log.
///
/// The format is protobuf with the field numbers and enum values of etcd's `raftpb`
/// (raft.proto), so any protobuf decoder for that schema reads these bytes and we read etcd's.
/// Fields holding their default value (zero, false, empty) are left out, which keeps heartbeats
/// and acknowledgements to a few bytes. Membership is single-step only: a `ConfState` with
/// joint-consensus fields is rejected as unsupported. Reading and writing the wire format is
/// ProtoWire's, shared with the etcd API codecs.
public enum RaftWire {
    // Field numbers, from raft.proto.
    private enum EntryField { static let type = 1, term = 2, index = 3, data = 4 }
    private enum MessageField {
        static let type = 1, to = 2, from = 3, term = 4, logTerm = 5, index = 6, entries = 7
        static let commit = 8, snapshot = 9, reject = 10, rejectHint = 11, context = 12
    }
    private enum SnapshotField { static let data = 1, metadata = 2 }
    private enum MetadataField { static let confState = 1, index = 2, term = 3 }
    private enum ConfStateField { static let voters = 1, learners = 2, votersOutgoing = 3, learnersNext = 4, autoLeave = 5 }
    private enum HardStateField { static let term = 1, vote = 2, commit = 3 }
    private enum ConfChangeField { static let id = 1, type = 2, nodeID = 3, context = 4 }

    // MARK: Entry

    public static func encode(_ entry: Entry) -> [UInt8] {
        entry.serializedBytes()
    }

    public static func decodeEntry(_ bytes: [UInt8]) throws(ProtoDecodingError) -> Entry {
        try Entry(serializedBytes: bytes)
    }

    /// The encoded size of `entry`, computed without encoding it.
    public static func encodedSize(of entry: Entry) -> Int {
        ProtoSize.uint64(EntryField.type, UInt64(entry.type.rawValue))
            + ProtoSize.uint64(EntryField.term, entry.term)
            + ProtoSize.uint64(EntryField.index, entry.index)
            + ProtoSize.bytes(EntryField.data, entry.data)
    }

    fileprivate static func write(_ entry: Entry, to writer: inout ProtoWriter) {
        writer.writeUInt64(EntryField.type, UInt64(entry.type.rawValue))
        writer.writeUInt64(EntryField.term, entry.term)
        writer.writeUInt64(EntryField.index, entry.index)
        writer.writeBytes(EntryField.data, entry.data)
    }

    fileprivate static func decodeField(
        _ field: Int, _ type: WireType, _ reader: inout ProtoReader, into entry: inout Entry
    ) throws(ProtoDecodingError) -> Bool {
        switch field {
        case EntryField.type:
            let raw = try reader.readUInt64(type, field: field)
            guard raw <= UInt64(UInt8.max), let value = EntryType(rawValue: UInt8(raw)) else {
                throw raw == 2
                    ? .unsupported("EntryConfChangeV2 (joint consensus)")
                    : .unknownEnumValue(field: field, value: raw)
            }
            entry.type = value
        case EntryField.term: entry.term = try reader.readUInt64(type, field: field)
        case EntryField.index: entry.index = try reader.readUInt64(type, field: field)
        case EntryField.data: entry.data = try reader.readBytes(type, field: field)
        default: return false
        }
        return true
    }

    // MARK: HardState

    public static func encode(_ state: HardState) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeUInt64(HardStateField.term, state.term)
        writer.writeUInt64(HardStateField.vote, state.vote)
        writer.writeUInt64(HardStateField.commit, state.commit)
        return writer.bytes
    }

    public static func decodeHardState(_ bytes: [UInt8]) throws(ProtoDecodingError) -> HardState {
        try ProtoReader.reading(bytes, readHardState)
    }

    private static func readHardState(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> HardState {
        var state = HardState()
        while let (field, type) = try reader.readTag() {
            switch field {
            case HardStateField.term: state.term = try reader.readUInt64(type, field: field)
            case HardStateField.vote: state.vote = try reader.readUInt64(type, field: field)
            case HardStateField.commit: state.commit = try reader.readUInt64(type, field: field)
            default: try reader.skip(type, field: field)
            }
        }
        return state
    }

    // MARK: ConfState

    public static func encode(_ state: ConfState) -> [UInt8] {
        var writer = ProtoWriter()
        write(state, to: &writer)
        return writer.bytes
    }

    public static func decodeConfState(_ bytes: [UInt8]) throws(ProtoDecodingError) -> ConfState {
        try ProtoReader.reading(bytes, readConfState)
    }

    private static func write(_ state: ConfState, to writer: inout ProtoWriter) {
        // Unpacked, as proto2 (etcd) writes repeated scalars.
        for voter in state.voters { writer.writeUInt64Always(ConfStateField.voters, voter) }
        for learner in state.learners { writer.writeUInt64Always(ConfStateField.learners, learner) }
    }

    private static func readConfState(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> ConfState {
        var voters: [UInt64] = []
        var learners: [UInt64] = []
        var jointOnly: [UInt64] = []
        while let (field, type) = try reader.readTag() {
            switch field {
            case ConfStateField.voters: try reader.readPackedVarints(type, field: field, into: &voters)
            case ConfStateField.learners: try reader.readPackedVarints(type, field: field, into: &learners)
            case ConfStateField.votersOutgoing, ConfStateField.learnersNext:
                try reader.readPackedVarints(type, field: field, into: &jointOnly)
            case ConfStateField.autoLeave:
                if try reader.readBool(type, field: field) { throw .unsupported("joint configuration (auto_leave)") }
            default: try reader.skip(type, field: field)
            }
        }
        guard jointOnly.isEmpty else { throw .unsupported("joint configuration (outgoing voters)") }
        return ConfState(voters: voters, learners: learners)
    }

    // MARK: Snapshot

    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var writer = ProtoWriter()
        write(snapshot, to: &writer)
        return writer.bytes
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(ProtoDecodingError) -> Snapshot {
        try ProtoReader.reading(bytes, readSnapshot)
    }

    private static func write(_ snapshot: Snapshot, to writer: inout ProtoWriter) {
        writer.writeBytes(SnapshotField.data, snapshot.data)
        writer.writeNested(SnapshotField.metadata) { meta in
            meta.writeNested(MetadataField.confState) { write(snapshot.metadata.confState, to: &$0) }
            meta.writeUInt64(MetadataField.index, snapshot.metadata.index)
            meta.writeUInt64(MetadataField.term, snapshot.metadata.term)
        }
    }

    private static func readSnapshot(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Snapshot {
        var snapshot = Snapshot()
        while let (field, type) = try reader.readTag() {
            switch field {
            case SnapshotField.data:
                snapshot.data = try reader.readBytes(type, field: field)
            case SnapshotField.metadata:
                snapshot.metadata = try reader.readNested(type, field: field, readMetadata)
            default:
                try reader.skip(type, field: field)
            }
        }
        return snapshot
    }

    private static func readMetadata(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> SnapshotMetadata {
        var metadata = SnapshotMetadata()
        while let (field, type) = try reader.readTag() {
            switch field {
            case MetadataField.confState: metadata.confState = try reader.readNested(type, field: field, readConfState)
            case MetadataField.index: metadata.index = try reader.readUInt64(type, field: field)
            case MetadataField.term: metadata.term = try reader.readUInt64(type, field: field)
            default: try reader.skip(type, field: field)
            }
        }
        return metadata
    }

    // MARK: ConfChange

    public static func encode(_ change: ConfChange) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeUInt64(ConfChangeField.id, change.id)
        writer.writeUInt64(ConfChangeField.type, UInt64(change.type.rawValue))
        writer.writeUInt64(ConfChangeField.nodeID, change.nodeID)
        writer.writeBytes(ConfChangeField.context, change.context)
        return writer.bytes
    }

    public static func decodeConfChange(_ bytes: [UInt8]) throws(ProtoDecodingError) -> ConfChange {
        try ProtoReader.reading(bytes, readConfChange)
    }

    private static func readConfChange(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> ConfChange {
        var change = ConfChange(type: .addNode, nodeID: noNode)
        while let (field, type) = try reader.readTag() {
            switch field {
            case ConfChangeField.id: change.id = try reader.readUInt64(type, field: field)
            case ConfChangeField.type:
                let raw = try reader.readUInt64(type, field: field)
                guard raw <= UInt64(UInt8.max), let value = ConfChangeType(rawValue: UInt8(raw)) else {
                    throw .unknownEnumValue(field: field, value: raw)
                }
                change.type = value
            case ConfChangeField.nodeID: change.nodeID = try reader.readUInt64(type, field: field)
            case ConfChangeField.context: change.context = try reader.readBytes(type, field: field)
            default: try reader.skip(type, field: field)
            }
        }
        return change
    }

    // MARK: Message

    public static func encode(_ message: Message) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeUInt64(MessageField.type, UInt64(message.type.rawValue))
        writer.writeUInt64(MessageField.to, message.to)
        writer.writeUInt64(MessageField.from, message.from)
        writer.writeUInt64(MessageField.term, message.term)
        writer.writeUInt64(MessageField.logTerm, message.logTerm)
        writer.writeUInt64(MessageField.index, message.index)
        writer.writeMessages(MessageField.entries, message.entries)
        writer.writeUInt64(MessageField.commit, message.commit)
        if let snapshot = message.snapshot {
            writer.writeNested(MessageField.snapshot) { write(snapshot, to: &$0) }
        }
        writer.writeBool(MessageField.reject, message.reject)
        writer.writeUInt64(MessageField.rejectHint, message.rejectHint)
        writer.writeBytes(MessageField.context, message.context)
        return writer.bytes
    }

    public static func decodeMessage(_ bytes: [UInt8]) throws(ProtoDecodingError) -> Message {
        try ProtoReader.reading(bytes, readMessage)
    }

    private static func readMessage(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Message {
        var message = Message(type: .hup)
        while let (field, type) = try reader.readTag() {
            switch field {
            case MessageField.type:
                let raw = try reader.readUInt64(type, field: field)
                guard raw <= UInt64(UInt8.max), let value = MessageType(rawValue: UInt8(raw)) else {
                    throw .unknownEnumValue(field: field, value: raw)
                }
                message.type = value
            case MessageField.to: message.to = try reader.readUInt64(type, field: field)
            case MessageField.from: message.from = try reader.readUInt64(type, field: field)
            case MessageField.term: message.term = try reader.readUInt64(type, field: field)
            case MessageField.logTerm: message.logTerm = try reader.readUInt64(type, field: field)
            case MessageField.index: message.index = try reader.readUInt64(type, field: field)
            case MessageField.entries:
                message.entries.append(try reader.readMessage(type, field: field, as: Entry.self))
            case MessageField.commit: message.commit = try reader.readUInt64(type, field: field)
            case MessageField.snapshot:
                message.snapshot = try reader.readNested(type, field: field, readSnapshot)
            case MessageField.reject: message.reject = try reader.readBool(type, field: field)
            case MessageField.rejectHint: message.rejectHint = try reader.readUInt64(type, field: field)
            case MessageField.context: message.context = try reader.readBytes(type, field: field)
            default: try reader.skip(type, field: field)
            }
        }
        return message
    }
}

/// Entries travel inside every append message and are written to the log one by one, so they
/// use ProtoWire's message path: sized without encoding, written without a scratch copy.
extension Entry: ProtoMessage {
    public init() {
        self.init(term: 0)
    }

    public var serializedSize: Int { RaftWire.encodedSize(of: self) }

    public func encode(to writer: inout ProtoWriter) {
        RaftWire.write(self, to: &writer)
    }

    public mutating func decodeField(
        _ field: Int, _ wireType: WireType, _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> Bool {
        try RaftWire.decodeField(field, wireType, &reader, into: &self)
    }
}
