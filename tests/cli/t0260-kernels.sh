#!/usr/bin/env bash
# Kernel sets (docs/formats/quant.md): LOCO_KERNELS limits the set, loco
# bench names the one in use, and the SIMD sets give the same answer. The
# AVX-512 VNNI twins must return the AVX2 kernels' bits, so on a CPU with
# them a greedy answer of the default model (Q4_1 and Q8_0 weights, the
# types they cover) is the same text under both sets, one sequence and
# four in one batch (sc:4, the multi-token kernels).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1
tiny="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
[ -f "$tiny" ] || skip_all "$tiny not found"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

kernels() { # the set loco bench reports under the given LOCO_KERNELS
  LOCO_KERNELS="$1" "$LOCO" bench --model "$tiny" -p 4 -n 4 -r 1 --threads 1 --no-stream --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["kernels"])'
}
[ "$(kernels scalar)" = scalar ] || fail "LOCO_KERNELS=scalar: $(kernels scalar)"
best=$(kernels "")
case "$best" in scalar|avx2|avx512vnni) ;; *) fail "unknown kernel set '$best'";; esac
if grep -qw avx2 /proc/cpuinfo; then
  [ "$best" != scalar ] || fail "AVX2 CPU but scalar kernels"
  [ "$(kernels avx2)" = avx2 ] || fail "LOCO_KERNELS=avx2: $(kernels avx2)"
fi
if grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo &&
   grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo; then
  [ "$best" = avx512vnni ] || fail "AVX-512 VNNI CPU but kernel set $best"
else
  # a missing instruction set is not a missing fixture: what holds on this
  # CPU is that the VNNI twins are not chosen
  [ "$best" != avx512vnni ] || fail "kernel set avx512vnni on a CPU without AVX-512 VNNI"
  echo "note: no AVX-512 VNNI on this CPU: the answers were not compared"
  test_done
fi

default=$("$LOCO" models path default 2>/dev/null || true)
[ -n "$default" ] && [ -f "$default" ] || { skip_part "default model not pulled"; test_done; }
q="What is 17 times 3? Answer briefly."
for set in avx2 avx512vnni; do
  LOCO_KERNELS=$set "$LOCO" ask --no-route --max-tokens 40 --temperature 0 "$q" \
    > "$tmp/one.$set" 2>/dev/null
  LOCO_KERNELS=$set "$LOCO" ask --no-route --max-tokens 24 --strategy sc:4 --temperature 0.7 --seed 11 --json "$q" \
    > "$tmp/sc.$set" 2>/dev/null
done
[ -s "$tmp/one.avx2" ] || fail "no answer"
cmp -s "$tmp/one.avx2" "$tmp/one.avx512vnni" ||
  fail "answers differ: $(cat "$tmp/one.avx2") | $(cat "$tmp/one.avx512vnni")"
python3 - "$tmp/sc.avx2" "$tmp/sc.avx512vnni" <<'PY' || fail "sc:4 answers differ between the sets"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
a.pop("timings"); b.pop("timings")
assert a == b, (a, b)
assert len(set(a["vote"]["answers"])) > 1, "sc:4 sampled one answer four times"
PY
test_done
