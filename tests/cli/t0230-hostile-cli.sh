#!/usr/bin/env bash
# Hostile command lines and inputs get a clear error and a non-zero exit:
# a FIFO as the model, a router that cannot be opened, an empty --adapter,
# a NUL byte in a piped prompt, terminal escapes in a GGUF's metadata.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_MODELS_DIR="$tmp/models" LOCO_ADAPTERS_DIR="$tmp/adapters"
export XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_STATE_HOME="$tmp/state"

# a FIFO (or any non-regular file) as the model is refused, not waited on
mkfifo "$tmp/model.fifo"
rc=0
err=$(timeout 20 "$LOCO" ask --model "$tmp/model.fifo" x 2>&1) || rc=$?
[ "$rc" -ne 124 ] || fail "a FIFO as --model hangs"
[ "$rc" -ne 0 ] || fail "a FIFO as --model accepted"
case "$err" in *"$tmp/model.fifo"*"not a regular file"*) ;; *) fail "FIFO error: $err";; esac
rc=0
err=$(timeout 20 "$LOCO" models info "$tmp/model.fifo" 2>&1) || rc=$?
[ "$rc" -ne 124 ] && [ "$rc" -ne 0 ] || fail "models info on a FIFO: rc $rc"

# terminal escape sequences in the metadata are shown escaped
if command -v python3 >/dev/null; then
  python3 - "$tmp/esc.gguf" <<'PY'
import struct, sys
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b
kv = [("general.architecture", "llama"), ("general.name", "\x1b[31mred\x1b[0m"),
      ("general.license", "mit\x07")]
out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
for k, v in kv:
    out += s(k) + struct.pack("<I", 8) + s(v)
out += b"\0" * (-len(out) % 32)
open(sys.argv[1], "wb").write(out)
PY
  out=$("$LOCO" models info "$tmp/esc.gguf")
  echo "$out"
  case "$out" in *$'\x1b'*|*$'\x07'*) fail "raw control characters reached the terminal";; esac
  grep -qF 'name           \x1b[31mred\x1b[0m' <<<"$out" || fail "name not escaped: $out"
  grep -qF 'mit\x07' <<<"$out" || fail "license not escaped: $out"
else
  skip_part "the escape check: python3 (writes the GGUF) not found"
fi

model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
if [ ! -f "$model" ]; then
  skip_all "the rest: $model not found"
fi
# run CMD ARGS...: CMD with the tiny model (its options go before the question)
run() { local cmd=$1; shift; "$LOCO" "$cmd" --model "$model" --chat-template chatml \
        --temperature 0 --max-tokens 2 --threads 1 --no-log "$@"; }

# a router asked for by name that cannot be opened fails the command
if err=$(run ask --router nosuch "Once upon a time" 2>&1); then fail "ask --router nosuch: exit 0"; fi
case "$err" in *nosuch*) ;; *) fail "router error should name it: $err";; esac
if err=$(echo "Once upon a time" | run chat --router nosuch 2>&1); then
  fail "chat --router nosuch: exit 0"
fi
case "$err" in *nosuch*) ;; *) fail "router error should name it: $err";; esac
# without --router, routing problems still leave the base model answering
run ask "Once upon a time" >/dev/null 2>&1 || fail "ask without --router failed"

# an empty --adapter is refused, not read as "no adapter"
if err=$(run ask --adapter "" "Once upon a time" 2>&1); then fail "ask --adapter '' accepted"; fi
case "$err" in *"no adapter named"*) ;; *) fail "empty adapter error: $err";; esac
if err=$(echo "hi" | run chat --adapter "" 2>&1); then fail "chat --adapter '' accepted"; fi
case "$err" in *"no adapter named"*) ;; *) fail "empty adapter error: $err";; esac

# a NUL byte in a piped prompt is refused, not silently cut there
if err=$(printf 'Once upon\0 a time' | run ask 2>&1); then fail "ask: NUL in the prompt accepted"; fi
case "$err" in *"NUL byte"*) ;; *) fail "NUL error: $err";; esac
rc=0
err=$(printf 'Once upon\0 a time\n' | run chat 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "chat: NUL in a message accepted"
case "$err" in *"NUL byte"*) ;; *) fail "NUL error: $err";; esac
test_done
