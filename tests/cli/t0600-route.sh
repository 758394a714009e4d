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
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$LOCO" route --list | grep -q '^keyword ' || fail "route --list"

json=$("$LOCO" route --json "A baker sells 12 cakes a day. How many cakes does she sell in a week?")
[ "$(echo "$json" | field 'd["domain"]')" = math ] || fail "math query: $json"
[ "$(echo "$json" | field 'd["adapter"]')" = math ] || fail "math adapter: $json"
echo "$json" | field 'abs(sum(d["probabilities"].values()) - 1) < 1e-9' | grep -q True \
  || fail "probabilities do not sum to 1: $json"
echo "$json" | field 'sorted(d["probabilities"])' | grep -q "'base'" || fail "no base probability"

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
"$LOCO" route --bench "$tmp/small.jsonl" | grep -q '^| math | 1.000 | 1.000 | 1.000 | 1 |' \
  || fail "small bench table"

# the confidence wrapper: thresholds chosen on labelled queries, kept in a file
out=$(LOCO_ROUTER_CONFIDENCE="$tmp/conf.json" "$LOCO" router calibrate --router confidence:keyword \
      --data "$tmp/small.jsonl") || fail "calibrate confidence:keyword"
echo "$out" | grep -q '^chosen: threshold .* expected calibration error' || fail "calibrate: $out"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert 'keyword' in d['routers']" \
  "$tmp/conf.json" || fail "thresholds file"
json=$(LOCO_ROUTER_CONFIDENCE="$tmp/conf.json" "$LOCO" route --router confidence:keyword --json \
       "How many apples are left if I eat 3 of 10?")
[ "$(echo "$json" | field 'd["router"]')" = confidence:keyword ] || fail "wrapped route: $json"
"$LOCO" route --list | grep -q '^confidence:NAME' || fail "route --list lacks the wrapper"

# the real routing benchmark (test split) when the shared data is here: the seed's bar
shared="${LOCO_SHARED_DIR:-$here/../shared}"
if [ -d "$shared/datasets/gsm8k" ]; then
  python3 "$here/scripts/make-route-bench.py" --shared "$shared" --out "$tmp/route.jsonl"
  acc=$("$LOCO" route --bench "$tmp/route.jsonl" --json | field 'd["accuracy"]')
  echo "keyword router, routing benchmark (test split, 500 queries): accuracy $acc"
  python3 -c "import sys; sys.exit(0 if $acc >= 0.90 else 1)" || fail "keyword accuracy $acc < 0.90"
else
  echo "skipping the routing benchmark: no $shared/datasets"
fi

# loco ask routes by default; the tiny model cannot take the shipped adapters
# (another base), so the router's choice is reported and the base model answers
model="$shared/fixtures/models/stories260K.gguf"
if [ -f "$model" ]; then
  err=$("$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 4 \
        "How many cats are there in total?" 2>&1 >/dev/null) || fail "ask failed: $err"
  case "$err" in *"router chose math"*"[base model"*) ;; *) fail "ask routing: $err";; esac
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
  "$LOCO" router train --model "$model" --threads 1 --data "$tmp/small.jsonl" \
    --dev "$tmp/small.jsonl" --out "$tmp/rc.json" > "$tmp/train.txt" || fail "router train"
  grep -q 'trained on 25 queries' "$tmp/train.txt" || fail "train report: $(cat "$tmp/train.txt")"
  grep -q 'temperature' "$tmp/train.txt" || fail "no calibration: $(cat "$tmp/train.txt")"
  json=$(LOCO_ROUTER_CLASSIFIER="$tmp/rc.json" "$LOCO" route --router classifier --model "$model" \
         --threads 1 --json "Write a function to sort a list in Python.")
  [ "$(echo "$json" | field 'd["router"]')" = classifier ] || fail "classifier route: $json"
  echo "$json" | field 'abs(sum(d["probabilities"].values()) - 1) < 1e-9' | grep -q True \
    || fail "classifier probabilities: $json"
  "$LOCO" router calibrate --model "$model" --threads 1 --data "$tmp/small.jsonl" \
    --out "$tmp/rc.json" | grep -q 'ECE' || fail "router calibrate"
  # a classifier for another model is refused with the fix
  sed -i 's/"model_sha256":"[0-9a-f]*"/"model_sha256":"00"/' "$tmp/rc.json"
  if err=$(LOCO_ROUTER_CLASSIFIER="$tmp/rc.json" "$LOCO" route --router classifier \
           --model "$model" "x" 2>&1); then fail "foreign classifier accepted"; fi
  case "$err" in *"loco router train"*) ;; *) fail "foreign classifier: $err";; esac
fi
echo "ok"
