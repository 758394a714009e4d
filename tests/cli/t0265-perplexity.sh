#!/usr/bin/env bash
# loco perplexity FILE: llama-perplexity's chunking on the tiny stories260K
# model: the running estimates, the final line, --json, --chunks, and the
# refusals (a text too short, an odd --ctx, a missing file, a FIFO).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
[ -f "$model" ] || skip_all "$model not found"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 12); do
  echo "Once upon a time there was a little cat named Tom. Tom liked to play in the garden"
  echo "with his friend, a small brown dog. One day they found a big red ball near the tree."
done > "$tmp/text.txt"

"$LOCO" perplexity --model "$model" --ctx 32 "$tmp/text.txt" > "$tmp/out"
cat "$tmp/out"
grep -qE '^\[1\][0-9.]+,\[2\][0-9.]+' "$tmp/out" || fail "no running estimates"
grep -qE '^Final estimate: PPL = [0-9]+\.[0-9]{4} \+/- [0-9]+\.[0-9]{5}$' "$tmp/out" || fail "no final line"

"$LOCO" perplexity --model "$model" --ctx 32 --chunks 3 --json "$tmp/text.txt" > "$tmp/json"
python3 - "$tmp/json" <<'PY' || fail "json: $(cat "$tmp/json")"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["chunks"] == 3 and r["ctx"] == 32 and r["scored"] == 3 * 15, r
assert abs(math.log(r["ppl"]) - r["nll"]) < 1e-9 and r["ppl"] > 1 and 0 < r["ppl_error"] < r["ppl"], r
PY
# standard input gives the same figure
"$LOCO" perplexity --model "$model" --ctx 32 --chunks 3 --json - < "$tmp/text.txt" > "$tmp/json2"
cmp -s <(grep -v '"ms"\|"file"' "$tmp/json") <(grep -v '"ms"\|"file"' "$tmp/json2") ||
  fail "stdin differs from the file"

expect() { # expected exit status, text the error must contain, then the command
  local want=$1 needle=$2 rc=0
  shift 2
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want ($err)"
  case "$err" in *"$needle"*) ;; *) fail "$*: '$err' lacks '$needle'";; esac
}
echo "too short" > "$tmp/short.txt"
expect 1 "need at least 64" "$LOCO" perplexity --model "$model" --ctx 32 "$tmp/short.txt"
expect 2 "must be even" "$LOCO" perplexity --model "$model" --ctx 33 "$tmp/text.txt"
expect 1 "nosuch.txt" "$LOCO" perplexity --model "$model" "$tmp/nosuch.txt"
expect 2 "give the text file" "$LOCO" perplexity --model "$model"
mkfifo "$tmp/fifo"
expect 1 "fifo" timeout 20 "$LOCO" perplexity --model "$model" "$tmp/fifo"
test_done
