#!/usr/bin/env bash
# The server's memory machinery against simpler ones, side by side in one run (issue 14):
#
#   current      this build: mallopt thresholds, per-worker malloc_trim when quiet, large blocks
#                as huge-page mappings with a per-thread cache (protocol/memory_block.h)
#   +tcmalloc    the same with Debian's tcmalloc (libtcmalloc-minimal4) preloaded
#   simple       bench/simple_memory.patch applied: glibc's defaults, no trim, every block
#                from malloc
#   simple+tcm   simple with tcmalloc preloaded
#
# For each: echo throughput (client bench, alternating variants, medians of RUNS) and, under
# the hostile tool's non-reader, garbage and partial-frame attacks, peak RSS, RSS after, and
# the probe's p99.
#
#   bench/allocators.sh            # needs libtcmalloc-minimal4 (apt-get install it)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CASES=${CASES:-"50:1:64 50:16:64 8:4:65536"}
ATTACKS=${ATTACKS:-"nonreader garbage partial"}
PORT=${PORT:-19070}
STATS_PORT=${STATS_PORT:-19071}
TCMALLOC=${TCMALLOC:-/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4}
[[ -f $TCMALLOC ]] || { echo "no $TCMALLOC: apt-get install libtcmalloc-minimal4" >&2; exit 1; }

./bazelw build --config=bench //server //client //tests/hostile:hostile_client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)
work=$(mktemp -d)
cp "$bin/server/server" "$work/current"
# The simple variant: the same tree with the patch, built in a worktree of its own.
git worktree add -q "$work/tree" HEAD
git -C "$work/tree" apply "$PWD/bench/simple_memory.patch"
(cd "$work/tree" && ./bazelw build --config=bench //server >&2 &&
   cp "$(./bazelw info --config=bench bazel-bin 2>/dev/null)/server/server" "$work/simple" &&
   ./bazelw shutdown >/dev/null 2>&1)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null
  git worktree remove --force "$work/tree" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

variants=(current +tcmalloc simple simple+tcm)
start() {  # variant
  local binary=$work/current preload=
  [[ $1 == simple* ]] && binary=$work/simple
  [[ $1 == *tc* ]] && preload=$TCMALLOC
  LD_PRELOAD=$preload "$binary" --port="$PORT" --stats_port="$STATS_PORT" --workers=1 \
    --max_connections=20000 --logtostderr=false --stderrthreshold=2 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
median() { python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }

echo "== echo throughput (req/s, medians of $RUNS x ${DURATION}s; --workers=1)"
printf '%-20s' case; printf ' %12s' "${variants[@]}"; echo
for case in $CASES; do
  IFS=: read -r connections pipeline payload <<<"$case"
  declare -A results=()
  for ((run = 0; run < RUNS; run++)); do
    for v in "${variants[@]}"; do
      start "$v"
      rps=$("$bin/client/client" --port="$PORT" --bench --json --connections="$connections" \
        --pipeline="$pipeline" --payload_bytes="$payload" --duration_s="$DURATION" --verify=echo |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_rps"])')
      stop
      results[$v]="${results[$v]:-} $rps"
    done
  done
  printf '%-20s' "c=$connections p=$pipeline ${payload}B"
  for v in "${variants[@]}"; do printf ' %12s' "$(median ${results[$v]})"; done; echo
done

echo
echo "== attacks (hostile_client, 10 s each; --workers=1, default budget)"
for attack in $ATTACKS; do
  for v in "${variants[@]}"; do
    start "$v"
    "$bin/tests/hostile/hostile_client" --port="$PORT" --stats_port="$STATS_PORT" --server_pid="$pid" \
      --scenario="$attack" --attack_s=10 > "$work/report" 2>&1
    sleep 3  # what the server holds once it is quiet again (a trim waits for a quiet second)
    after=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    stop
    python3 - "$work/report" "$attack" "$v" "$after" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
p99 = re.search(r'probe p99\s+(\d+) us without attack, (\d+) us during', text)
peak = int(re.search(r'server RSS\s+(\d+) KiB peak', text).group(1))
print('%-10s %-12s probe p99 %6s -> %7s us   peak RSS %7.1f MiB   3 s after %6.1f MiB' % (
    sys.argv[2], sys.argv[3], p99.group(1), p99.group(2), peak / 1024, int(sys.argv[4]) / 1024))
PY
  done
done
