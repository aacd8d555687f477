#!/usr/bin/env bash
# The scale-out lab: tcp_server backends behind HAProxy, each on a "host" of its own (a network
# namespace), on this one machine. Needs root and `ip netns`; installs Debian's haproxy and socat
# if they are missing.
#
#   deploy/haproxy/lab.sh compare   # throughput and p99 through HAProxy against direct
#   deploy/haproxy/lab.sh kill      # kill -9 of a backend under load
#   deploy/haproxy/lab.sh rolling   # restart every backend, one by one, under load
#   deploy/haproxy/lab.sh wrong     # a backend that answers wrongly is taken out of rotation
#   deploy/haproxy/lab.sh all
#
# Each scenario ends with one line `SCENARIO: key=value ...` (requests=, failed=, retries=, ...)
# for scripts. Topology: a bridge in namespace ${LAB}sw; hosts h1, h2 (and h3 for `wrong`), lb
# (HAProxy) and cl (the client), each with one veth into the bridge, on a /24 that exists only
# inside these namespaces. Every process and namespace is removed at exit; the whole run is
# bounded by `timeout` (LAB_TIMEOUT seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."

LAB=${LAB:-tcplab}            # namespace prefix
NET=${NET:-10.77.0}           # the lab's /24; it exists only inside the namespaces
DURATION=${DURATION:-4}       # seconds of load per measurement
CONNECTIONS=${CONNECTIONS:-20}
LAB_TIMEOUT=${LAB_TIMEOUT:-300}
declare -A IP=([lb]=$NET.2 [cl]=$NET.3 [h1]=$NET.11 [h2]=$NET.12 [h3]=$NET.13)

if [[ -z ${LAB_INNER:-} ]]; then  # bound the whole run, then run it
  exec timeout --kill-after=10 "$LAB_TIMEOUT" env LAB_INNER=1 "$0" "$@"
fi

scenario=${1:-all}
case $scenario in compare | kill | rolling | wrong | all) ;; *)
  echo "usage: $0 compare|kill|rolling|wrong|all" >&2
  exit 2
  ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "lab.sh: needs root (network namespaces)" >&2; exit 1; }
if ! command -v haproxy >/dev/null || ! command -v socat >/dev/null || ! command -v ip >/dev/null; then
  echo "lab.sh: installing haproxy socat iproute2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy socat \
    iproute2 >/tmp/lab-apt.log 2>&1 || {
    apt-get update -q >>/tmp/lab-apt.log 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy socat \
      iproute2 >>/tmp/lab-apt.log 2>&1
  }
fi

./bazelw build -c opt //server //client >&2
bin=$(./bazelw info -c opt bazel-bin 2>/dev/null)
SERVER=$bin/server/server
CLIENT=$bin/client/client
work=$(mktemp -d)
declare -A PID=()

