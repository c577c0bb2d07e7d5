#!/usr/bin/env bash
# The REST bridge (HTTP `publisher` and `caller` paths) of ringbar beside
# Crossbar.io's, on one config.json and one machine:
#
#   scripts/bench-rest-vs-crossbar.sh
#
# For each router (ringbar `--cores 1`, then Crossbar.io's one router
# worker), both pinned to ROUTER_CORES: starts it, starts an Autobahn|Python
# subscriber and callee (scripts/rest_bench_clients.py, one process each) on
# LOAD_CORES, and
# runs `loadtest http` four times: unsigned publishes, signed publishes,
# calls to the Autobahn callee, and calls to a callee of the load generator
# itself (`--callee-url`, Rust), which the router rather than the callee
# limits. Prints a Markdown table (and writes it to
# $WORK/table.md) with requests/s, the subscriber's events/s, p50/p99, the
# router's CPU per request and the ratios.
#
# Environment:
#   CROSSBAR=PATH        the crossbar command (default: .venv-crossbar/bin/crossbar,
#                        installed from PyPI on first use); its python runs the clients
#   ROUTER_CORES=0       CPUs of the router under test (taskset -c list)
#   LOAD_CORES=1         CPUs of the load generator and the Python clients
#   DURATION=10          seconds per measurement
#   CONNECTIONS=16       kept-alive HTTP connections
#   PIPELINE=1           requests in flight per connection
#   ROUTERS="ringbar crossbar"   which routers to run
#   RINGBAR, LOADTEST    binaries to run instead of building them (scripts/bench-common.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUTER_CORES="${ROUTER_CORES:-0}"
LOAD_CORES="${LOAD_CORES:-1}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
PIPELINE="${PIPELINE:-1}"
ROUTERS="${ROUTERS:-ringbar crossbar}"

. scripts/bench-common.sh
PYTHON="$(dirname "$CROSSBAR")/python"

work="$target_dir/bench-rest-vs-crossbar"
rm -rf "$work"
mkdir -p "$work/ringbar" "$work/crossbar/.crossbar" "$work/results"
PORT=18490
TOPIC=com.ringbar.bench.rest
PROCEDURE=com.ringbar.bench.echo
FAST_PROCEDURE=com.ringbar.bench.echo.loadtest
KEY=bench-key
SECRET=bench-secret
# One config for both: WAMP over WebSocket at /ws for the Autobahn clients,
# and the REST bridge paths. The signed path's timestamp window is 5 s:
# ringbar remembers every nonce of the window to refuse replays (at most
# 900,000 per path), so Crossbar.io's default of 300 s would cap a path at
# 3,000 signed requests/s.
cat >"$work/ringbar/config.json" <<EOF
$ROUTER_WITH_REALM1
 "transports": [
  {"type": "web", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": $PORT},
   "paths": {"ws": {"type": "websocket", "serializers": ["json", "msgpack"]},
             "publish": {"type": "publisher", "realm": "realm1", "role": "anonymous"},
             "signed": {"type": "publisher", "realm": "realm1", "role": "anonymous",
                        "options": {"key": "$KEY", "secret": "$SECRET", "timestamp_delta_limit": 5}},
             "call": {"type": "caller", "realm": "realm1", "role": "anonymous"}}}]}]}
EOF
cp "$work/ringbar/config.json" "$work/crossbar/.crossbar/config.json"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -- "-$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

wait_for() { # FILE-or-PORT SECONDS
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        case "$1" in
        port) (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0 ;;
        *) [ -e "$1" ] && return 0 ;;
        esac
        sleep 0.2
    done
    echo "timed out waiting for $1" >&2
    return 1
}

count() { cat "$work/$1.count" 2>/dev/null || echo 0; }

# Waits until the subscriber's count has not moved for a second (60 s at most).
drained() {
    local last=-1 now deadline=$((SECONDS + 60))
    while now=$(count "$router") && [ "$now" != "$last" ] && [ "$SECONDS" -lt "$deadline" ]; do
        last=$now
        sleep 1
    done
}

publish_body="{\"topic\": \"$TOPIC\", \"args\": [\"hello\"]}"
call_body="{\"procedure\": \"$PROCEDURE\", \"args\": [\"hello\"]}"
fast_call_body="{\"procedure\": \"$FAST_PROCEDURE\", \"args\": [\"hello\"]}"

