#!/usr/bin/env bash
# The hostile scenarios against this server and against the raw-epoll baseline, side by side in
# one run: for each scenario, a fresh server (default flags, 2 workers) is attacked, then a fresh
# baseline (2 threads) with the same attack, and the probe's p99 under attack is compared.
# On this machine's two cores the attacker, the probe and the server share CPUs, so absolute
# p99s under attack say little; the ratio to the baseline in the same run is the figure.
#
#   bench/hostile_compare.sh                      # every scenario, 10 s attacks
#   SCENARIOS="garbage churn" ATTACK_S=20 bench/hostile_compare.sh
#   SCENARIOS="partial:1000 nonreader:1000" bench/hostile_compare.sh   # scenario:connections
#
# The baseline has no limits: a flood that would make it hold more than RSS_CAP_MB is stopped
# early by the tool (reported as such). Raw reports go to $OUT (default /tmp/hostile_compare).
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=${SCENARIOS:-"slowloris nonreader garbage churn silent partial:1000 nonreader:1000"}
ATTACK_S=${ATTACK_S:-10}
RSS_CAP_MB=${RSS_CAP_MB:-4096}
PORT=${PORT:-19060}
STATS_PORT=${STATS_PORT:-19061}
OUT=${OUT:-/tmp/hostile_compare}
SERVER_FLAGS=${SERVER_FLAGS:-}

./bazelw build --config=bench //server //bench:baseline_echo_server //tests/hostile:hostile_client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"

pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT

wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

# attack NAME SCENARIO CONNECTIONS: runs the tool against $pid, report to $OUT/NAME-SCENARIO-C.txt
attack() {
  local name=$1 scenario=$2 connections=$3
  "$bin/tests/hostile/hostile_client" --port="$PORT" --stats_port="$STATS_PORT" --server_pid="$pid" \
    --scenario="$scenario" --connections="$connections" --attack_s="$ATTACK_S" \
    --rss_cap_mb="$RSS_CAP_MB" > "$OUT/$name-$scenario-$connections.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

printf '| %-16s | %-26s | %-26s | %5s | %-18s | %-18s |\n' scenario "server p99 calm -> attacked" \
  "baseline p99 calm -> attacked" ratio "server peak RSS" "baseline peak RSS"
for spec in $SCENARIOS; do
  scenario=${spec%%:*}; connections=0
  [[ $spec == *:* ]] && connections=${spec#*:}
  "$bin/server/server" --port="$PORT" --stats_port="$STATS_PORT" --workers=2 \
    --logtostderr=false --stderrthreshold=2 $SERVER_FLAGS 2>/dev/null &
  pid=$!
  wait_for_port "$PORT"
  attack server "$scenario" "$connections"
  "$bin/bench/baseline_echo_server" --port="$PORT" --threads=2 2>/dev/null &
  pid=$!
  wait_for_port "$PORT"
  attack baseline "$scenario" "$connections"
  python3 - "$OUT/server-$scenario-$connections.txt" "$OUT/baseline-$scenario-$connections.txt" "$spec" <<'PY'
import re, sys
def read(path):
    text = open(path).read()
    m = re.search(r'probe p99\s+(\d+) us without attack, (\d+) us during .*?(\d+) errors', text)
    rss = int(re.search(r'server RSS\s+(\d+) KiB peak', text).group(1))
    early = 'stopped early' in text
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), rss, early
s, b = read(sys.argv[1]), read(sys.argv[2])
cell = lambda r: '%d -> %d us%s' % (r[0], r[1], ' (%d errors)' % r[2] if r[2] else '')
mib = lambda r: '%.0f MiB%s' % (r[3] / 1024, ' (capped)' if r[4] else '')
print('| %-16s | %-26s | %-26s | %5.2f | %-18s | %-18s |' % (sys.argv[3], cell(s), cell(b),
      s[1] / b[1] if b[1] else 0, mib(s), mib(b)))
PY
done
echo "reports: $OUT" >&2
