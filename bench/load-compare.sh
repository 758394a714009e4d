#!/usr/bin/env bash
# bench/load-compare.sh - `loco bench` of two builds, quiet and under a
# competing load, in interleaved rounds so that both see the same machine.
#
#   bench/load-compare.sh OLD_LOCO NEW_LOCO [ROUNDS]
#
# Each round runs OLD then NEW quietly, then starts LOAD busy shell loops
# (default 2, one per core of a laptop-sized machine) and runs OLD then NEW
# under them. The load is the same external one for both binaries (the old
# one has no --load); it is killed when the round ends and on exit.
# Environment: THREADS (default 1,2), LOAD (default 2; 0: quiet rounds
# only), ARGS (extra bench arguments, default "-p 128 -n 64 -r 3"), OLD_ENV
# (e.g. OMP_WAIT_POLICY=passive, applied to the old binary only), PREFIX (a
# command both binaries run under, e.g. "chrt -f 10": real-time priority, so
# that on a shared machine the other users' work cannot interrupt the quiet
# rounds; needs root).
# Output: one line per figure, "round build load threads test t/s", then the
# mean of each figure over the rounds.
set -euo pipefail
old=${1:?usage: load-compare.sh OLD_LOCO NEW_LOCO [ROUNDS]}
new=${2:?usage: load-compare.sh OLD_LOCO NEW_LOCO [ROUNDS]}
rounds=${3:-3}
threads=${THREADS:-1,2}
load=${LOAD:-2}
args=${ARGS:--p 128 -n 64 -r 3}
pids=()
stop_load() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_load EXIT INT TERM

# run BUILD_NAME BINARY LOAD_LABEL ROUND: print its rows
run() {
  local name=$1 bin=$2 label=$3 round=$4 envs=()
  [ "$name" = old ] && [ -n "${OLD_ENV:-}" ] && envs=($OLD_ENV)
  # shellcheck disable=SC2086
  ${PREFIX:-} env "${envs[@]}" "$bin" bench --threads "$threads" --no-stream $args |
    sed -n 's/^| *\([0-9]*\) | \([a-z0-9]*\) *| *\([0-9.]*\) ± .*/\1 \2 \3/p' |
    while read -r t test tps; do echo "$round $name $label $t $test $tps"; done
}

{
  for r in $(seq "$rounds"); do
    run old "$old" quiet "$r"
    run new "$new" quiet "$r"
    [ "$load" -gt 0 ] || continue
    for _ in $(seq "$load"); do (while :; do :; done) & pids+=($!); done
    sleep 0.2
    run old "$old" "load$load" "$r"
    run new "$new" "load$load" "$r"
    stop_load
  done
} | awk '{print; fflush(); k = $2 " " $3 " " $4 " " $5; s[k] += $6; n[k]++}
         END {for (k in s) printf "mean %s %.2f (%d rounds)\n", k, s[k] / n[k], n[k] | "sort"}'
