#!/usr/bin/env bash
# loco eval ADAPTER --strategy ensemble[:N] (docs/strategies.md), on the tiny
# stories260K model with adapters trained here: reddog (60 steps, answers
# "The big red dog ran to the park."), pup (3 steps, answers otherwise) and
# twin (a copy of reddog's file: the same answers). Checked:
#   - the members are the registry's adapters of ADAPTER's domain,
#     candidates that have not passed their gate included, best-ranked
#     first; ensemble:N keeps the first N and ADAPTER always;
#   - each member's answers are its plain answers (the cache entries of a
#     plain evaluation of it: an ensemble over evaluated adapters generates
#     nothing, and a rerun generates nothing);
#   - the vote per item: two against one wins, a tie goes to the
#     best-ranked member, the share recorded;
#   - a domain with one adapter gets the base model as second voter;
#   - --rescore reads the record back; what does not go with it is refused.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1

# refused before any model is opened
for bad in "--scale 0.5" "--serve-candidates" "--engine http://127.0.0.1:9"; do
  # shellcheck disable=SC2086
  if err=$("$LOCO" eval reddog --strategy ensemble $bad 2>&1); then
    fail "eval --strategy ensemble $bad accepted"
  fi
  case "$err" in *"loco eval --strategy ensemble: "*) ;; *) fail "ensemble $bad: $err";; esac
done

