#!/usr/bin/python3
"""Sends a fixed sequence of HTTP requests to an etcd client URL (the JSON gateway under /v3/,
/health, /version, CORS, errors) and prints, for each, the status, the headers that matter and
the body: run against the reference etcd and ours, the outputs must be equal.
Usage: gateway_requests.py HOST:PORT [GROUP]"""
import http.client
import json
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
group = sys.argv[2] if len(sys.argv) > 2 else "all"
SHOWN = ["content-type", "grpc-metadata-content-type", "trailer", "allow", "location", "x-content-type-options",
         "access-control-allow-origin"]


def request(method, path, body=None, headers=None, label=None, out=None):
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = dict(headers or {})
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    lines = ["== %s %s %s" % (method, path, label or (body if isinstance(body, str) else "")),
             "status %d" % response.status]
    for name in SHOWN:
        value = response.getheader(name)
        if value is not None:
            lines.append("%s: %s" % (name, value))
    lines.append("body %r" % data)
    if out is None:
        print("\n".join(lines))
    else:
        out.extend(lines)
    connection.close()
    return data


def stream(path, body, seconds, after=None):
    """A streaming request: the lines that arrive within `seconds`; `after` runs once the first
    line is in (to cause events)."""
    sock = socket.create_connection((host, int(port)), timeout=seconds)
    payload = body.encode()
    sock.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n"
                  % (path, len(payload))).encode() + payload)
    data = b""
    deadline = time.monotonic() + seconds
    triggered = False
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if after and not triggered and b"\r\n\r\n" in data and b"result" in data:
            triggered = True
            after()
    sock.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode() if head else "(nothing)"
    # Undo the chunked framing; keep the JSON lines.
    lines = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        lines.append(rest[:size])
        rest = rest[size + 2:]
    print("== STREAM %s %s" % (path, body))
    print(status.replace("HTTP/1.1 ", "status "))
    print("body %r" % b"".join(lines))


def kv():
    request("POST", "/v3/kv/put", '{"key":"Zm9v","value":"YmFy"}')
    request("POST", "/v3/kv/put", '{"key":"Zm9v","value":"YmF6","prev_kv":true}')
    request("POST", "/v3/kv/put", '{"key":"YQ==","value":"MQ==","lease":"0"}')
    request("POST", "/v3/kv/range", '{"key":"Zm9v"}')
    request("POST", "/v3beta/kv/range", '{"key":"Zm9v","keys_only":true}')
    request("POST", "/v3/kv/range", '{"key":"Zm9v","count_only":true}')
    request("POST", "/v3/kv/range", '{"key":"bm9uZQ=="}')
    request("POST", "/v3/kv/range", '{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sortTarget":"KEY"}')
    request("POST", "/v3/kv/range", '{"key":"Zm9v"} trailing garbage')
    request("POST", "/v3/kv/range", '{"key":"Zm9v","bogus":1,"limit":"1"}')
    request("POST", "/v3/kv/txn", '{"compare":[{"target":"CREATE","key":"Zm9v","createRevision":"2"}],'
            '"success":[{"requestPut":{"key":"Zm9v","value":"YmF6"}}],"failure":[{"requestRange":{"key":"Zm9v"}}]}')
    request("POST", "/v3/kv/txn", '{"compare":[{"target":"VALUE","key":"Zm9v","value":"bm8="}],'
            '"failure":[{"request_range":{"key":"Zm9v"}},{"request_delete_range":{"key":"eHg="}}]}')
    request("POST", "/v3/kv/txn", '{}')
    request("POST", "/v3/kv/txn", '{"compare":[{"result":0,"target":1,"key":"Zm9v","TargetUnion":null}],'
            '"success":[{"Request":{"RequestPut":{"key":"Zm9v","value":"YmFy"}}}]}')
    request("POST", "/v3/kv/deleterange", '{"key":"YQ==","prev_kv":true}')
    request("POST", "/v3/kv/deleterange", '{"key":"YQ=="}')
    request("POST", "/v3/kv/compaction", '{"revision":"3"}')
    request("POST", "/v3/kv/compaction", '{"revision":3,"physical":true}')
    request("POST", "/v3/kv/range", '{"key":"Zm9v","revision":"2"}')
    request("POST", "/v3/kv/range", '{"revision":"100"}')


