# Sourced by the bench scripts that run ringbar beside Crossbar.io: finds
# or installs Crossbar.io and builds ringbar and loadtest (release).
#
# In: CROSSBAR (optional: a crossbar command; then nothing is installed);
# RINGBAR and LOADTEST (optional, both: binaries to measure; then nothing is
# built, e.g. to compare two builds of ringbar in alternating runs).
# Out: CROSSBAR, target_dir, RINGBAR, LOADTEST, ROUTER_WITH_REALM1; and step().

step() { printf '\n==> %s\n' "$*" >&2; }

CROSSBAR_VERSION=26.10.1

if [ -z "${CROSSBAR:-}" ]; then
    venv=.venv-crossbar
    if [ ! -x "$venv/bin/crossbar" ]; then
        step "python3 -m venv $venv && pip install crossbar==$CROSSBAR_VERSION"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "crossbar==$CROSSBAR_VERSION"
    fi
    CROSSBAR="$PWD/$venv/bin/crossbar"
fi

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
if [ -z "${RINGBAR:-}" ] || [ -z "${LOADTEST:-}" ]; then
    step "cargo build --release -p ringbar -p ringbar-loadtest"
    cargo build --release -p ringbar -p ringbar-loadtest
fi
RINGBAR="${RINGBAR:-$target_dir/release/ringbar}"
LOADTEST="${LOADTEST:-$target_dir/release/loadtest}"

# The start of both routers' config.json, up to the router's transports:
# realm1, where anonymous may do everything.
ROUTER_WITH_REALM1='{"version": 2, "controller": {}, "workers": [{"type": "router",
 "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
   {"uri": "", "match": "prefix",
    "allow": {"call": true, "register": true, "publish": true, "subscribe": true},
    "disclose": {"caller": false, "publisher": false}, "cache": true}]}]}],'