cleanup() {
  set +e
  for pid in "${PID[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  for ns in sw lb cl h1 h2 h3; do ip netns del "$LAB$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

on() { local ns=$1; shift; ip netns exec "$LAB$ns" "$@"; }

setup_network() {
  cleanup 2>/dev/null; work=$(mktemp -d)
  ip netns add "${LAB}sw"
  ip -n "${LAB}sw" link add br0 type bridge
  ip -n "${LAB}sw" link set br0 up
  for host in lb cl h1 h2 h3; do
    ip netns add "$LAB$host"
    ip link add "$host" netns "${LAB}sw" type veth peer name eth0 netns "$LAB$host"
    ip -n "${LAB}sw" link set "$host" master br0 up
    ip -n "$LAB$host" addr add "${IP[$host]}/24" dev eth0
    ip -n "$LAB$host" link set eth0 up
    ip -n "$LAB$host" link set lo up
  done
}

# start_server HOST [flags]: a backend on HOST:8080, admin on :9090.
start_server() {
  local host=$1; shift
  # Not through `on`: a backgrounded function is a subshell, and $! would be its PID. `ip netns
  # exec` execs the server, so $! is the server's own PID.
  # The admin port binds loopback unless told: HAProxy checks /readyz from its own namespace.
  ip netns exec "$LAB$host" "$SERVER" --bind=0.0.0.0 --port=8080 --admin_port=9090 \
    --admin_bind="${IP[$host]}" --reuse_port \
    --drain_delay_ms=1500 --workers=1 "$@" 2>>"$work/$host.log" &
  PID[$host]=$!
  for _ in $(seq 100); do
    on cl "$CLIENT" --host="${IP[$host]}" --port=8080 --timeout_ms=200 ping >/dev/null 2>&1 && return
    sleep 0.05
  done
  echo "lab.sh: $host did not start" >&2
  exit 1
}

start_haproxy() {  # start_haproxy HOST...: HAProxy in front of these backends
  local backends=""
  for host in "$@"; do backends+="    server $host ${IP[$host]}:8080 check"$'\n'; done
  rm -f "$work/haproxy.sock"
  SOCK="$work/haproxy.sock" BACKENDS="$backends" awk \
    '{ gsub("@STATS_SOCKET@", ENVIRON["SOCK"]) } /^@BACKENDS@$/ { printf "%s", ENVIRON["BACKENDS"]; next } { print }' \
    deploy/haproxy/haproxy.cfg.in >"$work/haproxy.cfg"
  ip netns exec "${LAB}lb" haproxy -db -f "$work/haproxy.cfg" 2>>"$work/haproxy.log" &
  PID[lb]=$!
}

stop_haproxy() { kill "${PID[lb]}" 2>/dev/null; wait "${PID[lb]}" 2>/dev/null || true; unset 'PID[lb]'; }

# HAProxy's view of a backend: "UP L7OK", "DOWN L7RSP", ...
backend_status() {
  echo "show stat" | on lb socat stdio "$work/haproxy.sock" 2>/dev/null |
    awk -F, -v host="$1" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      $1 == "servers" && $2 == host { print $col["status"], $col["check_status"] }'
}

# wait_status HOST UP|DOWN: waits (up to 10 s) until HAProxy's checks say so (UP: a check passed).
wait_status() {
  local now=""
  for _ in $(seq 200); do
    now=$(backend_status "$1")
    if [[ $2 == UP && $now == "UP L7OK" ]] || [[ $2 == DOWN && $now == DOWN* ]]; then return; fi
    sleep 0.05
  done
  echo "lab.sh: $1 never became $2 (now: $now); HAProxy said:" >&2
  tail -n 20 "$work/haproxy.log" >&2
  exit 1
}

# bench TARGET SECONDS [flags] > json
bench() {
  local target=$1 seconds=$2; shift 2
  on cl "$CLIENT" --host="$target" --port=8080 --bench --json --connections="$CONNECTIONS" \
    --duration_s="$seconds" --timeout_ms=5000 --verify=echo "$@" 2>/dev/null || true
}

field() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); v=r; [v:=v[k] for k in sys.argv[2].split(".")]; print(v)' "$1" "$2"; }

summary() {  # summary SCENARIO JSON [extra key=value ...]: the line, and the scenario's goal
  local name=$1 json=$2; shift 2
  echo "$name: requests=$(field "$json" requests) failed=$(field "$json" errors) retries=$(field "$json" retries) mismatches=$(field "$json" mismatches) rps=$(field "$json" throughput_rps) p99_us=$(field "$json" latency_us.p99) $*"
  goal "$name" "$json"
}

# Every scenario's goal: load served with no failed request and no wrong reply (requests that a
# closing or dying backend left unanswered are resent, and counted as retries).
missed=0
goal() {
  local name=$1 json=$2
  if [[ $(field "$json" requests) -eq 0 || $(field "$json" errors) -ne 0 || $(field "$json" mismatches) -ne 0 ]]; then
    echo "lab.sh: $name missed its goal (0 failed, 0 mismatches)" >&2
    missed=1
  fi
}

