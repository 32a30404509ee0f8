#!/usr/bin/python3
"""End-to-end partition test of a 3-member cluster through peer_proxy.py.

Usage:
    partition_check.py BINARY BASE_PORT WORKDIR

Ports (all 127.0.0.1): member peer listeners BASE+1..3, client URLs BASE+101..103, proxy
listeners (the advertised peer URLs) BASE+201..203, proxy control BASE+299. WORKDIR receives the
data dirs n1..n3, the member logs nX.log and proxy.err; it is wiped at start.

Scenario: start the proxy and members n1..n3, wait for a leader, start writers that put unique
keys through all three client endpoints for the whole test (python3-etcd3, 2 s deadline per put),
poll every member's Status about every 100 ms, isolate the leader ({"groups": [[leader], [others]]})
for about 6 s, heal, wait until all members agree on a leader, write a little more, stop the
writers and compare the members.

Checks (each failure adds a text to "errors"):
  (a) isolated_acks: puts SENT to the isolated member after the partition was in place and
      ACKNOWLEDGED before the heal began. Must be 0: nothing can commit without a quorum. (A put
      sent during the isolation may legitimately be acknowledged after the heal, once its entry
      commits in the healed cluster; those are counted in isolated_acks_after_heal only.)
  (b) the majority elects a leader whose Status raftTerm is above the old leader's term and
      acknowledges puts during the isolation.
  (c) leaders_per_term_max: for each raftTerm, the members counted as its leader. A member counts
      as leader of term T when at least two of its Status samples report leader == itself and
      raftTerm == T (Status.raftTerm is the term of the last APPLIED entry, so a freshly elected
      leader may report the previous term for a few milliseconds; one sample is not evidence).
      Must be 1. And lost: acknowledged puts whose key is missing on some member, or has another
      value there, after the heal. Must be 0.
  (d) healed: within 15 s of the heal all members report the same leader; after the writers stop,
      all members reach equal raftAppliedIndex and revision and hold identical key sets (with
      equal values) under the test prefix (serializable reads on each member).
The last line of stdout is a one-line JSON summary. The exit status is 0 even when checks fail
(2 only for bad usage); every process started here is stopped, also on exceptions and signals.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import etcd3
import grpc
from etcd3.etcdrpc import rpc_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "peer_proxy.py")
PYTHON = "/usr/bin/python3"
NAMES = ["n1", "n2", "n3"]
PREFIX = "partition-check/"
PUT_TIMEOUT = 2.0
ISOLATION_SECONDS = 6.0
HEAL_AGREE_SECONDS = 15.0
WRITERS_PER_ENDPOINT = 2
GRPC_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]


def now():
    return time.monotonic()


# --- raw Status (python3-etcd3's StatusResponse lacks raftAppliedIndex) ---------------------

def _varint(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """Yields (field number, wire type, value) of a protobuf message; value is int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, wire, value


def decode_status(data):
    status = {"member_id": 0, "revision": 0, "header_term": 0, "leader": 0, "raftIndex": 0,
              "raftTerm": 0, "raftAppliedIndex": 0, "errors": []}
    for number, _wire, value in _fields(data):
        if number == 1:
            for n, _w, v in _fields(value):
                if n == 2:
                    status["member_id"] = v
                elif n == 3:
                    status["revision"] = v
                elif n == 4:
                    status["header_term"] = v
        elif number == 4:
            status["leader"] = value
        elif number == 5:
            status["raftIndex"] = value
        elif number == 6:
            status["raftTerm"] = value
        elif number == 7:
            status["raftAppliedIndex"] = value
        elif number == 8:
            status["errors"].append(value.decode("utf-8", "replace"))
    return status


