#!/bin/sh
# Runs the server with at most 32 open descriptors, to test what it does when it runs out.
ulimit -n 32
exec "$(dirname "$0")/../server/server" "$@"
