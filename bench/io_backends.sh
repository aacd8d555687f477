#!/usr/bin/env bash
# The I/O backends side by side in one run: the server on --io=io_uring, the server on
# --io=epoll, and the raw-epoll baseline, each with one thread, driven by the same client.
#
#   bench/io_backends.sh                 # the three cases, 3 alternating runs of 5 s each
#   RUNS=5 DURATION=10 bench/io_backends.sh
#   CASES="50:1:64" bench/io_backends.sh  # connections:pipeline:payload_bytes
#
# For each case and target: throughput and p99 (medians), and the server's CPU time per request
# (utime + stime from /proc/PID/stat over the run, divided by the requests answered), in
# microseconds. The client runs on the same two cores: compare figures of one run.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CASES=${CASES:-"50:1:64 50:16:64 8:4:65536"}
BASELINE_PORT=${BASELINE_PORT:-19011}
EPOLL_PORT=${EPOLL_PORT:-19012}
URING_PORT=${URING_PORT:-19013}

./bazelw build --config=bench //server //client //bench:baseline_echo_server >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)

"$bin/bench/baseline_echo_server" --port="$BASELINE_PORT" --threads=1 2>/dev/null &
baseline_pid=$!
"$bin/server/server" --port="$EPOLL_PORT" --workers=1 --io=epoll \
  --logtostderr=false --stderrthreshold=2 2>/dev/null &
epoll_pid=$!
"$bin/server/server" --port="$URING_PORT" --workers=1 --io=io_uring \
  --logtostderr=false --stderrthreshold=2 2>/dev/null &
uring_pid=$!
trap 'kill $baseline_pid $epoll_pid $uring_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
sleep 1

# CPU time of a process in clock ticks (utime + stime, fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Runs one bench against a target and prints "throughput p99_us cpu_us_per_request".
measure() {
  local port=$1 pid=$2 connections=$3 pipeline=$4 payload=$5 before after
  before=$(cpu_ticks "$pid")
  "$bin/client/client" --port="$port" --bench --json --threads=1 --timeout_ms=30000 \
    --connections="$connections" --pipeline="$pipeline" --payload_bytes="$payload" \
    --duration_s="$DURATION" --verify=echo >/tmp/io_backends.json
  after=$(cpu_ticks "$pid")
  python3 -c 'import json,sys
r = json.load(open("/tmp/io_backends.json"))
ticks, hz = float(sys.argv[1]), float(sys.argv[2])
assert r["errors"] == 0 and r["mismatches"] == 0, r
print(r["throughput_rps"], r["latency_us"]["p99"], ticks / hz * 1e6 / max(r["requests"], 1))' \
    "$((after - before))" "$hz"
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '%-18s %-9s %11s %9s %11s %11s\n' case target req_per_s p99_us cpu_us_req vs_epoll
for case in $CASES; do
  IFS=: read -r connections pipeline payload <<<"$case"
  declare -A rps=() p99=() cpu=()
  for ((run = 0; run < RUNS; run++)); do
    for target in baseline epoll io_uring; do
      case $target in
        baseline) port=$BASELINE_PORT pid=$baseline_pid ;;
        epoll) port=$EPOLL_PORT pid=$epoll_pid ;;
        io_uring) port=$URING_PORT pid=$uring_pid ;;
      esac
      read -r r p c < <(measure "$port" "$pid" "$connections" "$pipeline" "$payload")
      rps[$target]+="$r "; p99[$target]+="$p "; cpu[$target]+="$c "
    done
  done
  epoll_rps=$(median ${rps[epoll]})
  for target in baseline epoll io_uring; do
    r=$(median ${rps[$target]}); p=$(median ${p99[$target]}); c=$(median ${cpu[$target]})
    python3 -c 'import sys; n,t,r,p,c,e=sys.argv[1:]; print("%-18s %-9s %11.0f %9.0f %11.2f %10.2fx" % (n,t,float(r),float(p),float(c),float(r)/float(e)))' \
      "c=$connections p=$pipeline ${payload}B" "$target" "$r" "$p" "$c" "$epoll_rps"
  done
  unset rps p99 cpu
done
