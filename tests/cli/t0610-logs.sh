#!/usr/bin/env bash
# loco logs and loco feedback: ask logs every exchange (with --no-log and
# LOCO_NO_LOG=1 to stop it), logs lists and shows them, feedback judges
# them, and the learned router routes by the judgements.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
here=$(cd "$(dirname "$0")/../.." && pwd)
export LOCO_REGISTRY="$here/adapters/registry.yaml"
export XDG_DATA_HOME=$(mktemp -d)   # no user overlay, and no user log
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$XDG_DATA_HOME"' EXIT
export LOCO_LOG_DB="$tmp/logs.sqlite"  # never the user's log
unset LOCO_NO_LOG
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# nothing logged yet: an empty list, and the file is not created by reading
out=$("$LOCO" logs 2>&1) || fail "logs on no log: $out"
case "$out" in *"no exchanges logged yet"*) ;; *) fail "empty logs: $out";; esac
[ "$("$LOCO" logs --json 2>/dev/null)" = "[]" ] || fail "empty logs --json"
[ ! -e "$LOCO_LOG_DB" ] || fail "logs created the log"

shared="${LOCO_SHARED_DIR:-$here/../shared}"
model="$shared/fixtures/models/stories260K.gguf"
if [ -f "$model" ]; then
  ask() { "$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 4 "$@"; }
  err=$(ask "How many cats are there in total if 3 sit and 4 run?" 2>&1 >/dev/null) || fail "ask: $err"
  case "$err" in *"] #1"*) ;; *) fail "the label should end with the exchange id: $err";; esac
  json=$(ask --json "Who are you?")
  [ "$(echo "$json" | field 'd["id"]')" = 2 ] || fail "ask --json id: $json"
  ask --no-route "Tell me a story" >/dev/null 2>&1 || fail "ask --no-route"
  err=$(ask --no-log "not logged" 2>&1 >/dev/null)
  case "$err" in *"#"*) fail "--no-log printed an id: $err";; esac
  LOCO_NO_LOG=1 ask "not logged either" >/dev/null 2>&1
  [ "$("$LOCO" logs --json | field 'len(d)')" = 3 ] || fail "three exchanges should be logged"

  # the list: newest first, routing decisions, query and answer
  out=$("$LOCO" logs)
  echo "$out"
  [ "$(sed -n 1p <<<"$out" | cut -d' ' -f1)" = "#3" ] || fail "newest first: $out"
  grep -q '^#3 .* ask  not routed, base model$' <<<"$out" || fail "unrouted line: $out"
  grep -q '^#1 .* ask  keyword -> math, base model, confidence 1.00$' <<<"$out" \
    || fail "routed line: $out"
  grep -q '^  Q: How many cats are there in total if 3 sit and 4 run?$' <<<"$out" || fail "query line: $out"
  [ "$(echo "$out" | grep -c '^  A: ')" = 3 ] || fail "answer lines: $out"
  json=$("$LOCO" logs --json)
  [ "$(echo "$json" | field 'd[2]["route"]["domain"]')" = math ] || fail "json route: $json"
  [ "$(echo "$json" | field 'd[2]["adapter"]')" = None ] || fail "math does not load here: $json"
  [ "$(echo "$json" | field 'd[0]["route"]')" = None ] || fail "unrouted json: $json"
  [ "$(echo "$json" | field 'd[1]["tokens"]["generated"] > 0')" = True ] || fail "tokens: $json"
  [ "$(echo "$json" | field 'd[1]["timings"]["total_ms"] > 0')" = True ] || fail "timings"
  [ "$("$LOCO" logs -n 1 --json | field 'len(d)')" = 1 ] || fail "logs -n 1"
  [ "$("$LOCO" logs --domain math --json | field '[e["id"] for e in d]')" = "[1]" ] \
    || fail "logs --domain"
  [ "$("$LOCO" logs -q "WHO ARE" --json | field '[e["id"] for e in d]')" = "[2]" ] || fail "logs -q"
  [ "$("$LOCO" logs --adapter base --json | field 'len(d)')" = 3 ] || fail "logs --adapter base"

  # one in full, with its feedback
  "$LOCO" feedback 1 bad --domain code | has '^#1 (routed to math): bad, right domain code$' \
    || fail "feedback bad --domain"
  "$LOCO" feedback 2 good >/dev/null || fail "feedback good"
  out=$("$LOCO" logs 1)
  grep -q '^exchange #1$' <<<"$out" || fail "logs 1: $out"
  grep -q '^reason: .*how many' <<<"$out" || fail "logs 1 reason: $out"
  grep -q ' bad, right domain: code$' <<<"$out" || fail "logs 1 feedback: $out"
  json=$("$LOCO" logs 1 --json)
  [ "$(echo "$json" | field 'd["feedback"][0]["domain"]')" = code ] || fail "logs 1 --json: $json"
  [ "$(echo "$json" | field 'd["query"]')" = "How many cats are there in total if 3 sit and 4 run?" ] || fail "query"
  [ "$("$LOCO" logs 2 --json | field 'd["feedback"][0]["verdict"]')" = good ] || fail "good"
else
  skip_part "loco ask: no $model"
fi

