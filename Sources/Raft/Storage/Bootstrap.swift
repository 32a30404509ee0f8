/// How a brand-new group starts: its initial membership is written into the log itself, as one
/// committed `addNode` change per voter at term 1 (what etcd writes when it bootstraps a
/// cluster). Every founding member writes the same entries, so their logs agree from the start,
/// and a member that joins later learns the founders by replaying the log like everything else.
///
/// A membership carried only in storage's `ConfState` would not do: a member that joins later
/// and is caught up from the log (not a snapshot) would never hear of the founders.
public enum RaftBootstrap {
    /// The entries and hard state a founding member persists before its first start. The
    /// storage's own `ConfState` stays empty; the membership appears when the application
    /// applies these entries (they come back as committed entries in the first `Ready`).
    /// `contexts`, if given, holds one `ConfChange.context` per voter (etcd: the member record).
    public static func initialLog(voters: [NodeID], contexts: [[UInt8]]? = nil) -> (entries: [Entry], hardState: HardState) {
        precondition(!voters.isEmpty, "a group needs at least one voter")
        precondition(contexts == nil || contexts!.count == voters.count, "one context per voter")
        var entries: [Entry] = []
        for (position, voter) in voters.enumerated() {
            let change = ConfChange(type: .addNode, nodeID: voter, context: contexts?[position] ?? [])
            entries.append(Entry(term: 1, index: UInt64(position + 1), type: .confChange, data: RaftWire.encode(change)))
        }
        return (entries, HardState(term: 1, vote: noNode, commit: UInt64(entries.count)))
    }
}

extension MemoryStorage {
    /// Storage for a founding member of a new group with these voters (see `RaftBootstrap`).
    public static func bootstrapped(voters: [NodeID]) -> MemoryStorage {
        let storage = MemoryStorage()
        let (entries, hardState) = RaftBootstrap.initialLog(voters: voters)
        storage.append(entries)
        storage.setHardState(hardState)
        return storage
    }
}
