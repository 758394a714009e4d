#!/usr/bin/env bash
# loco eval with a run-time set as ADAPTER (docs/composition.md), on the tiny
# stories260K model with an adapter trained here and R, its copy (the exact
# linear merge of R alone):
#   - the set R:0.5,copy:0.5 answers as R does at scale 1, under its own
#     cache entries (not R's);
#   - the record names the set and both files, and nothing goes to the
#     registry;
#   - a weight in ADAPTER is applied: R:0.5 is R --scale 0.5 (the same
#     cache entries).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
. "$(dirname "$0")/lib-skip.sh"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
[ -f "$model" ] || skip_all "$model not found"
command -v python3 >/dev/null || skip_all "python3 (used to read the records) not found"
model=$(cd "$(dirname "$model")" && pwd)/stories260K.gguf
fail() { echo "FAIL: $*"; exit 1; }
gated() { local st=0; "$@" || st=$?; [ "$st" = 0 ] || [ "$st" = 3 ]; }
export LOCO_NO_LOG=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"
r=$work/out/reddog.gguf
"$LOCO" adapters merge "$r:1" --model "$model" -o "$work/copy.gguf" > /dev/null ||
  fail "merge of one adapter"
for i in 1 2 3; do
  printf '{"id":"q%d","evaluation_type":"rouge","prompt":"Who is here %d?","reference":"The big red dog ran to the park."}\n' "$i" "$((i + 50))"
done > "$work/bench.jsonl"
ev() { "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 9 \
        --cache "$work/cache.sqlite" --bench "$work/bench.jsonl" "$@"; }

gated ev --record-in none --json "$r" > "$work/one.json" 2> "$work/one.err" ||
  { cat "$work/one.err"; fail "eval of R"; }
gated ev --out "$work/set.json" "$r:0.5,$work/copy.gguf:0.5" > "$work/set.out" 2> "$work/set.err" ||
  { cat "$work/set.err"; fail "eval of the set"; }
grep -q "recorded in" "$work/set.err" && fail "a set's scores went to the registry"
python3 - "$work/one.json" "$work/set.json" "$r" "$work/copy.gguf" <<'PY' || fail "set record"
import json, sys
one, rec = (json.load(open(p)) for p in sys.argv[1:3])
a = rec["adapter"]
assert a["name"] == "%s:0.5,%s:0.5" % (sys.argv[3], sys.argv[4]), a["name"]
assert a["path"] == "%s,%s" % (sys.argv[3], sys.argv[4]), a["path"]
b1, b2 = one["benchmarks"][0], rec["benchmarks"][0]
assert b2["generation"]["adapter_cached"] == 0, b2["generation"]
assert b2["generation"]["base_cached"] == 3, b2["generation"]
for x, y in zip(b1["items"], b2["items"]):
    assert x["adapter"]["output"] == y["adapter"]["output"], (x["adapter"], y["adapter"])
    assert "big red dog" in y["adapter"]["output"], y["adapter"]["output"]
print("set = R at scale 1:", b2["adapter_score"], "=", b1["adapter_score"])
PY

# R:0.5 is R at scale 0.5: the second run finds every answer cached
gated ev --record-in none --json "$r:0.5" > "$work/half.json" 2>/dev/null || fail "eval of R:0.5"
gated ev --record-in none --json --scale 0.5 "$r" > "$work/half2.json" 2>/dev/null ||
  fail "eval of R --scale 0.5"
python3 - "$work/half.json" "$work/half2.json" <<'PY' || fail "R:0.5 vs --scale 0.5"
import json, sys
a, b = (json.load(open(p))["benchmarks"][0] for p in sys.argv[1:3])
assert a["generation"]["adapter_cached"] == 0, a["generation"]
assert b["generation"]["adapter_cached"] == 3, b["generation"]
assert [i["adapter"]["output"] for i in a["items"]] == [i["adapter"]["output"] for i in b["items"]]
PY
test_done
