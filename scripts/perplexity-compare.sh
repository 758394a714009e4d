#!/usr/bin/env bash
# scripts/perplexity-compare.sh LLAMA_PERPLEXITY [CTX] [CHUNKS] - loco
# perplexity against llama.cpp's llama-perplexity on the same GGUF (the
# default model) and the same text: the first 200 XSum articles of
# ${LOCO_SHARED_DIR:-../shared}/datasets/summarisation, one blank line
# between them (written to a temporary file, never into the project).
set -euo pipefail
llama=${1:?usage: $0 PATH/TO/llama-perplexity [CTX] [CHUNKS]}
ctx=${2:-512}
chunks=${3:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
loco="$here/build/loco"
data="${LOCO_SHARED_DIR:-$here/../shared}/datasets/summarisation/summarisation.jsonl"
model=$("$loco" models path default)
text=$(mktemp)
trap 'rm -f "$text"' EXIT
python3 - "$data" "$text" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for i, line in enumerate(f):
        if i == 200:
            break
        out.write(json.loads(line)["document"] + "\n\n")
PY
echo "model $model, ctx $ctx, $chunks chunks, $(wc -c < "$text") bytes of text"
lscpu | grep "Model name" || true
t0=$(date +%s.%N)
"$llama" -m "$model" -f "$text" -c "$ctx" -t 2 --chunks "$chunks" 2>&1 |
  grep -o 'Final estimate: PPL = .*' | sed 's/^/llama.cpp: /'
t1=$(date +%s.%N)
"$loco" perplexity --ctx "$ctx" --chunks "$chunks" --threads 2 "$text" |
  grep 'Final estimate' | sed 's/^/loco:      /'
t2=$(date +%s.%N)
python3 -c "print(f'wall: llama.cpp {$t1 - $t0:.1f} s, loco {$t2 - $t1:.1f} s')"
