#!/usr/bin/python3
"""Hostile input: random and truncated protobuf bodies to every method through a real gRPC
client, then raw garbage over TCP. Prints JSON with the status codes seen and whether the server
still answers afterwards."""
import json
import random
import socket
import sys

import grpc

endpoint = sys.argv[1]
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
unary = ["/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Txn",
         "/etcdserverpb.KV/Compact", "/etcdserverpb.Lease/LeaseGrant", "/etcdserverpb.Lease/LeaseRevoke",
         "/etcdserverpb.Lease/LeaseTimeToLive", "/etcdserverpb.Lease/LeaseLeases", "/etcdserverpb.Maintenance/Status",
         "/etcdserverpb.Cluster/MemberList", "/etcdserverpb.Nope/Nope", "/etcdserverpb.KV/Nope"]
streaming = ["/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive"]
# A valid PutRequest {key: "k", value: "v"} and a deeply nested TxnRequest, for truncations.
valid_put = bytes([0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76])
nested = b""
for _ in range(150):
    nested = bytes([0x12, len(nested) + 2 if len(nested) + 2 < 128 else 127]) + bytes([0x22, 0]) + nested[:100]

def bodies():
    for n in range(len(valid_put)):
        yield valid_put[:n]
    yield nested
    yield bytes([0xff] * 20)
    yield bytes([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    for _ in range(60):
        yield bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))

channel = grpc.insecure_channel(endpoint)
identity = lambda b: b
codes = {}
for method in unary:
    call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
    for body in bodies():
        try:
            call(body, timeout=5)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
        codes[code] = codes.get(code, 0) + 1
for method in streaming:
    call = channel.stream_stream(method, request_serializer=identity, response_deserializer=identity)
    try:
        responses = call(iter(list(bodies())[:20]), timeout=2)
        for _ in responses:
            pass
        code = "OK"
    except grpc.RpcError as e:
        code = e.code().name
    codes[code] = codes.get(code, 0) + 1

# Raw garbage: after the HTTP/2 preface, and as a first line.
host, port = endpoint.rsplit(":", 1)
for prefix in [b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b""]:
    for _ in range(20):
        s = socket.create_connection((host, int(port)), timeout=0.2)
        try:
            s.sendall(prefix + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
            s.recv(4096)
        except OSError:
            pass
        s.close()

alive = grpc.insecure_channel(endpoint).unary_unary(
    "/etcdserverpb.Maintenance/Status", request_serializer=identity, response_deserializer=identity)(b"", timeout=5)
print(json.dumps({"codes": codes, "alive": len(alive) > 0}))