run_compare() {
  start_server h1; start_server h2; start_haproxy h1 h2; wait_status h1 UP; wait_status h2 UP
  for pipeline in 1 16; do
    local direct proxy
    direct=$(bench "${IP[h1]}" "$DURATION" --pipeline="$pipeline")
    proxy=$(bench "${IP[lb]}" "$DURATION" --pipeline="$pipeline" --retries=3)
    goal compare "$direct"; goal compare "$proxy"
    echo "compare: pipeline=$pipeline requests=$(($(field "$direct" requests) + $(field "$proxy" requests))) failed=$(($(field "$direct" errors) + $(field "$proxy" errors))) retries=$(field "$proxy" retries) direct_rps=$(field "$direct" throughput_rps) proxy_rps=$(field "$proxy" throughput_rps) ratio=$(python3 -c "print(round($(field "$proxy" throughput_rps) / max(1, $(field "$direct" throughput_rps)), 2))") direct_p99_us=$(field "$direct" latency_us.p99) proxy_p99_us=$(field "$proxy" latency_us.p99)"
  done
  stop_haproxy; kill "${PID[h1]}" "${PID[h2]}"; wait "${PID[h1]}" "${PID[h2]}" 2>/dev/null || true
}

run_kill() {
  start_server h1; start_server h2; start_haproxy h1 h2; wait_status h1 UP; wait_status h2 UP
  bench "${IP[lb]}" $((DURATION * 2)) --retries=3 >"$work/kill.json" &
  local bench_pid=$!
  sleep "$DURATION"
  local killed_at; killed_at=$(date +%s%N)
  kill -9 "${PID[h1]}"
  wait_status h1 DOWN
  local down_ms=$((($(date +%s%N) - killed_at) / 1000000))
  wait "$bench_pid"
  summary kill "$(cat "$work/kill.json")" "down_after_ms=$down_ms"
  stop_haproxy; kill "${PID[h2]}"; wait "${PID[h2]}" 2>/dev/null || true
}

run_rolling() {
  start_server h1; start_server h2; start_haproxy h1 h2; wait_status h1 UP; wait_status h2 UP
  bench "${IP[lb]}" $((DURATION * 4)) --retries=3 >"$work/rolling.json" &
  local bench_pid=$! restarted=0
  sleep 1
  for host in h1 h2; do
    # Readiness fails at once; HAProxy takes the backend out within about 1 s while it still
    # serves (--drain_delay_ms=1500); then it drains and exits; then the new process starts.
    kill -TERM "${PID[$host]}"
    wait "${PID[$host]}" || true
    start_server "$host"
    wait_status "$host" UP
    restarted=$((restarted + 1))
  done
  wait "$bench_pid"
  summary rolling "$(cat "$work/rolling.json")" "restarted=$restarted"
  stop_haproxy; kill "${PID[h1]}" "${PID[h2]}"; wait "${PID[h1]}" "${PID[h2]}" 2>/dev/null || true
}

run_wrong() {
  start_server h1; start_server h2
  start_server h3 --handler=uppercase  # answers, but wrongly: "ping" comes back "PING"
  # HAProxy starts every server as UP before its first check; h3 must be taken out.
  local started_at; started_at=$(date +%s%N)
  start_haproxy h1 h2 h3
  wait_status h1 UP; wait_status h2 UP; wait_status h3 DOWN
  local out_ms=$((($(date +%s%N) - started_at) / 1000000))
  local json; json=$(bench "${IP[lb]}" "$DURATION" --retries=3)
  summary wrong "$json" "h3=$(backend_status h3 | tr ' ' '/') out_after_ms=$out_ms"
  stop_haproxy; kill "${PID[h1]}" "${PID[h2]}" "${PID[h3]}"
  wait "${PID[h1]}" "${PID[h2]}" "${PID[h3]}" 2>/dev/null || true
}

setup_network
if [[ $scenario == all ]]; then
  for s in compare kill rolling wrong; do "run_$s"; done
else
  "run_$scenario"
fi
exit "$missed"
