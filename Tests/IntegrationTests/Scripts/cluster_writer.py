#!/usr/bin/python3
"""Writes keys through one endpoint from several threads for a number of seconds, printing each
key as soon as its put is acknowledged. Unlike crash_writer.py it outlives its server: a failed
put (the member was killed, or lost its quorum) is retried with a new key after a short pause.
Used by the cluster crash test: every printed key must be on every member at the end."""
import sys
import threading
import time

import etcd3

endpoint, prefix, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
host, port = endpoint.rsplit(":", 1)
lock = threading.Lock()
deadline = time.monotonic() + seconds


def worker(number):
    client = None
    i = 0
    while time.monotonic() < deadline:
        key = "%s/%d/%06d" % (prefix, number, i)
        i += 1
        try:
            if client is None:
                client = etcd3.client(host=host, port=int(port), timeout=3)
            client.put(key, "value-%d" % i)
        except Exception:
            client = None
            time.sleep(0.2)
            continue
        with lock:
            sys.stdout.write(key + "\n")
            sys.stdout.flush()


workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
