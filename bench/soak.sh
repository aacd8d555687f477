#!/usr/bin/env bash
# Soak run (manual, not CI): two servers (echo and uppercase) under a steady load of about 80%
# of what they reach flat out, for SOAK_SECONDS (default 600), with stats, RSS and open
# descriptors sampled every second. Prints a summary; the samples go to $OUT (a CSV).
#
#   bench/soak.sh                 # 10 minutes
#   SOAK_SECONDS=60 bench/soak.sh # a short check
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-600}
WARMUP_SECONDS=${WARMUP_SECONDS:-60}
OUT=${OUT:-/tmp/soak.csv}
./bazelw build --config=bench //server //client >&2
bin=$(./bazelw info --config=bench bazel-bin 2>/dev/null)

declare -A port=([echo]=19101 [uppercase]=19102) stats_port=([echo]=19111 [uppercase]=19112) pid
for handler in echo uppercase; do
  "$bin/server/server" --handler="$handler" --port="${port[$handler]}" \
    --stats_port="${stats_port[$handler]}" --workers=1 2>/dev/null &
  pid[$handler]=$!
done
trap 'kill ${pid[echo]} ${pid[uppercase]} 2>/dev/null; wait 2>/dev/null' EXIT
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
for ((second = 1; second <= SOAK_SECONDS; second++)); do
  sleep 1
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

python3 - "$OUT" "$WARMUP_SECONDS" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warmup = int(sys.argv[2])
for handler, result in (("echo", "/tmp/soak_echo.json"), ("uppercase", "/tmp/soak_upper.json")):
    r = json.load(open(result))
    mine = [x for x in rows if x["handler"] == handler]
    after = [x for x in mine if int(x["second"]) >= warmup]
    rss_warm, rss_end = int(after[0]["rss_kb"]), int(mine[-1]["rss_kb"])
    rss_max = max(int(x["rss_kb"]) for x in after)
    fds = sorted({int(x["fds"]) for x in after[:-2]})  # while the load ran
    print(f"{handler:9s} requests {r['requests']:>10} ({r['throughput_rps']:.0f}/s)  errors {r['errors']}  "
          f"mismatches {r['mismatches']}  p99 {r['latency_us']['p99']:.0f} us  "
          f"RSS {rss_warm} KiB at {warmup}s -> {rss_end} KiB at end ({100.0 * (rss_end - rss_warm) / rss_warm:+.2f}%), "
          f"max {rss_max} KiB  fds {fds[0]}..{fds[-1]}")
PY
[[ $echo_status -eq 0 && $upper_status -eq 0 ]]
