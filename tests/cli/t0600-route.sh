#!/usr/bin/env bash
# loco route: decisions with probabilities, the routing benchmark, and
# loco ask routing by default (with --no-route and --adapter to override).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
here=$(cd "$(dirname "$0")/../.." && pwd)
export LOCO_REGISTRY="$here/adapters/registry.yaml"
export XDG_DATA_HOME=$(mktemp -d)   # no user overlay
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$XDG_DATA_HOME"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$LOCO" route --list | has '^keyword ' || fail "route --list"

json=$("$LOCO" route --json "A baker sells 12 cakes a day. How many cakes does she sell in a week?")
[ "$(echo "$json" | field 'd["domain"]')" = math ] || fail "math query: $json"
# the shipped math adapter has not passed its gate: the base model answers, and says why
[ "$(echo "$json" | field 'd["adapter"]')" = None ] || fail "math adapter: $json"
[ "$(echo "$json" | field 'd["serving"]')" = no-adapter-passed ] || fail "math serving: $json"
echo "$json" | field 'abs(sum(d["probabilities"].values()) - 1) < 1e-9' | has True \
  || fail "probabilities do not sum to 1: $json"
echo "$json" | field 'sorted(d["probabilities"])' | has "'base'" || fail "no base probability"

json=$("$LOCO" route --json "Who painted the Mona Lisa?")
[ "$(echo "$json" | field 'd["domain"]')" = base ] || fail "general query: $json"
[ "$(echo "$json" | field 'd["adapter"]')" = None ] || fail "general query adapter: $json"

out=$("$LOCO" route "Write a Python function that reverses a list")
echo "$out"
case "$out" in "code: adapter code"*) ;; *) fail "code query: $out";; esac

# errors: unknown router (names the known ones), no query, two queries, bad bench file
if err=$("$LOCO" route --router crystal-ball "x" 2>&1); then fail "unknown router accepted"; fi
case "$err" in *keyword*) ;; *) fail "unknown router should list the routers: $err";; esac
if "$LOCO" route >/dev/null 2>&1; then fail "no query accepted"; fi
if "$LOCO" route "a" "b" >/dev/null 2>&1; then fail "two queries accepted"; fi
printf '{"query": "q"}\n' > "$tmp/bad.jsonl"
if err=$("$LOCO" route --bench "$tmp/bad.jsonl" 2>&1); then fail "bad bench accepted"; fi
case "$err" in *bad.jsonl:1*) ;; *) fail "bad bench error should name file:line: $err";; esac

# a small benchmark with known answers
cat > "$tmp/small.jsonl" <<'JSONL'
{"query": "How many apples are left if I eat 3 of 10?", "domain": "math"}
{"query": "Write a function to sort a list in Python.", "domain": "code"}
{"query": "Summarise this article in one sentence: The council met on Monday.", "domain": "summarisation"}
{"query": "You are a pirate captain. Give a speech to your crew.", "domain": "writing"}
{"query": "Which planet is closest to the sun?", "domain": "base"}
JSONL
json=$("$LOCO" route --bench "$tmp/small.jsonl" --json)
[ "$(echo "$json" | field 'd["accuracy"] == 1')" = True ] || fail "small bench: $json"
"$LOCO" route --router keyword --bench "$tmp/small.jsonl" | has '^| math | 1.000 | 1.000 | 1.000 | 1 |' \
  || fail "small bench table"

# the confidence wrapper: thresholds chosen on labelled queries, kept in a file
out=$(LOCO_ROUTER_CONFIDENCE="$tmp/conf.json" "$LOCO" router calibrate --router confidence:keyword \
      --data "$tmp/small.jsonl") || fail "calibrate confidence:keyword"
grep -q '^chosen: threshold .* expected calibration error' <<<"$out" || fail "calibrate: $out"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert 'keyword' in d['routers']" \
  "$tmp/conf.json" || fail "thresholds file"
# the same as JSON: every pair tried and the chosen one
out=$(LOCO_ROUTER_CONFIDENCE="$tmp/conf.json" "$LOCO" router calibrate --router confidence:keyword \
      --data "$tmp/small.jsonl" --json) || fail "calibrate --json"
echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); \
assert d['router'] == 'keyword' and d['n'] == 5 and len(d['pairs']) > 10; \
c = d['chosen']; assert c['cost'] <= d['cost_without'] and d['thresholds_file']" \
  || fail "calibrate --json: $out"
json=$(LOCO_ROUTER_CONFIDENCE="$tmp/conf.json" "$LOCO" route --router confidence:keyword --json \
       "How many apples are left if I eat 3 of 10?")
[ "$(echo "$json" | field 'd["router"]')" = confidence:keyword ] || fail "wrapped route: $json"
"$LOCO" route --list | has '^confidence:NAME' || fail "route --list lacks the wrapper"

# leave-one-source-out on a small pool written here: three sources, each with
# every label; keyword is scored per source, and the JSON has what the docs say
cat > "$tmp/pool.jsonl" <<'JSONL'
{"query": "How many apples are left if I eat 3 of 10?", "domain": "math", "source": "s1"}
{"query": "Write a function to sort a list in Python.", "domain": "code", "source": "s1"}
{"query": "Summarise this article in one sentence: The council met on Monday.", "domain": "summarisation", "source": "s1"}
{"query": "You are a pirate captain. Give a speech to your crew.", "domain": "writing", "source": "s1"}
{"query": "Which planet is closest to the sun?", "domain": "base", "source": "s1"}
{"query": "what is 15 percent of 80", "domain": "math", "source": "s2"}
{"query": "python func to reverse a string pls", "domain": "code", "source": "s2"}
{"query": "tldr: the shop closes early on fridays from next week because of staffing", "domain": "summarisation", "source": "s2"}
{"query": "write a haiku about autumn", "domain": "writing", "source": "s2"}
{"query": "who painted the mona lisa", "domain": "base", "source": "s2"}
{"query": "A train travels 60 miles per hour for 3 hours. How far does it go?", "domain": "math", "source": "s3"}
{"query": "Fix this code: def add(a, b): return a - b", "domain": "code", "source": "s3"}
{"query": "Give me the key points of this report: sales rose and costs fell.", "domain": "summarisation", "source": "s3"}
{"query": "Compose a poem about the sea at night.", "domain": "writing", "source": "s3"}
{"query": "Translate good morning into Spanish.", "domain": "base", "source": "s3"}
JSONL
json=$("$LOCO" router loso --data "$tmp/pool.jsonl" --router keyword --json) || fail "loso keyword"
echo "$json" | python3 -c '
import json, sys
runs = json.load(sys.stdin)
assert len(runs) == 1, runs
r = runs[0]
assert r["protocol"].startswith("per source"), r["protocol"]
assert sorted(s["name"] for s in r["sources"]) == ["s1", "s2", "s3"], r["sources"]
for s in r["sources"]:
    assert s["n"] == 5 and s["lo"] <= s["accuracy"] <= s["hi"], s
lo, hi = r["accuracy_ci95"]
assert lo <= r["accuracy"] <= hi and r["n"] == 15
assert set(r["per_domain"]) == {"math", "code", "writing", "summarisation", "base"}
for d in r["per_domain"].values():
    assert 0 <= d["f1"] <= 1
assert 0 <= r["ece"] <= 1
' || fail "loso keyword json: $json"
"$LOCO" router loso --data "$tmp/pool.jsonl" --router keyword | has '^| s2 | 5 |' \
  || fail "loso table"
if "$LOCO" router loso --router keyword >/dev/null 2>&1; then fail "loso without --data"; fi
printf '{"query": "q", "domain": "poetry", "source": "s"}\n' > "$tmp/badlabel.jsonl"
if err=$("$LOCO" router loso --data "$tmp/badlabel.jsonl" --router keyword 2>&1); then
  fail "unknown label accepted"
fi
case "$err" in *poetry*) ;; *) fail "unknown label: $err";; esac
"$LOCO" route --router keyword --bench "$tmp/small.jsonl" | has '^router keyword: accuracy 1.000 \[0.566, 1.000\]' \
  || fail "bench without its Wilson interval"
