#!/usr/bin/env bash
# The proxy handler beside HAProxy, in one run, with the same client and the same backends:
#   client -> server --handler=proxy (one worker) -> two echo backends (one worker each)
#   client -> HAProxy (TCP mode, one thread)       -> the same two backends
#   client -> one backend directly (for scale)
#
#   bench/proxy_vs_haproxy.sh                  # 50 x 1 and 50 x 16, 64 B, 3 alternating runs of 5 s
#   RUNS=5 DURATION=10 CASES="50:16:64" bench/proxy_vs_haproxy.sh
#
# For each case and target: throughput and p99 (medians), the CPU time per request of the
# process in the middle (utime + stime from /proc/PID/stat over the run, divided by the
# requests answered; the direct row shows the backend's), and how many connections it had open
# to the backends at the end of the run. Everything shares this machine's cores (client,
# middle, backends): compare figures of one run. Installs Debian's haproxy if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CASES=${CASES:-"50:1:64 50:16:64"}
B1=${B1:-19021} B2=${B2:-19022} PROXY=${PROXY:-19023} HAPROXY=${HAPROXY:-19024}

if ! command -v haproxy >/dev/null; then
  echo "proxy_vs_haproxy: installing haproxy" >&2
  sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    haproxy >/dev/null
fi

./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
work=$(mktemp -d)
quiet=(--logtostderr=false --stderrthreshold=2 --stats_port=-1 --admin_port=-1)

"$bin/server/server" --port="$B1" --workers=1 "${quiet[@]}" 2>/dev/null & b1_pid=$!
"$bin/server/server" --port="$B2" --workers=1 "${quiet[@]}" 2>/dev/null & b2_pid=$!
"$bin/server/server" --port="$PROXY" --workers=1 --handler=proxy "${quiet[@]}" \
  --proxy_backends="127.0.0.1:$B1,127.0.0.1:$B2" --proxy_retry=none 2>/dev/null & proxy_pid=$!
cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 30s
frontend framed
    bind 127.0.0.1:$HAPROXY
    default_backend servers
backend servers
    balance roundrobin
    server b1 127.0.0.1:$B1
    server b2 127.0.0.1:$B2
EOF
haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" & haproxy_pid=$!
trap 'kill $b1_pid $b2_pid $proxy_pid $haproxy_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# Connections from process $1 to the backends (its sockets whose peer is B1 or B2).
backend_connections() {
  ss -tnpH state established "( dport = :$B1 or dport = :$B2 )" 2>/dev/null |
    grep -c "pid=$1," || true
}

# One bench: "throughput p99_us cpu_us_per_request backend_connections".
measure() {
  local port=$1 pid=$2 connections=$3 pipeline=$4 payload=$5 before after conns
  before=$(cpu_ticks "$pid")
  "$bin/client/client" --port="$port" --bench --json --threads=1 --timeout_ms=30000 \
    --connections="$connections" --pipeline="$pipeline" --payload_bytes="$payload" \
    --duration_s="$DURATION" --verify=echo >"$work/bench.json" &
  local client=$!
  sleep "$(python3 -c "print($DURATION * 0.8)")"
  conns=$(backend_connections "$pid")
  wait $client
  after=$(cpu_ticks "$pid")
  python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
ticks, hz = float(sys.argv[2]), float(sys.argv[3])
assert r["errors"] == 0 and r["mismatches"] == 0, r
print(r["throughput_rps"], r["latency_us"]["p99"], ticks / hz * 1e6 / max(r["requests"], 1), sys.argv[4])' \
    "$work/bench.json" "$((after - before))" "$hz" "$conns"
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '%-14s %-8s %11s %9s %11s %9s %10s\n' case target req_per_s p99_us cpu_us_req backends vs_haproxy
for case in $CASES; do
  IFS=: read -r connections pipeline payload <<<"$case"
  declare -A rps=() p99=() cpu=() conns=()
  for ((run = 0; run < RUNS; run++)); do
    for target in direct haproxy proxy; do
      case $target in
        direct) port=$B1 pid=$b1_pid ;;
        haproxy) port=$HAPROXY pid=$haproxy_pid ;;
        proxy) port=$PROXY pid=$proxy_pid ;;
      esac
      read -r r p c n < <(measure "$port" "$pid" "$connections" "$pipeline" "$payload")
      rps[$target]+="$r "; p99[$target]+="$p "; cpu[$target]+="$c "; conns[$target]+="$n "
    done
  done
  haproxy_rps=$(median ${rps[haproxy]})
  for target in direct haproxy proxy; do
    r=$(median ${rps[$target]}); p=$(median ${p99[$target]}); c=$(median ${cpu[$target]})
    n=$(median ${conns[$target]})
    python3 -c 'import sys; k,t,r,p,c,n,h=sys.argv[1:]; print("%-14s %-8s %11.0f %9.0f %11.2f %9.0f %9.2fx" % (k,t,float(r),float(p),float(c),float(n),float(r)/float(h)))' \
      "c=$connections p=$pipeline" "$target" "$r" "$p" "$c" "$n" "$haproxy_rps"
  done
  unset rps p99 cpu conns
done