for router in $ROUTERS; do
    case "$router" in
    ringbar) line="$RINGBAR start $work/ringbar --cores 1 --loglevel warn" ;;
    crossbar) line="$CROSSBAR start --cbdir $work/crossbar/.crossbar --loglevel warn" ;;
    *) echo "ROUTERS: '$router' is not ringbar or crossbar" >&2; exit 2 ;;
    esac
    step "$router: taskset -c $ROUTER_CORES $line"
    setsid taskset -c "$ROUTER_CORES" $line >"$work/$router.log" 2>&1 &
    router_pid=$!
    pids+=("$router_pid")
    wait_for port 60
    setsid taskset -c "$LOAD_CORES" "$PYTHON" scripts/rest_bench_clients.py subscriber \
        "ws://127.0.0.1:$PORT/ws" realm1 "$TOPIC" "$work/$router.count" "$work/$router.subscriber" \
        >"$work/$router-subscriber.log" 2>&1 &
    pids+=($!)
    setsid taskset -c "$LOAD_CORES" "$PYTHON" scripts/rest_bench_clients.py callee \
        "ws://127.0.0.1:$PORT/ws" realm1 "$PROCEDURE" "$work/$router.callee" \
        >"$work/$router-callee.log" 2>&1 &
    pids+=($!)
    wait_for "$work/$router.subscriber" 60
    wait_for "$work/$router.callee" 60
    # each scenario's path is its name; fastcall is the `call` path again
    for scenario in publish signed call fastcall; do
        args=(http --url "http://127.0.0.1:$PORT/${scenario#fast}" --router-pid "$router_pid"
            --load-cores "$LOAD_CORES" --duration "$DURATION"
            --connections "$CONNECTIONS" --pipeline "$PIPELINE"
            --json "$work/results/$router-$scenario.json")
        case "$scenario" in
        publish) args+=(--body "$publish_body") ;;
        signed) args+=(--body "$publish_body" --key "$KEY" --secret "$SECRET") ;;
        call) args+=(--body "$call_body") ;;
        fastcall) args+=(--body "$fast_call_body" --callee-url "ws://127.0.0.1:$PORT/ws"
            --callee-procedure "$FAST_PROCEDURE") ;;
        esac
        step "$router: loadtest ${args[*]}"
        before=$(count "$router")
        "$LOADTEST" "${args[@]}" >&2
        # The subscriber reads what is still on its way (the router's
        # bounded queue, the socket buffers) before the next measurement.
        drained
        echo $(( $(count "$router") - before )) >"$work/results/$router-$scenario.events"
    done
    cleanup
    wait 2>/dev/null || true
    pids=()
done

step "table"
python3 - "$work/results" "$DURATION" "$ROUTERS" >"$work/table.md" <<'EOF'
import json, os, sys
results, duration, routers = sys.argv[1], float(sys.argv[2]), sys.argv[3].split()
names = {"ringbar": "ringbar --cores 1", "crossbar": "Crossbar.io"}
scenarios = [("publish", "HTTP publish"), ("signed", "HTTP publish, signed"), ("call", "HTTP call"),
             ("fastcall", "HTTP call, loadtest's callee")]
def figures(router, scenario):
    path = os.path.join(results, f"{router}-{scenario}.json")
    if not os.path.exists(path):
        return None
    data = json.load(open(path))["figures"]
    f = {k: v["value"] for k, v in data.items()}
    events = os.path.join(results, f"{router}-{scenario}.events")
    f["events_per_s"] = int(open(events).read()) / duration if os.path.exists(events) else 0
    return f
def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"
print("| scenario | router | requests/s | refused | subscriber events/s | p50 ms | p99 ms | router CPU µs/request | requests per router CPU-second |")
print("|---|---|---|---|---|---|---|---|---|")
for key, title in scenarios:
    rows = {r: figures(r, key) for r in routers}
    for r in routers:
        f = rows[r]
        if f is None:
            continue
        events = fmt(f["events_per_s"]) if "call" not in key else "–"
        print(f"| {title} | {names[r]} | {fmt(f.get('requests_per_s'))} | {fmt(f.get('refused'))} | {events} | "
              f"{fmt(f.get('latency_p50_us', 0) / 1000, 2)} | {fmt(f.get('latency_p99_us', 0) / 1000, 2)} | "
              f"{fmt(f.get('router_cpu_ns_per_request', 0) / 1000, 1)} | {fmt(f.get('requests_per_router_cpu_s'))} |")
    a, b = rows.get("ringbar"), rows.get("crossbar")
    if a and b:
        ratio = lambda k: a.get(k, 0) / b[k] if b.get(k) else float("nan")
        cpu = b.get("router_cpu_ns_per_request", 0) / a["router_cpu_ns_per_request"] if a.get("router_cpu_ns_per_request") else float("nan")
        print(f"| {title} | ringbar / Crossbar.io | {ratio('requests_per_s'):.0f}× | | "
              f"{'–' if 'call' in key else format(ratio('events_per_s'), '.0f') + '×'} | "
              f"{a.get('latency_p50_us', 0) / max(b.get('latency_p50_us', 1), 1):.3f} | "
              f"{a.get('latency_p99_us', 0) / max(b.get('latency_p99_us', 1), 1):.3f} | {1 / cpu if cpu == cpu and cpu else float('nan'):.3f} | {cpu:.0f}× |")
EOF
cat "$work/table.md"
echo "results in $work" >&2
