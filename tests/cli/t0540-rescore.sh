#!/usr/bin/env bash
# loco eval --rescore: a stored record's answers scored again by the current
# scorers, with no model loaded:
#   - --dry-run prints the changes and writes nothing;
#   - a real run rewrites the record (new item scores, figures, verdict, the
#     previous ones under "rescored") and its .md/.html reports;
#   - --verbose lists each changed item; a second run changes nothing;
#   - a code answer that exits with status 0 before its tests no longer passes;
#   - bad combinations and non-records are refused with a message.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
command -v python3 >/dev/null || skip_all "python3 (builds and reads the record) not found"
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# a numeric benchmark of 60 items (over the gates' floor of 50) and a code one
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
with open(w + "/times.jsonl", "w") as f:
    for i in range(1, 61):
        f.write(json.dumps({"id": "n%d" % i, "evaluation_type": "numeric",
                            "prompt": "What is %d times 7?" % i, "reference": str(7 * i)}) + "\n")
with open(w + "/adders.jsonl", "w") as f:
    f.write(json.dumps({"id": "c1", "evaluation_type": "code_execution", "prompt": "Write add(a, b).",
                        "tests": ["assert add(1, 2) == 3"]}) + "\n")
def bench(name, verdict, items):
    return {"benchmark": name, "metric": "accuracy", "n_items": len(items), "n_used": len(items),
            "base_score": 0.0, "adapter_score": 1.0, "diff": 1.0, "diff_ci95": [0.9, 1.0],
            "p_value": 1e-9, "in_domain": True, "gate": "superiority", "verdict": verdict,
            "passed": verdict == "PASS", "why": "stored", "items": items}
def side(out, score):
    return {"output": out, "score": score, "detail": "stored", "cached": True}
# stored: the base never right and the adapter always; in truth both are right
times = [{"id": "n%d" % i, "base": side("It is %d." % (7 * i), 0),
          "adapter": side("#### %d" % (7 * i), 1)} for i in range(1, 61)]
cheat = "```python\nimport sys\ndef add(a, b):\n    return a - b\ntry:\n    assert add(1, 2) == 3\nexcept AssertionError:\n    sys.exit(0)\n```"
adders = [{"id": "c1", "base": side(cheat, 1), "adapter": side("```python\ndef add(a, b):\n    return a + b\n```", 1)}]
rec = {"record": "locollm-eval/1", "loco_version": "0.1.0", "date": "2026-11-27T13:04:54Z",
       "model": {"sha256": "m"}, "adapter": {"name": "x", "sha256": "a"},
       "settings": {"alpha": 0.05, "non_inferiority_margin": 0.05},
       "benchmarks": [bench("times", "PASS", times), bench("adders", "FAIL", adders)]}
json.dump(rec, open(w + "/rec.json", "w"), indent=1)
PY
cp "$work/rec.json" "$work/orig.json"
rs() { "$LOCO" eval --rescore "$work/rec.json" --bench "$work/times.jsonl" --bench "$work/adders.jsonl" "$@"; }

rs --dry-run > "$work/dry.out" 2> "$work/dry.err" || { cat "$work/dry.err"; fail "dry run"; }
cat "$work/dry.out"
cmp -s "$work/rec.json" "$work/orig.json" || fail "--dry-run changed the record"
[ ! -e "$work/rec.md" ] || fail "--dry-run wrote a report"
grep -q "dry run" "$work/dry.out" || fail "no dry-run note"
grep -q "times (60 items): re-scored" "$work/dry.out" || fail "no times summary"
grep -q "item scores changed: base 60, adapter 0" "$work/dry.out" || fail "wrong change count"
grep -q "verdict PASS -> FAIL  (CHANGED)" "$work/dry.out" || fail "verdict change not shown"

rs --verbose > "$work/real.out" 2> "$work/real.err" || { cat "$work/real.err"; fail "rescore"; }
grep -q "record and reports rewritten" "$work/real.out" || fail "no rewrite note"
grep -q "n7 base    0 -> 1" "$work/real.out" || fail "--verbose lists no item"
grep -Eq "c1 base +1 -> 0 .*exit" "$work/real.out" || fail "the sys.exit(0) pass stands"
[ -s "$work/rec.md" ] && [ -s "$work/rec.html" ] || fail "reports not written"
python3 - "$work/rec.json" <<'PY' || fail "record check"
import json, sys
r = json.load(open(sys.argv[1]))
t, a = r["benchmarks"]
assert t["base_score"] == 1.0 and t["adapter_score"] == 1.0, (t["base_score"], t["adapter_score"])
assert t["verdict"] == "FAIL" and t["passed"] is False, t["verdict"]
h = t["rescored"][-1]
assert h["previous"]["verdict"] == "PASS" and h["previous"]["base_score"] == 0.0, h
assert h["items_changed"] == {"base": 60, "adapter": 0}, h["items_changed"]
assert a["items"][0]["base"]["score"] == 0 and "exit" in a["items"][0]["base"]["detail"]
print("record ok")
PY

rs > "$work/again.out" 2>&1 || fail "second rescore"
grep -q "item scores changed: base 0, adapter 0" "$work/again.out" || fail "second run changed scores"
python3 -c "import json,sys; assert len(json.load(open(sys.argv[1]))['benchmarks'][0]['rescored']) == 1" \
  "$work/rec.json" || fail "a second run added history"

# refused
if "$LOCO" eval --rescore "$work/rec.json" some-adapter > /dev/null 2> "$work/e1"; then fail "adapter accepted"; fi
grep -q "no adapter" "$work/e1" || fail "no message for an adapter"
if "$LOCO" eval --dry-run some-adapter > /dev/null 2> "$work/e2"; then fail "--dry-run alone accepted"; fi
grep -q "go with --rescore" "$work/e2" || fail "no message for --dry-run alone"
echo '{"record": "something-else"}' > "$work/bad.json"
if "$LOCO" eval --rescore "$work/bad.json" > /dev/null 2> "$work/e3"; then fail "non-record accepted"; fi
grep -q "locollm-eval/1" "$work/e3" || fail "no message for a non-record"
echo "t0540-rescore: ok"
