#!/usr/bin/python3
"""Opens N keep-alive connections to a proxy, one GET each, leaves them idle, and reports how much
the proxy's resident memory grew.

  idle_connections.py --port P --count N [--pid PROXY_PID] [--settle S]

Requests go one after another, so the proxy needs only a member connection or two and the
growth is what the idle client connections themselves cost. Prints one JSON object:
{"connections", "rss_before_kib", "rss_after_kib", "fds_before", "fds_after", "members"}.
"members" counts responses by body (the member's name), to show both members served.
"""

import argparse
import json
import os
import resource
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: pharos-idle-bench\r\n\r\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def one_response(sock):
    """Reads one Content-Length framed response; returns (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        if name.strip().lower() == "connection" and "close" in value.lower():
            raise RuntimeError("the proxy asked to close a keep-alive connection")
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed inside the response body")
        body += chunk
    return status, body[:length]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pid", type=int, help="the proxy's PID, to read its memory")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds to wait before the last reading")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.count + 1024), hard))

    def exchange(sock):
        sock.sendall(REQUEST)
        status, body = one_response(sock)
        if status != 200:
            raise RuntimeError(f"status {status}")
        return body.decode("latin-1").strip()

    # One exchange first, so member connections and lazily built state exist before "before".
    with socket.create_connection(("127.0.0.1", args.port), timeout=5) as warm:
        exchange(warm)
    time.sleep(0.2)
    before = rss_kib(args.pid) if args.pid else 0
    fds_before = fds(args.pid) if args.pid else 0

    held = []
    members = {}
    for _ in range(args.count):
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        held.append(sock)
        name = exchange(sock)
        members[name] = members.get(name, 0) + 1

    time.sleep(args.settle)
    after = rss_kib(args.pid) if args.pid else 0
    fds_after = fds(args.pid) if args.pid else 0
    # Still open? A proxy that closed idle connections early would make the figure meaningless.
    for sock in held:
        sock.setblocking(False)
        try:
            if sock.recv(1) == b"":
                raise RuntimeError("the proxy closed an idle keep-alive connection")
        except BlockingIOError:
            pass
    for sock in held:
        sock.close()
    json.dump({"connections": args.count, "rss_before_kib": before, "rss_after_kib": after,
               "fds_before": fds_before, "fds_after": fds_after, "members": members}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
