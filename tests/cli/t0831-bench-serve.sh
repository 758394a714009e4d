#!/usr/bin/env bash
# bench-serve (bench/bench-serve.c) against a real `loco serve`, small:
#   1. --compare --stream --json, 8 requests from 4 clients over the four
#      adapters: every request answered in both runs, tokens counted, the
#      time to first token measured, each adapter serving its 2 requests
#      (X-Loco-Adapter), the server's VmRSS read before and after, and the
#      greedy answers of the concurrent run equal to the one-at-a-time ones
#      (batching does not change an answer; the server runs without
#      --prompt-cache, which may);
#   2. not streaming: answered, no time to first token;
#   3. a server with --api-key: bench-serve with the key is answered, without
#      it every request fails with 401 and bench-serve exits 1.
# No timing is checked. BUILD (where bench-serve is): the folder of $LOCO,
# or $LOCO_BINARY_DIR.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bench=${LOCO_BINARY_DIR:-$(dirname "$LOCO")}/bench-serve
work=$(mktemp -d)
trap 'kill_server; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib-serve.sh"

[ -x "$bench" ] || skip_all "$bench not built"
command -v python3 >/dev/null || skip_all "python3 (reads the JSON) not found"
model=$("$LOCO" models path default 2>/dev/null) || model=
[ -n "$model" ] && [ -f "$model" ] ||
  skip_all "the default model is not in the model cache (loco models pull default)"
for a in math code summarisation writing; do
  [ -f "$src/adapters/$a/$a.gguf" ] || skip_all "$src/adapters/$a/$a.gguf not found"
done


# check FILE PYTHON: runs the assertions PYTHON on the JSON d of FILE
check() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
try:
    exec(sys.argv[2])
except AssertionError as e:
    print(f"{sys.argv[1]}: {e}")
    sys.exit(1)
PY
}

# 1. sequential vs 4 clients, streamed
start_server --slots 4
"$bench" --url "$base" --pid "$server" --clients 4 --requests 8 --max-tokens 8 --stream \
  --compare --json > "$work/compare.json" || { cat "$work/compare.json"; fail "bench-serve --compare"; }
check "$work/compare.json" '
runs = d["runs"]
assert [r["clients"] for r in runs] == [1, 4], runs
for r in runs:
    assert (r["ok"], r["failed"], r["not_run"]) == (8, 0, 0), r
    assert 8 <= r["completion_tokens"] <= 64, r
    assert r["ttft_p50_ms"] is not None and r["ttft_p50_ms"] <= r["latency_p50_ms"], r
    served = dict(x.rsplit(" ", 1) for x in r["served_by"].split(", "))
    assert served == {"math": "2", "code": "2", "summarisation": "2", "writing": "2"}, served
assert d["server_rss_mib_before"] > 0 and d["server_rss_mib_after"] > 0, d
assert d["ratio_completion_tokens_per_s"] is not None, d
assert d["identical_answers"] == 8, ("concurrent answers differ", d["identical_answers"])
' || fail "bench-serve --compare --stream"
echo "compare: ok"

# 2. not streaming
"$bench" --url "$base" --sequential --requests 4 --max-tokens 4 --no-warmup --json \
  > "$work/plain.json" || { cat "$work/plain.json"; fail "bench-serve --sequential"; }
check "$work/plain.json" '
r = d["runs"][0]
assert (r["clients"], r["ok"], r["failed"]) == (1, 4, 0), r
assert r["ttft_p50_ms"] is None and r["latency_p50_ms"] > 0, r
assert r["completion_tokens"] > 0, r
' || fail "bench-serve without --stream"
echo "not streaming: ok"
stop_server

# 3. the API key
start_server --slots 4 --api-key t0831-key
"$bench" --url "$base" --api-key t0831-key --clients 2 --requests 2 --max-tokens 2 --stream \
  --no-warmup --json > "$work/key.json" || { cat "$work/key.json"; fail "bench-serve with the key"; }
check "$work/key.json" 'assert d["runs"][0]["ok"] == 2, d["runs"][0]' || fail "with the key"
status=0
"$bench" --url "$base" --clients 2 --requests 2 --max-tokens 2 --no-warmup --json \
  > "$work/nokey.json" || status=$?
[ "$status" = 1 ] || fail "bench-serve without the key exited $status, want 1"
check "$work/nokey.json" '
r = d["runs"][0]
assert r["failed"] == 2 and r["errors"]["401"]["count"] == 2, r
' || fail "without the key"
echo "api key: ok"
stop_server
test_done
