#!/usr/bin/env bash
# Only proven adapters serve by default: with a temporary registry whose
# only adapter (reddog, trained here on the tiny model) has not passed its
# gate, route / ask / eval --swarm answer its domain with the base model
# and say so; --serve-candidates and the registry's serve_candidates bring
# it back; a passed score makes it serve; the fallback after a load failure
# follows the same rule; the swarm leaves out an item found in reddog's
# training data.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
command -v python3 >/dev/null || skip_all "python3 (reads the JSON) not found"
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
fail() { echo "FAIL: $*"; exit 1; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"

msha=$(sha256sum "$model" | cut -d' ' -f1)
asha=$(sha256sum "$work/out/reddog.gguf" | cut -d' ' -f1)
mkdir -p "$work/reg" "$work/xdg"
cp "$work/out/reddog.gguf" "$work/reg/reddog.gguf"
printf 'not a gguf file\n' > "$work/reg/broken.gguf"
for i in 101 102 103 104 3; do   # 3 is in reddog's training data
  printf '{"id":"q%d","evaluation_type":"rouge","prompt":"Who is here %d?","reference":"The big red dog ran to the park."}\n' "$i" "$i"
done > "$work/bench.jsonl"

# registry TOP EXTRA: TOP lines at the top, EXTRA adapter entries after reddog
# (reddog's gate on its domain's benchmark failed)
registry() {
  cat > "$work/reg/registry.yaml" <<YAML
schema_version: 2
$1
base_model: {name: stories260K, file: stories260K.gguf, sha256: $msha, architecture: llama, academic_year: "2026"}
domains:
  testing: {description: a test domain, primary_benchmark: custom, benchmarks: [custom, $work/bench.jsonl]}
adapters:
  - name: reddog
    domain: testing
    version: 1.0.0
    file: reddog.gguf
    sha256: $asha
    base_sha256: $msha
    lora: {rank: 4, alpha: 8, targets: [q, v, o, down]}
    provenance: {recipe: ../r.yaml, data: generated, seed: 3, semester: 2026-S2, authors: [test]}
    router: {keywords: [who is here, here], examples: ["Who is here?"]}
    status: candidate
    scores: [{benchmark: custom, score: 0.1, ci_low: 0, ci_high: 0.2, base_score: 0.1, p_value: 0.9, passed: $2, n_items: 50, record: r.json}]
$3
YAML
}
export LOCO_REGISTRY="$work/reg/registry.yaml" XDG_DATA_HOME="$work/xdg"
q="Who is here 101?"

# 1. a candidate that failed its gate does not serve: the base model, and why
registry "" false ""
json=$("$LOCO" route --json "$q" 2> "$work/err")
[ "$(echo "$json" | field 'd["domain"]')" = testing ] || fail "domain: $json"
[ "$(echo "$json" | field 'd["adapter"]')" = None ] || fail "failed candidate served: $json"
[ "$(echo "$json" | field 'd["serving"]')" = no-adapter-passed ] || fail "serving: $json"
grep -qF "[testing -> base model: no adapter has passed its gate]" "$work/err" ||
  fail "route stderr: $(cat "$work/err")"
err=$("$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 9 "$q" \
      2>&1 >/dev/null) || fail "ask: $err"
case "$err" in *"[testing -> base model: no adapter has passed its gate]"*) ;;
  *) fail "ask stderr: $err";; esac
json=$("$LOCO" ask --json --model "$model" --chat-template chatml --temperature 0 --max-tokens 9 "$q")
[ "$(echo "$json" | field 'd["route"]["adapter"]')" = None ] || fail "ask --json adapter: $json"
[ "$(echo "$json" | field 'd["route"]["serving"]')" = no-adapter-passed ] || fail "ask --json: $json"
[ "$(echo "$json" | field 'len(d["adapters"])')" = 0 ] || fail "ask used an adapter: $json"

# 2. --serve-candidates serves it anyway, and says it has not passed
json=$("$LOCO" route --serve-candidates --json "$q" 2> "$work/err")
[ "$(echo "$json" | field 'd["adapter"]')" = reddog ] || fail "--serve-candidates: $json"
[ "$(echo "$json" | field 'd["serving"]')" = candidate-not-passed ] || fail "serving: $json"
grep -qF "[reddog (has not passed its gate)" "$work/err" || fail "stderr: $(cat "$work/err")"
json=$("$LOCO" ask --serve-candidates --json --model "$model" --chat-template chatml \
       --temperature 0 --max-tokens 9 "$q")
[ "$(echo "$json" | field 'd["adapters"][0]["name"]')" = reddog ] || fail "ask candidates: $json"
echo "$json" | field 'd["answer"]' | has "big red dog" || fail "reddog did not answer: $json"
out=$(printf '%s\n/quit\n' "$q" | "$LOCO" chat --serve-candidates --model "$model" \
      --chat-template chatml --temperature 0 --max-tokens 9 2>&1 >/dev/null)
case "$out" in *"[reddog (has not passed its gate)"*) ;; *) fail "chat candidates: $out";; esac

