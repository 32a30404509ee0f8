import Testing
@testable import Raft

/// The five properties Raft guarantees at all times (the paper's Figure 3), each checked after
/// every step of randomized runs: arbitrary message reordering, loss and duplication, ticks at
/// random, proposals anywhere, crashes and restarts. Targeted cases for the mechanisms behind
/// each property are in PaperTests.
@Suite("Figure 3 properties")
struct SafetyPropertyTests {
    static let seeds: [UInt64] = Array(1...40)
    static let steps = 1500

    private func runs(preVote: Bool = false, _ body: (ChaosCluster) -> Void) {
        for seed in SafetyPropertyTests.seeds {
            for size in [3, 5] {
                let cluster = ChaosCluster(size: size, seed: seed * 31 + UInt64(size), preVote: preVote && seed % 2 == 0)
                for _ in 0..<SafetyPropertyTests.steps {
                    cluster.step()
                    body(cluster)
                }
            }
        }
    }

    @Test("Election Safety (§5.2): at most one leader can be elected in a given term")
    func electionSafety() {
        runs(preVote: true) { cluster in
            var leaders: [UInt64: NodeID] = [:]
            for id in cluster.liveIDs where cluster.nodes[id]!.role == .leader {
                let term = cluster.nodes[id]!.term
                #expect(leaders[term] == nil || leaders[term] == id, "two leaders in term \(term)")
                leaders[term] = id
            }
        }
    }

    @Test("Leader Append-Only (§5.3): a leader never overwrites or deletes entries in its log; it only appends")
    func leaderAppendOnly() {
        for seed in SafetyPropertyTests.seeds {
            let cluster = ChaosCluster(size: 3, seed: seed)
            // Per member: the term it leads and its log when last seen leading.
            var lastSeen: [NodeID: (term: UInt64, log: [Entry])] = [:]
            for _ in 0..<SafetyPropertyTests.steps {
                cluster.step()
                for id in cluster.ids {
                    guard let node = cluster.nodes[id], node.role == .leader else {
                        lastSeen[id] = nil
                        continue
                    }
                    let log = cluster.log(of: id)
                    if let previous = lastSeen[id], previous.term == node.term {
                        #expect(Array(log.prefix(previous.log.count)) == previous.log, "leader \(id) rewrote its log in term \(node.term)")
                    }
                    lastSeen[id] = (node.term, log)
                }
            }
        }
    }

    @Test("Log Matching (§5.3): if two logs contain an entry with the same index and term, the logs are identical up to it")
    func logMatching() {
        runs { cluster in
            let logs = cluster.ids.map { cluster.log(of: $0) }
            for a in 0..<logs.count {
                for b in (a + 1)..<logs.count {
                    let common = min(logs[a].count, logs[b].count)
                    // The last index where both agree on the term: everything before must match.
                    guard let last = (0..<common).last(where: { logs[a][$0].term == logs[b][$0].term }) else { continue }
                    #expect(Array(logs[a][...last]) == Array(logs[b][...last]), "members \(a + 1) and \(b + 1) diverge before index \(last + 1)")
                }
            }
        }
    }

    @Test("Leader Completeness (§5.4): an entry committed in a term is in the log of every leader of a later term")
    func leaderCompleteness() {
        for seed in SafetyPropertyTests.seeds {
            for size in [3, 5] {
                let cluster = ChaosCluster(size: size, seed: seed &* 7 + UInt64(size))
                // index -> (entry, the term in which we first saw it committed)
                var committed: [UInt64: (entry: Entry, term: UInt64)] = [:]
                for _ in 0..<SafetyPropertyTests.steps {
                    cluster.step()
                    for id in cluster.liveIDs {
                        let node = cluster.nodes[id]!
                        for entry in cluster.log(of: id) where entry.index <= node.commitIndex && committed[entry.index] == nil {
                            committed[entry.index] = (entry, node.term)
                        }
                    }
                    for id in cluster.liveIDs where cluster.nodes[id]!.role == .leader {
                        let node = cluster.nodes[id]!
                        let log = cluster.log(of: id)
                        for (index, fact) in committed where fact.term < node.term {
                            let position = Int(index) - 1
                            #expect(position < log.count && log[position] == fact.entry, "leader \(id) of term \(node.term) lacks committed entry \(index)")
                        }
                    }
                }
            }
        }
    }

    @Test("State Machine Safety (§5.4.3): no two members ever apply different entries at the same index")
    func stateMachineSafety() {
        runs(preVote: true) { cluster in
            var appliedAt: [UInt64: Entry] = [:]
            for id in cluster.ids {
                for entry in cluster.applied[id] ?? [] {
                    if let other = appliedAt[entry.index] {
                        #expect(other == entry, "index \(entry.index) applied differently")
                    } else {
                        appliedAt[entry.index] = entry
                    }
                }
            }
        }
    }

    @Test("The randomized runs make progress (so the properties above are not checked vacuously)")
    func runsMakeProgress() {
        var totalApplied = 0
        var leaders = 0
        for seed in SafetyPropertyTests.seeds.prefix(10) {
            let cluster = ChaosCluster(size: 3, seed: seed)
            var terms = Set<UInt64>()
            for _ in 0..<SafetyPropertyTests.steps {
                cluster.step()
                for id in cluster.liveIDs where cluster.nodes[id]!.role == .leader { terms.insert(cluster.nodes[id]!.term) }
            }
            leaders += terms.count
            totalApplied += cluster.ids.map { cluster.applied[$0]?.count ?? 0 }.max() ?? 0
        }
        #expect(leaders >= 20)
        #expect(totalApplied >= 100)
    }
}
