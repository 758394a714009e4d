#!/usr/bin/env bash
# loco eval end to end on the tiny stories260K model with an adapter trained
# here and a custom benchmark file:
#   - the record is valid JSON with every item, both sides, scores and stats;
#   - the adapter beats the base on what it was trained to say;
#   - a second run reads every answer from the cache;
#   - bad benchmarks are refused with a message.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
if [ ! -f "$model" ]; then
  echo "skipping: $model not found"; exit 0
fi
command -v python3 >/dev/null || { echo "skipping: python3 (used to read the record) not found"; exit 0; }
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for i in $(seq 0 31); do
  printf '{"q":"Who is here %d?","a":"The big red dog ran to the park."}\n' "$i"
done > "$work/data.jsonl"
cat > "$work/r.yaml" <<YAML
name: reddog
domain: testing
base: $model
chat_template: chatml
data:
  path: data.jsonl
  format: fields
  prompt: "{q}"
  response: "{a}"
  validation: 2
lora:
  rank: 4
  alpha: 8
  targets: [q, v, o, down]
optimizer:
  lr: 0.02
training:
  max_steps: 60
  batch: 4
  seed: 3
  threads: 1
  checkpoint_every: 0
output:
  dir: out
  samples: 0
YAML
"$LOCO" train "$work/r.yaml" > /dev/null 2> "$work/train.err" || { cat "$work/train.err"; fail "train"; }

for i in 1 2 3 4; do
  printf '{"id":"q%d","evaluation_type":"rouge","prompt":"Who is here %d?","reference":"The big red dog ran to the park."}\n' "$i" "$((i + 100))"
done > "$work/bench.jsonl"

ev() { "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 9 \
        --cache "$work/cache.sqlite" --bench "$work/bench.jsonl" "$@"; }
ev --out "$work/rec.json" "$work/out/reddog.gguf" > "$work/eval1.out" 2> "$work/eval1.err" ||
  { cat "$work/eval1.err"; fail "eval"; }
cat "$work/eval1.out"
grep -q "| 4 | rouge-l-f1 |" "$work/eval1.out" || fail "no result row"
python3 - "$work/rec.json" <<'PY' || fail "record check"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["record"] == "locollm-eval/1", r["record"]
assert r["adapter"]["name"] == "reddog" and len(r["adapter"]["sha256"]) == 64
assert len(r["model"]["sha256"]) == 64
b = r["benchmarks"][0]
assert b["n_items"] == 4 and len(b["items"]) == 4
assert b["test"] == "Wilcoxon signed-rank" and b["gate"] == "non-inferiority"
assert b["adapter_score"] > b["base_score"] + 0.5, (b["base_score"], b["adapter_score"])
for it in b["items"]:
    assert "big red dog" in it["adapter"]["output"], it["adapter"]["output"]
    assert it["base"]["cached"] is False
print("record ok: base %.3f adapter %.3f p %s" % (b["base_score"], b["adapter_score"], b["p_value"]))
PY

# the same evaluation again: every answer from the cache, same numbers
ev --json "$work/out/reddog.gguf" > "$work/rec2.json" 2>/dev/null || fail "second eval"
python3 - "$work/rec.json" "$work/rec2.json" <<'PY' || fail "cached run differs"
import json, sys
a = json.load(open(sys.argv[1]))["benchmarks"][0]
b = json.load(open(sys.argv[2]))["benchmarks"][0]
assert b["generation"]["base_cached"] == 4 and b["generation"]["adapter_cached"] == 4, b["generation"]
assert a["base_score"] == b["base_score"] and a["adapter_score"] == b["adapter_score"]
assert [i["adapter"]["output"] for i in a["items"]] == [i["adapter"]["output"] for i in b["items"]]
PY

# the registry's scores come from the record: a temporary registry that knows reddog
msha=$(sha256sum "$model" | cut -d' ' -f1)
asha=$(sha256sum "$work/out/reddog.gguf" | cut -d' ' -f1)
mkdir -p "$work/reg" "$work/xdg"
cp "$work/out/reddog.gguf" "$work/reg/reddog.gguf"
cat > "$work/reg/registry.yaml" <<YAML
schema_version: 2
base_model: {name: stories260K, file: stories260K.gguf, sha256: $msha, architecture: llama, academic_year: "2026"}
domains:
  testing: {description: a test domain, primary_benchmark: custom, benchmarks: [custom]}
adapters:
  - name: reddog
    domain: testing
    version: 1.0.0
    file: reddog.gguf
    sha256: $asha
    base_sha256: $msha
    lora: {rank: 4, alpha: 8, targets: [q, v, o, down]}
    provenance: {recipe: r.yaml, data: generated, seed: 3, semester: 2026-S2, authors: [test], training_log: none}
    router: {keywords: [dog], examples: ["Who is here?"]}
    status: candidate
YAML
export LOCO_REGISTRY="$work/reg/registry.yaml" XDG_DATA_HOME="$work/xdg"
ev --out "$work/rec3.json" "$work/out/reddog.gguf" > /dev/null 2> "$work/eval3.err" ||
  { cat "$work/eval3.err"; fail "eval with registry"; }
grep -q "scores of reddog recorded in the user registry" "$work/eval3.err" || fail "no registry update: $(cat "$work/eval3.err")"
grep -q "record: $work/rec3.json" "$work/xdg/locollm/registry.yaml" || fail "overlay lacks the record path"
"$LOCO" adapters info reddog --json | grep -q "\"bench\"" || fail "the score is not in the merged registry: $("$LOCO" adapters info reddog --json)"
unset LOCO_REGISTRY XDG_DATA_HOME

# refusals
if err=$(ev --bench nosuch "$work/out/reddog.gguf" 2>&1); then fail "unknown benchmark accepted"; fi
echo "$err" | grep -q "no benchmark 'nosuch'" || fail "unknown benchmark message: $err"
printf '{"id":"j1","evaluation_type":"llm_judge","prompt":"Write a poem.","rubric":"1-10"}\n' > "$work/judge.jsonl"
if err=$("$LOCO" eval --model "$model" --chat-template chatml --no-cache --bench "$work/judge.jsonl" \
          "$work/out/reddog.gguf" 2>&1); then fail "judge items accepted"; fi
echo "$err" | grep -q "llm_judge" || fail "judge message: $err"
echo "ok"
