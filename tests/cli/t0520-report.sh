#!/usr/bin/env bash
# loco leaderboard / report eval / report archive / report trend, on a small
# registry and hand-made evaluation records in a temporary folder (no model
# runs; nothing from ../shared).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME=$tmp/data LOCO_REGISTRY=$tmp/registry.yaml LOCO_RESULTS_DIR=$tmp/results
mkdir -p "$XDG_DATA_HOME/locollm"

# ---- a registry with scores ------------------------------------------------
base=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
entry() { # NAME DOMAIN STATUS [SCORE-LINES]
  cat <<YAML
  - name: $1
    domain: $2
    version: 1.0.0
    file: $1.gguf
    sha256: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    base_sha256: $base
    lora: {rank: 2, alpha: 4, targets: [q]}
    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, authors: [A]}
    router: {keywords: [k], examples: ["e"]}
    status: $3
${4:-}
YAML
}
score() { # BENCH SCORE BASE P PASSED N
  echo "      - {benchmark: $1, score: $2, ci_low: $(python3 -c "print($2-0.05)"), ci_high: $(python3 -c "print($2+0.05)"), base_score: $3, p_value: $4, passed: $5, n_items: $6, record: r.json}"
}
{
  cat <<YAML
schema_version: 2
base_model: {name: Tiny, file: t.gguf, sha256: $base, architecture: llama, academic_year: "2026"}
domains:
  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}
  code: {primary_benchmark: mbpp, benchmarks: [mbpp, humaneval]}
adapters:
YAML
  entry ma math candidate "    scores:
$(score gsm8k 0.40 0.30 0.01 true 100)"
  entry mb math active "    scores:
$(score gsm8k 0.55 0.30 0.0001 true 120)"
  entry mc math retired
  entry ca code candidate "    scores:
$(score mbpp 0.25 0.20 0.2 false 60)
$(score humaneval 0.10 0.12 0.7 true 164)"
} >"$LOCO_REGISTRY"
"$LOCO" registry validate --no-files >/dev/null || fail "test registry invalid"

# ---- leaderboard -------------------------------------------------------------
"$LOCO" leaderboard --format json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert [r["name"] for r in rows] == ["mb", "ma", "mc", "ca"], rows
assert [r["rank"] for r in rows] == [1, 2, None, 1], rows
for r in rows:
    for k in ("name", "domain", "benchmark", "score", "base_score", "p_value", "passed", "active",
              "rank", "ci_low", "ci_high", "gain", "n_items", "status"):
        assert k in r, (k, r)
mb, ma, mc, ca = rows
assert mb["active"] is True and ma["active"] is False and mb["passed"] is True
assert abs(mb["score"] - 0.55) < 1e-9 and abs(mb["gain"] - 0.25) < 1e-9 and mb["n_items"] == 120
assert mc["score"] is None and mc["passed"] is False and mc["status"] == "retired"
assert ca["benchmark"] == "mbpp" and ca["passed"] is False
' || fail "leaderboard --format json"

"$LOCO" leaderboard --domain code --all --format json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert [(r["name"], r["benchmark"]) for r in rows] == [("ca", "mbpp"), ("ca", "humaneval")], rows
' || fail "leaderboard --domain code --all"

out=$("$LOCO" leaderboard)
case "$out" in *"| 1 | mb | math | gsm8k | 0.550 [0.500, 0.600] | 0.300 | +0.250 |"*) ;;
  *) fail "leaderboard markdown: $out";; esac
"$LOCO" leaderboard --format html --out "$tmp/board.html"
grep -q "<td>mb</td>" "$tmp/board.html" || fail "leaderboard html"
if "$LOCO" leaderboard --domain poetry 2>"$tmp/err"; then fail "unknown domain accepted"; fi
grep -q "no domain 'poetry' in the registry (domains: math, code)" "$tmp/err" \
  || fail "unknown domain message: $(cat "$tmp/err")"
if "$LOCO" leaderboard --format xml 2>/dev/null; then fail "--format xml accepted"; fi

# the user overlay is merged; --registry FILE reads the file alone
cat >"$XDG_DATA_HOME/locollm/registry.yaml" <<YAML
adapters:
  - name: ma
    scores:
$(score gsm8k 0.70 0.30 0.0001 true 100)
YAML
"$LOCO" leaderboard --domain math --format json | python3 -c '
import json, sys
assert json.load(sys.stdin)[0]["name"] == "ma"' || fail "overlay score not used"
"$LOCO" leaderboard --registry "$LOCO_REGISTRY" --domain math --format json | python3 -c '
import json, sys
assert json.load(sys.stdin)[0]["name"] == "mb"' || fail "--registry FILE used the overlay"

