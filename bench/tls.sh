#!/usr/bin/env bash
# TLS against plain text, side by side in one run: the same echo server build twice (one plain,
# one with --tls_cert/--tls_key; --workers=1 each), the same client bench against each,
# alternating, medians of RUNS; then new connections per second (connect, handshake, one
# request, close): plain, TLS full handshakes, TLS resumed.
#
#   bench/tls.sh                       # RUNS=3 DURATION=5
#   CASES="8:4:65536" bench/tls.sh     # connections:pipeline:payload_bytes
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CASES=${CASES:-"50:16:64 8:4:65536 8:1:65536"}
PLAIN_PORT=${PLAIN_PORT:-19011}
TLS_PORT=${TLS_PORT:-19012}

./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
certs=$(mktemp -d)
tests/tls/make_certs.sh "$certs" >/dev/null

"$bin/server/server" --port="$PLAIN_PORT" --workers=1 --logtostderr=false --stderrthreshold=2 2>/dev/null &
plain_pid=$!
"$bin/server/server" --port="$TLS_PORT" --workers=1 --logtostderr=false --stderrthreshold=2 \
  --tls_cert="$certs/server.pem" --tls_key="$certs/server.key" 2>/dev/null &
tls_pid=$!
trap 'kill $plain_pid $tls_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$certs"' EXIT
sleep 1
tls_flags=(--tls_ca="$certs/ca.pem" --tls_server_name=localhost)

# cpu_s PID: user + system CPU seconds the process has used so far.
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

# measure PORT PID C P BYTES [client flags]: prints "throughput p99_us server_cpu_s"
measure() {
  local port=$1 pid=$2 connections=$3 pipeline=$4 payload=$5; shift 5
  local before; before=$(cpu_s "$pid")
  "$bin/client/client" --port="$port" --bench --json --threads=1 --timeout_ms=30000 \
    --connections="$connections" --pipeline="$pipeline" --payload_bytes="$payload" \
    --duration_s="$DURATION" --verify=echo "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["throughput_rps"], r["latency_us"]["p99"], end=" ")'
  echo "$(python3 -c "print(round($(cpu_s "$pid") - $before, 2))")"
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '%-20s %12s %12s %6s %9s %9s %10s %10s\n' case plain_rps tls_rps ratio plain_p99 tls_p99 plain_cpu tls_cpu
for case in $CASES; do
  IFS=: read -r connections pipeline payload <<<"$case"
  p_rps=(); t_rps=(); p_p99=(); t_p99=(); p_cpu=(); t_cpu=()
  for ((run = 0; run < RUNS; run++)); do
    read -r rps p99 cpu < <(measure "$PLAIN_PORT" "$plain_pid" "$connections" "$pipeline" "$payload")
    p_rps+=("$rps"); p_p99+=("$p99"); p_cpu+=("$cpu")
    read -r rps p99 cpu < <(measure "$TLS_PORT" "$tls_pid" "$connections" "$pipeline" "$payload" "${tls_flags[@]}")
    t_rps+=("$rps"); t_p99+=("$p99"); t_cpu+=("$cpu")
  done
  python3 -c 'import sys; c,a,b,pa,pb,ca,cb=sys.argv[1:]; a,b=float(a),float(b); print("%-20s %12.0f %12.0f %6.2f %9.0f %9.0f %10s %10s" % (c,a,b,b/a,float(pa),float(pb),ca,cb))' \
    "c=$connections p=$pipeline ${payload}B" "$(median "${p_rps[@]}")" "$(median "${t_rps[@]}")" \
    "$(median "${p_p99[@]}")" "$(median "${t_p99[@]}")" "$(median "${p_cpu[@]}")" "$(median "${t_cpu[@]}")"
done

echo
printf '%-22s %14s %10s %10s\n' "new connections" connections/s p99_us server_cpu_s
connect() {  # label port pid [flags]
  local label=$1 port=$2 pid=$3; shift 3
  local before; before=$(cpu_s "$pid")
  "$bin/client/client" --port="$port" --connect_rate --json --duration_s="$DURATION" "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-22s %14.0f %10.0f" % (sys.argv[1], r["connections_per_s"], r["latency_us"]["p99"]), end=" ")' "$label"
  python3 -c "print('%10.2f' % ($(cpu_s "$pid") - $before))"
}
connect "plain text" "$PLAIN_PORT" "$plain_pid"
connect "TLS, full handshake" "$TLS_PORT" "$tls_pid" "${tls_flags[@]}"
connect "TLS, resumed" "$TLS_PORT" "$tls_pid" "${tls_flags[@]}" --tls_resume
