#!/usr/bin/env python3
"""What declared-but-unsent frames cost a running server (docs/RELIABILITY.md, "Memory budget").

Opens N connections to the server on PORT; each declares a 16 MiB frame and sends one byte of
it. Prints the server's VmSize, VmRSS and number of memory mappings before and after.

    bazel-bin/server/server --port=19221 &
    bench/declared_frames.py 19221 $! 10000
"""
import resource
import socket
import struct
import sys
import time


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    with open(f"/proc/{pid}/maps") as f:
        maps = sum(1 for _ in f)
    return f"VmSize {fields['VmSize']}, VmRSS {fields['VmRSS']}, {maps} mappings"


def main():
    port, pid, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("before:", status(pid))
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(struct.pack(">I", 16 << 20) + b"x")
        sockets.append(s)
    time.sleep(2)  # let the server read them all
    print(f"after {count} connections:", status(pid))


if __name__ == "__main__":
    main()
