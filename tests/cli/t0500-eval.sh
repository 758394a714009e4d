#!/usr/bin/env bash
# loco eval end to end on the tiny stories260K model with an adapter trained
# here and a custom benchmark file:
#   - the record is valid JSON with every item, both sides, scores and stats;
#   - the adapter beats the base on what it was trained to say;
#   - a second run reads every answer from the cache;
#   - bad benchmarks and options are refused with a message;
#   - judged benchmarks: the built-in `judge` with the base model as judge,
#     and a custom llm_judge file with a fake OpenAI-compatible judge that
#     this script runs (good, malformed and failing replies).
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

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"

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
"$LOCO" adapters info reddog --json | has "\"bench\"" || fail "the score is not in the merged registry: $("$LOCO" adapters info reddog --json)"
# in the project registry a record is stored relative to the registry's folder
ev --out "$work/out/rec4.json" --record-in project "$work/out/reddog.gguf" > /dev/null 2>&1 ||
  fail "eval --record-in project"
grep -q "record: ../out/rec4.json" "$work/reg/registry.yaml" ||
  fail "project record path: $(grep record: "$work/reg/registry.yaml")"

# the routed system (--swarm): keywords that match the items make the keyword
# router's choice the oracle's, which beats the base model; random is seeded.
# reddog has not passed a gate on its domain's primary benchmark, so it
# serves only with --serve-candidates (t0620-serving.sh tests the rule)
sed -i "s|benchmarks: \[custom\]|benchmarks: [custom, $work/bench.jsonl]|; s|keywords: \[dog\]|keywords: [who is here, here]|" \
  "$work/reg/registry.yaml"
"$LOCO" eval --swarm --serve-candidates --bench "$work/bench.jsonl" --router keyword --model "$model" \
  --chat-template chatml --threads 1 --slots 2 --max-tokens 9 --cache "$work/cache.sqlite" \
  --out "$work/swarm.json" > "$work/swarm.out" 2>&1 || { cat "$work/swarm.out"; fail "swarm"; }
grep -q '^| keyword |' "$work/swarm.out" || fail "swarm table: $(cat "$work/swarm.out")"
python3 - "$work/swarm.json" <<'PY' || fail "swarm record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["record"] == "locollm-swarm/2"
c = {x["policy"]: x for x in r["composite"]["policies"]}
assert set(c) == {"oracle", "keyword", "base", "random"}, c.keys()
b = r["benchmarks"][0]
p = {x["policy"]: x for x in b["policies"]}
assert p["keyword"]["routing_accuracy"] == 1, p["keyword"]
assert c["oracle"]["gain_vs_base"] == c["keyword"]["gain_vs_base"] > c["base"]["gain_vs_base"] == 0, c
assert p["oracle"]["diff_vs_base"] > 0 and "diff_vs_base" not in p["base"], p
assert b["n"] == 4 and len(r["items"]) == 4
PY
if "$LOCO" eval --swarm "$work/out/reddog.gguf" > /dev/null 2>&1; then fail "--swarm with an adapter accepted"; fi
if "$LOCO" eval --router keyword "$work/out/reddog.gguf" > /dev/null 2>&1; then fail "--router without --swarm accepted"; fi
unset LOCO_REGISTRY XDG_DATA_HOME

