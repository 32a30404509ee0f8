/// The binary encoding of the Raft types, for the peer transport and the write-ahead log.
///
/// The format is protobuf with the field numbers and enum values of etcd's `raftpb`
/// (raft.proto), so any protobuf decoder for that schema reads these bytes and we read etcd's.
/// Fields holding their default value (zero, false, empty) are left out, which keeps heartbeats
/// and acknowledgements to a few bytes. Membership is single-step only: a `ConfState` with
/// joint-consensus fields is rejected as unsupported.
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
        var writer = WireWriter()
        write(entry, to: &writer)
        return writer.bytes
    }

    public static func decodeEntry(_ bytes: [UInt8]) throws(RaftWireError) -> Entry {
        var reader = WireReader(bytes)
        return try readEntry(&reader)
    }

    /// The encoded size of `entry`, computed without encoding it.
    public static func encodedSize(of entry: Entry) -> Int {
        var size = 0
        if entry.type != .normal { size += 1 + WireWriter.varintSize(UInt64(entry.type.rawValue)) }
        if entry.term != 0 { size += 1 + WireWriter.varintSize(entry.term) }
        if entry.index != 0 { size += 1 + WireWriter.varintSize(entry.index) }
        if !entry.data.isEmpty { size += 1 + WireWriter.varintSize(UInt64(entry.data.count)) + entry.data.count }
        return size
    }

    private static func write(_ entry: Entry, to writer: inout WireWriter) {
        writer.writeUInt64(EntryField.type, UInt64(entry.type.rawValue))
        writer.writeUInt64(EntryField.term, entry.term)
        writer.writeUInt64(EntryField.index, entry.index)
        writer.writeBytes(EntryField.data, entry.data)
    }

    private static func readEntry(_ reader: inout WireReader) throws(RaftWireError) -> Entry {
        var entry = Entry()
        while let (field, type) = try reader.readTag() {
            switch field {
            case EntryField.type:
                let raw = try reader.readUInt64(field, type)
                guard raw <= UInt64(UInt8.max), let value = EntryType(rawValue: UInt8(raw)) else {
                    throw raw == 2
                        ? .unsupported("EntryConfChangeV2 (joint consensus)")
                        : .unknownEnumValue(field: field, value: raw)
                }
                entry.type = value
            case EntryField.term: entry.term = try reader.readUInt64(field, type)
            case EntryField.index: entry.index = try reader.readUInt64(field, type)
            case EntryField.data: entry.data = try reader.readBytes(field, type)
            default: try reader.skip(field, type)
            }
        }
        return entry
    }

    // MARK: HardState

    public static func encode(_ state: HardState) -> [UInt8] {
        var writer = WireWriter()
        writer.writeUInt64(HardStateField.term, state.term)
        writer.writeUInt64(HardStateField.vote, state.vote)
        writer.writeUInt64(HardStateField.commit, state.commit)
        return writer.bytes
    }

    public static func decodeHardState(_ bytes: [UInt8]) throws(RaftWireError) -> HardState {
        var reader = WireReader(bytes)
        var state = HardState()
        while let (field, type) = try reader.readTag() {
            switch field {
            case HardStateField.term: state.term = try reader.readUInt64(field, type)
            case HardStateField.vote: state.vote = try reader.readUInt64(field, type)
            case HardStateField.commit: state.commit = try reader.readUInt64(field, type)
            default: try reader.skip(field, type)
            }
        }
        return state
    }

    // MARK: ConfState

    public static func encode(_ state: ConfState) -> [UInt8] {
        var writer = WireWriter()
        write(state, to: &writer)
        return writer.bytes
    }

    public static func decodeConfState(_ bytes: [UInt8]) throws(RaftWireError) -> ConfState {
        var reader = WireReader(bytes)
        return try readConfState(&reader)
    }

    private static func write(_ state: ConfState, to writer: inout WireWriter) {
        // Unpacked, as proto2 (etcd) writes repeated scalars.
        for voter in state.voters {
            writer.writeTag(ConfStateField.voters, .varint)
            writer.writeVarint(voter)
        }
        for learner in state.learners {
            writer.writeTag(ConfStateField.learners, .varint)
            writer.writeVarint(learner)
        }
    }

    private static func readConfState(_ reader: inout WireReader) throws(RaftWireError) -> ConfState {
        var voters: [UInt64] = []
        var learners: [UInt64] = []
        var jointOnly: [UInt64] = []
        while let (field, type) = try reader.readTag() {
            switch field {
            case ConfStateField.voters: try reader.readRepeatedUInt64(field, type, into: &voters)
            case ConfStateField.learners: try reader.readRepeatedUInt64(field, type, into: &learners)
            case ConfStateField.votersOutgoing, ConfStateField.learnersNext:
                try reader.readRepeatedUInt64(field, type, into: &jointOnly)
            case ConfStateField.autoLeave:
                if try reader.readBool(field, type) { throw .unsupported("joint configuration (auto_leave)") }
            default: try reader.skip(field, type)
            }
        }
        guard jointOnly.isEmpty else { throw .unsupported("joint configuration (outgoing voters)") }
        return ConfState(voters: voters, learners: learners)
    }

    // MARK: Snapshot

    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var writer = WireWriter()
        write(snapshot, to: &writer)
        return writer.bytes
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(RaftWireError) -> Snapshot {
        var reader = WireReader(bytes)
        return try readSnapshot(&reader)
    }

    private static func write(_ snapshot: Snapshot, to writer: inout WireWriter) {
        writer.writeBytes(SnapshotField.data, snapshot.data)
        writer.writeMessage(SnapshotField.metadata) { meta in
            meta.writeMessage(MetadataField.confState) { write(snapshot.metadata.confState, to: &$0) }
            meta.writeUInt64(MetadataField.index, snapshot.metadata.index)
            meta.writeUInt64(MetadataField.term, snapshot.metadata.term)
        }
    }

    private static func readSnapshot(_ reader: inout WireReader) throws(RaftWireError) -> Snapshot {
        var snapshot = Snapshot()
        while let (field, type) = try reader.readTag() {
            switch field {
            case SnapshotField.data:
                snapshot.data = try reader.readBytes(field, type)
            case SnapshotField.metadata:
                var meta = try reader.nested(field, type)
                while let (metaField, metaType) = try meta.readTag() {
                    switch metaField {
                    case MetadataField.confState:
                        var nested = try meta.nested(metaField, metaType)
                        snapshot.metadata.confState = try readConfState(&nested)
                    case MetadataField.index: snapshot.metadata.index = try meta.readUInt64(metaField, metaType)
                    case MetadataField.term: snapshot.metadata.term = try meta.readUInt64(metaField, metaType)
                    default: try meta.skip(metaField, metaType)
                    }
                }
            default:
                try reader.skip(field, type)
            }
        }
        return snapshot
    }

    // MARK: ConfChange

    public static func encode(_ change: ConfChange) -> [UInt8] {
        var writer = WireWriter()
        writer.writeUInt64(ConfChangeField.id, change.id)
        writer.writeUInt64(ConfChangeField.type, UInt64(change.type.rawValue))
        writer.writeUInt64(ConfChangeField.nodeID, change.nodeID)
        writer.writeBytes(ConfChangeField.context, change.context)
        return writer.bytes
    }

    public static func decodeConfChange(_ bytes: [UInt8]) throws(RaftWireError) -> ConfChange {
        var reader = WireReader(bytes)
        var change = ConfChange(type: .addNode, nodeID: noNode)
        while let (field, type) = try reader.readTag() {
            switch field {
            case ConfChangeField.id: change.id = try reader.readUInt64(field, type)
            case ConfChangeField.type:
                let raw = try reader.readUInt64(field, type)
                guard raw <= UInt64(UInt8.max), let value = ConfChangeType(rawValue: UInt8(raw)) else {
                    throw .unknownEnumValue(field: field, value: raw)
                }
                change.type = value
            case ConfChangeField.nodeID: change.nodeID = try reader.readUInt64(field, type)
            case ConfChangeField.context: change.context = try reader.readBytes(field, type)
            default: try reader.skip(field, type)
            }
        }
        return change
    }

    // MARK: Message

    public static func encode(_ message: Message) -> [UInt8] {
        var writer = WireWriter()
        writer.writeUInt64(MessageField.type, UInt64(message.type.rawValue))
        writer.writeUInt64(MessageField.to, message.to)
        writer.writeUInt64(MessageField.from, message.from)
        writer.writeUInt64(MessageField.term, message.term)
        writer.writeUInt64(MessageField.logTerm, message.logTerm)
        writer.writeUInt64(MessageField.index, message.index)
        for entry in message.entries {
            writer.writeMessage(MessageField.entries) { write(entry, to: &$0) }
        }
        writer.writeUInt64(MessageField.commit, message.commit)
        if let snapshot = message.snapshot {
            writer.writeMessage(MessageField.snapshot) { write(snapshot, to: &$0) }
        }
        writer.writeBool(MessageField.reject, message.reject)
        writer.writeUInt64(MessageField.rejectHint, message.rejectHint)
        writer.writeBytes(MessageField.context, message.context)
        return writer.bytes
    }

    public static func decodeMessage(_ bytes: [UInt8]) throws(RaftWireError) -> Message {
        var reader = WireReader(bytes)
        var message = Message(type: .hup)
        while let (field, type) = try reader.readTag() {
            switch field {
            case MessageField.type:
                let raw = try reader.readUInt64(field, type)
                guard raw <= UInt64(UInt8.max), let value = MessageType(rawValue: UInt8(raw)) else {
                    throw .unknownEnumValue(field: field, value: raw)
                }
                message.type = value
            case MessageField.to: message.to = try reader.readUInt64(field, type)
            case MessageField.from: message.from = try reader.readUInt64(field, type)
            case MessageField.term: message.term = try reader.readUInt64(field, type)
            case MessageField.logTerm: message.logTerm = try reader.readUInt64(field, type)
            case MessageField.index: message.index = try reader.readUInt64(field, type)
            case MessageField.entries:
                var nested = try reader.nested(field, type)
                message.entries.append(try readEntry(&nested))
            case MessageField.commit: message.commit = try reader.readUInt64(field, type)
            case MessageField.snapshot:
                var nested = try reader.nested(field, type)
                message.snapshot = try readSnapshot(&nested)
            case MessageField.reject: message.reject = try reader.readBool(field, type)
            case MessageField.rejectHint: message.rejectHint = try reader.readUInt64(field, type)
            case MessageField.context: message.context = try reader.readBytes(field, type)
            default: try reader.skip(field, type)
            }
        }
        return message
    }
}
