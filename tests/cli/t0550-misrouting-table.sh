#!/usr/bin/env bash
# scripts/misrouting-table.py: the misrouting-cost table from hand-made
# evaluation records in a temporary folder (no model runs; nothing from
# ../shared), and its port of the harness's statistics checked against the
# reference records in results/ (written by `loco eval`).
set -euo pipefail
: "${LOCO_SOURCE_DIR:?the source tree}"
fail() { echo "FAIL: $*"; exit 1; }
table=$LOCO_SOURCE_DIR/scripts/misrouting-table.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the port agrees with the harness on every reference record ------------
for rec in "$LOCO_SOURCE_DIR"/results/*/code-ood.json; do
  [ -f "$rec" ] || continue
  out=$(python3 "$table" --check "$rec")
  grep -q "code summarisation: n 100 (record 100)" <<<"$out" || fail "check: $out"
  worst=$(echo "$out" | sed -n 's/^largest difference from the harness: //p')
  python3 -c "import sys; sys.exit(0 if float('$worst') < 1e-9 else 1)" ||
    fail "the port differs from the harness by $worst"
done

# ---- hand-made records: one row (XSum) with three answerers -----------------
# summarisation (own): items x0..x9, x3 flagged as contaminated, answers
# scoring 0.3 (+0.01 on odd items); code: items x0..x7 only, 0.2 (+0.01);
# writing: x0..x9, 0.25 (+0.01); every base answer 0.1 (+0.01 every third).
python3 - "$tmp" <<'EOF'
import json, os, sys
d = sys.argv[1]
def record(name, n, score, base, flagged=()):
    items = [{"id": f"x{i}", "base": {"output": f"b{i}", "score": base + 0.01 * (i % 3)},
              "adapter": {"output": f"a{i}", "score": score + 0.01 * (i % 2)}} for i in range(n)]
    return {"adapter": {"name": name}, "benchmarks": [{
        "benchmark": "summarisation", "items": items, "n_used": n, "diff": 0, "p_value": 1,
        "diff_ci95": [0, 0], "contamination": {"flagged_ids": list(flagged),
                                               "decontaminated": bool(flagged)}}]}
json.dump(record("summarisation", 10, 0.3, 0.1, ["x3"]), open(os.path.join(d, "s.json"), "w"))
json.dump(record("code", 8, 0.2, 0.1), open(os.path.join(d, "c.json"), "w"))
json.dump(record("writing", 10, 0.25, 0.1), open(os.path.join(d, "w.json"), "w"))
EOF
out=$(python3 "$table" "$tmp")
row=$(echo "$out" | grep "^| summarisation: XSum")
# the common items: x0..x7 (what every record holds) less x3 (flagged): 7
grep -q "n=7 |" <<<"$row" || fail "common items: $row"
# own adapter: 0.3 + 0.01 for the odd ones (x1, x5, x7) of the 7 kept = 0.304
grep -q '\*\*0.304\*\*<br>vs base' <<<"$row" || fail "own score: $row"
# code answers every kept item 0.1 lower than the own adapter
grep -q 'code: \*\*0.204\*\*<br>vs own -0.100 \[-0.100, -0.100\]' <<<"$row" ||
  fail "code vs own: $row"
grep -q 'writing: \*\*0.254\*\*<br>vs own -0.050' <<<"$row" || fail "writing vs own: $row"
grep -q "math: not measured" <<<"$out" || fail "a missing adapter is not named: $out"
grep -q "^Not measured: .*math adapter on summarisation" <<<"$out" || fail "missing list: $out"
# the rows without their own adapter's record are left out and listed
grep -q "math on gsm8k (the own adapter: the row cannot be built)" <<<"$out" ||
  fail "a row without its own adapter: $out"
echo "ok"
