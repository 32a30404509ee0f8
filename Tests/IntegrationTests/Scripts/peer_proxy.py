#!/usr/bin/python3
"""Fault-injecting TCP proxy for etcd peer traffic, used by partition tests.

Usage:
    peer_proxy.py --control PORT NAME=LISTEN_PORT:TARGET_PORT [NAME=LISTEN_PORT:TARGET_PORT ...]

Everything is on 127.0.0.1. Member NAME advertises http://127.0.0.1:LISTEN_PORT as its peer URL
(--initial-advertise-peer-urls and --initial-cluster) but listens on TARGET_PORT
(--listen-peer-urls), so all member-to-member traffic passes through this proxy.

Who is talking: for every connection accepted on NAME's listener (the TARGET), the proxy reads the
HTTP request head. If the head has an X-PeerURLs header (any case; Go sends `X-Peerurls`), the
SENDER is the member whose advertised URL (a loopback URL with its LISTEN_PORT) appears in it.
Requests without that header (GET /members, GET /version, POST /leases, GET /raft/probing,
HTTP/2 prefaces, anything unparseable) have an UNKNOWN sender. Request heads that follow on the
same keep-alive connection are parsed too (Content-Length and chunked bodies are skipped), and a
later head that names a sender refines the classification (an unparseable stream stays as is).

Rule while partitioned (POST /partition {"groups": [["n1"], ["n2", "n3"]]}):
  * Members not named in any group together form one extra implicit group.
  * Known sender S -> target T: allowed iff S and T are in the same group.
  * Unknown sender -> target T: allowed unless T is FULLY ISOLATED, i.e. T's group contains no
    other member. Connections to a fully isolated target are closed right at accept, before
    anything is read (whatever the sender would have been).
  * Blocked new connections are closed after their head is read (nothing is forwarded to the
    target). When a new partition is set, every existing connection that the new rule blocks is
    cut at once (both sockets shut down and closed).
POST /heal allows everything again. GET /state returns JSON: the current groups and, per
"sender->target" pair ("?" = unknown sender), counts of accepted, blocked and cut connections,
plus the number of open connections.

Prints exactly one line, `ready`, on stdout once every listener and the control server are bound.
Exits cleanly on SIGTERM/SIGINT. Diagnostics go to stderr, only with --verbose.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30.0
UNKNOWN = "?"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

verbose = False


def log(*parts):
    if verbose:
        print("peer_proxy:", *parts, file=sys.stderr, flush=True)


def split_head(buffer):
    """Returns (head bytes including the blank line, rest) or None if the head is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    return buffer[: end + 4], buffer[end + 4:]


def parse_head(head):
    """Parses an HTTP/1.x request head. Returns (method, path, headers dict lower-case) or None."""
    try:
        text = head.decode("latin-1")
    except Exception:
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            return None
        name, value = line.split(":", 1)
        name = name.strip().lower()
        value = value.strip()
        if name in headers:
            headers[name] = headers[name] + "," + value
        else:
            headers[name] = value
    return parts[0], parts[1], headers


class RequestTracker:
    """Incremental parser of the client-to-server byte stream of one HTTP/1.1 connection.
    feed() returns the list of parsed request heads completed by the new bytes. Once the stream
    stops looking like HTTP/1.1 it gives up (opaque) and returns nothing more."""

    def __init__(self):
        self.state = "head"
        self.buffer = b""
        self.remaining = 0
        self.opaque = False

    def feed(self, data):
        heads = []
        if self.opaque:
            return heads
        self.buffer += data
        try:
            while self.buffer and not self.opaque:
                if self.state == "head":
                    found = split_head(self.buffer)
                    if found is None:
                        if len(self.buffer) > HEAD_LIMIT:
                            self.give_up()
                        break
                    head, self.buffer = found
                    parsed = parse_head(head)
                    if parsed is None:
                        self.give_up()
                        break
                    heads.append(parsed)
                    headers = parsed[2]
                    if "chunked" in headers.get("transfer-encoding", "").lower():
                        self.state = "chunk-size"
                    elif headers.get("content-length"):
                        self.remaining = int(headers["content-length"])
                        self.state = "body" if self.remaining > 0 else "head"
                    else:
                        self.state = "head"
                elif self.state == "body":
                    take = min(self.remaining, len(self.buffer))
                    self.buffer = self.buffer[take:]
                    self.remaining -= take
                    if self.remaining == 0:
                        self.state = "head"
                elif self.state == "chunk-size":
                    end = self.buffer.find(b"\r\n")
                    if end < 0:
                        if len(self.buffer) > 1024:
                            self.give_up()
                        break
                    line = self.buffer[:end].split(b";")[0].strip()
                    self.buffer = self.buffer[end + 2:]
                    size = int(line, 16)
                    if size == 0:
                        self.state = "trailer"
                    else:
                        self.remaining = size + 2  # data plus its CRLF
                        self.state = "chunk-data"
                elif self.state == "chunk-data":
                    take = min(self.remaining, len(self.buffer))
                    self.buffer = self.buffer[take:]
                    self.remaining -= take
                    if self.remaining == 0:
                        self.state = "chunk-size"
                elif self.state == "trailer":
                    end = self.buffer.find(b"\r\n")
                    if end < 0:
                        if len(self.buffer) > HEAD_LIMIT:
                            self.give_up()
                        break
                    line = self.buffer[:end]
                    self.buffer = self.buffer[end + 2:]
                    if not line:
                        self.state = "head"
        except ValueError:
            self.give_up()
        return heads

    def give_up(self):
        self.opaque = True
        self.buffer = b""


