#!/usr/bin/env bash
# loco models: info on a real GGUF (stories260K), list on an empty cache,
# and the errors a user meets first. No network.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_MODELS_DIR="$tmp/models"

# list on an empty (even missing) cache works and names the first step
out=$("$LOCO" models list)
echo "$out"
grep -q "0 files" <<<"$out" || fail "list should count 0 files: $out"
grep -q "loco models pull default" <<<"$out" || fail "list should say how to pull"
grep -qE "^  default +smollm2-135m-instruct" <<<"$out" || fail "list should show the known default"
json=$("$LOCO" models list --json)
grep -q '"models":[[:space:]]*\[\]' <<<"$json" || fail "json list not empty: $json"

# resolving a known model that was never pulled names the fix
if err=$("$LOCO" models path default 2>&1); then fail "path of an unpulled model succeeded"; fi
case "$err" in *"loco models pull default"*) ;; *) fail "no fix in: $err";; esac

# usage errors exit 2
set +e
"$LOCO" models >/dev/null 2>&1; [ $? -eq 2 ] || fail "bare 'loco models' should exit 2"
"$LOCO" models frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown subcommand should exit 2"
"$LOCO" models pull >/dev/null 2>&1; [ $? -eq 2 ] || fail "pull without a name should exit 2"
set -e
if err=$("$LOCO" models pull no-such-model 2>&1); then fail "unknown model pulled"; fi
case "$err" in *"known models"*) ;; *) fail "no list of known models in: $err";; esac
if err=$("$LOCO" models pull "file://$tmp/x.gguf" 2>&1); then fail "file:// accepted"; fi

model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
if [ ! -f "$model" ]; then
  skip_all "info checks: $model not found (set LOCO_SHARED_DIR)"
fi

out=$("$LOCO" models info "$model")
echo "$out"
grep -qE "^architecture +llama$" <<<"$out" || fail "info should name architecture llama"
grep -qE "^tensors +48$" <<<"$out" || fail "tensor count"
grep -qE "^parameters +0.3 M \(292800\)$" <<<"$out" || fail "parameter count"
grep -qE "^quant types +F32 +48 tensors" <<<"$out" || fail "quant types"
grep -qE "^vocab +512$" <<<"$out" || fail "vocab size"
grep -qE "^chat template +none$" <<<"$out" || fail "chat template"

json=$("$LOCO" models info --json --sha256 "$model")
grep -q '"architecture":[[:space:]]*"llama"' <<<"$json" || fail "json architecture: $json"
grep -q '"sha256":[[:space:]]*"[0-9a-f]\{64\}"' <<<"$json" || fail "json sha256: $json"

# a model copied into the cache resolves by name, and list shows it
mkdir -p "$LOCO_MODELS_DIR"
cp "$model" "$LOCO_MODELS_DIR/stories.gguf"
[ "$("$LOCO" models path stories)" = "$LOCO_MODELS_DIR/stories.gguf" ] || fail "path by name"
"$LOCO" models list | has "stories.gguf" || fail "list should show stories.gguf"

# and file:// pulls work when allowed
out=$(LOCO_ALLOW_FILE_URL=1 "$LOCO" models pull "file://$model" --name copy \
      --sha256 "$(sha256sum "$model" | cut -d' ' -f1)")
echo "$out"
[ -f "$LOCO_MODELS_DIR/copy.gguf" ] || fail "file:// pull did not land"
if LOCO_ALLOW_FILE_URL=1 "$LOCO" models pull "file://$model" --name bad \
     --sha256 0000000000000000000000000000000000000000000000000000000000000000 2>/dev/null; then
  fail "checksum mismatch accepted"
fi
[ ! -e "$LOCO_MODELS_DIR/bad.gguf" ] || fail "a bad download was left under its final name"

if "$LOCO" models info "$tmp/nothing.gguf" 2>/dev/null; then fail "info on a missing file"; fi
echo "ok"
