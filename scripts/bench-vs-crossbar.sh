#!/usr/bin/env bash
# ringbar beside Crossbar.io, measured in one run by `loadtest compare`:
# the standard set of the loadtest issue, each scenario run against both
# routers alternately (A B A B ...), medians with min–max and ratios.
#
#   scripts/bench-vs-crossbar.sh
#
# Installs Crossbar.io from PyPI into .venv-crossbar/ (once; ignored by git),
# builds ringbar and loadtest (release), writes one Crossbar.io-format
# config.json that both routers start from, and replaces the section between
# the bench-vs-crossbar markers in docs/BENCHMARKS.md with the tables, the
# machine and the commands. Both routers get the same CPUs.
#
# Environment:
#   CROSSBAR=PATH        use this crossbar command (then nothing is installed)
#   ROUTER_CORES=0       CPUs of the router under test (taskset -c list)
#   LOAD_CORES=1         CPUs of the load generator, one thread each
#   REPEATS=3            runs per router and scenario
#   DURATION=5           seconds per measurement (per probe with --find-max)
#   PROBES=16            most rates one --find-max search tries
#   MAX_P99_MS=100       p99 bound of a loss-free rate
#   OUT=docs/BENCHMARKS.md   where the tables go
#   QUICK=1              a smoke run of the script itself: short, one repeat,
#                        fewer sessions; never a figure to publish
#
# The full set takes about an hour; run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUTER_CORES="${ROUTER_CORES:-0}"
LOAD_CORES="${LOAD_CORES:-1}"
REPEATS="${REPEATS:-3}"
DURATION="${DURATION:-5}"
PROBES="${PROBES:-16}"
MAX_P99_MS="${MAX_P99_MS:-100}"
OUT="${OUT:-docs/BENCHMARKS.md}"
SCALE=1
if [ "${QUICK:-0}" = 1 ]; then
    REPEATS=1 DURATION=1 PROBES=3 SCALE=10
fi

. scripts/bench-common.sh

work="$target_dir/bench-vs-crossbar"
rm -rf "$work"
mkdir -p "$work/ringbar" "$work/crossbar/.crossbar" "$work/tables"
WS_PORT=18480
RS_PORT=18481
# One config for both: realm1, anonymous may do everything, WebSocket at /ws
# and RawSocket, every serializer, 1 MiB messages.
cat >"$work/ringbar/config.json" <<EOF
$ROUTER_WITH_REALM1
 "transports": [
  {"type": "web", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": $WS_PORT},
   "paths": {"ws": {"type": "websocket", "serializers": ["json", "msgpack", "cbor"],
             "options": {"max_frame_size": 1048576, "max_message_size": 1048576}}}},
  {"type": "rawsocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": $RS_PORT},
   "serializers": ["json", "msgpack", "cbor"], "options": {"max_message_size": 1048576}}]}]}
EOF
cp "$work/ringbar/config.json" "$work/crossbar/.crossbar/config.json"

ringbar_cmd() { echo "$RINGBAR start $work/ringbar --cores $1 --loglevel warn"; }
CROSSBAR_CMD="$CROSSBAR start --cbdir $work/crossbar/.crossbar --loglevel warn"
URL="ws://127.0.0.1:$WS_PORT/ws"

# compare NAME A-NAME A-CMD B-NAME B-CMD SCENARIO-ARGS...: one table.
compare() {
    local name="$1" name_a="$2" a="$3" name_b="$4" b="$5"
    shift 5
    step "$name"
    local args=(compare --a "$a" --b "$b" --name-a "$name_a" --name-b "$name_b"
        --repeats "$REPEATS" --json "$work/tables/$name.json" --markdown "$work/tables/$name.md" "$@")
    local status=0
    "$LOADTEST" "${args[@]}" 2> >(tee "$work/tables/$name.err" >&2) >&2 || status=$?
    {
        printf '\n### %s\n\n```sh\nloadtest' "$name"
        printf ' %q' "${args[@]}" | sed "s#$work#\$WORK#g; s#$target_dir#\$TARGET#g; s#$PWD/##g"
        printf '\n```\n'
        if [ "$status" = 0 ]; then
            cat "$work/tables/$name.md"
        else
            printf '\nNot measured: `%s`\n' "$(grep '^loadtest:' "$work/tables/$name.err" | tail -1)"
        fi
    } >>"$work/section.md"
}

common=(--url "$URL" --router-cores "$ROUTER_CORES" --load-cores "$LOAD_CORES" --duration "$DURATION")
findmax=(--find-max --probes "$PROBES" --max-p99-ms "$MAX_P99_MS" --payload 64)
: >"$work/section.md"

for subscribers in 100 1000 10000; do
    n=$((subscribers / SCALE))
    start=$(( (10000 / n) > 0 ? 10000 / n : 1 ))
    for serializer in json msgpack; do
        compare "fanout: $n subscribers of one topic, $serializer" \
            ringbar "$(ringbar_cmd 1)" Crossbar.io "$CROSSBAR_CMD" \
            fanout "${common[@]}" "${findmax[@]}" --serializer "$serializer" \
            --subscribers "$n" --start-rate "$start"
    done
