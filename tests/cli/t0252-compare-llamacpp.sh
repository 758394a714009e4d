#!/usr/bin/env bash
# bench/compare-llamacpp.sh with a stand-in llama-bench (a script printing
# llama-bench's CSV, so no llama.cpp build is needed): the table joins both
# tools' rows per thread count and test with the ratio, names the CPU, the
# flags and loco's kernels, says whether a competing load ran, and with
# LOAD=2 leaves no spinning process behind. Bad settings are refused. No
# speed is checked.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
script=$src/bench/compare-llamacpp.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a tiny random-weight model (bench/make-random-model.c): no download needed
make_model=$(dirname "$LOCO")/make-random-model
[ -x "$make_model" ] || skip_all "$make_model not built"
model=$work/model.gguf
"$make_model" --tiny "$model" > /dev/null || fail "make-random-model --tiny failed"

# llama-bench's CSV: a header, then one quoted row per test (cpu_info holds a comma)
cat > "$work/llama-bench" <<'SH'
#!/usr/bin/env bash
t=1 p=512 n=128
while [ $# -gt 0 ]; do
  case $1 in -t) t=$2; shift;; -p) p=$2; shift;; -n) n=$2; shift;; esac; shift
done
echo 'build_commit,build_number,cpu_info,n_threads,n_prompt,n_gen,avg_ts,stddev_ts'
echo "\"abc1234\",\"42\",\"Fake CPU, 2 cores\",\"$t\",\"$p\",\"0\",\"100.000000\",\"1.000000\""
echo "\"abc1234\",\"42\",\"Fake CPU, 2 cores\",\"$t\",\"0\",\"$n\",\"50.000000\",\"0.500000\""
SH
chmod +x "$work/llama-bench"

run() { LOCO="$LOCO" PROMPT=8 GEN=4 REPS=1 "$script" "$work/llama-bench" "$model" 1 2>"$work/err"; }

out=$(LOAD=0 run) || fail "quiet run failed: $(cat "$work/err")"
echo "$out"
grep -q '^| *1 | pp8 ' <<<"$out" || fail "no pp8 row"
grep -qE '^\| +1 \| tg4 +\| +[0-9.]+ ± [0-9.]+ \| +50.00 ± 0.50 \| +[0-9.]+ \|$' <<<"$out" ||
  fail "tg4 row without both tools and a ratio"
grep -q '^cpu: ' <<<"$out" || fail "no cpu line"
grep -q 'commit abc1234, build 42, Fake CPU, 2 cores' <<<"$out" || fail "llama.cpp build not named"
grep -q 'no competing load started' <<<"$out" || fail "the quiet run does not say so"
grep -q '^llama.cpp instruction set: not recorded' <<<"$out" || fail "an unknown build's ISA is not said"
# a build by bench/build-llamacpp.sh names its instruction set
printf 'llama.cpp abc1234 from here\ninstruction set: avx2 (-DGGML_AVX2=ON)\nbuilt now\n' \
  > "$work/loco-build.txt"
out=$(LOAD=0 run) || fail "quiet run failed: $(cat "$work/err")"
grep -q '^llama.cpp instruction set: avx2 (-DGGML_AVX2=ON)$' <<<"$out" || fail "the recorded ISA is not printed"

command -v pgrep >/dev/null || fail "pgrep (procps) is needed to check the load is stopped"
# busy processes of other runs (another test, a benchmark) are not this one's
loads() { pgrep -f 'compare-llamacpp-load-' | sort || true; }
others=$(loads)
out=$(LOAD=2 run) || fail "loaded run failed: $(cat "$work/err")"
grep -q 'under a competing load: 2 busy processes' <<<"$out" || fail "the load is not named"
grep -q '^| *1 | tg4 ' <<<"$out" || fail "no tg4 row under load"
# killed when the script ends; a busy machine may take a moment to reap them
left() { comm -13 <(echo "$others") <(loads) | grep -c . || true; }
for _ in $(seq 50); do
  [ "$(left)" -eq 0 ] && break
  sleep 0.1
done
[ "$(left)" -eq 0 ] || fail "a busy process was left running"
out=$(LOAD=03 run) || fail "LOAD=03 failed: $(cat "$work/err")"
grep -q "under a competing load: 3 busy processes" <<<"$out" || fail "LOAD=03 is not 3"

if LOAD=x run >/dev/null; then fail "LOAD=x was taken"; fi
grep -q 'LOAD must be' "$work/err" || fail "no message for a bad LOAD: $(cat "$work/err")"
echo "OK"
