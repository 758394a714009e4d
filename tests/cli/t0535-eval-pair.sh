#!/usr/bin/env bash
# loco eval --pair A.json:SIDE B.json:SIDE: two stored records' answers,
# item by item, without a model. Pairing a shipped record's two sides gives
# back the statistics its run stored: McNemar on the math record (2 items
# flagged in a decontaminated run left out), the bootstrap interval and
# Wilcoxon on the XSum record (the run's item order), and the code-instruct
# record's flagged item kept (that run was not decontaminated). A strategy
# record's plain side pairs with the gate record's base side over the items
# they share; a side without scores, a bad side name, a missing file and an
# option that runs or writes something are refused.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
command -v python3 >/dev/null || skip_all "python3 (reads the --json output)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gate="$src/results/2026-S2/math-gsm8k.json"
re2="$src/results/2026-S2/strategies/math-gsm8k-re2.json"

# 1. the record against itself: its stored figures
"$LOCO" eval --pair "$gate:base" "$gate:adapter" --json > "$tmp/self.json"
python3 - "$gate" "$tmp/self.json" <<'PY' || fail "the pairing does not give the record's own figures"
import json, sys
rec = json.load(open(sys.argv[1]))["benchmarks"][0]
got = json.load(open(sys.argv[2]))
assert got["benchmark"] == "gsm8k" and got["test"] == "exact McNemar", got
assert got["n_paired"] == rec["n_used"] == 1317, (got["n_paired"], rec["n_used"])
assert got["n_left_out"] == 2, got["n_left_out"]
for k in ("diff", "p_value"):
    assert abs(got[k] - rec[k]) < 1e-12, (k, got[k], rec[k])
assert abs(got["first_score"] - rec["base_score"]) < 1e-12
assert abs(got["second_score"] - rec["adapter_score"]) < 1e-12
p = rec["pairs"]
assert got["pairs"] == {"both_right": p["both_right"], "first_only": p["base_only"],
                        "second_only": p["adapter_only"], "both_wrong": p["both_wrong"]}, got["pairs"]
assert got["first"]["answered_by"].startswith("base model (")
assert got["second"]["answered_by"].startswith("math (")
PY

# the same for scored items, and for a run that kept its flagged item
same() { # RECORD [BENCH]: the pairing of its two sides against its stored figures
  "$LOCO" eval --pair "$1:base" "$1:adapter" ${2:+--bench "$2"} --json > "$tmp/p.json"
  python3 - "$1" "$tmp/p.json" "${2:-}" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1]))["benchmarks"]
rec = [b for b in rec if b["benchmark"] == sys.argv[3]][0] if sys.argv[3] else rec[0]
got = json.load(open(sys.argv[2]))
assert got["test"] == rec["test"], (got["test"], rec["test"])
assert got["n_paired"] == rec["n_used"], (got["n_paired"], rec["n_used"])
for k in ("diff", "p_value"):
    assert abs(got[k] - rec[k]) < 1e-9, (k, got[k], rec[k])
for g, r in zip(got["diff_ci95"], rec["diff_ci95"]):
    assert abs(g - r) < 1e-9, (got["diff_ci95"], rec["diff_ci95"])
PY
}
same "$src/results/2026-S2/summarisation-xsum.json" || fail "XSum: not the record's figures"
same "$src/results/2026-S2/code-ood.json" summarisation || fail "code-ood: not the record's figures"
same "$src/results/2026-S2/code-instruct-mbpp.json" || fail "code-instruct: not the record's figures"

# 2. a strategy record's plain side against the gate record's base side:
# the 100 items they share, described as what answered them
out=$("$LOCO" eval --pair "$gate:base" "$re2:base")
echo "$out"
grep -q "^gsm8k: math plain (.*) against base model (" <<<"$out" || fail "sides not described: $out"
grep -q "1319 scored in the first, 100 in the second, 100 paired" <<<"$out" || fail "counts: $out"
grep -q "^diff .*exact McNemar p = " <<<"$out" || fail "no test: $out"

# 3. refusals
rc=0; "$LOCO" eval --pair "$gate" "$re2:adapter" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "no side: exit $rc, not 2"
grep -q "give RECORD.json:base or RECORD.json:adapter" "$tmp/err" || fail "message: $(cat "$tmp/err")"
rc=0; "$LOCO" eval --pair "$gate:base" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "one record: exit $rc, not 2"
rc=0; "$LOCO" eval --pair "$gate:base" "$re2:adapter" --out "$tmp/x.json" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "--out: exit $rc, not 2"
grep -q "not --out" "$tmp/err" || fail "message: $(cat "$tmp/err")"
[ ! -e "$tmp/x.json" ] || fail "--out wrote a file"
rc=0; "$LOCO" eval --pair "$tmp/none.json:base" "$gate:base" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a missing file: exit $rc, not 1"
grep -q "cannot read the record" "$tmp/err" || fail "message: $(cat "$tmp/err")"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for it in r["benchmarks"][0]["items"]:
    it["adapter"].pop("score", None)
json.dump(r, open(sys.argv[2], "w"))' "$gate" "$tmp/noscore.json"
rc=0; "$LOCO" eval --pair "$tmp/noscore.json:adapter" "$gate:base" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "no scores: exit $rc, not 1"
grep -q "adapter side has no scored items" "$tmp/err" || fail "message: $(cat "$tmp/err")"
test_done