# refusals
if err=$(ev --bench nosuch "$work/out/reddog.gguf" 2>&1); then fail "unknown benchmark accepted"; fi
grep -q "no benchmark 'nosuch'" <<<"$err" || fail "unknown benchmark message: $err"
if err=$(ev --bench "$work/bench.jsonl" --shots 2 "$work/out/reddog.gguf" 2>&1); then fail "--shots accepted without gsm8k"; fi
grep -q "gsm8k only" <<<"$err" || fail "shots message: $err"
if err=$(ev --temperature 0.5 "$work/out/reddog.gguf" 2>&1); then fail "--temperature accepted without --samples"; fi
grep -q "needs --samples" <<<"$err" || fail "temperature message: $err"
if err=$(ev --judge-url file:///etc/passwd --judge-model x "$work/out/reddog.gguf" 2>&1); then fail "file judge URL accepted"; fi
grep -q "not http(s)" <<<"$err" || fail "judge URL message: $err"

# k-shot gsm8k and sampled code answers (pass@k)
if [ -f "$LOCO_SHARED_DIR/datasets/gsm8k/train.jsonl" ]; then
  gated ev --bench gsm8k --limit 2 --shots 2 --json "$work/out/reddog.gguf" > "$work/shots.json" 2>/dev/null || fail "eval --shots"
  python3 -c 'import json,sys; bs=json.load(open(sys.argv[1]))["benchmarks"]; assert bs[0]["settings"]["shots"] == 0; b=bs[1]; assert b["benchmark"] == "gsm8k" and b["settings"]["shots"] == 2 and b["test"] == "exact McNemar", b["settings"]' "$work/shots.json" || fail "shots record"
fi
if command -v python3 >/dev/null; then
  printf '{"id":"c1","evaluation_type":"code_execution","prompt":"Write add(a, b).","tests":["assert add(1, 2) == 3"]}\n' > "$work/code.jsonl"
  gated ev --bench "$work/code.jsonl" --samples 3 --temperature 0.9 --seed 7 --json "$work/out/reddog.gguf" > "$work/samples.json" 2> "$work/samples.err" ||
    { cat "$work/samples.err"; fail "eval --samples"; }
  grep -q "code base    scoring 3/3" "$work/samples.err" || fail "no scoring progress: $(cat "$work/samples.err")"
  python3 - "$work/samples.json" <<'PY' || fail "samples record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["benchmarks"][0]["settings"]["samples"] == 1  # bench.jsonl (rouge) ignores --samples
b = r["benchmarks"][1]
assert b["benchmark"] == "code"
assert r["settings"]["samples"] == 3 and abs(r["settings"]["temperature"] - 0.9) < 1e-6
assert b["settings"] == {"decoding": "sampled", "shots": 0, "samples": 3, "temperature": b["settings"]["temperature"], "top_p": 0.95, "seed": 7}, b["settings"]
assert b["test"] == "Wilcoxon signed-rank" and b["metric"] == "pass@1"
assert set(b["pass_at_k"]["base"]) == {"pass@1"}, b["pass_at_k"]
for side in ("base", "adapter"):
    s = b["items"][0][side]
    assert s["n"] == 3 and len(s["samples"]) == 3 and s["c"] == sum(x["passed"] for x in s["samples"]), s
    assert abs(s["score"] - s["c"] / 3) < 1e-12
PY
fi

# the judge: the built-in writing benchmark, judged by the base model in process
if [ -f "$LOCO_SHARED_DIR/datasets/alpacaeval_gpt4/alpacaeval_gpt4_writing.jsonl" ]; then
  gated "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 8 \
      --cache "$work/judge-cache.sqlite" --bench judge --limit 3 --record-in none \
      --out "$work/judge.json" "$work/out/reddog.gguf" > "$work/judge.out" 2> "$work/judge.err" ||
    { cat "$work/judge.err"; fail "eval --bench judge"; }
  grep -q "judge base    judging 9/9" "$work/judge.err" || fail "no judging progress: $(cat "$work/judge.err")"
  grep -qE "\| judge \| ([0-9]+ of )?3 \| judge-mtbench \|" "$work/judge.out" ||
    fail "no judge row: $(cat "$work/judge.out")"
  python3 - "$work/judge.json" <<'PY' || fail "judge record"
import json, math, sys
b = json.load(open(sys.argv[1]))["benchmarks"][0]
j = b["judge"]
assert b["metric"] == "judge-mtbench" and b["test"] == "Wilcoxon signed-rank", b["metric"]
assert j["rubric"] == "mtbench" and j["scale"] == [1, 10] and j["judgments_per_answer"] == 3, j
assert j["judge"] == "base model (in process)", j["judge"]
for side in ("base", "adapter"):
    assert j[side]["judgments"] == 9, j[side]
    n_bad = 0
    for it in b["items"]:
        r = it[side]["ratings"]
        assert len(r) == 3, r
        assert all(x is None or 1 <= x <= 10 for x in r), r
        n_bad += sum(x is None for x in r)
        ok = [x for x in r if x is not None]
        if ok:
            assert abs(it[side]["score"] - sum((x - 1) / 9 for x in ok) / len(ok)) < 1e-9
        else:
            assert it["unrated"] is True
    assert j[side]["unparseable"] == n_bad, (j[side], n_bad)
print("local judge ok: unparseable base %d adapter %d" % (j["base"]["unparseable"], j["adapter"]["unparseable"]))
PY
else
  skip_part "the built-in judge benchmark: alpacaeval_gpt4 not found"
fi

# the judge at an OpenAI-compatible endpoint: a fake one, run here
cat > "$work/fake-judge.py" <<'PY'
import http.server, json, sys
class Judge(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with open(sys.argv[2], "a") as log:
            log.write("%s %s %s\n" % (self.path, req["model"], self.headers.get("Authorization")))
        code, body = 200, None
        if req["model"] == "broken":
            body = b'{"choices": [{"message": '
        elif req["model"] == "missing":
            code, body = 404, json.dumps({"error": {"message": "no such model"}}).encode()
        else:
            r = 1 + (req["seed"] + len(req["messages"][1]["content"])) % 10
            text = "A fair answer.\n\nRating: [[%d]]" % r
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Judge)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
PY
python3 "$work/fake-judge.py" "$work/port" "$work/requests.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -f "$work/port" ] && break; sleep 0.1; done
[ -f "$work/port" ] || fail "the fake judge did not start"
url="http://127.0.0.1:$(cat "$work/port")/v1"
printf '{"id":"j1","evaluation_type":"llm_judge","prompt":"Write a poem.","rubric":"About dogs."}\n{"id":"j2","evaluation_type":"llm_judge","prompt":"Who is here 7?","rubric":"Names a dog.","reference":"The big red dog."}\n' > "$work/judge.jsonl"
jev() { LOCO_JUDGE_API_KEY=test-key "$LOCO" eval --model "$model" --chat-template chatml --threads 1 \
          --slots 2 --max-tokens 9 --record-in none --bench "$work/judge.jsonl" --judge-url "$url" "$@" \
          "$work/out/reddog.gguf"; }
gated jev --judge-model fake --cache "$work/judge-cache.sqlite" --out "$work/remote.json" > /dev/null 2> "$work/remote.err" ||
  { cat "$work/remote.err"; fail "eval with the HTTP judge"; }
[ "$(wc -l < "$work/requests.log")" = 12 ] || fail "12 judge requests expected: $(cat "$work/requests.log")"
grep -q "^/v1/chat/completions fake Bearer test-key$" "$work/requests.log" || fail "request: $(head -1 "$work/requests.log")"
python3 - "$work/remote.json" <<'PY' || fail "HTTP judge record"
import json, sys
r = json.load(open(sys.argv[1]))
b = r["benchmarks"][0]
j = b["judge"]
assert j["judge"].startswith("fake at http://127.0.0.1:"), j["judge"]
assert r["settings"]["judge"]["model"] == "fake"
assert j["base"]["unparseable"] == 0 and j["adapter"]["unparseable"] == 0, j
assert b["n_items"] == 2 and "n_paired" not in b
for it in b["items"]:
    for side in ("base", "adapter"):
        rs = it[side]["ratings"]
        assert len(rs) == 3 and all(1 <= x <= 10 for x in rs), rs
        assert abs(it[side]["score"] - sum((x - 1) / 9 for x in rs) / 3) < 1e-9
print("HTTP judge ok")
PY
# again: every judgment from the cache, no request
gated jev --judge-model fake --cache "$work/judge-cache.sqlite" --json > "$work/remote2.json" 2>/dev/null || fail "second HTTP judge eval"
[ "$(wc -l < "$work/requests.log")" = 12 ] || fail "the cached run asked the judge again"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["benchmarks"][0]["judge"]; assert j["base"]["cached"] == 6 and j["adapter"]["cached"] == 6, j' "$work/remote2.json" || fail "judgments not cached"
# a malformed reply and an HTTP error are clear failures
if err=$(jev --judge-model broken --no-cache 2>&1); then fail "malformed judge reply accepted"; fi
grep -q "not JSON" <<<"$err" || fail "malformed reply message: $err"
if err=$(jev --judge-model missing --no-cache 2>&1); then fail "HTTP 404 accepted"; fi
grep -q "HTTP 404: no such model" <<<"$err" || fail "HTTP error message: $err"
# contamination: an item copied from the training data is flagged and fails
# the gate; --decontaminate scores the others; the record names the recipe;
# the reports are written beside the record and --archive files all three
{ printf '{"id":"copied","evaluation_type":"rouge","prompt":"Who is here 5?","reference":"The big red dog ran to the park."}\n'
  cat "$work/bench.jsonl"; } > "$work/contam.jsonl"
cev() { "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 9 \
        --cache "$work/cache.sqlite" --bench "$work/contam.jsonl" --record-in none "$@" \
        "$work/out/reddog.gguf"; }
LOCO_RESULTS_DIR="$work/results" gated cev --out "$work/contam.json" --archive > "$work/c.out" 2>&1 ||
  { cat "$work/c.out"; fail "eval with contamination"; }
grep -q "Contamination: 1 of 5 items flagged (1 exact" "$work/c.out" || fail "contamination line: $(cat "$work/c.out")"
[ -s "$work/contam.md" ] && [ -s "$work/contam.html" ] || fail "reports not written beside the record"
ls "$work"/results/20*-S[12]/reddog-*.json > /dev/null 2>&1 || fail "record not archived"
python3 - "$work/contam.json" <<'PY' || fail "contamination record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["contamination"]["checked"] and r["contamination"]["recipe"].endswith("recipe.yaml"), r["contamination"]
assert r["contamination"]["training_examples"] == 32, r["contamination"]
b = r["benchmarks"][0]
c = b["contamination"]
assert c["flagged"] == 1 and c["exact"] == 1 and c["flagged_ids"] == ["copied"], c
assert not b["passed"] and "contaminated" in b["why"], (b["passed"], b["why"])
assert b["n_used"] == 5
assert b["items"][0]["contamination"]["flagged"] is True
PY
gated cev --out "$work/decon.json" --decontaminate > /dev/null 2>&1 || fail "--decontaminate"
python3 - "$work/decon.json" <<'PY' || fail "decontaminated record"
import json, sys
b = json.load(open(sys.argv[1]))["benchmarks"][0]
assert b["contamination"]["decontaminated"] and b["n_used"] == 4, b["contamination"]
assert "contaminated" not in b["why"], b["why"]
PY
gated cev --out "$work/noprompt.json" --omit-prompts > /dev/null 2>&1 || fail "--omit-prompts"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); i=r['benchmarks'][0]['items']; \
assert 'omitted' in r['prompts'] and all('prompt' not in x and x['id'] for x in i)" \
  "$work/noprompt.json" || fail "--omit-prompts record"
[ -s "$work/noprompt.md" ] || fail "report of a record without prompts"
cev --out "$work/nocheck.json" --no-contam > /dev/null 2>&1 || fail "--no-contam"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert not r['contamination']['checked']" \
  "$work/nocheck.json" || fail "--no-contam record"
if cev --archive > /dev/null 2>&1; then fail "--archive without --out accepted"; fi
test_done
