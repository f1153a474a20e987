#!/usr/bin/env python3
"""kw_probe: kawasaki's own cost of a container's network, for bench/network.

    kw_probe.py SOCKET NETNS-PID N PREFIX

Sends N `up` requests (handle PREFIX-i, the network namespace of NETNS-PID as the packet's fd,
as guardian's workers do) each followed by its `down`, one at a time, and prints the median
wall time of up and of down in ms: "up 1.23 down 4.56". The namespace's links are removed by
each down, so it can be reused.
"""
import json
import os
import socket
import statistics
import sys
import time


def call(sock_path, req, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path)
    try:
        data = (json.dumps(req, separators=(",", ":")) + "\n").encode()
        socket.send_fds(s, [data], list(fds))
        reply = json.loads(s.recv(1 << 20))
    finally:
        s.close()
    if not reply.get("ok"):
        raise SystemExit("kw_probe: %s: %s" % (req["op"], reply.get("error")))
    return reply


def main():
    sock_path, pid, n, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    ups, downs = [], []
    for i in range(n):
        handle = "%s-%d" % (prefix, i)
        fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY | os.O_CLOEXEC)
        try:
            t0 = time.perf_counter()
            call(sock_path, {"op": "up", "v": 1, "handle": handle, "network": ""}, [fd])
            t1 = time.perf_counter()
        finally:
            os.close(fd)
        call(sock_path, {"op": "down", "v": 1, "handle": handle})
        t2 = time.perf_counter()
        ups.append((t1 - t0) * 1000)
        downs.append((t2 - t1) * 1000)
    print("up %.2f down %.2f" % (statistics.median(ups), statistics.median(downs)))


if __name__ == "__main__":
    main()