done
compare "fanout: $((1000 / SCALE)) topics x 10 subscribers, json" \
    ringbar "$(ringbar_cmd 1)" Crossbar.io "$CROSSBAR_CMD" \
    fanout "${common[@]}" "${findmax[@]}" --subscribers $((10000 / SCALE)) \
    --topics $((1000 / SCALE)) --publishers 4 --start-rate 1000
for serializer in json msgpack; do
    compare "rpc: 1 callee, 10 callers x 10 in flight, $serializer" \
        ringbar "$(ringbar_cmd 1)" Crossbar.io "$CROSSBAR_CMD" \
        rpc "${common[@]}" --serializer "$serializer" --callees 1 --callers 10 --window 10
done
compare "conns: $((10000 / SCALE)) idle sessions" \
    ringbar "$(ringbar_cmd 1)" Crossbar.io "$CROSSBAR_CMD" \
    conns "${common[@]}" --sessions $((10000 / SCALE)) --connect-rate 2000
compare "fanout: $((1000 / SCALE)) subscribers, json, ringbar --cores 2 sharing CPUs $ROUTER_CORES,$LOAD_CORES with the load generator" \
    "ringbar --cores 2" "$(ringbar_cmd 2)" "ringbar --cores 1" "$(ringbar_cmd 1)" \
    fanout --url "$URL" --router-cores "$ROUTER_CORES,$LOAD_CORES" --load-cores "$LOAD_CORES" \
    --duration "$DURATION" "${findmax[@]}" --subscribers $((1000 / SCALE)) --start-rate 10

step "charts of the headline fan-out ($((1000 / SCALE)) subscribers, json)"
charts="$(dirname "$OUT")/bench"
mkdir -p "$charts"
headline="fanout: $((1000 / SCALE)) subscribers of one topic, json"
rate_of() {
    python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["medians"]["max_loss_free_publications_per_s"][sys.argv[2]] or 1))' \
        "$work/tables/$headline.json" "$1"
}
"$LOADTEST" fanout "${common[@]}" --spawn "$(ringbar_cmd 1)" --subscribers $((1000 / SCALE)) \
    --rate "$(rate_of a)" --plot "$charts/ringbar-fanout-1000" >&2
"$LOADTEST" fanout "${common[@]}" --spawn "$CROSSBAR_CMD" --subscribers $((1000 / SCALE)) \
    --rate "$(rate_of b)" --plot "$charts/crossbar-fanout-1000" >&2

step "writing $OUT"
{
    echo "<!-- bench-vs-crossbar:start (generated by scripts/bench-vs-crossbar.sh; edits here are replaced) -->"
    echo
    echo "## ringbar beside Crossbar.io: the standard set"
    echo
    if [ "${QUICK:-0}" = 1 ]; then
        echo "**QUICK=1 smoke run of the script: sizes divided by $SCALE, one repeat. Not figures to quote.**"
        echo
    fi
    echo "- Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)."
    echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(rustc --version)."
    echo "- Routers: ringbar \`start DIR --cores 1\` (release build) and Crossbar.io $CROSSBAR_VERSION"
    echo "  (CPython, from PyPI), both from the same \`config.json\`, both pinned to CPU(s) $ROUTER_CORES;"
    echo "  the load generator \`loadtest\` on CPU(s) $LOAD_CORES. \`\$WORK\` below is the script's work folder."
    echo "- Fan-out rows search the highest publication rate with no loss, no reordering and p99"
    echo "  under $MAX_P99_MS ms (\`--find-max\`, $DURATION s per probe) and report the best passing probe:"
    echo "  \`events_per_s\` there is the loss-free delivered rate. \`router_cpu_ns_per_event\` is the"
    echo "  router's CPU time (its process tree, from /proc) per delivered event; \`load_cores_used\`"
    echo "  shows whether the generator was the one saturated."
    echo "- Medians of $REPEATS run(s) per router, alternating, with min–max; the last column is ringbar / Crossbar.io."
    cat "$work/section.md"
    echo
    echo "Charts of the headline fan-out at each router's loss-free rate:"
    echo "ringbar [throughput](bench/ringbar-fanout-1000/throughput.svg), [latency](bench/ringbar-fanout-1000/latency.svg);"
    echo "Crossbar.io [throughput](bench/crossbar-fanout-1000/throughput.svg), [latency](bench/crossbar-fanout-1000/latency.svg)."
    echo
    echo "<!-- bench-vs-crossbar:end -->"
} >"$work/generated.md"
python3 - "$OUT" "$work/generated.md" <<'EOF'
import re, sys
out, generated = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
try:
    text = open(out).read()
except FileNotFoundError:
    text = ""
pattern = re.compile(r"<!-- bench-vs-crossbar:start.*?<!-- bench-vs-crossbar:end -->\n?", re.S)
text = pattern.sub(lambda _: generated, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + generated
open(out, "w").write(text)
EOF
echo "wrote $OUT" >&2