class Connection:
    def __init__(self, proxy, client, target):
        self.proxy = proxy
        self.client = client
        self.server = None
        self.target = target
        self.sender = UNKNOWN
        self.lock = threading.Lock()
        self.closed = False
        self.directions_done = 0

    def pair(self):
        return "%s->%s" % (self.sender, self.target)

    def cut(self):
        """Shuts both sockets down (waking the pump threads) and closes them."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            sockets = [s for s in (self.client, self.server) if s is not None]
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for s in sockets:
            try:
                s.close()
            except OSError:
                pass
        self.proxy.forget(self)

    def direction_finished(self):
        with self.lock:
            self.directions_done += 1
            done = self.directions_done >= 2
        if done:
            self.cut()

    def run(self):
        """Reads the first head, classifies, connects and pumps. Runs on its own thread."""
        try:
            self.client.settimeout(HEAD_TIMEOUT)
            buffer = b""
            while split_head(buffer) is None and len(buffer) <= HEAD_LIMIT:
                chunk = self.client.recv(65536)
                if not chunk:
                    break
                buffer += chunk
            self.client.settimeout(None)
            tracker = RequestTracker()
            heads = tracker.feed(buffer)
            for _method, _path, headers in heads:
                self.sender = self.proxy.sender_of(headers, self.sender)
            if not buffer:
                self.cut()
                return
            if not self.proxy.admit(self):
                self.cut()
                return
            self.server = socket.create_connection(("127.0.0.1", self.proxy.targets[self.target]), timeout=5)
            self.server.settimeout(None)
            self.server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                if self.closed:
                    self.server.close()
                    return
            self.server.sendall(buffer)
        except OSError as error:
            log("connection to", self.target, "failed:", error)
            self.cut()
            return
        threading.Thread(target=self.pump, args=(self.server, self.client, None), daemon=True).start()
        self.pump(self.client, self.server, tracker)

    def pump(self, source, destination, tracker):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    try:
                        destination.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                if tracker is not None:
                    heads = tracker.feed(data)
                    if heads:
                        for _method, _path, headers in heads:
                            self.sender = self.proxy.sender_of(headers, self.sender)
                        if not self.proxy.allowed(self.sender, self.target):
                            self.proxy.count(self.pair(), "blocked")
                            self.cut()
                            return
                destination.sendall(data)
        except OSError:
            self.cut()
            return
        self.direction_finished()


class Proxy:
    def __init__(self, members):
        # members: list of (name, listen_port, target_port)
        self.names = [m[0] for m in members]
        self.listen_ports = {m[0]: m[1] for m in members}
        self.targets = {m[0]: m[2] for m in members}
        self.by_port = {m[1]: m[0] for m in members}
        self.lock = threading.Lock()
        self.groups = None  # None = healed; else dict name -> group index
        self.group_list = None
        self.connections = set()
        self.stats = {}
        self.listeners = []

    # --- rules -----------------------------------------------------------------------------

    def sender_of(self, headers, current):
        value = headers.get("x-peerurls")
        if not value:
            return current
        for url in value.split(","):
            try:
                parts = urlsplit(url.strip())
                host = (parts.hostname or "").lower()
                port = parts.port
            except ValueError:
                continue
            if host in LOOPBACK_HOSTS and port in self.by_port:
                return self.by_port[port]
        return current

    def fully_isolated(self, target):
        groups = self.groups
        if groups is None:
            return False
        mine = groups.get(target)
        return not any(groups.get(other) == mine for other in self.names if other != target)

    def allowed(self, sender, target):
        groups = self.groups
        if groups is None:
            return True
        if sender == UNKNOWN:
            return not self.fully_isolated(target)
        return groups.get(sender) == groups.get(target)

    def count(self, pair, what):
        with self.lock:
            entry = self.stats.setdefault(pair, {"accepted": 0, "blocked": 0, "cut": 0})
            entry[what] += 1

    def admit(self, connection):
        """Registers the connection if the current rule allows it (atomically with /partition)."""
        with self.lock:
            ok = self.allowed(connection.sender, connection.target)
            entry = self.stats.setdefault(connection.pair(), {"accepted": 0, "blocked": 0, "cut": 0})
            entry["accepted" if ok else "blocked"] += 1
            if ok:
                self.connections.add(connection)
        return ok

    def forget(self, connection):
        with self.lock:
            self.connections.discard(connection)

    def set_partition(self, groups):
        mapping = {}
        for index, group in enumerate(groups):
            for name in group:
                if name not in self.targets:
                    raise ValueError("unknown member %r" % name)
                if name in mapping:
                    raise ValueError("member %r in two groups" % name)
                mapping[name] = index
        rest = [n for n in self.names if n not in mapping]
        for name in rest:
            mapping[name] = len(groups)
        with self.lock:
            self.groups = mapping
            self.group_list = [list(g) for g in groups] + ([rest] if rest else [])
            victims = [c for c in self.connections if not self.allowed(c.sender, c.target)]
            for c in victims:
                entry = self.stats.setdefault(c.pair(), {"accepted": 0, "blocked": 0, "cut": 0})
                entry["cut"] += 1
        for c in victims:
            c.cut()
        log("partition", self.group_list, "cut", len(victims))
        return len(victims)

    def heal(self):
        with self.lock:
            self.groups = None
            self.group_list = None
        log("healed")

    def state(self):
        with self.lock:
            return {
                "partitioned": self.groups is not None,
                "groups": self.group_list if self.group_list is not None else [list(self.names)],
                "open": len(self.connections),
                "pairs": {k: dict(v) for k, v in sorted(self.stats.items())},
            }

    # --- listeners -----------------------------------------------------------------------

    def listen(self):
        for name in self.names:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.listen_ports[name]))
            s.listen(128)
            self.listeners.append((name, s))

    def start(self):
        for name, s in self.listeners:
            threading.Thread(target=self.accept_loop, args=(name, s), daemon=True).start()

    def accept_loop(self, target, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.fully_isolated(target):
                    self.count("%s->%s" % (UNKNOWN, target), "blocked")
                    client.close()
                    continue
                connection = Connection(self, client, target)
                threading.Thread(target=connection.run, daemon=True).start()
            except Exception as error:  # never let the accept loop die
                log("accept error", error)
                try:
                    client.close()
                except OSError:
                    pass

    def close_all(self):
        for _name, s in self.listeners:
            try:
                s.close()
            except OSError:
                pass
        with self.lock:
            connections = list(self.connections)
        for c in connections:
            c.cut()


def make_control_handler(proxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, payload):
            body = (json.dumps(payload) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self):
            if self.path.split("?")[0] == "/state":
                self.reply(200, proxy.state())
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self):
            path = self.path.split("?")[0]
            body = self.read_body()
            try:
                if path == "/partition":
                    groups = json.loads(body or b"{}").get("groups")
                    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
                        raise ValueError("body must be {\"groups\": [[names...], ...]}")
                    cut = proxy.set_partition(groups)
                    self.reply(200, {"ok": True, "cut": cut, "groups": proxy.state()["groups"]})
                elif path == "/heal":
                    proxy.heal()
                    self.reply(200, {"ok": True})
                else:
                    self.reply(404, {"error": "not found"})
            except (ValueError, AttributeError, TypeError) as error:
                self.reply(400, {"error": str(error)})

    return Handler


def parse_member(text):
    try:
        name, ports = text.split("=", 1)
        listen, target = ports.split(":", 1)
        return name, int(listen), int(target)
    except ValueError:
        raise argparse.ArgumentTypeError("expected NAME=LISTEN_PORT:TARGET_PORT, got %r" % text)


def main():
    global verbose
    parser = argparse.ArgumentParser(description="fault-injecting proxy for etcd peer traffic")
    parser.add_argument("--control", type=int, required=True, help="control HTTP port on 127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log to stderr")
    parser.add_argument("members", nargs="+", type=parse_member, metavar="NAME=LISTEN_PORT:TARGET_PORT")
    args = parser.parse_args()
    verbose = args.verbose

    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    proxy = Proxy(args.members)
    try:
        proxy.listen()
        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.daemon_threads = True
        control = ThreadingHTTPServer(("127.0.0.1", args.control), make_control_handler(proxy))
    except OSError as error:
        print("peer_proxy: cannot bind: %s" % error, file=sys.stderr, flush=True)
        proxy.close_all()
        sys.exit(1)
    proxy.start()
    threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    control.shutdown()
    control.server_close()
    proxy.close_all()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
