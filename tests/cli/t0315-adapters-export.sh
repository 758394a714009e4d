#!/usr/bin/env bash
# loco adapters export: a tiny PEFT folder (layer 0 q and o pairs of rank 1
# with distinct whole-number values, written here byte by byte in the layout
# the reference safetensors library uses) is imported for stories260K,
# exported back, and imported again. The exported adapter_model.safetensors
# is the original file byte for byte (the llama q/k row permutation the
# import applies is undone), the second import is the first GGUF byte for
# byte (as f32 and as f16), adapter_config.json holds what PEFT needs, an
# adapter is found by name, a folder that is not empty needs --force, and
# refusals name the problem.
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

# The little-endian f32 bytes of whole numbers FROM..TO, as printf %b escapes
# (k = 2^e * 1.m: exponent 127 + e, mantissa the bits below the leading one).
f32_run() { # FROM TO
  local out="" k e bits
  for ((k = $1; k <= $2; k++)); do
    e=0
    while (((k >> (e + 1)) > 0)); do e=$((e + 1)); done
    bits=$((((127 + e) << 23) | ((k << (23 - e)) & 0x7fffff)))
    out+=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((bits & 255)) $(((bits >> 8) & 255)) \
      $(((bits >> 16) & 255)) $(((bits >> 24) & 255)))
  done
  printf '%s' "$out"
}
# safetensors: 8-byte LE header length, JSON padded with spaces to 8, data
st_write() { # FILE JSON DATA-ESCAPES
  local json=$2
  while ((${#json} % 8)); do json+=" "; done
  local n=${#json}
  printf '%b' "$(printf '\\x%02x\\x%02x' $((n & 255)) $(((n >> 8) & 255)))\\x00\\x00\\x00\\x00\\x00\\x00" >"$1"
  printf '%s' "$json" >>"$1"
  printf '%b' "$3" >>"$1"
}
peft=$tmp/tiny-peft
mkdir "$peft"
# stories260K: C = 64, H*D = 64; rank 1: A [1][64], B [64][1], F32; values
# 1..256, exact in f16 too. Tensors in the reference writer's order (by name).
p=base_model.model.model.layers.0.self_attn
st_write "$peft/adapter_model.safetensors" \
  '{"__metadata__":{"format":"pt"},"'$p'.o_proj.lora_A.weight":{"dtype":"F32","shape":[1,64],"data_offsets":[0,256]},"'$p'.o_proj.lora_B.weight":{"dtype":"F32","shape":[64,1],"data_offsets":[256,512]},"'$p'.q_proj.lora_A.weight":{"dtype":"F32","shape":[1,64],"data_offsets":[512,768]},"'$p'.q_proj.lora_B.weight":{"dtype":"F32","shape":[64,1],"data_offsets":[768,1024]}}' \
  "$(f32_run 1 256)"
printf '%s' '{"peft_type":"LORA","r":1,"lora_alpha":2,"target_modules":["q_proj","o_proj"],"base_model_name_or_path":"karpathy/stories260K"}' \
  >"$peft/adapter_config.json"

# f32: import, export, import again
"$LOCO" adapters import "$peft" --model "$model" -o "$tmp/a.gguf" --name tiny --domain test \
  --type f32 >/dev/null
out=$("$LOCO" adapters export "$tmp/a.gguf" --format peft --model "$model" -o "$tmp/out")
echo "$out"
case "$out" in *"exported: $tmp/out"*) ;; *) fail "no 'exported:' line";; esac
case "$out" in *"pairs      2 (q,o)"*) ;; *) fail "pair count";; esac
case "$out" in *"r          1, lora_alpha 2"*) ;; *) fail "rank and alpha";; esac
case "$out" in *"dtype      F32"*) ;; *) fail "dtype";; esac
case "$out" in *"Hugging Face order"*) ;; *) fail "no word of the q/k rows";; esac
cmp "$peft/adapter_model.safetensors" "$tmp/out/adapter_model.safetensors" ||
  fail "the exported safetensors differ from the PEFT original"
"$LOCO" adapters import "$tmp/out" --model "$model" -o "$tmp/b.gguf" --name tiny --domain test \
  --type f32 >/dev/null
cmp "$tmp/a.gguf" "$tmp/b.gguf" || fail "f32 import -> export -> import changed the GGUF"

