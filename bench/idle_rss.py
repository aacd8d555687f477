#!/usr/bin/env python3
"""Opens N idle connections to a server and prints its RSS growth per connection.

    bench/idle_rss.py PID PORT [N]

Reads the server's VmRSS from /proc before and after, once every connection has been accepted
(its open descriptor count has grown by N). Loopback only; closes everything before exiting.
"""
import os
import resource
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before_rss, before_fds = rss_kb(pid), open_fds(pid)
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    deadline = time.time() + 30
    while open_fds(pid) < before_fds + count and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    grown = (rss_kb(pid) - before_rss) * 1024 / count
    for s in sockets:
        s.close()
    print(f"{grown:.0f}")


if __name__ == "__main__":
    main()
