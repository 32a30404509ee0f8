/// Human-readable forms of the core's values, for logs and the scenario tests' golden output.

extension Entry: CustomStringConvertible {
    /// `term/index type data`, e.g. `2/7 normal "put x"` or `1/3 confChange addNode(4)`.
    public var description: String {
        switch type {
        case .normal:
            return "\(term)/\(index) normal \(describeBytes(data))"
        case .confChange:
            if let change = try? RaftWire.decodeConfChange(data) {
                return "\(term)/\(index) confChange \(change)"
            }
            return "\(term)/\(index) confChange <undecodable \(data.count) bytes>"
        }
    }
}

extension Message: CustomStringConvertible {
    /// `from->to Type term=T` followed by the fields that type uses.
    public var description: String {
        var text = "\(from)->\(to) \(type)"
        if term != 0 { text += " term=\(term)" }
        switch type {
        case .append:
            text += " log=\(logTerm)/\(index) commit=\(commit)"
            if !entries.isEmpty { text += " entries=[\(entries.map(\.description).joined(separator: ", "))]" }
        case .appendResponse:
            text += reject ? " rejected index=\(index) hint=\(rejectHint)/\(logTerm)" : " index=\(index)"
        case .vote, .preVote:
            text += " log=\(logTerm)/\(index)"
            if !context.isEmpty { text += " context=\(describeBytes(context))" }
        case .voteResponse, .preVoteResponse:
            if reject { text += " rejected" }
        case .heartbeat:
            text += " commit=\(commit)"
            if !context.isEmpty { text += " context=\(describeBytes(context))" }
        case .heartbeatResponse:
            if !context.isEmpty { text += " context=\(describeBytes(context))" }
        case .snapshot:
            if let snapshot { text += " snapshot=[\(snapshot)]" }
        case .propose:
            text += " entries=[\(entries.map(\.description).joined(separator: ", "))]"
        case .readIndex:
            if let context = entries.first?.data { text += " context=\(describeBytes(context))" }
        case .readIndexResponse:
            text += " index=\(index)"
            if let context = entries.first?.data { text += " context=\(describeBytes(context))" }
        case .snapshotStatus:
            text += reject ? " failed" : " finished"
        case .hup, .beat, .unreachable, .checkQuorum, .transferLeader, .timeoutNow:
            break
        }
        return text
    }
}

extension Ready: CustomStringConvertible {
    /// One item per line, sections in the order the caller handles them.
    public var description: String {
        var lines = ["Ready mustSync=\(mustSync):"]
        if let softState { lines.append(softState.description) }
        if let hardState { lines.append("HardState \(hardState)") }
        if let snapshot { lines.append("Snapshot \(snapshot)") }
        if !entries.isEmpty {
            lines.append("Entries:")
            lines += entries.map(\.description)
        }
        if !committedEntries.isEmpty {
            lines.append("CommittedEntries:")
            lines += committedEntries.map(\.description)
        }
        if !messages.isEmpty {
            lines.append("Messages:")
            lines += messages.map(\.description)
        }
        if !readStates.isEmpty {
            lines.append("ReadStates:")
            lines += readStates.map { "index=\($0.index) context=\(describeBytes($0.requestContext))" }
        }
        return lines.joined(separator: "\n")
    }
}

/// Printable ASCII as a quoted string, anything else as hex.
func describeBytes(_ bytes: [UInt8]) -> String {
    if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) {
        return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
    }
    let digits = Array("0123456789abcdef")
    return "0x" + String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
}