# ---- report eval ---------------------------------------------------------------
record() { # ADAPTER DOMAIN DATE BENCH SCORE FILE
  python3 - "$@" <<'PY'
import json, sys
adapter, domain, date, bench, score, path = sys.argv[1:]
score = float(score)
def b(name, base, ad, gate, passed):
    return {"benchmark": name, "metric": "accuracy", "n_items": 60, "test": "exact McNemar",
            "base_score": base, "adapter_score": ad, "diff": ad - base,
            "diff_ci95": [ad - base - 0.06, ad - base + 0.06], "p_value": 0.02,
            "base_ci95": [base - 0.1, base + 0.1], "adapter_ci95": [ad - 0.1, ad + 0.1],
            "cohens_h": 0.3, "power_10pt": 0.8, "power_5pt": 0.3, "gate": gate,
            "passed": passed, "why": "because",
            "generation": {"base_ms": 1000, "adapter_ms": 2000, "base_cached": 0,
                           "adapter_cached": 0, "base_tokens": 5, "adapter_tokens": 6},
            "items": [{"id": "i1", "prompt": "q | <b>",
                       "base": {"output": "</svg><script>alert(1)</script>", "score": 0,
                                "detail": "", "cached": False},
                       "adapter": {"output": "a & \"b\"", "score": 1, "detail": "",
                                   "cached": False}}]}
rec = {"record": "locollm-eval/1", "loco_version": "0.1.0", "date": date,
       "model": {"path": "m.gguf", "sha256": "ab" * 32},
       "adapter": {"name": adapter, "domain": domain, "path": "a.gguf", "sha256": "cd" * 32,
                   "scale": 1},
       "settings": {"decoding": "greedy", "non_inferiority_margin": 0.05},
       "benchmarks": [b(bench, 0.3, score, "superiority", True),
                      b("arc-easy", 0.5, 0.49, "non-inferiority", True)]}
json.dump(rec, open(path, "w"), indent=2)
PY
}
record m1 math 2026-11-27T10:15:00Z gsm8k 0.45 "$tmp/rec.json"
"$LOCO" report eval "$tmp/rec.json" >/dev/null
[ -s "$tmp/rec.md" ] && [ -s "$tmp/rec.html" ] || fail "report eval wrote no .md/.html"
grep -q "| gsm8k | 60 | accuracy | 0.300 \[0.200, 0.400\] | 0.450 \[0.350, 0.550\] |" "$tmp/rec.md" \
  || fail "markdown table: $(cat "$tmp/rec.md")"
if grep -q "<script" "$tmp/rec.md" "$tmp/rec.html"; then fail "unescaped item text"; fi
python3 - "$tmp/rec.html" <<'PY' || fail "report html"
import re, sys, xml.etree.ElementTree as ET
html = open(sys.argv[1]).read()
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
assert len(svgs) == 2, len(svgs)
for s in svgs:
    ET.fromstring(s)  # well-formed XML
assert "&lt;/svg&gt;&lt;script&gt;" in html
assert "<script" not in html and "href=" not in html and "src=" not in html
PY
out=$("$LOCO" report eval "$tmp/rec.json" --format md)
case "$out" in *"# Evaluation of m1 (math)"*) ;; *) fail "report eval --format md: $out";; esac
"$LOCO" report eval "$tmp/rec.json" --out "$tmp/other.html"
grep -q "<!DOCTYPE html>" "$tmp/other.html" || fail "--out FILE.html is not HTML"
echo '{"hello": 1}' >"$tmp/bad.json"
if "$LOCO" report eval "$tmp/bad.json" --format md 2>"$tmp/err"; then fail "non-record accepted"; fi
grep -q "not an evaluation record" "$tmp/err" || fail "non-record message: $(cat "$tmp/err")"
head -c 200 "$tmp/rec.json" >"$tmp/cut.json"
if "$LOCO" report eval "$tmp/cut.json" 2>"$tmp/err"; then fail "truncated record accepted"; fi
grep -q "truncated" "$tmp/err" || fail "truncated message: $(cat "$tmp/err")"

# ---- archive and trend ---------------------------------------------------------
p1=$("$LOCO" report archive "$tmp/rec.json")
[ "$p1" = "$LOCO_RESULTS_DIR/2026-S2/m1-gsm8k+arc-easy-2026-11-27T101500Z.json" ] \
  || fail "archive path: $p1"
[ -f "${p1%.json}.md" ] && [ -f "${p1%.json}.html" ] || fail "archive without reports"
p2=$("$LOCO" report archive "$tmp/rec.json")
[ "$p1" = "$p2" ] || fail "re-archive not idempotent: $p2"
[ "$(ls "$LOCO_RESULTS_DIR/2026-S2" | wc -l)" = 3 ] || fail "re-archive added files"
record c1 code 2026-11-28T00:00:00Z mbpp 0.30 "$tmp/c1.json"
record m2 math 2026-03-01T00:00:00Z gsm8k 0.35 "$tmp/m2.json"
"$LOCO" report archive "$tmp/c1.json" >/dev/null
"$LOCO" report archive "$tmp/m2.json" >/dev/null

out=$("$LOCO" report trend 2>/dev/null)
case "$out" in *"| 2026-S1 | - | 0.350 (m2) | 0.350 | 1 of 2 |"*"| 2026-S2 | 0.300 (c1) | 0.450 (m1) | 0.375 | 2 of 2 |"*) ;;
  *) fail "trend table: $out";; esac
[ -s "$LOCO_RESULTS_DIR/trend.svg" ] && [ -s "$LOCO_RESULTS_DIR/trend.html" ] || fail "trend files"
"$LOCO" report trend --results "$LOCO_RESULTS_DIR" --out "$tmp/t.svg" 2>/dev/null
python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
assert "composite" in texts and "2026-S1" in texts and "2026-S2" in texts, texts
' "$tmp/t.svg" || fail "trend svg"
if "$LOCO" report trend --out "$tmp/t.txt" 2>/dev/null; then fail "--out t.txt accepted"; fi
if "$LOCO" report trend --results "$tmp/none" 2>"$tmp/err"; then fail "trend without results"; fi
grep -q "no results folder" "$tmp/err" || fail "trend message: $(cat "$tmp/err")"
echo "ok"