class Check:
    def __init__(self, binary, base, workdir):
        self.binary = os.path.abspath(binary)
        self.base = base
        self.workdir = os.path.abspath(workdir)
        self.peer_ports = [base + 1 + i for i in range(3)]
        self.client_ports = [base + 101 + i for i in range(3)]
        self.proxy_ports = [base + 201 + i for i in range(3)]
        self.control_port = base + 299
        self.processes = []  # (name, Popen)
        self.errors = []
        self.lock = threading.Lock()
        self.stop_writers = threading.Event()
        self.stop_poller = threading.Event()
        self.attempts = []  # dicts: endpoint, key, value, sent, done, ok, header fields / error
        self.samples = []  # (time, endpoint index, status dict)
        self.member_ids = [None, None, None]
        self.channels = []
        self.status_calls = []
        self.t_isolated = None
        self.t_heal = None
        self.isolated = None
        self.summary = {"ok": False, "binary": self.binary, "acknowledged": 0, "lost": 0,
                        "isolated_acks": 0, "leaders_per_term_max": 0, "healed": False}

    def error(self, text):
        with self.lock:
            self.errors.append(text)
        print("partition_check: " + text, file=sys.stderr, flush=True)

    # --- processes ---------------------------------------------------------------------------

    def start_proxy(self):
        members = ["%s=%d:%d" % (n, self.proxy_ports[i], self.peer_ports[i]) for i, n in enumerate(NAMES)]
        err = open(os.path.join(self.workdir, "proxy.err"), "wb")
        proxy = subprocess.Popen([PYTHON, PROXY, "--control", str(self.control_port)] + members,
                                 stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        self.processes.append(("proxy", proxy))
        line = [b""]
        reader = threading.Thread(target=lambda: line.__setitem__(0, proxy.stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        if line[0].strip() != b"ready":
            raise RuntimeError("proxy did not become ready (exit %s)" % proxy.poll())

    def start_members(self):
        cluster = ",".join("%s=http://127.0.0.1:%d" % (n, self.proxy_ports[i]) for i, n in enumerate(NAMES))
        for i, name in enumerate(NAMES):
            log = open(os.path.join(self.workdir, name + ".log"), "wb")
            args = [self.binary, "--name", name, "--data-dir", os.path.join(self.workdir, name),
                    "--logger=zap", "--initial-cluster-token", "tok", "--initial-cluster", cluster,
                    "--initial-cluster-state", "new",
                    "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_ports[i],
                    "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.proxy_ports[i],
                    "--listen-client-urls", "http://127.0.0.1:%d" % self.client_ports[i],
                    "--advertise-client-urls", "http://127.0.0.1:%d" % self.client_ports[i]]
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.processes.append((name, process))

    def stop_all(self):
        for _name, process in self.processes:
            if process.poll() is None:
                try:
                    process.terminate()
                except OSError:
                    pass
        deadline = now() + 10
        for _name, process in self.processes:
            try:
                process.wait(max(0.1, deadline - now()))
            except subprocess.TimeoutExpired:
                try:
                    process.kill()
                    process.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        self.processes = []

    def check_alive(self):
        for name, process in self.processes:
            code = process.poll()
            if code is not None:
                self.error("%s exited with status %s" % (name, code))

    # --- control -----------------------------------------------------------------------------

    def control(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path), data=data,
                                         method="POST" if body is not None or path != "/state" else "GET")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    # --- status ------------------------------------------------------------------------------

    def connect_status_channels(self, timeout):
        """Makes one channel per member once that member answers Status. (etcd accepts TCP on
        its client port before it serves gRPC; a channel that tried too early backs off.)"""
        deadline = now() + timeout
        for port in self.client_ports:
            while True:
                channel = grpc.insecure_channel("127.0.0.1:%d" % port, options=GRPC_OPTIONS)
                call = channel.unary_unary("/etcdserverpb.Maintenance/Status",
                                           request_serializer=lambda _request: b"",
                                           response_deserializer=decode_status)
                try:
                    call(b"", timeout=1.0)
                    self.channels.append(channel)
                    self.status_calls.append(call)
                    break
                except grpc.RpcError:
                    channel.close()
                    if now() > deadline:
                        self.check_alive()
                        raise RuntimeError("member on port %d does not answer Status" % port)
                    time.sleep(0.2)

    def status(self, i, timeout=1.0):
        try:
            return self.status_calls[i](b"", timeout=timeout)
        except Exception:
            return None

    def statuses(self, timeout=1.0):
        results = [None, None, None]

        def one(i):
            results[i] = self.status(i, timeout)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def poller(self):
        while not self.stop_poller.is_set():
            t = now()
            results = self.statuses(0.5)
            with self.lock:
                for i, s in enumerate(results):
                    if s is not None:
                        self.samples.append((t, i, s))
            self.stop_poller.wait(max(0.0, 0.1 - (now() - t)))

    def wait_for_leader(self, timeout, exclude=None):
        """Waits until every member (or every member but `exclude`) reports the same leader,
        which must not be `exclude`. Returns (leader endpoint index, statuses) or (None, last
        statuses)."""
        deadline = now() + timeout
        results = None
        while now() < deadline:
            results = self.statuses(1.0)
            considered = [s for i, s in enumerate(results) if i != exclude]
            if all(s is not None for s in considered):
                leaders = {s["leader"] for s in considered}
                if len(leaders) == 1 and 0 not in leaders:
                    leader = leaders.pop()
                    for i, s in enumerate(results):
                        if s is not None and s["member_id"] == leader and i != exclude:
                            return i, results
            time.sleep(0.1)
        return None, results

    # --- writers -----------------------------------------------------------------------------

    def writer(self, endpoint, number):
        client = etcd3.client(host="127.0.0.1", port=self.client_ports[endpoint], timeout=PUT_TIMEOUT)
        seq = 0
        while not self.stop_writers.is_set():
            key = "%sn%d/%d/%06d" % (PREFIX, endpoint + 1, number, seq)
            value = "v-%d-%d-%d-%08x" % (endpoint + 1, number, seq, random.getrandbits(32))
            seq += 1
            record = {"endpoint": endpoint, "key": key, "value": value, "sent": now()}
            try:
                response = client.put(key, value)
                record["done"] = now()
                record["ok"] = True
                record["member_id"] = response.header.member_id
                record["raft_term"] = response.header.raft_term
                record["revision"] = response.header.revision
            except Exception as error:  # grpc.RpcError and etcd3's wrappers
                record["done"] = now()
                record["ok"] = False
                code = getattr(error, "code", None)
                record["error"] = str(code() if callable(code) else type(error).__name__)
            with self.lock:
                self.attempts.append(record)
            self.stop_writers.wait(0.02)
        try:
            client.close()
        except Exception:
            pass

    # --- the scenario ------------------------------------------------------------------------

    def run(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        t_start = now()
        self.start_proxy()
        self.start_members()
        self.connect_status_channels(30)
        leader, results = self.wait_for_leader(20)
        if leader is None:
            self.check_alive()
            raise RuntimeError("no leader within 20 s: %s" % results)
        self.member_ids = [s["member_id"] for s in results]
        self.summary["formed_seconds"] = round(now() - t_start, 2)

        poller = threading.Thread(target=self.poller, daemon=True)
        poller.start()
        writers = [threading.Thread(target=self.writer, args=(e, n), daemon=True)
                   for e in range(3) for n in range(WRITERS_PER_ENDPOINT)]
        for w in writers:
            w.start()
        time.sleep(2.0)

        # Isolate the current leader.
        leader, results = self.wait_for_leader(5)
        if leader is None:
            raise RuntimeError("no stable leader before the partition: %s" % results)
        self.isolated = leader
        old_term = results[leader]["raftTerm"]
        others = [NAMES[i] for i in range(3) if i != leader]
        self.summary["isolated_member"] = NAMES[leader]
        self.summary["old_term"] = old_term
        answer = self.control("/partition", {"groups": [[NAMES[leader]], others]})
        self.t_isolated = now()
        self.summary["cut_connections"] = answer.get("cut")

        # (b) the majority elects a leader in a higher term.
        new_leader, results = self.wait_for_leader(ISOLATION_SECONDS, exclude=leader)
        if new_leader is not None:
            self.summary["elect_seconds"] = round(now() - self.t_isolated, 2)
            # Status reports the term of the last applied entry (as etcd's does): a new leader
            # shows its term once its first entry applies, a moment after the election.
            term = results[new_leader]["raftTerm"]
            deadline = now() + 5
            while term <= old_term and now() < deadline:
                time.sleep(0.05)
                status = self.status(new_leader, 1.0)
                term = status["raftTerm"] if status else term
            self.summary["new_term"] = term
            if term <= old_term:
                self.error("the majority's leader reports raftTerm %d, not above the old %d" % (term, old_term))
        else:
            self.error("the majority elected no leader within %.0f s of the partition" % ISOLATION_SECONDS)
        remaining = self.t_isolated + ISOLATION_SECONDS - now()
        if remaining > 0:
            time.sleep(remaining)

        # Heal.
        self.t_heal = now()
        self.control("/heal", {})
        healed_leader, results = self.wait_for_leader(HEAL_AGREE_SECONDS)
        if healed_leader is None:
            self.error("members did not agree on a leader within %.0f s of the heal: %s"
                       % (HEAL_AGREE_SECONDS, [(s or {}).get("leader") for s in (results or [])]))
        else:
            self.summary["heal_agree_seconds"] = round(now() - self.t_heal, 2)
        time.sleep(2.0)  # the healed cluster takes writes on every endpoint
        t_writers_stopped = now()
        self.stop_writers.set()
        for w in writers:
            w.join(PUT_TIMEOUT + 3)
        self.stop_poller.set()
        poller.join(3)
        self.check_alive()

        # (d) convergence: equal applied index and revision, identical keys.
        converged = False
        deadline = max(now() + 3, self.t_heal + HEAL_AGREE_SECONDS)
        results = None
        while now() < deadline:
            results = self.statuses(1.0)
            if all(s is not None for s in results):
                applied = {s["raftAppliedIndex"] for s in results}
                revisions = {s["revision"] for s in results}
                leaders = {s["leader"] for s in results}
                if len(applied) == 1 and len(revisions) == 1 and len(leaders) == 1 and 0 not in leaders:
                    converged = True
                    break
            time.sleep(0.2)
        if not converged:
            self.error("members did not converge after the heal: %s" % [
                None if s is None else {k: s[k] for k in ("leader", "raftTerm", "raftAppliedIndex", "revision")}
                for s in (results or [])])
        else:
            self.summary["final_revision"] = results[0]["revision"]
            self.summary["final_applied_index"] = results[0]["raftAppliedIndex"]

        contents = []
        for i in range(3):
            client = etcd3.client(host="127.0.0.1", port=self.client_ports[i], timeout=10)
            try:
                response = client.get_prefix_response(PREFIX, serializable=True)
                contents.append({kv.key.decode(): kv.value.decode() for kv in response.kvs})
            except Exception as error:
                self.error("reading %s failed: %s" % (NAMES[i], error))
                contents.append(None)
            finally:
                client.close()
        same_keys = all(c is not None for c in contents) and contents[0] == contents[1] == contents[2]
        if all(c is not None for c in contents) and not same_keys:
            differing = set()
            for c in contents[1:]:
                differing |= set(contents[0].items()) ^ set(c.items())
            self.error("members hold different data under the prefix: %d differing pairs, e.g. %s"
                       % (len(differing), sorted(differing)[:3]))
        self.summary["healed"] = healed_leader is not None and converged and same_keys

        self.evaluate(contents, old_term, t_writers_stopped)

    def evaluate(self, contents, old_term, t_writers_stopped):
        acked = [a for a in self.attempts if a["ok"]]
        failed = [a for a in self.attempts if not a["ok"]]
        self.summary["acknowledged"] = len(acked)
        self.summary["failed_writes"] = len(failed)
        self.summary["acks_per_member"] = {NAMES[e]: sum(1 for a in acked if a["endpoint"] == e) for e in range(3)}

        # Headers name the member that answered.
        wrong_member = [a for a in acked if a["member_id"] != self.member_ids[a["endpoint"]]]
        if wrong_member:
            self.error("%d acknowledgements carry another member's id in the header" % len(wrong_member))

        # (a) nothing sent to the isolated member after the partition is acknowledged before the heal.
        iso = self.isolated
        during = [a for a in acked if a["endpoint"] == iso and self.t_isolated <= a["sent"] < self.t_heal]
        isolated_acks = [a for a in during if a["done"] < self.t_heal]
        self.summary["isolated_acks"] = len(isolated_acks)
        self.summary["isolated_acks_after_heal"] = len(during) - len(isolated_acks)
        self.summary["isolated_attempts_during"] = sum(
            1 for a in self.attempts if a["endpoint"] == iso and self.t_isolated <= a["sent"] < self.t_heal)
        if isolated_acks:
            self.error("the isolated member acknowledged %d puts sent during its isolation, e.g. %s"
                       % (len(isolated_acks), isolated_acks[0]))

        # (b) the majority acknowledged writes during the isolation, in a higher term.
        majority = [a for a in acked if a["endpoint"] != iso and self.t_isolated <= a["sent"] and a["done"] < self.t_heal]
        self.summary["majority_acks_during_isolation"] = len(majority)
        if not majority:
            self.error("the majority acknowledged no puts during the isolation")
        elif max(a["raft_term"] for a in majority) <= old_term:
            self.error("the majority's acknowledgements during the isolation all carry raft_term <= %d" % old_term)
        after_heal = [a for a in acked if a["sent"] >= self.t_heal]
        self.summary["acks_after_heal_per_member"] = {
            NAMES[e]: sum(1 for a in after_heal if a["endpoint"] == e) for e in range(3)}
        if not any(a["endpoint"] == iso for a in after_heal):
            self.error("the formerly isolated member acknowledged no puts after the heal")

        # (c) one leader per term, from the Status samples.
        claims = {}
        for _t, i, s in self.samples:
            if s["leader"] and s["leader"] == s["member_id"]:
                claims.setdefault(s["raftTerm"], {}).setdefault(i, 0)
                claims[s["raftTerm"]][i] += 1
        per_term = {term: sorted(NAMES[i] for i, n in members.items() if n >= 2) for term, members in claims.items()}
        self.summary["leaders_per_term_max"] = max((len(v) for v in per_term.values()), default=0)
        self.summary["leaders_by_term"] = {str(term): v for term, v in sorted(per_term.items())}
        self.summary["status_samples"] = len(self.samples)
        if self.summary["leaders_per_term_max"] > 1:
            self.error("two members claimed leadership in one term: %s" % self.summary["leaders_by_term"])
        if self.summary["leaders_per_term_max"] == 0:
            self.error("no Status sample showed a leader")

        # (c) every acknowledged write is on every member with its value.
        lost = []
        for a in acked:
            for i, c in enumerate(contents):
                if c is None:
                    continue
                if c.get(a["key"]) != a["value"]:
                    lost.append((NAMES[i], a["key"], c.get(a["key"])))
        self.summary["lost"] = len(lost)
        if lost:
            self.error("%d acknowledged puts missing or different on some member, e.g. %s" % (len(lost), lost[:3]))
        if contents and contents[0] is not None:
            acked_keys = {a["key"] for a in acked}
            self.summary["unacknowledged_applied"] = sum(1 for k in contents[0] if k not in acked_keys)
            # Failed puts whose entry was applied anyway (allowed: a failed put's outcome is
            # unknown). etcd 3.4 drops a proposal that waits for a leader once the client's
            # deadline passes, so a put that failed on the isolated member during the isolation
            # should not appear after the heal.
            late = [a for a in failed if a["endpoint"] == iso and self.t_isolated <= a["sent"] < self.t_heal
                    and contents[0].get(a["key"]) == a["value"]]
            self.summary["isolated_failed_but_applied"] = len(late)
            if late:
                self.summary["isolated_failed_but_applied_example"] = {
                    "key": late[0]["key"], "error": late[0]["error"],
                    "sent_after_partition_s": round(late[0]["sent"] - self.t_isolated, 2),
                    "failed_before_heal_s": round(self.t_heal - late[0]["done"], 2)}
        self.summary["writers_ran_seconds"] = round(t_writers_stopped - self.t_isolated, 2)

    def finish(self):
        try:
            self.stop_writers.set()
            self.stop_poller.set()
            for channel in self.channels:
                try:
                    channel.close()
                except Exception:
                    pass
        finally:
            self.stop_all()
        self.summary["errors"] = self.errors
        self.summary["ok"] = (not self.errors and self.summary["lost"] == 0 and self.summary["isolated_acks"] == 0
                              and self.summary["leaders_per_term_max"] == 1 and self.summary["healed"]
                              and self.summary["acknowledged"] > 0)
        keys = ["ok", "acknowledged", "lost", "isolated_acks", "leaders_per_term_max", "healed", "errors"]
        ordered = {k: self.summary[k] for k in keys}
        ordered.update({k: v for k, v in self.summary.items() if k not in ordered})
        sys.stdout.write(json.dumps(ordered) + "\n")
        sys.stdout.flush()


def main():
    if len(sys.argv) != 4:
        print("usage: partition_check.py BINARY BASE_PORT WORKDIR", file=sys.stderr)
        sys.exit(2)
    check = Check(sys.argv[1], int(sys.argv[2]), sys.argv[3])

    def on_signal(signum, _frame):
        raise SystemExit("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        check.run()
    except BaseException as error:  # report, clean up, still print the summary
        check.error("aborted: %s: %s" % (type(error).__name__, error))
    finally:
        check.finish()
    os._exit(0)


if __name__ == "__main__":
    main()
