#!/usr/bin/env bash
# loco bench --load N: the figures under a competing load are printed beside
# the quiet ones, and the busy processes are gone afterwards: when the bench
# ends, and when it is interrupted with SIGINT.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a process is gone when it does not exist or is a zombie no one waits for
gone() {
  local pid=$1 state
  [ -r "/proc/$pid/stat" ] || return 0
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)
  [ "$state" = Z ] || [ "$state" = X ]
}

# load pids from a bench output file
load_pids() { sed -n 's/^competing load: [0-9]* busy processes (pids \(.*\))$/\1/p' "$1"; }

"$LOCO" bench --model "$model" -p 16 -n 8 -r 2 --threads 1,2 --no-stream --load 2 > "$tmp/out"
cat "$tmp/out"
grep -q "competing load: 2 busy processes" "$tmp/out" || fail "no load line"
grep -q "competing load stopped: 2 processes killed and reaped" "$tmp/out" || fail "not stopped"
grep -q "quiet t/s .*t/s, load 2" "$tmp/out" || fail "no side-by-side header"
[ "$(grep -cE '^\| +[12] \| (pp16|tg8) .*x \|$' "$tmp/out")" -eq 4 ] || fail "want 4 loaded rows"
pids=$(load_pids "$tmp/out")
[ "$(echo $pids | wc -w)" -eq 2 ] || fail "pids: '$pids'"
for p in $pids; do gone "$p" || fail "load process $p still runs"; done

# without --load: one table, no load
"$LOCO" bench --model "$model" -p 16 -n 8 -r 1 --threads 1 --no-stream > "$tmp/quiet"
grep -q "competing load" "$tmp/quiet" && fail "load without --load"

# bad values are refused with the flag's name
if err=$("$LOCO" bench --model "$model" --load 65 2>&1); then fail "--load 65 accepted"; fi
case "$err" in *--load*) ;; *) fail "error should name --load: $err";; esac
"$LOCO" bench --help | has -- "--load N" || fail "--load not in --help"

# SIGINT while loaded: the busy processes die with the bench
"$LOCO" bench --model "$model" -p 16 -n 200 -r 30 --threads 1 --no-stream --load 2 \
  > "$tmp/int" 2>&1 &
bench=$!
for _ in $(seq 600); do
  grep -q "competing load: 2" "$tmp/int" && break
  sleep 0.1
done
pids=$(load_pids "$tmp/int")
[ -n "$pids" ] || { kill -9 "$bench"; fail "the load never started: $(cat "$tmp/int")"; }
kill -INT "$bench"
status=0
wait "$bench" || status=$?
[ "$status" -ne 0 ] || fail "an interrupted bench exited 0"
for p in $pids; do gone "$p" || fail "load process $p outlived SIGINT"; done
test_done
