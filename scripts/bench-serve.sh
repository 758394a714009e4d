#!/usr/bin/env bash
# scripts/bench-serve.sh - what `loco serve` gives under concurrent load:
# the same requests one at a time and from 8 clients at once, over four
# adapters (loco:math, loco:code, loco:summarisation, loco:writing, forced by
# name, so candidates serve too), with bench-serve (bench/bench-serve.c).
#
#   scripts/bench-serve.sh [--competing-load] [--soak N] [--requests N]
#                          [--rounds R] [--clients C] [--max-tokens T] [--build DIR]
#
# Starts `loco serve --port 0 --threads 2 --slots 8` on the default model
# (exchanges logged to a temporary file, not the user's log), prints the
# CPU and the date, runs the measurement and stops the server with SIGTERM
# (it drains and exits 0; the script says if not).
#   default            bench-serve --compare: sequential vs C clients (8),
#                      N requests (24) per run, T max tokens (64), streaming,
#                      R interleaved rounds (3; the ratio is their median, so
#                      that other work on a shared machine hits both alike)
#   --competing-load   two busy shell loops run while it measures (as
#                      bench/load-compare.sh and `loco bench --load` do)
#   --soak N           N requests from C clients with T max tokens (default
#                      8), the server's VmRSS every 500 requests: memory
#                      should stay flat
# Environment: SERVE_ARGS, more `loco serve` options (e.g. "--prompt-cache").
# Data: no dataset; bench-serve's built-in prompts. Exit: bench-serve's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
requests=24
rounds=3
clients=8
max_tokens=
soak=0
load=0
while [ $# -gt 0 ]; do
  case $1 in
    --competing-load) load=2 ;;
    --soak) soak=${2:?--soak wants a request count}; shift ;;
    --requests) requests=${2:?}; shift ;;
    --rounds) rounds=${2:?}; shift ;;
    --clients) clients=${2:?}; shift ;;
    --max-tokens) max_tokens=${2:?}; shift ;;
    --build) build=${2:?}; shift ;;
    *) echo "usage: $0 [--competing-load] [--soak N] [--requests N] [--rounds R]" \
            "[--clients C] [--max-tokens T] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
loco=$build/loco
bench=$build/bench-serve
for b in "$loco" "$bench"; do
  [ -x "$b" ] || { echo "$b not built (cmake --build $build)" >&2; exit 2; }
done
"$loco" models path default >/dev/null 2>&1 ||
  { echo "no default model: run $loco models pull default" >&2; exit 2; }

work=$(mktemp -d)
server=
load_pids=()
stop_load() {
  for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${load_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  load_pids=()
}
cleanup() {
  stop_load
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "loco: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
     "$(git -C "$here" status --porcelain 2>/dev/null | grep -q . && echo '(uncommitted changes)')"
echo "model: $("$loco" models path default)"
echo "data: no dataset, bench-serve's built-in prompts"

# shellcheck disable=SC2086
LOCO_LOG_DB=$work/exchanges.sqlite "$loco" serve --port 0 --threads 2 --slots 8 ${SERVE_ARGS:-} \
  2> "$work/serve.log" &
server=$!
url=
for _ in $(seq 600); do
  url=$(sed -n 's/^loco serve: listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" | sed -n 1p)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "loco serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 2
fi
echo "server: loco serve --port 0 --threads 2 --slots 8${SERVE_ARGS:+ $SERVE_ARGS} (pid $server) at $url"

if [ "$load" -gt 0 ]; then
  for _ in $(seq "$load"); do (while :; do :; done) & load_pids+=($!); done
  echo "competing load: $load busy processes (pids ${load_pids[*]})"
else
  echo "competing load: none"
fi
models=loco:math,loco:code,loco:summarisation,loco:writing
status=0
if [ "$soak" -gt 0 ]; then
  echo "soak: $soak requests, $clients clients, max_tokens ${max_tokens:-8}"
  echo
  "$bench" --url "$url" --pid "$server" --models "$models" --clients "$clients" \
    --requests "$soak" --max-tokens "${max_tokens:-8}" --stream --rss-every 500 \
    --time-limit 7200 || status=$?
else
  echo
  "$bench" --url "$url" --pid "$server" --models "$models" --clients "$clients" \
    --requests "$requests" --max-tokens "${max_tokens:-64}" --stream --compare --rounds "$rounds" \
    --time-limit 1800 || status=$?
fi
stop_load
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM "$server"
served=0
wait "$server" || served=$?
server=
[ "$served" -eq 0 ] || echo "loco serve exited $served after SIGTERM (want 0)"
[ "$status" -eq 0 ] || echo "bench-serve exited $status"
exit "$status"