# errors: unknown id, bad verdict, unknown domain, contradictions, bad ids
if [ -f "$model" ]; then
  if err=$("$LOCO" feedback 99 good 2>&1); then fail "unknown id accepted"; fi
  case "$err" in *"no exchange #99"*) ;; *) fail "unknown id: $err";; esac
  if err=$("$LOCO" feedback 1 good --domain writing 2>&1); then fail "good with another domain"; fi
  case "$err" in *"bad --domain writing"*) ;; *) fail "good --domain: $err";; esac
  if err=$("$LOCO" logs 99 2>&1); then fail "logs 99 accepted"; fi
  case "$err" in *"no exchange #99"*) ;; *) fail "logs 99: $err";; esac
fi
set +e
"$LOCO" feedback 1 meh >/dev/null 2>&1; [ $? = 2 ] || fail "verdict 'meh' accepted"
err=$("$LOCO" feedback 1 bad --domain astrology 2>&1); [ $? = 2 ] || fail "unknown domain accepted"
case "$err" in *"astrology"*"math"*"base"*) ;; *) fail "unknown domain should list them: $err";; esac
"$LOCO" feedback 1 >/dev/null 2>&1; [ $? = 2 ] || fail "no verdict accepted"
"$LOCO" feedback x good >/dev/null 2>&1; [ $? = 2 ] || fail "id 'x' accepted"
"$LOCO" feedback 0 good >/dev/null 2>&1; [ $? = 2 ] || fail "id 0 accepted"
"$LOCO" logs -n 0 >/dev/null 2>&1; [ $? = 2 ] || fail "logs -n 0 accepted"
"$LOCO" logs 1 2 >/dev/null 2>&1; [ $? = 2 ] || fail "two ids accepted"
set -e

# a file that is not a log is refused, and left alone
echo "my notes" > "$tmp/notes.txt"
if err=$(LOCO_LOG_DB="$tmp/notes.txt" "$LOCO" logs 2>&1); then fail "a text file as the log"; fi
case "$err" in *"not an exchange log"*) ;; *) fail "foreign log: $err";; esac
[ "$(cat "$tmp/notes.txt")" = "my notes" ] || fail "the foreign file changed"
if [ -f "$model" ]; then
  out=$(LOCO_LOG_DB="$tmp/notes.txt" "$LOCO" ask --model "$model" --chat-template chatml \
        --max-tokens 2 "still answers" 2>&1) || fail "ask with a foreign log should answer: $out"
  case "$out" in *"not logging"*) ;; *) fail "ask should say it is not logging: $out";; esac
fi

# the learned router: listed, keyword decisions with no feedback, then it learns
"$LOCO" route --list | has '^learned ' || fail "route --list: learned"
export LOCO_LOG_DB="$tmp/learn.sqlite"
q="Greet the crew as a pirate captain about to set sail"
json=$("$LOCO" route --router learned --json "$q")
[ "$(echo "$json" | field 'd["domain"]')" = base ] || fail "learned without feedback: $json"
echo "$json" | field 'd["reason"]' | has 'learned from 0 feedback records' || fail "reason: $json"
cat > "$tmp/stream.jsonl" <<'JSONL'
{"query": "Talk like a grumpy wizard who lost his hat", "domain": "writing"}
{"query": "Answer as a medieval knight asked about the weather", "domain": "writing"}
{"query": "Greet the travellers as a dragon guarding its gold", "domain": "writing"}
{"query": "Talk like a pirate who lost his ship and crew", "domain": "writing"}
JSONL
if [ -f "$model" ]; then
  # users give the feedback: ask routes each, feedback corrects it
  for i in 1 2; do
    while IFS= read -r line; do
      query=$(echo "$line" | field 'd["query"]')
      id=$("$LOCO" ask --json --model "$model" --chat-template chatml --max-tokens 1 \
           "$query" | field 'd["id"]')
      "$LOCO" feedback "$id" --domain writing >/dev/null || fail "feedback on #$id"
    done < "$tmp/stream.jsonl"
  done
  json=$("$LOCO" route --router learned --json "$q")
  echo "$json" | field 'd["reason"]'
  [ "$(echo "$json" | field 'd["domain"]')" = writing ] || fail "learned after feedback: $json"
  echo "$json" | field 'd["reason"]' | has 'learned from 8 feedback records' \
    || fail "reason after feedback: $json"
  [ "$("$LOCO" route --router keyword --json "$q" | field 'd["domain"]')" = base ] || fail "keyword changed"
fi
# loco chat logs every turn (command "chat"); --no-log stops it
if [ -f "$model" ]; then
  before=$("$LOCO" logs --json -n 1000 | field 'len(d)')
  err=$(printf 'Who are you?\nHow many cats?\n/quit\n' | "$LOCO" chat --model "$model" \
        --chat-template chatml --temperature 0 --max-tokens 3 2>&1 >/dev/null)
  case "$err" in *"] #"*) ;; *) fail "chat labels should carry the exchange id: $err";; esac
  [ "$("$LOCO" logs --json -n 1000 | field 'len(d)')" = $((before + 2)) ] || fail "chat turns not logged"
  [ "$("$LOCO" logs --json -n 1 | field 'd[0]["command"]')" = chat ] || fail "chat command name"
  printf 'Who are you?\n/quit\n' | "$LOCO" chat --no-log --model "$model" --chat-template chatml \
    --max-tokens 3 >/dev/null 2>&1
  [ "$("$LOCO" logs --json -n 1000 | field 'len(d)')" = $((before + 2)) ] || fail "chat --no-log logged"
fi
test_done
