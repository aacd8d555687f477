#!/usr/bin/env bash
# kv against Redis under one load generator (docs/BENCHMARKS.md, "kv against Redis").
#
#   bench/kv_vs_redis.sh                    # one run: every pairing, workload and pipeline
#   DURATION=3 RUNS=3 bench/kv_vs_redis.sh  # three runs, then the medians
#   CROSSCHECK=1 bench/kv_vs_redis.sh       # also redis-benchmark's own figures for Redis
#
# Both servers are driven by this repository's client in bench mode, kv in its framed protocol
# and Redis in RESP (--protocol=resp), with the same --kv_mix, --keys, --payload_bytes,
# --verify=kv, connections and pipeline. Each row runs kv with one worker (--workers=1, like
# Redis's one event-loop thread), kv on its defaults (one worker per CPU) and Redis one after the
# other, so their ratios come from one moment of the machine. Pairings: kv --kv_sync=true beside
# Redis `appendonly yes` + `appendfsync always`; kv --kv_sync=false beside Redis without
# persistence. Each row prints throughput, p99 latency and each server's CPU seconds per million
# requests (from /proc, user + system). Before its first row each server gets WARMUP seconds
# (default 2; 0: none, as the tables before 2026-12-07's last were made) of SETs at pipeline 16,
# not measured, so that no server's first row is measured cold (a fresh database, log and page
# cache): all three get the same. Installs redis-server and redis-tools if missing (apt-get;
# as root). Everything runs on loopback and stops at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
RUNS=${RUNS:-1}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-100000}
VALUE_BYTES=${VALUE_BYTES:-64}
CROSSCHECK=${CROSSCHECK:-0}
WARMUP=${WARMUP:-2}
PORT_BASE=${PORT_BASE:-19100}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
    redis-tools >/tmp/kv-bench-apt.log 2>&1 ||
    { echo "needs redis-server and redis-tools: apt-get install redis-server redis-tools" >&2; exit 1; }
fi
./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
results=$work/results  # "run|pairing|workload|P|server|rps|p99|cpu_per_million|errors|mismatches"

cpu_seconds() {  # of a process, from /proc/PID/stat (utime + stime)
  awk -v tck="$(getconf CLK_TCK)" '{ print ($14 + $15) / tck }' "/proc/$1/stat"
}

