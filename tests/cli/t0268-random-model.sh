#!/usr/bin/env bash
# make-random-model --tiny (bench/make-random-model.c, the generator behind
# bench/production-size.sh): the file it writes is a qwen3 model in the
# Q4_K_M mix that loco loads, tokenizes for and generates with; the same
# seed writes the same bytes, another seed other weights; bad arguments are
# refused.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
make_model="$(dirname "$LOCO")/make-random-model"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
[ -x "$make_model" ] || fail "$make_model is missing (cmake --build builds it beside loco)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$make_model" --tiny "$tmp/a.gguf" | has "Q4_K_M mix, seed 1" || fail "no summary line"

# metadata and the Q4_K_M rule: 2 layers, so use_more_bits picks layer 1 only
# (i >= 7*2/8): Q6_K for token_embd, blk.1.attn_v and blk.1.ffn_down
"$LOCO" models info --json "$tmp/a.gguf" > "$tmp/info.json"
python3 - "$tmp/info.json" <<'PY' || fail "info: $(cat "$tmp/info.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["architecture"] == "qwen3" and r["file_type"] == 15, r
assert (r["block_count"], r["embedding_length"], r["head_count"], r["head_count_kv"],
        r["feed_forward_length"], r["vocab_size"]) == (2, 256, 4, 2, 512, 1024), r
types = {t["type"]: t["tensors"] for t in r["types"]}
assert types == {"F32": 9, "Q4_K": 12, "Q6_K": 3}, types
assert r["tokenizer_model"] == "gpt2" and r["tokenizer_pre"] == "qwen2", r
assert r["chat_template"] == "chatml", r
PY

# loco loads it, runs a prompt through it and generates
"$LOCO" ask --model "$tmp/a.gguf" --no-route --no-log --raw --json --max-tokens 4 \
  --temperature 0 "the quick brown fox" > "$tmp/ask.json"
python3 - "$tmp/ask.json" <<'PY' || fail "ask: $(cat "$tmp/ask.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["tokens"]["prompt"] >= 4 and r["tokens"]["generated"] >= 1, r
PY
"$LOCO" bench --model "$tmp/a.gguf" -p 8 -n 4 -r 1 --threads 1 --no-stream > "$tmp/bench"
grep -qE '^\| +1 \| tg4 ' "$tmp/bench" || fail "bench: $(cat "$tmp/bench")"

# the same seed gives the same file; another seed other weights, same size
"$make_model" --tiny "$tmp/b.gguf" > /dev/null
cmp -s "$tmp/a.gguf" "$tmp/b.gguf" || fail "seed 1 twice wrote different files"
"$make_model" --tiny --seed 2 "$tmp/c.gguf" > /dev/null
cmp -s "$tmp/a.gguf" "$tmp/c.gguf" && fail "seed 2 wrote seed 1's file"
[ "$(stat -c %s "$tmp/a.gguf")" = "$(stat -c %s "$tmp/c.gguf")" ] || fail "seed changed the size"

# refusals: no output, an unknown flag, a bad seed
for args in "--tiny" "--bogus $tmp/d.gguf" "--seed x $tmp/d.gguf"; do
  # shellcheck disable=SC2086
  if "$make_model" $args 2> "$tmp/err"; then fail "accepted: $args"; fi
  grep -q "usage: make-random-model" "$tmp/err" || fail "no usage for: $args"
done
[ ! -e "$tmp/d.gguf" ] || fail "a refused run wrote a file"
echo "ok"