# adapter_config.json: what PEFT's LoraConfig reads
cfg=$tmp/out/adapter_config.json
for want in '"peft_type":[[:space:]]*"LORA"' '"task_type":[[:space:]]*"CAUSAL_LM"' \
  '"r":[[:space:]]*1,' '"lora_alpha":[[:space:]]*2,' '"bias":[[:space:]]*"none"' \
  '"fan_in_fan_out":[[:space:]]*false' '"use_rslora":[[:space:]]*false' \
  '"base_model_name_or_path":[[:space:]]*"karpathy/stories260K"'; do
  grep -Eq "$want" "$cfg" || fail "adapter_config.json lacks $want"
done
tr -d ' \t\n' <"$cfg" | has '"target_modules":\["q_proj","o_proj"\]' || fail "target_modules"
if command -v python3 >/dev/null; then
  python3 - "$cfg" "$tmp/out/adapter_model.safetensors" <<'EOF' || fail "python's reading of the folder"
import json, struct, sys
cfg = json.load(open(sys.argv[1]))
assert cfg["peft_type"] == "LORA" and cfg["r"] == 1 and cfg["lora_alpha"] == 2, cfg
assert cfg["target_modules"] == ["q_proj", "o_proj"] and cfg["task_type"] == "CAUSAL_LM", cfg
raw = open(sys.argv[2], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
q_b = header["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
assert q_b["dtype"] == "F32" and q_b["shape"] == [64, 1], q_b
begin, end = q_b["data_offsets"]
vals = struct.unpack("<64f", raw[8 + n + begin:8 + n + end])
assert vals == tuple(float(v) for v in range(193, 257)), vals  # Hugging Face row order
EOF
else
  skip_part "python3 (the folder's second reading)"
fi

# f16: import, export (kept as f16), import again
"$LOCO" adapters import "$peft" --model "$model" -o "$tmp/c.gguf" --name tiny >/dev/null
out=$("$LOCO" adapters export "$tmp/c.gguf" --model "$model" -o "$tmp/out16")
case "$out" in *"dtype      F16"*) ;; *) fail "f16 dtype: $out";; esac
"$LOCO" adapters import "$tmp/out16" --model "$model" -o "$tmp/d.gguf" --name tiny >/dev/null
cmp "$tmp/c.gguf" "$tmp/d.gguf" || fail "f16 import -> export -> import changed the GGUF"
# ... and converted to f32 on the way, the same again
"$LOCO" adapters export "$tmp/c.gguf" --model "$model" --type f32 -o "$tmp/out32" >/dev/null
cmp "$peft/adapter_model.safetensors" "$tmp/out32/adapter_model.safetensors" ||
  fail "f16 exported as f32 differs from the original"

# by name from the adapters folder; --base-model
mkdir "$tmp/adapters"
cp "$tmp/a.gguf" "$tmp/adapters/tiny.gguf"
LOCO_ADAPTERS_DIR=$tmp/adapters "$LOCO" adapters export tiny --model "$model" -o "$tmp/byname" \
  --base-model my-org/tiny >/dev/null
grep -Eq '"base_model_name_or_path":[[:space:]]*"my-org/tiny"' "$tmp/byname/adapter_config.json" ||
  fail "--base-model"

# a folder that is not empty needs --force
if err=$("$LOCO" adapters export "$tmp/a.gguf" --model "$model" -o "$tmp/out" 2>&1); then
  fail "wrote into a folder that is not empty without --force"
fi
case "$err" in *"is not empty"*--force*) ;; *) fail "not-empty message: $err";; esac
"$LOCO" adapters export "$tmp/a.gguf" --model "$model" -o "$tmp/out" --force >/dev/null

# refusals name the problem
if err=$("$LOCO" adapters export "$tmp/a.gguf" --model "$model" 2>&1); then fail "no -o"; fi
case "$err" in *"-o DIR"*) ;; *) fail "missing -o message: $err";; esac
if "$LOCO" adapters export "$tmp/a.gguf" --format gguf -o "$tmp/x" 2>/dev/null; then
  fail "--format gguf accepted"
fi
if "$LOCO" adapters export "$tmp/a.gguf" --type q8 -o "$tmp/x" 2>/dev/null; then fail "--type q8"; fi
if err=$("$LOCO" adapters export "$model" --model "$model" -o "$tmp/x" 2>&1); then
  fail "a model exported as an adapter"
fi
case "$err" in *"is not an adapter"*) ;; *) fail "not-an-adapter message: $err";; esac
[ ! -e "$tmp/x" ] || fail "a refused export left $tmp/x"
"$LOCO" adapters help | has "export NAME|PATH" || fail "help"
test_done
