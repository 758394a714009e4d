#!/usr/bin/env bash
# loco ask --adapter and loco chat /adapter with an adapter trained here on
# the tiny stories260K model:
#   - the adapter changes the greedy answer, scale 0 gives the base answer;
#   - ask names the adapter on stderr and in --json;
#   - chat switches adapters with /adapter and back with /adapter none;
#   - a missing adapter, a bad scale and a model file given as an adapter
#     are refused with a message.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LOCO_ADAPTERS_DIR="$work/installed"

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"
adapter="$work/out/reddog.gguf"
[ -s "$adapter" ] || fail "no adapter written"

ask() { "$LOCO" ask --model "$model" --chat-template chatml --temperature 0 --max-tokens 12 "$@"; }
base=$(ask "Who is here 99?" 2>/dev/null)
with=$(ask --adapter "$adapter" "Who is here 99?" 2> "$work/ask.err")
zero=$(ask --adapter "$adapter:0" "Who is here 99?" 2>/dev/null)
echo "base:    $base"
echo "adapter: $with"
[ "$base" != "$with" ] || fail "the adapter did not change the answer"
[ "$base" = "$zero" ] || fail "scale 0 should give the base answer, got: $zero"
grep -q "dog" <<<"$with" || fail "the adapter did not learn its answer: $with"
grep -q "^\[reddog\]" "$work/ask.err" || fail "ask does not name the adapter: $(cat "$work/ask.err")"

# by name from the adapters folder, in --json
mkdir -p "$LOCO_ADAPTERS_DIR"
cp "$adapter" "$LOCO_ADAPTERS_DIR/"
json=$(ask --json --adapter reddog:0.5 "Who is here 99?")
grep -q '"name":[[:space:]]*"reddog"' <<<"$json" || fail "--json lacks the adapter: $json"
grep -q '"scale":[[:space:]]*0.5' <<<"$json" || fail "--json lacks the scale: $json"

# chat: switch on, off
out=$(printf 'Who is here 99?\n/adapter reddog\nWho is here 99?\n/adapter\n/adapter none\n/quit\n' |
      "$LOCO" chat --model "$model" --chat-template chatml --temperature 0 --max-tokens 12 2>&1)
echo "$out"
grep -q "(answering with reddog)" <<<"$out" || fail "chat /adapter did not switch"
grep -q "(answering with base model)" <<<"$out" || fail "chat /adapter none did not switch back"

# refusals
if err=$(ask --adapter nosuch "hi" 2>&1); then fail "missing adapter accepted"; fi
grep -q "no adapter named 'nosuch'" <<<"$err" || fail "missing adapter message: $err"
if err=$(ask --adapter "reddog:much" "hi" 2>&1); then fail "bad scale accepted"; fi
grep -q "scale 'much'" <<<"$err" || fail "bad scale message: $err"
if err=$(ask --adapter "$model" "hi" 2>&1); then fail "a model accepted as adapter"; fi
grep -q "is not an adapter" <<<"$err" || fail "model-as-adapter message: $err"
echo "ok"
