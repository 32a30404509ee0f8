#!/usr/bin/python3
"""Writes keys from several threads until the server goes away, printing each key as soon as
its put is acknowledged. Used by the crash test: every printed key must survive a kill -9."""
import sys
import threading

import etcd3

endpoint, prefix, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = endpoint.rsplit(":", 1)
lock = threading.Lock()


def worker(number):
    client = etcd3.client(host=host, port=int(port), timeout=5)
    i = 0
    while True:
        key = "%s/%d/%06d" % (prefix, number, i)
        try:
            client.put(key, "value-%d" % i)
        except Exception:
            return
        with lock:
            sys.stdout.write(key + "\n")
            sys.stdout.flush()
        i += 1


workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