# 3. the registry setting does the same; the flag-less default follows it
registry "serve_candidates: true" false ""
[ "$("$LOCO" route --json "$q" 2>/dev/null | field 'd["adapter"]')" = reddog ] ||
  fail "registry serve_candidates"

# 4. a passed gate serves without any option
registry "" true ""
json=$("$LOCO" route --json "$q" 2> "$work/err")
[ "$(echo "$json" | field 'd["adapter"]')" = reddog ] || fail "passed candidate: $json"
[ "$(echo "$json" | field 'd["serving"]')" = passed-gate ] || fail "passed serving: $json"
[ ! -s "$work/err" ] || fail "a proven adapter needs no note: $(cat "$work/err")"

# 5. the fallback after a load failure keeps the rule: a passed adapter that does
#    not load falls back to the base model, not to the failed candidate ...
broken="  - {name: broken, domain: testing, version: 1.0.0, file: broken.gguf, sha256: $asha,
     base_sha256: $msha, lora: {rank: 4, alpha: 8, targets: [q]},
     provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, authors: [t]},
     router: {keywords: [here], examples: [x]}, status: candidate,
     scores: [{benchmark: custom, score: 0.9, ci_low: 0.8, ci_high: 1, base_score: 0.1,
               p_value: 0.01, passed: true, n_items: 50, record: r.json}]}"
registry "" false "$broken"
err=$("$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 4 "$q" \
      2>&1 >/dev/null) || fail "ask with a broken adapter: $err"
case "$err" in *"router chose broken"*"[testing -> base model: no adapter of the domain loads here]"*) ;;
  *) fail "fallback to a failed candidate: $err";; esac
# ... and with --serve-candidates, to the candidate
err=$("$LOCO" ask --serve-candidates --model "$model" --chat-template chatml --temperature 0 \
      --max-tokens 4 "$q" 2>&1 >/dev/null) || fail "ask: $err"
case "$err" in *"router chose broken"*"[reddog (has not passed its gate)"*) ;;
  *) fail "fallback with --serve-candidates: $err";; esac

# 6. eval --swarm uses the same rule; the item from reddog's training data is left out
registry "" false ""
sw() { "$LOCO" eval --swarm --bench "$work/bench.jsonl" --router keyword --model "$model" \
         --chat-template chatml --threads 1 --slots 2 --max-tokens 9 \
         --cache "$work/cache.sqlite" "$@"; }
sw --out "$work/proven.json" > "$work/proven.out" 2> "$work/proven.err" ||
  { cat "$work/proven.out" "$work/proven.err"; fail "swarm"; }
grep -qF "[testing -> base model: no adapter has passed its gate]" "$work/proven.err" ||
  fail "swarm stderr: $(cat "$work/proven.err")"
[ -s "$work/proven.md" ] || fail "no Markdown report beside the record"
sw --serve-candidates --out "$work/cand.json" > "$work/cand.out" 2>&1 ||
  { cat "$work/cand.out"; fail "swarm --serve-candidates"; }
python3 - "$work/proven.json" "$work/cand.json" <<'PY' || fail "swarm records"
import json, sys
p, c = (json.load(open(f)) for f in sys.argv[1:3])
# only the serving adapters' training data counts: none serves in p, reddog in c
for r, flagged in ((p, []), (c, ["q3"])):
    assert r["record"] == "locollm-swarm/2"
    assert len(r["model"]["sha256"]) == 64 and r["date"] and r["routers"] == ["keyword"]
    b = r["benchmarks"][0]
    n = 5 - len(flagged)
    assert b["n_items"] == 5 and b["n_contaminated"] == len(flagged) and b["n"] == n, b
    assert [f["id"] for f in r["contamination"]["flagged"]] == flagged, r["contamination"]
    assert len(r["items"]) == 5
    assert [i["id"] for i in r["items"] if not i["used"]] == flagged
    assert r["composite"]["scale"] == "glass-delta"
    for x in b["policies"]:
        assert x["n"] == n
dom = p["serving"]["domains"][0]
assert dom["adapter"] is None and dom["reason"] == "no-adapter-passed", dom
comp = {x["policy"]: x for x in p["composite"]["policies"]}
assert comp["oracle"]["gain_vs_base"] == 0 and comp["keyword"]["gain_vs_base"] == 0, comp
served = c["serving"]["domains"][0]
assert served["adapter"] == "reddog" and served["reason"] == "candidate-not-passed", served
assert len(served["sha256"]) == 64
comp = {x["policy"]: x for x in c["composite"]["policies"]}
assert comp["oracle"]["gain_vs_base"] > 0, comp
cells = {x["policy"]: x for x in c["benchmarks"][0]["policies"]}
assert cells["oracle"]["diff_vs_base"] > 0 and cells["oracle"]["test"] == "wilcoxon", cells
item = [i for i in c["items"] if i["id"] == "q101"][0]["policies"]
assert item["oracle"]["served_by"] == "reddog" and item["base"]["served_by"] == "base model", item
PY
echo "ok"
