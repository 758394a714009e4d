#!/usr/bin/env bash
# loco ask / chat / bench end to end on the real (tiny) stories260K model:
# greedy text must be the published continuation.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
fail() { echo "FAIL: $*"; exit 1; }

out=$("$LOCO" ask --model "$model" --raw --temperature 0 --repeat-penalty 1 --max-tokens 30 \
      --threads 1 "Once upon a time")
echo "ask: $out"
case "$out" in *"there was a little girl named Lily"*) ;; *) fail "unexpected answer";; esac

json=$("$LOCO" ask --model "$model" --raw --temperature 0 --max-tokens 5 --json "Once upon a time")
grep -q '"generated":[[:space:]]*5' <<<"$json" || fail "json: $json"
grep -q '"generate_tokens_per_s"' <<<"$json" || fail "json timings: $json"

# a model without a chat template gets a clear error naming --chat-template
if err=$("$LOCO" ask --model "$model" "hello" 2>&1); then fail "expected a failure"; fi
case "$err" in *--chat-template*) ;; *) fail "error should name --chat-template: $err";; esac

# bad flags are refused with the flag's name
if err=$("$LOCO" ask --model "$model" --threads 2x "hi" 2>&1); then fail "2x accepted"; fi
case "$err" in *--threads*) ;; *) fail "error should name --threads: $err";; esac

# a missing model names the fix
if err=$("$LOCO" ask --model /nonexistent.gguf "hi" 2>&1); then fail "missing model accepted"; fi
echo "missing model: $err"

# chat from a pipe: two turns and a reset, with a template override
out=$(printf 'Once upon a time\n/reset\nThe cat\n/quit\n' | \
      "$LOCO" chat --model "$model" --chat-template chatml --temperature 0 --max-tokens 8)
[ -n "$out" ] || fail "chat printed nothing"
case "$out" in *"(conversation cleared)"*) ;; *) fail "no reset: $out";; esac

# a message longer than the context is refused and the chat goes on
long=$(printf 'story %.0s' $(seq 200))
out=$(printf '%s\nOnce upon a time\n' "$long" | \
      "$LOCO" chat --model "$model" --chat-template chatml --ctx 64 --temperature 0 \
      --max-tokens 4 2>&1)
case "$out" in *"context holds 64"*) ;; *) fail "long message not refused: $out";; esac
[ "$(printf '%s\n' "$out" | grep -vc 'context holds')" -ge 1 ] || fail "chat stopped: $out"

# bench prints pp and tg rows with t/s
out=$("$LOCO" bench --model "$model" -p 32 -n 16 -r 2 --threads 1 --no-stream)
echo "$out"
grep -q "pp32" <<<"$out" || fail "no pp row"
grep -q "tg16" <<<"$out" || fail "no tg row"
grep -q "t/s" <<<"$out" || fail "no t/s"
echo "ok"
