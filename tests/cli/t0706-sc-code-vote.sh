#!/usr/bin/env bash
# sc:K on code votes by the tests the prompt shows (docs/strategies.md):
# loco eval code --bench mbpp --strategy sc:2 on the default model and the
# shipped code adapter, here and on a loco serve engine:
#   - each item's sc side records its vote: by "tests", k 2, the 3 asserts
#     MBPP's prompt lists, and how many each sample passed; the winner passes
#     the most; the plain side has no vote;
#   - a rerun reads the winners back from the cache (keyed ;vote=tests):
#     the same answers, no vote recorded (the cache keeps the winner only).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib-skip.sh"
[ -f "$LOCO_SHARED_DIR/datasets/mbpp/mbpp.jsonl" ] ||
  skip_all "$LOCO_SHARED_DIR/datasets/mbpp/mbpp.jsonl not found"
command -v python3 >/dev/null || skip_all "python3 (the sandbox's interpreter) not found"
"$LOCO" models path default >/dev/null 2>&1 ||
  skip_all "the default model is not in the model cache (loco models pull default)"
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
export LOCO_REGISTRY="$here/adapters/registry.yaml"
export XDG_DATA_HOME=$(mktemp -d)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp" "$XDG_DATA_HOME"
}
trap cleanup EXIT
export LOCO_NO_LOG=1
fail() { echo "FAIL: $*"; exit 1; }
# loco eval exits 3 when a gate fails (2 items decide nothing); the record is written
gated() { local st=0; "$@" || st=$?; [ "$st" = 0 ] || [ "$st" = 3 ]; }
ev() { "$LOCO" eval code --bench mbpp --strategy sc:2 --limit 2 --max-tokens 48 --threads 1 \
        --no-contam "$@"; }

check_votes() { # RECORD VOTED(1|0)
  python3 - "$1" "$2" <<'PY'
import json, sys
rec, voted = json.load(open(sys.argv[1])), sys.argv[2] == "1"
items = rec["benchmarks"][0]["items"]
assert len(items) == 2, len(items)
for it in items:
    assert "vote" not in it["base"], it["base"].get("vote")
    v = it["adapter"].get("vote")
    if not voted:
        assert v is None and it["adapter"]["cached"], (it["id"], v)
        continue
    assert v["by"] == "tests" and v["k"] == 2 and v["tests_shown"] == 3, v
    passed = v["tests_passed"]
    assert len(passed) == 2 and all(0 <= p <= 3 for p in passed), v
    assert passed[v["winner"]] == max(passed), v
    assert v["share"] in (0.5, 1.0), v
PY
}

gated ev --cache "$tmp/cache.sqlite" --out "$tmp/local.json" >"$tmp/local.out" 2>"$tmp/local.err" ||
  fail "eval --strategy sc:2: $(cat "$tmp/local.err")"
check_votes "$tmp/local.json" 1 || fail "the votes of $tmp/local.json"
gated ev --cache "$tmp/cache.sqlite" --out "$tmp/again.json" >/dev/null 2>"$tmp/again.err" ||
  fail "the rerun: $(cat "$tmp/again.err")"
check_votes "$tmp/again.json" 0 || fail "the rerun's votes"
python3 - "$tmp/local.json" "$tmp/again.json" <<'PY' || fail "the rerun's answers differ"
import json, sys
a, b = (json.load(open(p))["benchmarks"][0]["items"] for p in sys.argv[1:])
assert [i["adapter"]["output"] for i in a] == [i["adapter"]["output"] for i in b]
PY

# the same vote on answers from an engine
: >"$tmp/serve.err"
"$LOCO" serve --port 0 --slots 2 --threads 1 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 300); do
  serve=$(sed -n 's/^loco serve: listening on //p' "$tmp/serve.err")
  [ -n "$serve" ] && break
  sleep 0.1
done
[ -n "$serve" ] || fail "loco serve did not start: $(cat "$tmp/serve.err")"
gated ev --engine "$serve" --cache "$tmp/cache.sqlite" --out "$tmp/engine.json" \
  >/dev/null 2>"$tmp/engine.err" || fail "eval --engine --strategy sc:2: $(cat "$tmp/engine.err")"
check_votes "$tmp/engine.json" 1 || fail "the engine's votes"
test_done
