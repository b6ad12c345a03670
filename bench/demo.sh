#!/usr/bin/env bash
# Time `restock demo` (60 simulated days): RUNS runs with the embedded broker, one with a
# real Mosquitto through --broker. Prints one line per run; docs/benchmarks.md has results.
# Usage: bench/demo.sh [RUNS]   (needs .venv from the README and, for the last run, mosquitto)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
restock="$root/.venv/bin/restock"
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for i in $(seq 1 "$runs"); do
    /usr/bin/time -f "embedded broker, run $i: %e s wall, %U s user, %S s sys, %M KB max RSS" \
        "$restock" demo --report "$work/report.html" >"$work/out.txt" 2>"$work/time.txt"
    tail -n 1 "$work/time.txt"
    grep -v "^Report:" "$work/out.txt"
done
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    port=$("$root/.venv/bin/python" -c "from simulators.ports import free_port; print(free_port())")
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$work/mosquitto.conf"
    "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/mosquitto.conf" >/dev/null 2>&1 &
    broker=$!
    sleep 1
    /usr/bin/time -f "mosquitto --broker: %e s wall, %U s user, %S s sys, %M KB max RSS" \
        "$restock" demo --broker "mqtt://127.0.0.1:$port" --report "$work/report.html" \
        >"$work/out.txt" 2>"$work/time.txt"
    tail -n 1 "$work/time.txt"
    grep -v "^Report:" "$work/out.txt"
    kill "$broker"
fi
