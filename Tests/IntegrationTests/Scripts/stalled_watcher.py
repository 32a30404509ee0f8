#!/usr/bin/python3
"""A watcher that stops reading while about 50 MB of changes are written, beside a watcher
that keeps reading. Prints JSON: write time, the live watcher's count, the server's RSS growth,
then what the stalled watcher receives once it reads again."""
import json
import queue
import sys
import threading
import time

import etcd3
from etcd3.etcdrpc import rpc_pb2 as pb
from etcd3.etcdrpc import rpc_pb2_grpc as rpc

endpoint, server_pid = sys.argv[1], int(sys.argv[2])
host, port = endpoint.rsplit(":", 1)
writes, size = 500, 100 * 1024


def rss_kib():
    with open("/proc/%d/status" % server_pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def watch_stream(channel):
    requests = queue.Queue()
    requests.put(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"s/", range_end=b"s0")))

    def generate():
        while True:
            yield requests.get()

    return rpc.WatchStub(channel).Watch(generate(), metadata=None)


client = etcd3.client(host=host, port=int(port), grpc_options=[("grpc.max_receive_message_length", -1)])
stalled = watch_stream(client.channel)
next(stalled)  # created; from here on nobody reads this stream until the writes are done
live_count = [0]


def live_reader():
    other = etcd3.client(host=host, port=int(port), grpc_options=[("grpc.max_receive_message_length", -1)])
    events, cancel = other.watch_prefix("s/")
    for _ in events:
        live_count[0] += 1
        if live_count[0] == writes:
            cancel()
            return


reader = threading.Thread(target=live_reader)
reader.start()
time.sleep(0.5)
rss_before = rss_kib()
value = b"x" * size
start = time.monotonic()
for i in range(writes):
    client.put("s/%04d" % i, value)
write_seconds = time.monotonic() - start
reader.join(timeout=60)
rss_peak = rss_kib()
# Resume the stalled reader: it must get every event, in revision order.
revisions = []
for response in stalled:
    for event in response.events:
        revisions.append(event.kv.mod_revision)
    if len(revisions) >= writes:
        break
print(json.dumps({"write_seconds": write_seconds, "live_events": live_count[0], "rss_growth_kib": rss_peak - rss_before,
                  "stalled_events": len(revisions), "stalled_in_order": revisions == sorted(revisions)
                  and len(set(revisions)) == len(revisions)}))
