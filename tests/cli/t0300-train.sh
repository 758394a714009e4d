#!/usr/bin/env bash
# loco train end to end on the real (tiny) stories260K model:
#   - a dry run prints the data counts;
#   - a short run writes the adapter, loss.svg, recipe.yaml, TRAINING_LOG.md;
#   - the same run killed with SIGKILL right after its first checkpoint and
#     started again resumes and ends with a byte-identical adapter;
#   - a changed recipe is refused against that checkpoint unless --restart;
#   - malformed recipes are refused naming the line and key.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'kill -9 "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# 40 tiny question/answer records in the model's own (TinyStories) world
for i in $(seq 0 39); do
  names=(Lily Tom Sam Mia Ben Sue Max Ann); things=(ball cat dog tree cake boat hat sun)
  n=${names[$((i % 8))]}; t=${things[$((i * 3 % 8))]}
  printf '{"id":%d,"q":"Tell me about %s.","a":"%s had a %s. %s was happy."}\n' \
    "$i" "$n" "$n" "$t" "$n"
done > "$work/data.jsonl"

write_recipe() { # $1 = file, $2 = output dir, $3 = learning rate
  cat > "$1" <<YAML
name: tiny
base: \${LOCO_SHARED_DIR}/fixtures/models/stories260K.gguf
chat_template: chatml
data:
  path: data.jsonl
  format: fields
  prompt: "{q}"
  response: "{a}"
  max_tokens: 96
  validation: 4
lora:
  rank: 4
  alpha: 8
  dropout: 0.1
  targets: [q, k, v, o, gate, up, down]
optimizer:
  lr: $3
  warmup_steps: 3
  min_lr: 0.001
training:
  max_steps: 120
  batch: 4
  seed: 7
  threads: 1
  checkpoint_every: 10
  eval_every: 40
output:
  dir: $2
  samples: 2
  sample_tokens: 12
YAML
}
write_recipe "$work/a.yaml" outA 0.01

# dry run: counts, no training, no output folder
out=$("$LOCO" train --dry-run "$work/a.yaml" 2>/dev/null)
echo "$out"
grep -q "examples 40 (train 36, validation 4)" <<<"$out" || fail "dry-run counts: $out"
grep -q "^tokens " <<<"$out" || fail "dry-run tokens: $out"
[ ! -e "$work/outA" ] || fail "dry run created the output folder"

# uninterrupted run
"$LOCO" train "$work/a.yaml" > "$work/a.out" 2> "$work/a.err" || { cat "$work/a.err"; fail "run A"; }
cat "$work/a.out"
for f in tiny.gguf loss.svg recipe.yaml TRAINING_LOG.md checkpoint.bin; do
  [ -s "$work/outA/$f" ] || fail "missing $f"
done
cmp -s "$work/a.yaml" "$work/outA/recipe.yaml" || fail "recipe.yaml is not an exact copy"
grep -q "validation loss at step 0" "$work/a.err" || fail "no validation before training"
grep -q "^step 120/120" "$work/a.err" || fail "no progress lines"
grep -q "</svg>" "$work/outA/loss.svg" || fail "loss.svg incomplete"
grep -q "## Side by side" "$work/outA/TRAINING_LOG.md" || fail "log without samples"
grep -q "With the adapter" "$work/outA/TRAINING_LOG.md" || fail "log without adapter answers"
if grep -q "{{" "$work/outA/TRAINING_LOG.md"; then fail "unfilled template keys"; fi
grep -q "locollm.train.recipe" "$work/outA/tiny.gguf" || fail "no provenance in the adapter"

# the same recipe (the adapter records its text), killed with SIGKILL right
# after its first checkpoint; --out is not part of the recipe
"$LOCO" train --out "$work/outB" "$work/a.yaml" > "$work/b1.out" 2>&1 &
pid=$!
for _ in $(seq 1 2000); do
  [ -f "$work/outB/checkpoint.bin" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
[ -f "$work/outB/checkpoint.bin" ] || fail "no checkpoint appeared"
[ ! -f "$work/outB/tiny.gguf" ] || echo "note: the run finished before the kill"
"$LOCO" train --out "$work/outB" "$work/a.yaml" > "$work/b2.out" 2> "$work/b2.err" || { cat "$work/b2.err"; fail "resume"; }
cat "$work/b2.out"
grep -q "resumed from step" "$work/b2.out" || fail "did not resume: $(cat "$work/b2.out")"
cmp "$work/outA/tiny.gguf" "$work/outB/tiny.gguf" || fail "resumed adapter differs"

# a changed recipe is refused against the checkpoint, --restart starts over
write_recipe "$work/b.yaml" outA 0.02
if err=$("$LOCO" train --out "$work/outB" "$work/b.yaml" 2>&1); then fail "changed recipe accepted"; fi
case "$err" in *"different recipe"*--restart*) ;; *) fail "unclear refusal: $err";; esac
"$LOCO" train --restart --max-steps 5 --out "$work/outB" "$work/b.yaml" > /dev/null 2>&1 \
  || fail "--restart"

# malformed recipes name the file, line and key
printf 'name: x\ndata:\n  path: d.jsonl\n  formt: fields\n' > "$work/bad.yaml"
if err=$("$LOCO" train "$work/bad.yaml" 2>&1); then fail "bad recipe accepted"; fi
case "$err" in *"bad.yaml:4:"*"data.formt"*) ;; *) fail "bad recipe error: $err";; esac
if err=$("$LOCO" train --max-steps 0 "$work/a.yaml" 2>&1); then fail "--max-steps 0"; fi
case "$err" in *--max-steps*) ;; *) fail "flag error: $err";; esac

# threads: the recipe's `threads: 1` reached the trainer, --threads overrides
# it, and with 2 threads the adapter is still a pure function of the recipe:
# the pool hands chunks to whichever thread is free, but every chunk writes
# its own outputs, so two runs give the same bytes. (1 and 2 threads may
# differ in the last bits: OpenBLAS rounds a product split in two parts
# differently from the whole; see ops.h train_gemm.)
grep -q ", 1 threads |" "$work/outA/TRAINING_LOG.md" || fail "recipe threads: 1 not used"
for d in outT1 outT2; do
  "$LOCO" train --threads 2 --max-steps 10 --out "$work/$d" "$work/a.yaml" > /dev/null 2>&1 \
    || fail "--threads 2 ($d)"
done
grep -q ", 2 threads |" "$work/outT1/TRAINING_LOG.md" || fail "--threads 2 not used"
cmp "$work/outT1/tiny.gguf" "$work/outT2/tiny.gguf" || fail "two 2-thread runs differ"
echo "ok"
