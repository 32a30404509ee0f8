#!/usr/bin/python3
"""Writes through a defragmentation. Usage: defrag_under_load.py HOST:PORT [fill]

Fills the store with history (about 40 MB of 4 KiB values over 500 keys), compacts it away,
then keeps putting new keys from one thread while another asks for a defragmentation. Prints
JSON: writes acknowledged in all, acknowledged while the defragmentation ran, acknowledged
keys missing afterwards, and the store size before and after. With "fill", only fills and
compacts, and prints the revision."""
import json
import sys
import threading
import time

import etcd3

host, port = sys.argv[1].rsplit(":", 1)
client = etcd3.client(host=host, port=int(port), timeout=120)

value = b"h" * 4096
for i in range(10000):
    client.put("history/%03d" % (i % 500), value)
current = client.get("history/000")[1].response_header.revision
client.compact(current, physical=True)
size_before = client.status().db_size
if len(sys.argv) > 2 and sys.argv[2] == "fill":
    print(json.dumps({"revision": current}))
    sys.exit(0)

stop = threading.Event()
acknowledged = []
lock = threading.Lock()


def writer():
    n = 0
    while not stop.is_set():
        client.put("live/%06d" % n, "x")
        with lock:
            acknowledged.append((n, time.monotonic()))
        n += 1


thread = threading.Thread(target=writer)
thread.start()
time.sleep(0.3)
started = time.monotonic()
client.defragment()
finished = time.monotonic()
time.sleep(0.3)
stop.set()
thread.join()

during = sum(1 for _, at in acknowledged if started < at < finished)
present = {kv[1].key.decode() for kv in client.get_prefix("live/")}
missing = sum(1 for n, _ in acknowledged if "live/%06d" % n not in present)
print(json.dumps({"acknowledged": len(acknowledged), "during_defrag": during, "missing": missing,
                  "size_before": size_before, "size_after": client.status().db_size,
                  "defrag_seconds": finished - started}))