"$LOCO" route --bench "$tmp/pool.jsonl" --decisions "$tmp/dec.jsonl" > /dev/null \
  || fail "bench --decisions"
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 15 and [r["i"] for r in rows] == list(range(15)), rows
assert rows[5]["source"] == "s2" and rows[5]["domain"] == "math", rows[5]
assert all(r["chosen"] in ("math", "code", "writing", "summarisation", "base") for r in rows)
' "$tmp/dec.jsonl" || fail "decisions file: $(cat "$tmp/dec.jsonl")"

# the hand-written routing sources: well formed, no repeats, none close to the
# held-out test set (data/routing/written/check.py says which line fails)
LOCO_SHARED="${LOCO_SHARED_DIR:-$here/../shared}" python3 "$here/data/routing/written/check.py" \
  >"$tmp/written-check.txt" || { cat "$tmp/written-check.txt"; fail "data/routing/written/check.py"; }

# the pool from the shared datasets and the hand-written sources, when here:
# keyword per source, a floor well below what docs/routers.md reports
shared="${LOCO_SHARED_DIR:-$here/../shared}"
if [ -d "$shared/datasets/gsm8k" ]; then
  python3 "$here/scripts/make-route-data.py" --shared "$shared" --per-source 60 \
    --out "$tmp/route-pool.jsonl" 2>/dev/null
  acc=$("$LOCO" router loso --data "$tmp/route-pool.jsonl" --router keyword --json |
        field 'd[0]["accuracy"]')
  echo "keyword router, per source over the pool (60 per source): accuracy $acc"
  python3 -c "import sys; sys.exit(0 if $acc >= 0.80 else 1)" || fail "keyword accuracy $acc < 0.80"
else
  skip_part "the routing pool: no $shared/datasets"
fi

# loco ask routes by default; the tiny model cannot take the shipped adapters
# (another base), so the router's choice is reported and the base model answers
model="$shared/fixtures/models/stories260K.gguf"
if [ -f "$model" ]; then
  err=$("$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 4 \
        "Write a Python function that reverses a list." 2>&1 >/dev/null) || fail "ask failed: $err"
  case "$err" in *"router chose code"*"[code -> base model"*) ;; *) fail "ask routing: $err";; esac
  err=$("$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 4 \
        "Who are you?" 2>&1 >/dev/null)
  case "$err" in *"[base model "*) ;; *) fail "ask base label: $err";; esac
  err=$("$LOCO" ask --no-route --model "$model" --chat-template chatml --max-tokens 4 \
        "How many cats?" 2>&1 >/dev/null)
  [ -z "$err" ] || fail "--no-route should not route: $err"
  # loco chat routes every message; /adapter none stops it, /adapter auto resumes
  err=$(printf 'Who are you?\n/adapter none\nHow many cats?\n/adapter auto\nWho is she?\n/quit\n' |
        "$LOCO" chat --model "$model" --chat-template chatml --temperature 0 --max-tokens 3 \
        2>&1 >/dev/null)
  [ "$(echo "$err" | grep -c '^\[base model ')" = 2 ] || fail "chat routing labels: $err"
  case "$err" in *"router chose math"*) fail "routed after /adapter none: $err";; esac
  err=$(printf 'Who are you?\n/quit\n' | "$LOCO" chat --no-route --model "$model" \
        --chat-template chatml --max-tokens 3 2>&1 >/dev/null)
  [ -z "$err" ] || fail "chat --no-route routed: $err"
  json=$("$LOCO" ask --json --model "$model" --chat-template chatml --max-tokens 4 "Who are you?")
  [ "$(echo "$json" | field 'd["route"]["domain"]')" = base ] || fail "ask --json route: $json"
