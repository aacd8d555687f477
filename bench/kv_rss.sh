#!/usr/bin/env bash
# kv's resident memory under a SET flood, against the bounds its flags set (docs/kv.md,
# "Memory"): RocksDB's two memtables (--kv_memtable_bytes each), its block cache
# (--kv_block_cache_bytes), and --max_buffer_memory, which bounds the commit queue (at most half
# of it) and the connections' buffers (the rest) together.
#
#   bench/kv_rss.sh                     # defaults, then small bounds; 20 s each
#   DURATION=60 VALUE_BYTES=16384 bench/kv_rss.sh
#
# Each case floods SETs (50 connections, pipeline 16, VALUE_BYTES values over KEYS keys) and
# samples the server's VmRSS every 0.2 s; it prints the peak beside the sum of the bounds.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
VALUE_BYTES=${VALUE_BYTES:-4096}
KEYS=${KEYS:-1000000}
PORT=${PORT:-19111}

./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

flood() {  # flood MEMTABLE_BYTES BLOCK_CACHE_BYTES MAX_BUFFER_MEMORY
  local memtable=$1 cache=$2 budget=$3
  rm -rf "$work/kv"
  "$bin/server/server" --handler=kv --kv_path="$work/kv" --kv_sync=false --port="$PORT" \
    --stats_port=-1 --kv_memtable_bytes="$memtable" --kv_block_cache_bytes="$cache" \
    --max_buffer_memory="$budget" 2>"$work/log" &
  pid=$!
  sleep 1
  local idle; idle=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
  "$bin/client/client" --port="$PORT" --bench --json --connections=50 --pipeline=16 \
    --duration_s="$DURATION" --kv_mix=set:1 --keys="$KEYS" --payload_bytes="$VALUE_BYTES" \
    >"$work/bench" 2>&1 &
  local bench=$! peak=0 rss
  while kill -0 "$bench" 2>/dev/null; do
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    (( rss > peak )) && peak=$rss
    sleep 0.2
  done
  wait "$bench" || true
  local disk; disk=$(du -sm "$work/kv" | cut -f1)
  python3 - "$memtable" "$cache" "$budget" "$idle" "$peak" "$disk" "$(grep '^{' "$work/bench")" <<'PY'
import json, sys
memtable, cache, budget, idle, peak, disk = (int(x) for x in sys.argv[1:7])
r = json.loads(sys.argv[7])
mib = 1 << 20
bound = 2 * memtable + cache + budget
print("memtables 2 x %d MiB, cache %d MiB, buffers %d MiB (queue <= %d): bounds %d MiB + idle %d MiB = %d MiB;"
      " peak RSS %d MiB (%.2f of it); %d SETs at %.0f/s, %d MiB on disk" % (
      memtable // mib, cache // mib, budget // mib, budget // 2 // mib, bound // mib, idle // 1024,
      bound // mib + idle // 1024, peak // 1024, (peak * 1024) / (bound + idle * 1024),
      r["requests"], r["throughput_rps"], disk))
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
}

echo "SET flood: 50 connections x 16, $VALUE_BYTES-byte values over $KEYS keys, $DURATION s, --kv_sync=false"
flood $((64 << 20)) $((64 << 20)) $((1 << 30))   # the defaults
flood $((8 << 20)) $((8 << 20)) $((64 << 20))    # small bounds
echo "(machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); shared with other work)"
