#!/usr/bin/python3
"""Gives a store the shapes an import must carry over. Usage: import_fill.py HOST:PORT [KEYS]

Puts KEYS keys (default 200) of 1 KiB values, overwrites some, deletes some, attaches keys to
a lease, compacts at the midpoint, then writes a little more. Prints JSON: the lease ID and
the revision at the end."""
import json
import sys

import etcd3

host, port = sys.argv[1].rsplit(":", 1)
keys = int(sys.argv[2]) if len(sys.argv) > 2 else 200
client = etcd3.client(host=host, port=int(port), timeout=120)

value = b"v" * 1024
for i in range(keys):
    client.put("fill/%06d" % i, value)
for i in range(0, keys, 7):
    client.put("fill/%06d" % i, b"overwritten-%d" % i)
for i in range(0, keys, 11):
    client.delete("fill/%06d" % i)
lease = client.lease(600)
for i in range(5):
    client.put("leased/%d" % i, b"x", lease=lease)
middle = client.get("fill/000001")[1].response_header.revision
client.compact(middle // 2)
for i in range(10):
    client.put("after/%d" % i, b"after")
revision = client.get("after/0")[1].response_header.revision
print(json.dumps({"lease": lease.id, "revision": revision}))