fi
# the classifier router: train on labelled queries with the tiny model, then route
if [ -f "$model" ]; then
  "$LOCO" router train --model "$model" --threads 1 --data "$tmp/small.jsonl" --layers 1,2 \
    --tokens 16,8 --dev "$tmp/small.jsonl" --out "$tmp/rc.json" > "$tmp/train.txt" \
    || fail "router train"
  if err=$("$LOCO" router train --model "$model" --threads 1 --data "$tmp/small.jsonl" \
           --layers 40 --out "$tmp/rc-bad.json" 2>&1); then fail "40 layers of 5 accepted"; fi
  case "$err" in *"deepest must be"*) ;; *) fail "too many layers: $err";; esac
  # the 5 labelled queries plus every example query of the registry's adapters
  n_examples=$("$LOCO" adapters list --json | python3 -c \
    'import json, sys; print(sum(len(a["router"]["examples"]) for a in json.load(sys.stdin)["adapters"]))')
  grep -q "trained on $((5 + n_examples)) queries" "$tmp/train.txt" ||
    fail "train report (want 5 + $n_examples queries): $(cat "$tmp/train.txt")"
  grep -q 'temperature' "$tmp/train.txt" || fail "no calibration: $(cat "$tmp/train.txt")"
  json=$(LOCO_ROUTER_CLASSIFIER="$tmp/rc.json" "$LOCO" route --router classifier --model "$model" \
         --threads 1 --json "Write a function to sort a list in Python.")
  [ "$(echo "$json" | field 'd["router"]')" = classifier ] || fail "classifier route: $json"
  echo "$json" | field 'abs(sum(d["probabilities"].values()) - 1) < 1e-9' | has True \
    || fail "classifier probabilities: $json"
  "$LOCO" router calibrate --model "$model" --threads 1 --data "$tmp/small.jsonl" \
    --out "$tmp/rc.json" | has 'ECE' || fail "router calibrate"
  out=$("$LOCO" router train --model "$model" --threads 1 --data "$tmp/small.jsonl" --layers 1,2 \
        --tokens 16,8 --dev "$tmp/small.jsonl" --out "$tmp/rc-json.json" --json) \
    || fail "router train --json"
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); \
assert d['n_train'] == 5 + $n_examples and 0 <= d['train_accuracy'] <= 1; h = d['held_out']; \
assert h['n'] == 5 and h['temperature'] > 0 and d['classifier'].endswith('rc-json.json')" \
    || fail "router train --json: $out"
  out=$("$LOCO" router calibrate --model "$model" --threads 1 --data "$tmp/small.jsonl" \
        --out "$tmp/rc-json.json" --json) || fail "router calibrate --json"
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); \
assert 'n_train' not in d and d['held_out']['n'] == 5" || fail "router calibrate --json: $out"
  # leave-one-source-out of the classifier (hidden states after 1 layer of the
  # tiny model, words, keywords), beside 3-fold in-pool; then the whole pool
  json=$("$LOCO" router loso --data "$tmp/pool.jsonl" --model "$model" --threads 1 --layers 1 \
         --tokens 8,4 --hash-dim 256 --epochs 5 --folds 3 --json --out "$tmp/rc2.json") \
    || fail "loso classifier"
  echo "$json" | python3 -c '
import json, sys
runs = json.load(sys.stdin)
assert [r["protocol"] for r in runs] == ["leave-one-source-out", "in-pool 3-fold"], runs
for r in runs:
    assert r["n"] == 15 and len(r["sources"]) == 3 and 0 <= r["accuracy"] <= 1
' || fail "loso classifier json: $json"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); f=d['features']
assert d['format'] == 'locollm-router-classifier/2' and f['layers'] == [1] and f['hash_dim'] == 256
assert f['n_keyword'] == 10 and d['dim'] == d['n_dense'] + 256 + 10" "$tmp/rc2.json" \
    || fail "loso --out classifier file"
  json=$(LOCO_ROUTER_CLASSIFIER="$tmp/rc2.json" "$LOCO" route --router classifier \
         --model "$model" --threads 1 --json "Write a function to sort a list in Python.")
  echo "$json" | field 'abs(sum(d["probabilities"].values()) - 1) < 1e-9' | has True \
    || fail "classifier v2 route: $json"
  # a classifier for another model is refused with the fix
  sed -i 's/"model_sha256":"[0-9a-f]*"/"model_sha256":"00"/' "$tmp/rc.json"
  if err=$(LOCO_ROUTER_CLASSIFIER="$tmp/rc.json" "$LOCO" route --router classifier \
           --model "$model" "x" 2>&1); then fail "foreign classifier accepted"; fi
  case "$err" in *"loco router train"*) ;; *) fail "foreign classifier: $err";; esac
else
  skip_part "loco ask and chat routing: $model not found"
fi
test_done
