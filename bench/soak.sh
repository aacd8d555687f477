#!/usr/bin/env bash
# Soak run (manual, not CI): two servers (echo and uppercase) under a steady load of about 80%
# of what they reach flat out, for SOAK_SECONDS (default 600), with stats, RSS and open
# descriptors sampled every second. Prints a summary; the samples go to $OUT (a CSV).
#
#   bench/soak.sh                 # 10 minutes
#   SOAK_SECONDS=60 bench/soak.sh # a short check
#   SERVER_FLAGS=--io=io_uring bench/soak.sh   # on another backend, or with other flags
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-600}
WARMUP_SECONDS=${WARMUP_SECONDS:-60}
OUT=${OUT:-/tmp/soak.csv}
SERVER_FLAGS=${SERVER_FLAGS:-}
./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)

declare -A port=([echo]=19101 [uppercase]=19102) stats_port=([echo]=19111 [uppercase]=19112) pid
for handler in echo uppercase; do
  "$bin/server/server" --handler="$handler" --port="${port[$handler]}" \
    --stats_port="${stats_port[$handler]}" --workers=1 $SERVER_FLAGS 2>/dev/null &
  pid[$handler]=$!
done
trap 'kill ${pid[echo]} ${pid[uppercase]} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
sleep 1

bench() {  # handler seconds rate -> json
  "$bin/client/client" --port="${port[$1]}" --bench --connections=25 --duration_s="$2" \
    --rate="$3" --verify="$1" --json
}
rps() { python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_rps"])'; }

# Peak: both loaded at once, flat out, 5 s.
bench echo 5 0 | rps >/tmp/soak_peak_echo &
peak_job=$!
bench uppercase 5 0 | rps >/tmp/soak_peak_upper
wait $peak_job
peak_echo=$(cat /tmp/soak_peak_echo); peak_upper=$(cat /tmp/soak_peak_upper)
rate_echo=$(python3 -c "print(int(0.8 * $peak_echo))"); rate_upper=$(python3 -c "print(int(0.8 * $peak_upper))")
echo "peak (both at once): echo $peak_echo req/s, uppercase $peak_upper req/s; soaking at $rate_echo + $rate_upper req/s for ${SOAK_SECONDS}s" >&2

bench echo "$SOAK_SECONDS" "$rate_echo" >/tmp/soak_echo.json & echo_bench=$!
bench uppercase "$SOAK_SECONDS" "$rate_upper" >/tmp/soak_upper.json & upper_bench=$!

echo "second,handler,rss_kb,fds,frames_in,handler_errors,connections_active,latency_p99_us" >"$OUT"
# One sample a second by the wall clock, for as long as the load runs. Spawning the stats client
# on a loaded machine takes a noticeable part of a second, so the loop sleeps to the next whole
# second of elapsed time rather than for a fixed second (which drifted to 1.7 s per sample).
start_us=${EPOCHREALTIME/./}
second=0
while kill -0 $echo_bench 2>/dev/null || kill -0 $upper_bench 2>/dev/null; do
  elapsed_us=$((${EPOCHREALTIME/./} - start_us))
  second=$((elapsed_us / 1000000 + 1))
  sleep "$(printf '0.%06d' $((second * 1000000 - elapsed_us)))"
  for handler in echo uppercase; do
    p=${pid[$handler]}
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
    fds=$(ls "/proc/$p/fd" | wc -l)
    stats=$("$bin/client/client" --port="${stats_port[$handler]}" stats 2>/dev/null || true)
    get() { awk -v k="$1" '$1 == k {print $2}' <<<"$stats"; }
    echo "$second,$handler,$rss,$fds,$(get frames_in),$(get handler_errors),$(get connections_active),$(get latency_p99_us)" >>"$OUT"
  done
done
echo_status=0; upper_status=0
wait $echo_bench || echo_status=$?
wait $upper_bench || upper_status=$?

python3 - "$OUT" "$WARMUP_SECONDS" "$SOAK_SECONDS" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warmup, duration = int(sys.argv[2]), int(sys.argv[3])
for handler, result in (("echo", "/tmp/soak_echo.json"), ("uppercase", "/tmp/soak_upper.json")):
    r = json.load(open(result))
    # Samples taken while the load ran (the last one may see the clients leave).
    mine = [x for x in rows if x["handler"] == handler and int(x["second"]) < duration]
    after = [x for x in mine if int(x["second"]) >= warmup]
    rss_warm, rss_end = int(after[0]["rss_kb"]), int(after[-1]["rss_kb"])
    rss_max = max(int(x["rss_kb"]) for x in after)
    fds = sorted({int(x["fds"]) for x in after})
    errors = int(mine[-1]["handler_errors"] or 0)
    print(f"{handler:9s} requests {r['requests']:>10} ({r['throughput_rps']:.0f}/s)  errors {r['errors']}  "
          f"mismatches {r['mismatches']}  handler_errors {errors}  p99 {r['latency_us']['p99']:.0f} us  "
          f"RSS {rss_warm} KiB at {after[0]['second']}s -> {rss_end} KiB at {after[-1]['second']}s "
          f"({100.0 * (rss_end - rss_warm) / rss_warm:+.2f}%), max {rss_max} KiB  fds {fds[0]}..{fds[-1]}  "
          f"samples {len(mine)}")
PY
[[ $echo_status -eq 0 && $upper_status -eq 0 ]]