model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
[ -f "$model" ] || skip_all "$model not found"
command -v python3 >/dev/null || skip_all "python3 (reads the records) not found"
model=$(cd "$(dirname "$model")" && pwd)/stories260K.gguf
gated() { local st=0; "$@" || st=$?; [ "$st" = 0 ] || [ "$st" = 3 ]; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"
"$LOCO" train --max-steps 3 --out "$work/pup" "$work/r.yaml" > /dev/null 2> "$work/pup.err" ||
  { cat "$work/pup.err"; fail "train pup"; }
mkdir -p "$work/reg"
cp "$work/out/reddog.gguf" "$work/reg/reddog.gguf"
cp "$work/out/reddog.gguf" "$work/reg/twin.gguf"
cp "$work/pup/reddog.gguf" "$work/reg/pup.gguf"
msha=$(sha256sum "$model" | cut -d' ' -f1)
for i in 1 2 3; do
  printf '{"id":"q%d","evaluation_type":"exact_match","prompt":"Who is here %d?","reference":"The big red dog ran to the park.","normalise":["whitespace"]}\n' "$i" "$((i + 100))"
done > "$work/bench.jsonl"

# registry NAME:SCORE:PASSED ...: the adapters of domain testing (ranked by
# their score on its primary benchmark, custom)
registry() {
  local a name score passed
  cat > "$work/reg/registry.yaml" <<YAML
schema_version: 2
base_model: {name: stories260K, file: stories260K.gguf, sha256: $msha, architecture: llama, academic_year: "2026"}
domains:
  testing: {primary_benchmark: custom}
adapters:
YAML
  for a in "$@"; do
    IFS=: read -r name score passed <<< "$a"
    cat >> "$work/reg/registry.yaml" <<YAML
  - name: $name
    domain: testing
    version: 1.0.0
    file: $name.gguf
    sha256: $(sha256sum "$work/reg/$name.gguf" | cut -d' ' -f1)
    base_sha256: $msha
    lora: {rank: 4, alpha: 8, targets: [q, v, o, down]}
    provenance: {recipe: ../r.yaml, data: generated, seed: 3, semester: 2026-S2, authors: [test]}
    router: {keywords: [who is here], examples: ["Who is here?"]}
    status: candidate
    scores: [{benchmark: custom, score: $score, ci_low: 0, ci_high: 1, base_score: 0.1, p_value: 0.5, passed: $passed, n_items: 50, record: r.json}]
YAML
  done
}
ev() { "$LOCO" eval --model "$model" --chat-template chatml --threads 1 --slots 2 --max-tokens 14 \
        --registry "$work/reg/registry.yaml" --record-in none --no-contam \
        --cache "$work/cache.sqlite" --bench "$work/bench.jsonl" "$@"; }
# check RECORD MEMBERS WINNER SHARE [GENERATED]: the members' names in order,
# every item's vote winner and share, and (when given) how many member
# answers this run generated; the chosen answer is the winner's own answer
# (PLAIN_<name>.json holds each member's plain answers)
check() {
  python3 - "$work" "$@" <<'PY'
import json, sys
work, rec, names, winner, share = sys.argv[1:6]
generated = int(sys.argv[6]) if len(sys.argv) > 6 else None
r = json.load(open(rec))
assert r["settings"]["strategy"].startswith("ensemble"), r["settings"]
b = r["benchmarks"][0]
members = b["ensemble"]["members"]
got = ",".join(m["name"] for m in members)
assert got == names, (got, names)
assert [m["name"] for m in r["settings"]["members"]] == names.split(","), r["settings"]["members"]
for m in members:
    if m["name"] == "base model":
        assert m["sha256"] is None, m
    else:
        assert len(m["sha256"]) == 64, m
plain = {}
for m in members:
    p = json.load(open("%s/plain_%s.json" % (work, m["name"].replace(" ", "_"))))
    side = "base" if m["name"] == "base model" else "adapter"
    plain[m["name"]] = [i[side]["output"] for i in p["benchmarks"][0]["items"]]
for k, it in enumerate(b["items"]):
    v = it["adapter"]["vote"]
    assert v["k"] == len(members) and v["by"] == "text", v
    assert v["winner"] == int(winner), (it["id"], v)
    assert abs(v["share"] - float(share)) < 1e-9, (it["id"], v)
    w = members[v["winner"]]["name"]
    assert it["adapter"]["output"] == plain[w][k], (it["id"], it["adapter"]["output"], plain[w][k])
    # the plain side is ADAPTER (named here by its file) answering plain
    own = r["adapter"]["path"].rsplit("/", 1)[-1][:-len(".gguf")]
    assert it["base"]["output"] == plain[own][k], (it["id"], own)
    assert "vote" not in it["base"], it["base"]
assert sum(m["won"] for m in members) == len(b["items"]), members
if generated is not None:
    made = sum(len(b["items"]) - m["cached"] for m in members)
    assert made == generated, (made, generated, members)
    assert b["generation"]["adapter_cached"] == sum(m["cached"] for m in members), b["generation"]
PY
}

# each adapter's plain answers (and the base model's), evaluated first
registry reddog:0.9:false pup:0.5:false twin:0.4:false
for a in reddog pup twin; do
  gated ev --json "$work/reg/$a.gguf" > "$work/plain_$a.json" 2> "$work/plain.err" ||
    { cat "$work/plain.err"; fail "plain eval of $a"; }
done
cp "$work/plain_reddog.json" "$work/plain_base_model.json"
python3 - "$work" <<'PY' || fail "the plain answers are not as the test needs"
import json, sys
out = lambda a: [i["adapter"]["output"] for i in
                 json.load(open("%s/plain_%s.json" % (sys.argv[1], a)))["benchmarks"][0]["items"]]
red, pup, twin = out("reddog"), out("pup"), out("twin")
assert red == twin, (red, twin)
assert all(x != y for x, y in zip(red, pup)), (red, pup)
assert all("big red dog" in x for x in red), red
PY

# 1. three members best-ranked first, candidates included: reddog and twin
# agree, two votes against pup's one; every answer was already in the cache
gated ev --strategy ensemble --out "$work/e1.json" "$work/reg/pup.gguf" > "$work/e1.out" \
  2> "$work/e1.err" || { cat "$work/e1.err"; fail "ensemble of 3"; }
check "$work/e1.json" reddog,pup,twin 0 0.6666666666666666 0 || fail "ensemble of 3"
score() { # RECORD: plain score, ensemble score, members' scores alone
  python3 -c "import json,sys; b=json.load(open(sys.argv[1]))['benchmarks'][0]; print(b['base_score'], b['adapter_score'], [m['score'] for m in b['ensemble']['members']])" "$1"
}
[ "$(score "$work/e1.json")" = "0 1 [1, 0, 1]" ] || fail "ensemble of 3 scores: $(score "$work/e1.json")"
grep -q "ensemble of 3 (a tie goes to the earliest)" "$work/e1.out" || fail "members table: $(cat "$work/e1.out")"
grep -q "| reddog ensemble |" "$work/e1.out" || fail "columns: $(cat "$work/e1.out")"

# 2. pup ranked first: ensemble:2 keeps pup and reddog, and the tie goes to pup
registry pup:0.9:false reddog:0.5:false twin:0.4:false
gated ev --strategy ensemble:2 --out "$work/e2.json" "$work/reg/reddog.gguf" > /dev/null \
  2> "$work/e2.err" || { cat "$work/e2.err"; fail "ensemble:2"; }
check "$work/e2.json" pup,reddog 0 0.5 0 || fail "ensemble:2, tie to pup"
[ "$(score "$work/e2.json")" = "1 0 [0, 1]" ] || fail "ensemble:2 scores: $(score "$work/e2.json")"
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['settings']['strategy'] == 'ensemble:2'" \
  "$work/e2.json" || fail "ensemble:2 is not named"
# ADAPTER beyond the first N takes the last place
gated ev --strategy ensemble:2 --out "$work/e3.json" "$work/reg/twin.gguf" > /dev/null \
  2> "$work/e3.err" || { cat "$work/e3.err"; fail "ensemble:2 of twin"; }
check "$work/e3.json" pup,twin 0 0.5 0 || fail "ensemble:2 keeps ADAPTER"

# 3. one adapter in the domain: the base model votes too (its plain answers
# are the base side of reddog's plain evaluation), and loses the tie; a
# fresh cache generates each member's answers once, the rerun none
registry reddog:0.9:false
rm -f "$work/cache.sqlite"
gated ev --strategy ensemble --out "$work/e4.json" "$work/reg/reddog.gguf" > /dev/null \
  2> "$work/e4.err" || { cat "$work/e4.err"; fail "ensemble of one adapter"; }
grep -q "reddog is the only adapter of the testing domain; the base model votes too" "$work/e4.err" ||
  fail "no word of the base model: $(cat "$work/e4.err")"
python3 - "$work" <<'PY' || fail "the base model's plain answers"
import json, sys
w = sys.argv[1]
p = json.load(open(w + "/plain_reddog.json"))["benchmarks"][0]["items"]
json.dump({"benchmarks": [{"items": [{"base": {"output": i["base"]["output"]}} for i in p]}]},
          open(w + "/plain_base_model.json", "w"))
PY
# reddog's answers were the plain side's (cached by it); the base model's are new
check "$work/e4.json" "reddog,base model" 0 0.5 3 || fail "ensemble with the base model"
gated ev --strategy ensemble --out "$work/e5.json" "$work/reg/reddog.gguf" > /dev/null \
  2> "$work/e5.err" || { cat "$work/e5.err"; fail "ensemble rerun"; }
check "$work/e5.json" "reddog,base model" 0 0.5 0 || fail "the rerun generated answers"
python3 - "$work/e5.json" <<'PY' || fail "the rerun's record"
import json, sys
r = json.load(open(sys.argv[1]))
g = r["benchmarks"][0]["generation"]
assert g["base_cached"] == 3 and g["adapter_cached"] == 6, g
assert all(i["adapter"]["cached"] for i in r["benchmarks"][0]["items"])
PY

# 4. the record is scored again as any other
"$LOCO" eval --rescore "$work/e5.json" --bench "$work/bench.jsonl" > "$work/rescore.out" 2>&1 ||
  { cat "$work/rescore.out"; fail "--rescore of an ensemble record"; }
grep -q "bench (3 items): re-scored" "$work/rescore.out" || fail "rescore: $(cat "$work/rescore.out")"
grep -q "item scores changed: base 0, adapter 0" "$work/rescore.out" ||
  fail "rescore changed scores: $(cat "$work/rescore.out")"
test_done
