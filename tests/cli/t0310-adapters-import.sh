#!/usr/bin/env bash
# loco adapters import: a tiny PEFT folder (one q pair for layer 0, written
# here byte by byte) becomes a GGUF adapter for stories260K; overwrite needs
# --force; the default output goes to $LOCO_ADAPTERS_DIR; refusals name the
# problem.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# safetensors: 8-byte LE header length, JSON padded to 8, then the data
st_write() { # FILE JSON DATA-BYTES
  local json=$2
  while (( ${#json} % 8 )); do json+=" "; done
  local n=${#json}
  printf '%b' "$(printf '\\x%02x\\x%02x' $((n & 255)) $(((n >> 8) & 255)))\\x00\\x00\\x00\\x00\\x00\\x00" >"$1"
  printf '%s' "$json" >>"$1"
  head -c "$3" /dev/zero >>"$1"
}
peft=$tmp/tiny-peft
mkdir "$peft"
# stories260K: C = 64, H*D = 64; rank 1 -> A [1][64], B [64][1], F32
st_write "$peft/adapter_model.safetensors" \
  '{"__metadata__":{"format":"pt"},"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":{"dtype":"F32","shape":[1,64],"data_offsets":[0,256]},"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight":{"dtype":"F32","shape":[64,1],"data_offsets":[256,512]}}' \
  512
printf '%s' '{"peft_type":"LORA","r":1,"lora_alpha":2,"target_modules":["q_proj"],"base_model_name_or_path":"karpathy/stories260K"}' \
  >"$peft/adapter_config.json"

out=$("$LOCO" adapters import "$peft" --model "$model" -o "$tmp/a.gguf" --name tiny \
      --domain test --type f32)
echo "$out"
[ -f "$tmp/a.gguf" ] || fail "no output file"
case "$out" in *"imported: $tmp/a.gguf"*) ;; *) fail "no 'imported:' line";; esac
case "$out" in *"pairs    1 (q)"*) ;; *) fail "pair count";; esac

# no silent overwrite
if err=$("$LOCO" adapters import "$peft" --model "$model" -o "$tmp/a.gguf" 2>&1); then
  fail "overwrote without --force"
fi
case "$err" in *"already exists"*--force*) ;; *) fail "overwrite message: $err";; esac
"$LOCO" adapters import "$peft" --model "$model" -o "$tmp/a.gguf" --force >/dev/null

# default output: <adapters dir>/<folder name>.gguf
LOCO_ADAPTERS_DIR=$tmp/adapters "$LOCO" adapters import "$peft" --model "$model" >/dev/null
[ -f "$tmp/adapters/tiny-peft.gguf" ] || fail "default output missing"

# refusals name the problem
printf '%s' '{"r":1,"lora_alpha":2,"rank_pattern":{"q_proj":4}}' >"$peft/adapter_config.json"
if err=$("$LOCO" adapters import "$peft" --model "$model" -o "$tmp/b.gguf" 2>&1); then
  fail "rank_pattern accepted"
fi
case "$err" in *rank_pattern*) ;; *) fail "rank_pattern message: $err";; esac
if err=$("$LOCO" adapters import "$tmp/none" --model "$model" 2>&1); then fail "missing folder"; fi
case "$err" in *"is not a folder"*) ;; *) fail "missing folder message: $err";; esac
if "$LOCO" adapters import "$peft" --model "$model" --type q4 2>/dev/null; then fail "--type q4"; fi
if "$LOCO" adapters frobnicate 2>/dev/null; then fail "unknown subcommand accepted"; fi
"$LOCO" adapters help | has "import DIR" || fail "help"
echo "ok"
