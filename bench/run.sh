#!/usr/bin/env bash
# Benchmarks the server against the raw-epoll baseline, side by side in one run.
#
#   bench/run.sh                  # every case, 3 alternating runs of 5 s each
#   RUNS=5 DURATION=10 bench/run.sh
#   CASES="50:1:64" bench/run.sh  # only some cases: connections:pipeline:payload_bytes
#   REDIS=1 bench/run.sh          # also redis-benchmark against redis-server PING, as an
#                                 # outside anchor (apt-get install redis-server redis-tools)
#
# Builds with optimisation (--config=bench), starts the baseline (1 thread) and the server
# (--workers=1, echo) on loopback, drives each with the client's bench mode (1 thread), runs
# alternating baseline/server, and prints the medians and their ratios. Both servers and the
# client share this machine's cores: compare ratios from one run, not figures across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CASES=${CASES:-"50:1:64 50:16:64 8:4:65536 1:1:64 10:1:64 100:1:64 1000:1:64 10000:1:64"}
BASELINE_PORT=${BASELINE_PORT:-19001}
SERVER_PORT=${SERVER_PORT:-19002}

./bazelw build --config=bench //server //client //bench:baseline_echo_server >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)

ulimit -n "$(ulimit -Hn)"
"$bin/bench/baseline_echo_server" --port="$BASELINE_PORT" --threads=1 2>/dev/null &
baseline_pid=$!
"$bin/server/server" --port="$SERVER_PORT" --workers=1 --max_connections=20000 \
  --logtostderr=false --stderrthreshold=2 2>/dev/null &
server_pid=$!
trap 'kill $baseline_pid $server_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
sleep 1

# Runs one bench and prints "throughput p99_us".
measure() {
  local port=$1 connections=$2 pipeline=$3 payload=$4
  "$bin/client/client" --port="$port" --bench --json --threads=1 --timeout_ms=30000 \
    --connections="$connections" --pipeline="$pipeline" --payload_bytes="$payload" \
    --duration_s="$DURATION" --verify=echo |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["throughput_rps"], r["latency_us"]["p99"], r["bandwidth_mib_s"])'
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '%-22s %12s %12s %7s %10s %10s %7s\n' case baseline_rps server_rps ratio base_p99 serv_p99 ratio
for case in $CASES; do
  IFS=: read -r connections pipeline payload <<<"$case"
  b_rps=(); s_rps=(); b_p99=(); s_p99=()
  for ((run = 0; run < RUNS; run++)); do
    read -r rps p99 _ < <(measure "$BASELINE_PORT" "$connections" "$pipeline" "$payload")
    b_rps+=("$rps"); b_p99+=("$p99")
    read -r rps p99 _ < <(measure "$SERVER_PORT" "$connections" "$pipeline" "$payload")
    s_rps+=("$rps"); s_p99+=("$p99")
  done
  br=$(median "${b_rps[@]}"); sr=$(median "${s_rps[@]}")
  bp=$(median "${b_p99[@]}"); sp=$(median "${s_p99[@]}")
  python3 -c 'import sys; c,br,sr,bp,sp=sys.argv[1:]; br,sr,bp,sp=map(float,(br,sr,bp,sp)); print("%-22s %12.0f %12.0f %7.2f %10.0f %10.0f %7.2f" % (c,br,sr,sr/br,bp,sp,sp/bp if bp else 0))' \
    "c=$connections p=$pipeline ${payload}B" "$br" "$sr" "$bp" "$sp"
done

# Memory per idle connection: RSS growth with 10,000 connections that send nothing.
echo
printf '%-22s %12s %12s\n' case baseline_B server_B
printf '%-22s %12s %12s\n' "10000 idle, RSS/conn" \
  "$(bench/idle_rss.py "$baseline_pid" "$BASELINE_PORT" 10000)" \
  "$(bench/idle_rss.py "$server_pid" "$SERVER_PORT" 10000)"

# An outside anchor: how fast redis-benchmark drives redis-server PING at the same concurrency
# and pipelining, next to how fast our client drives the baseline.
if [[ ${REDIS:-0} == 1 ]]; then
  redis_port=${REDIS_PORT:-19003}
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  redis_pid=$!
  trap 'kill $baseline_pid $server_pid $redis_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
  sleep 1
  echo
  printf '%-22s %16s %22s %7s\n' case redis_ping_rps client_on_baseline_rps ratio
  for case in 50:1:64 50:16:64; do
    IFS=: read -r connections pipeline payload <<<"$case"
    r_rps=(); b_rps=()
    for ((run = 0; run < RUNS; run++)); do
      requests=$((pipeline == 1 ? 300000 : 3000000))
      r_rps+=("$(redis-benchmark -p "$redis_port" -t ping -c "$connections" -P "$pipeline" \
        -n "$requests" --csv 2>/dev/null | python3 -c 'import csv,sys; rows=[r for r in csv.reader(sys.stdin) if r and r[0]=="PING_MBULK"]; print(rows[0][1])')")
      read -r rps _ _ < <(measure "$BASELINE_PORT" "$connections" "$pipeline" "$payload")
      b_rps+=("$rps")
    done
    rr=$(median "${r_rps[@]}"); br=$(median "${b_rps[@]}")
    python3 -c 'import sys; c,rr,br=sys.argv[1:]; rr,br=float(rr),float(br); print("%-22s %16.0f %22.0f %7.2f" % (c,rr,br,br/rr))' \
      "c=$connections p=$pipeline" "$rr" "$br"
  done
fi