def errors():
    for body in ['{"key":', 'notjson', '[1]', '{"key":123}', '{"key":"!!!"}', '{"key":"YQ"}', '{"key":"-_-_"}',
                 '{"key":"Zm9v","limit":"abc"}', '{"key":"Zm9v","limit":true}', '{"revision":1.5}',
                 '{"limit":"9223372036854775808"}', '{"keysOnly":"true"}', '{"sort_order":"BAD"}',
                 '{"sort_target":"value"}', '', '{"key":null}', '{"ttl":5}']:
        request("POST", "/v3/kv/range", body)
    request("POST", "/v3/kv/range", '{"key":"Zm9v"}', {"Grpc-Timeout": "bogus"}, label="grpc-timeout bogus")
    request("GET", "/v3/kv/range")
    request("PUT", "/v3/kv/range", "{}")
    request("POST", "/v3/kv/nothing", "{}")
    request("POST", "/v3/", "{}")
    request("POST", "/v3/kv/range/", "{}")
    request("POST", "/v3alpha/kv/range", "{}")
    request("POST", "/v3/auth/status", "{}")
    request("GET", "/v3")
    request("GET", "/nothing")
    request("OPTIONS", "/v3/kv/range")
    request("OPTIONS", "/anything")


def lease():
    request("POST", "/v3/lease/grant", '{"TTL":60,"ID":1234}')
    request("POST", "/v3/lease/grant", '{"TTL":60,"ID":1234}')
    request("POST", "/v3/lease/grant", '{"ID":4321}')
    request("POST", "/v3/kv/put", '{"key":"bGs=","value":"dg==","lease":1234}')
    request("POST", "/v3/lease/timetolive", '{"ID":1234,"keys":true}')
    request("POST", "/v3/kv/lease/timetolive", '{"ID":"1234"}')
    request("POST", "/v3/lease/timetolive", '{"ID":999}')
    request("POST", "/v3/lease/revoke", '{"ID":4321}')
    request("POST", "/v3/lease/leases", '{}')
    request("POST", "/v3/kv/lease/revoke", '{"ID":4321}')
    request("POST", "/v3/lease/keepalive", '{"ID":1234}')
    request("POST", "/v3/lease/keepalive", '{"ID":556}')
    request("POST", "/v3/lease/keepalive", '{"ID":1234}{"ID":1234}')
    request("POST", "/v3/lease/keepalive", '')
    request("POST", "/v3/lease/keepalive", 'garbage')
    request("POST", "/v3/lease/revoke", '{"ID":1234}')


def cluster():
    request("POST", "/v3/cluster/member/list", '{}')
    request("POST", "/v3/cluster/member/remove", '{"ID":"1"}')
    request("POST", "/v3/cluster/member/promote", '{"ID":"1"}')
    request("POST", "/v3/cluster/member/add", '{"peerURLs":["bad"]}')
    request("POST", "/v3/maintenance/alarm", '{}')
    request("POST", "/v3/maintenance/alarm", '{"action":"GET"}')
    request("POST", "/v3/maintenance/transfer-leadership", '{"targetID":"1"}')


