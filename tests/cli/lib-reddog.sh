# tests/cli/lib-reddog.sh - sourced by the CLI tests that need a LoRA
# adapter for the tiny stories260K model: train_reddog WORK MODEL trains
# "reddog" (domain "testing") to answer "Who is here N?" with "The big red
# dog ran to the park.", in a few seconds, into WORK/out/reddog.gguf (its
# recipe, WORK/r.yaml, names its data by absolute path, so the copy beside
# the adapter resolves too). Needs $LOCO and a fail function.
train_reddog() {
  local work=$1 model=$2 i
  for i in $(seq 0 31); do
    printf '{"q":"Who is here %d?","a":"The big red dog ran to the park."}\n' "$i"
  done > "$work/data.jsonl"
  cat > "$work/r.yaml" <<YAML
name: reddog
domain: testing
base: $model
chat_template: chatml
data:
  path: $work/data.jsonl
  format: fields
  prompt: "{q}"
  response: "{a}"
  validation: 2
lora:
  rank: 4
  alpha: 8
  targets: [q, v, o, down]
optimizer:
  lr: 0.02
training:
  max_steps: 60
  batch: 4
  seed: 3
  threads: 1
  checkpoint_every: 0
output:
  dir: out
  samples: 0
YAML
  "$LOCO" train "$work/r.yaml" > /dev/null 2> "$work/train.err" ||
    { cat "$work/train.err"; fail "train"; }
  [ -s "$work/out/reddog.gguf" ] || fail "no adapter written"
}
