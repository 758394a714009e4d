#!/usr/bin/env bash
# loco eval's protocol on the tiny stories260K model with the reddog
# adapter (domain "testing"):
#   - numeric and regex custom benchmarks: a header declares the file one of
#     a domain's benchmarks (superiority for that domain's adapter), and
#     --in-domain overrides it; a bad regex is refused at load, once;
#   - --plan reports the n each benchmark needs and records the plan; the
#     runs into the same record are kept, the first decides the gate, a
#     rerun says it is one and a decision on another n than planned too;
#   - --regate re-decides a stored record (the floor rule) without a model.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
command -v python3 >/dev/null || skip_all "python3 (used to read the record) not found"
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
fail() { echo "FAIL: $*"; exit 1; }
# loco eval exits 3 when a gate fails (the record is written all the same);
# the runs here whose gates are beside the point accept it
gated() { local st=0; "$@" || st=$?; [ "$st" = 0 ] || [ "$st" = 3 ]; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/xdg" LOCO_REGISTRY="$work/none.yaml"

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"
ad="$work/out/reddog.gguf"

# a numeric benchmark of the adapter's domain: the answer "... 7 ..." is read
{
  echo '{"benchmark": {"domain": "testing", "description": "numbers"}}'
  for i in 1 2 3 4; do
    printf '{"id":"n%d","evaluation_type":"numeric","prompt":"Who is here %d?","reference":"1,00%d"}\n' "$i" "$i" "$i"
  done
} > "$work/nums.jsonl"
ev() { "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 9 \
        --cache "$work/cache.sqlite" --registry none "$@"; }
# a failed gate: exit status 3, the record printed all the same
st=0
ev --bench "$work/nums.jsonl" --json "$ad" > "$work/nums.json" 2> "$work/nums.err" || st=$?
[ "$st" = 3 ] || { cat "$work/nums.err"; fail "numeric eval: exit status $st, expected 3 (a failed gate)"; }
grep -q "loco eval: nums did not pass its superiority gate (FAIL)" "$work/nums.err" ||
  fail "no failed-gate message: $(cat "$work/nums.err")"
python3 - "$work/nums.json" <<'PY' || fail "numeric record"
import json, sys
b = json.load(open(sys.argv[1]))["benchmarks"][0]
assert b["metric"] == "numeric" and b["test"] == "exact McNemar", b["metric"]
assert b["in_domain"] is True and b["gate"] == "superiority", (b["in_domain"], b["gate"])
assert b["verdict"] == "FAIL" and b["passed"] is False  # 4 items: below the floor of 50
for it in b["items"]:
    assert "rule=" in it["adapter"]["detail"], it["adapter"]["detail"]
PY
gated ev --bench "$work/nums.jsonl" --in-domain math --json "$ad" > "$work/nums2.json" 2>/dev/null ||
  fail "eval --in-domain"
python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["benchmarks"][0]; assert b["gate"] == "non-inferiority", b["gate"]' \
  "$work/nums2.json" || fail "--in-domain math did not make it out-of-domain"

# a regex file whose pattern does not compile: refused once, naming the line
printf '{"id":"r1","evaluation_type":"regex","prompt":"Who?","reference":"dog","pattern":"(red|dog"}\n' > "$work/bad.jsonl"
if err=$(ev --bench "$work/bad.jsonl" "$ad" 2>&1); then fail "bad pattern accepted"; fi
grep -q "bad.jsonl:1: field \"pattern\": regex \"(red|dog\" does not compile" <<<"$err" ||
  fail "bad pattern message: $err"
[ "$(echo "$err" | grep -c 'does not compile')" = 1 ] || fail "the pattern error repeats: $err"
printf '{"benchmark": {"pattern": "big (\\\\w+) dog"}}\n{"id":"r1","evaluation_type":"regex","prompt":"Who is here 1?","reference":"RED"}\n' > "$work/re.jsonl"
gated ev --bench "$work/re.jsonl" --json "$ad" > "$work/re.json" 2>/dev/null || fail "regex eval"
python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["benchmarks"][0]; it=b["items"][0]; assert b["metric"] == "regex_match"; assert it["adapter"]["score"] == 1, it["adapter"]; assert it["adapter"]["detail"] == "captured=red", it["adapter"]' \
  "$work/re.json" || fail "regex record: $(head -c 2000 "$work/re.json")"

# the plan: the n each benchmark needs, recorded before any run
ev --bench "$work/nums.jsonl" --plan --effect 0.1 --out "$work/plan.json" "$ad" > "$work/plan.out" 2>&1 ||
  { cat "$work/plan.out"; fail "--plan"; }
cat "$work/plan.out"
grep -q "| nums | superiority | pass/fail | 408 | 4 |" "$work/plan.out" || fail "plan row: $(cat "$work/plan.out")"
grep -q "needs 408 items, the benchmark has 4" "$work/plan.out" || fail "plan: no warning about the size"
python3 - "$work/plan.json" <<'PY' || fail "plan record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["run"] == 0 and r["runs"] == [] and r["benchmarks"] == [], r
e = r["plan"]["benchmarks"][0]
assert e["benchmark"] == "nums" and e["planned_n"] == 408 and e["effect"] == 0.1, e
assert "assumed 0.500" in e["basis"], e["basis"]
PY
# run 1 decides (on 4 items, not the planned 408: it says so); run 2 is a rerun
gated ev --bench "$work/nums.jsonl" --out "$work/plan.json" "$ad" > "$work/run1.out" 2>&1 || { cat "$work/run1.out"; fail "run 1"; }
grep -q "nums: the gate was decided on n=4, planned n=408" "$work/run1.out" || fail "run 1 note: $(cat "$work/run1.out")"
gated ev --bench "$work/nums.jsonl" --out "$work/plan.json" "$ad" > "$work/run2.out" 2>&1 || { cat "$work/run2.out"; fail "run 2"; }
grep -q "nums: rerun 2 of nums, planned n=408; the gate was decided by run 1 on n=4 (FAIL)" "$work/run2.out" ||
  fail "rerun note: $(cat "$work/run2.out")"
python3 - "$work/plan.json" <<'PY' || fail "runs record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["run"] == 2 and [x["run"] for x in r["runs"]] == [1, 2], r["runs"]
b = r["benchmarks"][0]
assert b["rerun"] == 2 and b["decided_by_run"] == 1 and b["planned_n"] == 408, b
assert b["plan_note"] == "decided on n=4, planned n=408", b["plan_note"]
assert b["why"].startswith("decided by run 1 on n=4"), b["why"]
# every run's items are kept once: run 1's in its summary, run 2's in the benchmark
assert len(r["runs"][0]["benchmarks"][0]["items"]) == 4 and len(b["items"]) == 4
assert "items" not in r["runs"][1]["benchmarks"][0]
PY
# a record of another adapter file at the same path is kept beside, not lost
cp "$work/plan.json" "$work/other.json"
python3 - "$work/other.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["adapter"]["sha256"] = "0" * 64
json.dump(r, open(sys.argv[1], "w"))
PY
gated ev --bench "$work/nums.jsonl" --out "$work/other.json" "$ad" > "$work/other.out" 2>&1 || { cat "$work/other.out"; fail "other"; }
kept=$(ls "$work"/other.superseded-*.json) || fail "no superseded record: $(cat "$work/other.out")"
grep -q "kept as $kept" "$work/other.out" || fail "superseded message: $(cat "$work/other.out")"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a["adapter"]["sha256"] == "0"*64 and len(a["runs"]) == 2; assert b["run"] == 1 and len(b["runs"]) == 1' \
  "$kept" "$work/other.json" || fail "superseded contents"
[ -f "${kept%.json}.md" ] || fail "no report beside the superseded record"
grep -q "Rerun 2 of 2, planned n=408: the gate was decided by run 1" "$work/plan.md" || fail "report lacks the rerun line"
grep -q "## Runs" "$work/plan.md" || fail "report lacks the runs"

# --regate: a stored out-of-domain check at the floor becomes uninformative
python3 - "$work/nums2.json" "$work/floor.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b = r["benchmarks"][0]
b.update(n_items=100, n_used=100, base_score=0.02, adapter_score=0.03, diff=0.01,
         diff_ci95=[-0.036, 0.061], passed=True, verdict="PASS",
         contamination={"checked": False})
json.dump(r, open(sys.argv[2], "w"))
PY
"$LOCO" eval --regate "$work/floor.json" > "$work/regate.out" || fail "regate"
grep -q "nums (non-inferiority): PASS -> uninformative" "$work/regate.out" || fail "regate: $(cat "$work/regate.out")"
grep -q "uninformative" "$work/floor.md" || fail "regate did not rewrite the report"
"$LOCO" eval --regate "$work/floor.json" | has "no verdict changed" || fail "regate twice changed it"
if "$LOCO" eval --regate "$work/floor.json" --plan > /dev/null 2>&1; then fail "--regate with --plan accepted"; fi
if err=$(ev --bench gsm8k --in-domain math "$ad" 2>&1); then fail "--in-domain without a custom file accepted"; fi
grep -q "declares custom FILE.jsonl" <<<"$err" || fail "--in-domain message: $err"
if err=$(ev --bench "$work/nums.jsonl" --effect 0.1 "$ad" 2>&1); then fail "--effect without --plan accepted"; fi
grep -q "go with --plan" <<<"$err" || fail "--effect message: $err"
echo "ok"
