#!/usr/bin/env bash
# scripts/perplexity-compare.sh LLAMA_PERPLEXITY [CTX] [CHUNKS] - loco
# perplexity against llama.cpp's llama-perplexity on the same GGUF and the
# same text: the first 200 XSum articles of
# ${LOCO_SHARED_DIR:-../shared}/datasets/summarisation, one blank line
# between them (written to a temporary file, never into the project).
#
# The model is the default model, or MODEL=path. With QUANTIZE=path to
# llama.cpp's llama-quantize, the model is also requantized into each type
# of TYPES (default: F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K; temporary
# files, --allow-requantize: a requantized file is lower in quality than one
# made from the original weights, but both tools read the same file) and
# every type gets its row: this checks each quantization type's kernels
# against llama.cpp's. Prints a Markdown table: type, both perplexities,
# loco's difference in percent, both wall times.
set -euo pipefail
llama=${1:?usage: $0 PATH/TO/llama-perplexity [CTX] [CHUNKS]}
ctx=${2:-512}
chunks=${3:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
loco=${LOCO:-$here/build/loco}
data="${LOCO_SHARED_DIR:-$here/../shared}/datasets/summarisation/summarisation.jsonl"
model=${MODEL:-$("$loco" models path default)}
types=${TYPES:-F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text=$work/text.txt
python3 - "$data" "$text" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for i, line in enumerate(f):
        if i == 200:
            break
        out.write(json.loads(line)["document"] + "\n\n")
PY
echo "model $model, ctx $ctx, $chunks chunks, $(wc -c < "$text") bytes of text, 2 threads"
echo "cpu: $(sed -n '/^model name[[:space:]]*: /{s///;p;q}' /proc/cpuinfo), $(date -u +%Y-%m-%d)"

# row LABEL FILE: both tools on FILE
row() {
  local t0 t1 t2 ll lo
  t0=$(date +%s.%N)
  ll=$("$llama" -m "$2" -f "$text" -c "$ctx" -t 2 --chunks "$chunks" 2>&1 |
       sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  t1=$(date +%s.%N)
  lo=$("$loco" perplexity --ctx "$ctx" --chunks "$chunks" --threads 2 --model "$2" "$text" |
       sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  t2=$(date +%s.%N)
  python3 -c "
import sys
ll, lo = float('${ll:-nan}'), float('${lo:-nan}')
print(f'| $1 | {lo:.4f} | {ll:.4f} | {100 * (lo - ll) / ll:+.3f}% | {$t2 - $t1:.1f} | {$t1 - $t0:.1f} |')"
}

echo
echo "| type | loco PPL | llama.cpp PPL | loco - llama.cpp | loco s | llama.cpp s |"
echo "|---|---:|---:|---:|---:|---:|"
row "$(basename "$model")" "$model"
if [ -n "${QUANTIZE:-}" ]; then
  for t in $types; do
    "$QUANTIZE" --allow-requantize "$model" "$work/$t.gguf" "$t" > "$work/$t.log" 2>&1 ||
      { echo "| $t | llama-quantize failed: $(tail -n 1 "$work/$t.log") | | | | |"; continue; }
    row "$t (requantized)" "$work/$t.gguf"
    rm -f "$work/$t.gguf"
  done
fi
