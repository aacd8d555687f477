#!/bin/sh
# Runs the server with 1 GiB of address space (it starts with about 320 MiB), so that a frame a
# client declares near --max_frame_bytes cannot be allocated: what it does then is under test.
ulimit -v 1048576
exec "$(dirname "$0")/../server/server" "$@"
