#!/usr/bin/env bash
# Hostile files named by a registry, an overlay, a recipe or on the command
# line get a clear error and a non-zero exit, at once:
#   - a FIFO as the registry, the user overlay, a recipe, a recipe's data
#     file, an adapter or a PEFT folder's files is refused, not waited on;
#   - registry paths that leave the registry's folder (../../etc/passwd,
#     /etc/shadow, a symlink out of it) are refused with the field and line,
#     and nothing they name is hashed;
#   - a GGUF whose tensors share bytes is refused, naming both tensors.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_MODELS_DIR="$tmp/models" LOCO_ADAPTERS_DIR="$tmp/adapters"
export XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_STATE_HOME="$tmp/state"
unset LOCO_PROJECT_DIR
mkdir -p "$tmp/proj/adapters" "$XDG_DATA_HOME/locollm" "$tmp/peft"

# refused CMD...: the command fails (not 0, not killed by the timeout) and
# its output is left in $err
refused() {
  local rc=0
  err=$(timeout 20 "$@" 2>&1 </dev/null) || rc=$?
  [ "$rc" -ne 124 ] || fail "hangs: $*"
  [ "$rc" -ne 0 ] || fail "accepted: $*: $err"
}

# 1. FIFOs
mkfifo "$tmp/reg.fifo" "$tmp/recipe.fifo" "$tmp/adapter.gguf" "$tmp/data.fifo"
refused env LOCO_REGISTRY="$tmp/reg.fifo" "$LOCO" registry validate
case "$err" in *"$tmp/reg.fifo"*FIFO*) ;; *) fail "registry FIFO: $err";; esac
refused "$LOCO" registry validate "$tmp/reg.fifo"
case "$err" in *FIFO*) ;; *) fail "validate FIFO: $err";; esac

# a valid project registry with a FIFO as the user overlay
base=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
printf 'x' >"$tmp/proj/adapters/m1.bin"
write_registry() { # FILE-FIELD TRAINING-LOG
  cat >"$tmp/proj/adapters/registry.yaml" <<YAML
schema_version: 2
base_model: {name: Tiny, file: tiny.gguf, sha256: $base, architecture: llama, academic_year: "2026"}
domains:
  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}
adapters:
  - name: m1
    domain: math
    version: 1.0.0
    file: $1
    sha256: $(sha256sum "$tmp/proj/adapters/m1.bin" | cut -d' ' -f1)
    base_sha256: $base
    lora: {rank: 2, alpha: 4, targets: [q]}
    provenance: {recipe: ../recipes/m1.yaml, data: d, semester: 2026-S2, authors: [A], training_log: $2}
    router: {keywords: [sum], examples: ["what is 2+2?"]}
    status: active
YAML
}
export LOCO_REGISTRY="$tmp/proj/adapters/registry.yaml"
write_registry m1.bin m1.log
"$LOCO" registry validate --no-files >/dev/null || fail "the plain registry is refused"
mkfifo "$XDG_DATA_HOME/locollm/registry.yaml"
refused "$LOCO" adapters list
case "$err" in *"locollm/registry.yaml"*FIFO*) ;; *) fail "overlay FIFO: $err";; esac
rm "$XDG_DATA_HOME/locollm/registry.yaml"

# a recipe, and a recipe's data file
refused "$LOCO" train "$tmp/recipe.fifo"
case "$err" in *"$tmp/recipe.fifo"*FIFO*) ;; *) fail "recipe FIFO: $err";; esac
printf 'name: t\ndata:\n  path: data.fifo\n  format: instruction\n' >"$tmp/r.yaml"
refused "$LOCO" train "$tmp/r.yaml"
case "$err" in *"r.yaml:3: data.path"*FIFO*) ;; *) fail "data FIFO: $err";; esac

# an adapter on the command line (after the model, which loads first), and
# a PEFT folder to import
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
if [ -f "$model" ]; then
  refused "$LOCO" ask --model "$model" --chat-template chatml --no-log --adapter "$tmp/adapter.gguf" "hi"
  case "$err" in *"$tmp/adapter.gguf"*FIFO*) ;; *) fail "adapter FIFO: $err";; esac
  mkfifo "$tmp/peft/adapter_config.json" "$tmp/peft/adapter_model.safetensors"
  refused "$LOCO" adapters import "$tmp/peft" --model "$model" --name x
  case "$err" in *adapter_config.json*FIFO*) ;; *) fail "import FIFO: $err";; esac
  rm "$tmp/peft/adapter_config.json"
  printf '%s' '{"peft_type":"LORA","r":1,"lora_alpha":2,"target_modules":["q_proj"]}' \
    >"$tmp/peft/adapter_config.json"
  refused "$LOCO" adapters import "$tmp/peft" --model "$model" --name x
  case "$err" in *adapter_model.safetensors*"not a regular file"*) ;; *) fail "import FIFO: $err";; esac
else
  skip_part "the --adapter and import FIFO checks: $model not found"
fi

# 2. registry paths that leave the registry's folder
sha_passwd=$(sha256sum /etc/passwd | cut -d' ' -f1)
write_registry ../../../../../../../../etc/passwd m1.log
refused "$LOCO" registry validate
case "$err" in *"registry.yaml:9: adapters[m1].file = '../../../../../../../../etc/passwd'"*"outside the registry's folder"*) ;;
  *) fail "file outside: $err";; esac
case "$err" in *"$sha_passwd"*) fail "the hash of /etc/passwd was printed: $err";; esac
refused "$LOCO" adapters list
case "$err" in *"adapters[m1].file"*) ;; *) fail "a strict load must refuse it: $err";; esac
write_registry m1.bin /etc/shadow
refused "$LOCO" registry validate --no-files
case "$err" in *"registry.yaml:13: adapters[m1].provenance.training_log = '/etc/shadow'"*) ;;
  *) fail "training_log outside: $err";; esac
ln -s /etc/passwd "$tmp/proj/adapters/link.bin"
write_registry link.bin m1.log
refused "$LOCO" registry validate
case "$err" in *"adapters[m1].file = 'link.bin'"*"symbolic link"*"/etc/passwd"*) ;;
  *) fail "symlink out: $err";; esac
case "$err" in *"$sha_passwd"*) fail "the hash of /etc/passwd was printed: $err";; esac
unset LOCO_REGISTRY

# 3. a GGUF whose tensors share bytes
if command -v python3 >/dev/null; then
  python3 - "$tmp/overlap.gguf" <<'PY'
import struct, sys
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b
out = b"GGUF" + struct.pack("<IQQ", 3, 2, 0)
for name, n, off in (("first", 16, 0), ("second", 8, 32)):  # [0, 64) and [32, 64)
    out += s(name) + struct.pack("<IQIQ", 1, n, 0, off)
out += b"\0" * (-len(out) % 32) + b"\0" * 64
open(sys.argv[1], "wb").write(out)
PY
  refused "$LOCO" models info "$tmp/overlap.gguf"
  case "$err" in *"'first'"*"'second'"*overlap*) ;; *) fail "overlapping tensors: $err";; esac
else
  skip_part "the overlap check: python3 (writes the GGUF) not found"
fi
test_done
