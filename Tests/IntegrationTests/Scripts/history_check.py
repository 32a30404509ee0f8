#!/usr/bin/env python3
"""history_check.py HISTORY.jsonl [--no-prune] [--budget N] - check a history recorded by
Scripts/history (one JSON object a line: client, op "put"|"get", key, value, call, return,
status "ok"|"unknown"|"failed") for linearizability against a register per key.

Independent of the Swift checker (Sources/RaftSimulation/Linearizability.swift) but the same
algorithm: Wing & Gong's search with Lowe's memoization over (linearized set, state). Keys are
checked separately (linearizability is compositional). Failed gets did not happen and are
ignored; a put with an unknown outcome may take effect at any time after its call, or never.

Unless --no-prune, two sound simplifications come first (values are unique): an unknown put
whose value no get returned is dropped (not taking effect is always allowed, and taking effect
unobserved changes no read), and an unknown put whose value a get returned must have taken
effect before that get returned, so it gets the earliest such return as its return.

Prints one line per key and PASS or FAIL; the exit status is 0 for PASS, 1 for FAIL, 2 when the
search exceeded its budget.
"""
import argparse
import json
import sys
from collections import defaultdict

INF = float("inf")


def load(path):
    """Ops per key: dicts with kind, value, call, ret (None when unknown), line."""
    keys = defaultdict(list)
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r["status"] == "failed":
                continue
            if r["op"] == "put":
                ret = r["return"] if r["status"] == "ok" else None
            elif r["op"] == "get":
                if r["status"] != "ok":
                    raise ValueError(f"line {number}: a get can only be ok or failed")
                ret = r["return"]
            else:
                raise ValueError(f"line {number}: unknown op {r['op']!r}")
            keys[r["key"]].append({"kind": r["op"], "value": r["value"], "call": r["call"],
                                   "ret": ret, "line": number, "client": r["client"]})
    return keys


def prune(ops):
    """The two simplifications described in the module docstring. A value read before its put
    was called gives that put a return before its call: its return event then sorts before its
    call and the search, which cannot get past an unlinearized return, reports the violation."""
    first_read = {}
    for op in ops:
        if op["kind"] == "get" and op["value"] is not None:
            v = op["value"]
            first_read[v] = min(first_read.get(v, INF), op["ret"])
    result = []
    for op in ops:
        if op["kind"] == "put" and op["ret"] is None:
            if op["value"] not in first_read:
                continue
            op = dict(op, ret=first_read[op["value"]])
        result.append(op)
    return result


def step(state, op):
    """The register after op, or the sentinel FAIL_STATE if op is impossible in state."""
    if op["kind"] == "put":
        return op["value"]
    return state if op["value"] == state else FAIL_STATE


FAIL_STATE = object()


def check(ops, budget):
    """('ok'|'fail'|'budget', deepest linearized count, stuck op or None)."""
    n = len(ops)
    if n == 0:
        return "ok", 0, None
    events = []  # (time, is_return, op)
    for i, op in enumerate(ops):
        events.append((op["call"], 0, i))
        events.append((INF if op["ret"] is None else op["ret"], 1, i))
    events.sort()  # calls before returns at equal times, then by op index
    nodes = 2 * n + 1
    nxt = [k + 1 if k + 1 < nodes else -1 for k in range(nodes)]
    prv = [k - 1 for k in range(nodes)]
    ret_node = [0] * n
    for pos, (_, is_ret, i) in enumerate(events):
        if is_ret:
            ret_node[i] = pos + 1

    def unlink(k):
        nxt[prv[k]] = nxt[k]
        if nxt[k] != -1:
            prv[nxt[k]] = prv[k]

    def relink(k):
        nxt[prv[k]] = k
        if nxt[k] != -1:
            prv[nxt[k]] = k

    linearized = 0
    cache = defaultdict(set)
    stack = []
    state = None
    node = nxt[0]
    steps = deepest = 0
    stuck = None
    while nxt[0] != -1:
        steps += 1
        if steps > budget:
            return "budget", deepest, stuck
        _, is_ret, i = events[node - 1]
        if not is_ret:
            new_state = step(state, ops[i])
            if new_state is not FAIL_STATE:
                candidate = linearized | (1 << i)
                if new_state not in cache[candidate]:
                    cache[candidate].add(new_state)
                    stack.append((node, state))
                    state, linearized = new_state, candidate
                    unlink(node)
                    unlink(ret_node[i])
                    if len(stack) > deepest:
                        deepest, stuck = len(stack), None
                    node = nxt[0]
                    continue
            node = nxt[node]
        else:
            if len(stack) == deepest and stuck is None:
                stuck = i  # the op whose return the deepest attempt could not get past
            if not stack:
                return "fail", deepest, stuck
            call_node, state = stack.pop()
            undone = events[call_node - 1][2]
            linearized &= ~(1 << undone)
            relink(ret_node[undone])
            relink(call_node)
            node = nxt[call_node]
    return "ok", n, None


def main():
    parser = argparse.ArgumentParser(description="Check a recorded history for linearizability.")
    parser.add_argument("history")
    parser.add_argument("--no-prune", action="store_true", help="search the history as recorded")
    parser.add_argument("--budget", type=int, default=5_000_000, help="search steps per key")
    args = parser.parse_args()
    results = set()
    for key, ops in sorted(load(args.history).items()):
        if not args.no_prune:
            ops = prune(ops)
        ops.sort(key=lambda o: (o["call"], o["line"]))
        result, deepest, stuck = check(ops, args.budget)
        results.add(result)
        unknown = sum(1 for o in ops if o["ret"] is None)
        line = f"{key}: {result} ({len(ops)} ops, {unknown} unknown, linearized {deepest})"
        if result == "fail" and stuck is not None:
            o = ops[stuck]
            line += (f"; stuck at history line {o['line']}: client {o['client']} {o['kind']} "
                     f"{o['value']!r} call {o['call']} return {o['ret']}")
        print(line)
    if "fail" in results:
        print("FAIL")
        return 1
    if "budget" in results:
        print("INCONCLUSIVE")
        return 2
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