wait_port() {  # wait_port PORT: until something listens there (10 s at most)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# drive RUN PAIRING SERVER PID PORT PROTOCOL MIX PIPELINE: one bench of DURATION s, one row.
drive() {
  local run=$1 pairing=$2 server=$3 pid=$4 port=$5 protocol=$6 mix=$7 pipeline=$8
  local before after out
  before=$(cpu_seconds "$pid")
  out=$("$bin/client/client" --port="$port" --protocol="$protocol" --bench --json --threads=1 \
    --connections="$CONNECTIONS" --pipeline="$pipeline" --duration_s="$DURATION" \
    --kv_mix="$mix" --keys="$KEYS" --payload_bytes="$VALUE_BYTES" --verify=kv 2>"$work/err" || true)
  after=$(cpu_seconds "$pid")
  echo "$out" | grep '^{' | python3 -c '
import json, sys
r = json.load(sys.stdin)
cpu = float(sys.argv[3]) - float(sys.argv[2])
per_million = cpu / r["requests"] * 1e6 if r["requests"] else float("nan")
print("|".join([sys.argv[1], "%.0f" % r["throughput_rps"], "%.0f" % r["latency_us"]["p99"],
                "%.2f" % per_million, str(r["errors"]), str(r["mismatches"])]))' \
    "$run|$pairing|$mix|$pipeline|$server" "$before" "$after" >>"$results" ||
    { echo "bench of $server failed: $(cat "$work/err")" >&2; return 1; }
  tail -n 1 "$results" | awk -F'|' '{ printf "  %-7s %-11s P=%-2s %-8s %9s req/s  p99 %6s us  cpu %6s s/M req  errors %s mismatches %s\n", $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
}

warm() {  # warm PORT PROTOCOL: WARMUP s of SETs at pipeline 16, not measured
  [[ $WARMUP == 0 ]] && return 0
  "$bin/client/client" --port="$1" --protocol="$2" --bench --threads=1 \
    --connections="$CONNECTIONS" --pipeline=16 --duration_s="$WARMUP" --kv_mix=set:1 \
    --keys="$KEYS" --payload_bytes="$VALUE_BYTES" >/dev/null 2>&1 ||
    { echo "the warm-up of the server on port $1 failed" >&2; return 1; }
}

start_kv() {  # start_kv NAME PORT SYNC [FLAGS...]: the server's PID in $started
  local name=$1 port=$2 sync=$3
  shift 3
  rm -rf "$work/$name"
  "$bin/server/server" --handler=kv --kv_path="$work/$name" --kv_sync="$sync" --port="$port" \
    --stats_port=-1 "$@" 2>"$work/$name.log" &
  started=$!
  pids+=("$started")
  wait_port "$port"
}

start_redis() {  # start_redis PORT always|off: the server's PID in $started
  local port=$1 mode=$2
  local persistence=(--save '' --appendonly no)
  [[ $mode == always ]] && persistence=(--save '' --appendonly yes --appendfsync always)
  rm -rf "$work/redis"; mkdir -p "$work/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis" --daemonize no \
    "${persistence[@]}" >"$work/redis.log" 2>&1 &
  started=$!
  pids+=("$started")
  wait_port "$port"
}

crosscheck() {  # redis-benchmark's figures for the Redis on PORT (its own generator)
  local port=$1
  for pipeline in 1 16; do
    redis-benchmark -p "$port" -c "$CONNECTIONS" -P "$pipeline" -d "$VALUE_BYTES" \
      -r "$KEYS" -t set,get -n $((pipeline == 1 ? 20000 * DURATION : 150000 * DURATION)) --csv |
      awk -F'"' -v p="$pipeline" '$2 == "SET" || $2 == "GET" { printf "  redis-benchmark %s P=%s %s req/s p99 %s ms\n", $2, p, $4, $14 }'
  done
}

for run in $(seq "$RUNS"); do
  for pairing in durable unsynced; do
    sync=true; aof=always
    [[ $pairing == unsynced ]] && { sync=false; aof=off; }
    echo "== run $run, $pairing: kv --kv_sync=$sync beside Redis appendfsync=$aof"
    start_kv kv1 $((PORT_BASE + 1)) "$sync" --workers=1; kv1=$started
    start_kv kvd $((PORT_BASE + 2)) "$sync"; kvd=$started
    start_redis $((PORT_BASE + 3)) "$aof"; redis=$started
    warm $((PORT_BASE + 1)) framed; warm $((PORT_BASE + 2)) framed; warm $((PORT_BASE + 3)) resp
    # SETs first: they fill the keys the GETs then read.
    for mix in set:1 get:1 set:1,get:9; do
      for pipeline in 1 16; do
        drive "$run" "$pairing" kv-w1 "$kv1" $((PORT_BASE + 1)) framed "$mix" "$pipeline"
        drive "$run" "$pairing" kv "$kvd" $((PORT_BASE + 2)) framed "$mix" "$pipeline"
        drive "$run" "$pairing" redis "$redis" $((PORT_BASE + 3)) resp "$mix" "$pipeline"
      done
    done
    [[ $CROSSCHECK == 1 ]] && crosscheck $((PORT_BASE + 3))
    kill "$kv1" "$kvd" "$redis"; wait "$kv1" "$kvd" "$redis" 2>/dev/null || true
  done
done

echo
echo "== medians of $RUNS run(s): req/s, p99 us, server CPU s per million requests; kv / Redis"
python3 - "$results" <<'EOF'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    run, pairing, mix, p, server, rps, p99, cpu, errors, mismatches = line.strip().split("|")
    rows[(pairing, mix, int(p), server)].append((float(rps), float(p99), float(cpu)))
def med(key, i):
    return statistics.median(v[i] for v in rows[key]) if rows.get(key) else float("nan")
print("%-9s %-11s %-3s | %-23s | %-23s | %-23s | %-11s | %-11s" % (
    "pairing", "workload", "P", "kv --workers=1", "kv (defaults)", "Redis",
    "w1/Redis", "kv/Redis"))
print("%-9s %-11s %-3s | %-23s | %-23s | %-23s | %-11s | %-11s" % (
    "", "", "", "req/s  p99  cpu/M", "req/s  p99  cpu/M", "req/s  p99  cpu/M", "rps  cpu", "rps  cpu"))
for pairing in ("durable", "unsynced"):
    for mix in ("set:1", "get:1", "set:1,get:9"):
        for p in (1, 16):
            cells, k = [], {}
            for server in ("kv-w1", "kv", "redis"):
                key = (pairing, mix, p, server)
                k[server] = (med(key, 0), med(key, 1), med(key, 2))
                cells.append("%8.0f %5.0f %6.2f" % k[server])
            ratio = lambda s: "%4.2f %4.2f" % (k[s][0] / k["redis"][0], k[s][2] / k["redis"][2])
            print("%-9s %-11s %-3d | %s | %s | %s | %-11s | %-11s" % (
                pairing, mix, p, cells[0], cells[1], cells[2], ratio("kv-w1"), ratio("kv")))
EOF
echo "(machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); shared with other work: compare ratios)"
