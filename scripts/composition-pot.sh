#!/usr/bin/env bash
# Composition on a maths + code task (issue 12 item 3, docs/composition.md):
# gsm8k-pot on the first N problems, base vs the math adapter, the code
# adapter, the run-time set math:0.5,code:0.5 and its exact linear merge.
# One cache: the base side is generated once. Records under
# results/2026-S2/composition/; scripts/composition-pot-table.py reads them.
#   usage: scripts/composition-pot.sh [N] (default 100); LOCO=build/loco
set -euo pipefail
cd "$(dirname "$0")/.."
loco=${LOCO:-build/loco}
n=${1:-100}
tmp=${TMPDIR:-/tmp}/loco-composition
out=results/2026-S2/composition
mkdir -p "$tmp" "$out"
merged=$tmp/math-code.gguf
[ -f "$merged" ] || "$loco" adapters merge math:0.5 code:0.5 -o "$merged"
common=(--bench gsm8k-pot --limit "$n" --cache "$tmp/eval-cache.sqlite" --record-in none
        --omit-prompts)
run() { # NAME ADAPTER: exit 3 (a gate failed) still wrote the record
  local st=0
  "$loco" eval "$2" "${common[@]}" --out "$out/$1-gsm8k-pot.json" || st=$?
  [ "$st" = 0 ] || [ "$st" = 3 ]
}
run math math
run code code
run set-math0.5-code0.5 math:0.5,code:0.5
run merged-math0.5-code0.5 "$merged"
python3 scripts/composition-pot-table.py "$out"