def watch():
    request("POST", "/v3/kv/put", '{"key":"dw==","value":"MQ=="}')
    stream("/v3/watch", '{"create_request":{"key":"dw==","start_revision":"1"}}', 1.0)
    stream("/v3/watch", '{"create_request":{"key":"dw=="}}', 1.5,
           after=lambda: request("POST", "/v3/kv/put", '{"key":"dw==","value":"Mg=="}', label="(during watch)"))
    stream("/v3/watch", '{"create_request":{"key":"dw==","prev_kv":true,"filters":["NOPUT"],"watch_id":"7"}}', 1.5,
           after=lambda: request("POST", "/v3/kv/deleterange", '{"key":"dw=="}', label="(during watch)"))
    stream("/v3/watch", '{"create_request":{"key":"eA=="}}{"progress_request":{}}{"cancel_request":{"watch_id":"0"}}', 1.0)
    stream("/v3/watch", '', 0.5)
    stream("/v3/watch", 'garbage', 0.5)


def lock():
    import base64
    b64 = lambda text: base64.b64encode(text.encode()).decode()
    request("POST", "/v3/lease/grant", '{"TTL":60,"ID":1001}')
    request("POST", "/v3/lease/grant", '{"TTL":60,"ID":1002}')
    request("POST", "/v3/lock/lock", '{"name":"%s","lease":1001}' % b64("mylock"))
    request("POST", "/v3/lock/lock", '{"name":"%s","lease":"1001"}' % b64("mylock"))
    request("POST", "/v3/lock/lock", '{"name":"%s","lease":12345}' % b64("other"))
    request("POST", "/v3/lock/unlock", '{"key":"%s"}' % b64("none"))
    request("POST", "/v3/lock/unlock", '{}')
    request("POST", "/v3/election/leader", '{"name":"%s"}' % b64("elec"))
    campaign = json.loads(request("POST", "/v3/election/campaign",
                                  '{"name":"%s","lease":1002,"value":"%s"}' % (b64("elec"), b64("v1"))))
    leader = campaign["leader"]
    request("POST", "/v3/election/leader", '{"name":"%s"}' % b64("elec"))
    request("POST", "/v3beta/election/proclaim", json.dumps({"leader": leader, "value": b64("v2")}))
    request("POST", "/v3/election/proclaim", '{"value":"%s"}' % b64("v2"))
    request("POST", "/v3/election/resign", '{}')
    wrong = dict(leader, rev="1")
    request("POST", "/v3/election/proclaim", json.dumps({"leader": wrong, "value": b64("v3")}))
    request("POST", "/v3/election/resign", json.dumps({"leader": wrong}))
    stream("/v3/election/observe", '{"name":"%s"}' % b64("elec"), 1.5,
           after=lambda: request("POST", "/v3/election/proclaim", json.dumps({"leader": leader, "value": b64("v4")}),
                                 label="(during observe)"))
    request("POST", "/v3/election/resign", json.dumps({"leader": leader}))
    request("POST", "/v3/election/leader", '{"name":"%s"}' % b64("elec"))
    stream("/v3/election/observe", '{"name":"%s"}' % b64("quiet"), 0.5)
    # A second contender waits until the holder unlocks; it answers at the unlock's revision.
    import threading
    waiter = {}
    waiter_lines = []
    thread = threading.Thread(target=lambda: waiter.update(
        body=request("POST", "/v3/lock/lock", '{"name":"%s","lease":1002}' % b64("mylock"), label="(waiter)",
                     out=waiter_lines)))
    thread.start()
    time.sleep(0.7)
    print("waiter done before unlock: %s" % ("body" in waiter))
    request("POST", "/v3/lock/unlock", '{"key":"%s"}' % b64("mylock/3e9"))
    thread.join(10)
    print("waiter done after unlock: %s" % ("body" in waiter))
    print("\n".join(waiter_lines))
    request("POST", "/v3/kv/range", '{"key":"%s","range_end":"%s"}' % (b64("elec/"), b64("elec0")))


def basic():
    request("GET", "/health")
    request("HEAD", "/health")
    request("POST", "/health")
    request("GET", "/health?exclude=NOSPACE")
    request("GET", "/version")
    request("POST", "/version")


groups = {"kv": kv, "errors": errors, "lease": lease, "cluster": cluster, "watch": watch, "lock": lock, "basic": basic}
for name, run in groups.items():
    if group in ("all", name):
        run()
