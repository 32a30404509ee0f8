#!/usr/bin/python3
"""One gRPC connection, two kinds of traffic: a large range (about 50 MB) on one stream while
small gets run one after another on others, until the range completes. Prints JSON with when
each finished. Usage: shared_connection.py HOST:PORT [CA CERT KEY] (the last three for TLS)."""
import json
import sys
import threading
import time

import etcd3

endpoint = sys.argv[1]
host, port = endpoint.rsplit(":", 1)
tls = {}
if len(sys.argv) == 5:
    tls = {"ca_cert": sys.argv[2], "cert_cert": sys.argv[3], "cert_key": sys.argv[4]}
client = etcd3.client(host=host, port=int(port), timeout=60,
                      grpc_options=[("grpc.max_receive_message_length", -1)], **tls)
value = b"x" * (1 << 20)
for i in range(50):
    client.put("big/%02d" % i, value)
client.put("small", "s")

result = {}
start = time.monotonic()


def big():
    kvs = list(client.get_prefix("big/"))
    result["big_done"] = time.monotonic() - start
    result["big_count"] = len(kvs)


thread = threading.Thread(target=big)
thread.start()
time.sleep(0.02)
latencies = []
finished = []
while thread.is_alive():
    t = time.monotonic()
    assert client.get("small")[0] == b"s"
    latencies.append(time.monotonic() - t)
    finished.append(time.monotonic() - start)
thread.join()
result["small_done"] = finished
result["small_max_latency"] = max(latencies)
print(json.dumps(result))
