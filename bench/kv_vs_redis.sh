#!/usr/bin/env bash
# kv against Redis, SET and GET, one run, this machine (docs/BENCHMARKS.md, "kv against Redis").
#
#   bench/kv_vs_redis.sh                 # 50 connections, pipeline 1 and 16, 64-byte values
#   DURATION=5 bench/kv_vs_redis.sh
#
# Pairings: Redis with `appendonly yes` + `appendfsync always` beside kv with --kv_sync=true, and
# Redis with persistence off beside kv with --kv_sync=false. Redis is driven by redis-benchmark,
# kv by the client's bench mode (`--request`); the two generators differ, so each one's CPU
# seconds are printed beside its figures, and each server's too (from /proc). One key, as
# redis-benchmark uses by default. Installs redis-server and redis-tools if missing. Everything
# runs on loopback and stops at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-50}
KV_PORT=${KV_PORT:-19101}
REDIS_PORT=${REDIS_PORT:-19102}
VALUE=$(printf 'v%.0s' $(seq 64))  # 64 bytes

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
    redis-tools >/tmp/kv-bench-apt.log 2>&1
fi
./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

cpu_seconds() {  # of a process, from /proc/PID/stat (utime + stime)
  awk -v tck="$(getconf CLK_TCK)" '{ print ($14 + $15) / tck }' "/proc/$1/stat"
}

# timed COMMAND...: runs it, prints its output, then its CPU time "cpu=USER+SYSTEM" on stderr.
timed() {
  /usr/bin/time -f 'cpu=%U+%S' "$@" 2>"$work/time" || true
  tail -n 1 "$work/time" >&2
}

run_kv() {  # run_kv SYNC
  local sync=$1
  rm -rf "$work/kv"
  "$bin/server/server" --handler=kv --kv_path="$work/kv" --kv_sync="$sync" --port="$KV_PORT" \
    --workers=1 2>/dev/null &
  local pid=$!
  pids+=("$pid")
  sleep 1
  "$bin/client/client" --port="$KV_PORT" "SET key:000000000001 $VALUE" >/dev/null
  for pipeline in 1 16; do
    for op in GET SET; do  # GET first: RocksDB's flushes after a SET run would weigh on it
      local request="GET key:000000000001"
      [[ $op == SET ]] && request="SET key:000000000001 $VALUE"
      local before; before=$(cpu_seconds "$pid")
      local result
      result=$(timed "$bin/client/client" --port="$KV_PORT" --bench --json --threads=1 \
        --connections="$CONNECTIONS" --pipeline="$pipeline" --duration_s="$DURATION" \
        --request="$request" 2>&1)
      local generator_cpu; generator_cpu=$(echo "$result" | grep -o 'cpu=[0-9.+]*' | tail -1)
      local server_cpu; server_cpu=$(python3 -c "print(round($(cpu_seconds "$pid") - $before, 2))")
      echo "$result" | grep '^{' | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("kv    sync=%-5s %s P=%-2s %9.0f req/s  p99 %7.0f us  errors %d  client %s  server cpu=%ss" % (
    sys.argv[1], sys.argv[2], sys.argv[3], r["throughput_rps"], r["latency_us"]["p99"],
    r["errors"], sys.argv[4], sys.argv[5]))' "$sync" "$op" "$pipeline" "$generator_cpu" "$server_cpu"
    done
  done
  # A mix over many keys, every GET checked against what the bench set (no Redis counterpart:
  # redis-benchmark runs one command at a time).
  local result
  result=$("$bin/client/client" --port="$KV_PORT" --bench --json --threads=1 \
    --connections="$CONNECTIONS" --pipeline=16 --duration_s="$DURATION" --kv_mix=set:1,get:9 \
    --keys=100000 --payload_bytes=64 --verify=kv 2>&1)
  echo "$result" | grep '^{' | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("kv    sync=%-5s set:1,get:9 P=16 100000 keys %9.0f req/s  p99 %7.0f us  errors %d  mismatches %d" % (
    sys.argv[1], r["throughput_rps"], r["latency_us"]["p99"], r["errors"], r["mismatches"]))' "$sync"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_redis() {  # run_redis always|off
  local mode=$1
  local persistence=(--save '' --appendonly no)
  [[ $mode == always ]] && persistence=(--save '' --appendonly yes --appendfsync always)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work" --daemonize no \
    "${persistence[@]}" >"$work/redis.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  sleep 1
  for pipeline in 1 16; do
    for op in get set; do
      local before; before=$(cpu_seconds "$pid")
      # redis-benchmark runs a request count, not a duration: about DURATION seconds' worth.
      local n=$((pipeline == 1 ? 30000 * DURATION : 200000 * DURATION))
      [[ $mode == always && $op == set && $pipeline == 1 ]] && n=$((2000 * DURATION))
      local out
      out=$(timed redis-benchmark -p "$REDIS_PORT" -c "$CONNECTIONS" -P "$pipeline" -d 64 \
        -t "$op" -n "$n" --csv 2>&1)
      local generator_cpu; generator_cpu=$(echo "$out" | grep -o 'cpu=[0-9.+]*' | tail -1)
      local server_cpu; server_cpu=$(python3 -c "print(round($(cpu_seconds "$pid") - $before, 2))")
      echo "$out" | python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin) if r and r[0] in ("SET", "GET")]
r = rows[0]
print("redis aof=%-6s %s P=%-2s %9.0f req/s  p99 %7.0f us  client %s  server cpu=%ss" % (
    sys.argv[1], r[0], sys.argv[2], float(r[1]), float(r[6]) * 1000, sys.argv[3], sys.argv[4]))' \
        "$mode" "$pipeline" "$generator_cpu" "$server_cpu"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== durable: kv --kv_sync=true beside Redis appendfsync always"
run_kv true
run_redis always
echo "== not synced: kv --kv_sync=false beside Redis without persistence"
run_kv false
run_redis off
