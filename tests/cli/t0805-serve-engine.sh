#!/usr/bin/env bash
# loco serve --engine URL: the front server routes, labels and logs; the
# generation goes to another engine (here a second loco serve on loopback).
#   1. a routed question answered through the front equals the back's own
#      answer, with the front's routing in the loco object and headers;
#   2. a set (loco:math:0.5+code:0.5) and a stream are forwarded;
#   3. what cannot be forwarded is refused with 400: a raw completion, a
#      strategy that decodes locally (sc:3, calc);
#   4. /health names the engine; the exchange is in the front's log;
#   5. the back stopped: the front answers with an error and keeps serving.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || skip_all "python3 (reads the JSON) not found"
command -v curl >/dev/null || skip_all "curl not found"
model=$("$LOCO" models path default 2>/dev/null) || model=
[ -n "$model" ] && [ -f "$model" ] ||
  skip_all "the default model is not in the model cache (loco models pull default)"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# serve NAME ARGS...: a loco serve on a free port; its URL into $url
serve() {
  local name=$1
  shift
  : > "$work/$name.err" # before the server starts: the loop below reads it at once
  LOCO_LOG_DB="$work/$name.sqlite" "$LOCO" serve --port 0 --threads 1 "$@" 2> "$work/$name.err" &
  pids+=($!)
  url=
  for _ in $(seq 1 300); do
    url=$(sed -n 's|.*listening on \(http://127.0.0.1:[0-9]*\).*|\1|p' "$work/$name.err")
    [ -n "$url" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name exited: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name did not start: $(cat "$work/$name.err")"
}
serve back --slots 2
back=$url
serve front --engine "$back"
front=$url
grep -q "generating on $back (loco)" "$work/front.err" || fail "front: $(cat "$work/front.err")"

echo "== 1. routed through the front = the back's own answer"
body='{"model":"loco","messages":[{"role":"user","content":"Write a Python function that reverses a string."}],"max_tokens":30,"temperature":0}'
curl -fsS -D "$work/h" "$front/v1/chat/completions" -d "$body" > "$work/front.json"
curl -fsS "$back/v1/chat/completions" -d "$body" > "$work/back.json"
direct=$(json 'd["choices"][0]["message"]["content"]' < "$work/back.json")
via=$(json 'd["choices"][0]["message"]["content"]' < "$work/front.json")
[ -n "$via" ] && [ "$via" = "$direct" ] || fail "forwarded answer differs: [$via] vs [$direct]"
# the answer may end early (the kernels differ by CPU): the count is the back's own
tokens=$(json 'd["usage"]["completion_tokens"]' < "$work/back.json")
json 'd["loco"]["domain"], d["loco"]["adapter"], d["usage"]["completion_tokens"]' < "$work/front.json" |
  has "^code code $tokens$" || fail "front's loco object: $(cat "$work/front.json")"
grep -qi '^X-Loco-Adapter: code' "$work/h" || fail "front's headers"

echo "== 2. a set and a stream"
curl -fsS "$front/v1/chat/completions" \
  -d '{"model":"loco:math:0.5+code:0.5","messages":[{"role":"user","content":"Add 2 and 3."}],"max_tokens":6,"temperature":0}' |
  json '[a["name"] for a in d["loco"]["adapters"]], d["usage"]["completion_tokens"]' |
  grep -q "\['math', 'code'\] 6" || fail "set through the front"
curl -fsSN "$front/v1/chat/completions" \
  -d '{"model":"loco:base","messages":[{"role":"user","content":"Say hi."}],"max_tokens":6,"temperature":0,"stream":true}' > "$work/sse"
grep -q '^data: \[DONE\]' "$work/sse" || fail "stream: $(cat "$work/sse")"
[ "$(grep -c '"delta":{"content"' "$work/sse")" -ge 2 ] || fail "the stream came in one piece"

echo "== 3. refusals"
for b in '{"prompt":"x"}' ; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$front/v1/completions" -d "$b")" = 400 ] || fail "raw completion forwarded"
done
for st in sc:3 calc; do
  code=$(curl -s -o "$work/e" -w '%{http_code}' "$front/v1/chat/completions" \
         -d "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"loco\":{\"strategy\":\"$st\"}}")
  [ "$code" = 400 ] || fail "$st forwarded: $code $(cat "$work/e")"
done

echo "== 4. health and log"
curl -fsS "$front/health" | json 'd["generates_on"]["url"], d["generates_on"]["kind"]' |
  grep -q "^$back loco$" || fail "front /health"
LOCO_LOG_DB="$work/front.sqlite" "$LOCO" logs --limit 20 > "$work/log"
grep -q "reverses a string" "$work/log" || fail "front's log: $(cat "$work/log")"

echo "== 5. the back gone"
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
code=$(curl -s -o "$work/e" -w '%{http_code}' "$front/v1/chat/completions" -d "$body")
case "$code" in 5*) ;; *) fail "no error without the back: $code $(cat "$work/e")";; esac
json 'd["error"]["message"]' < "$work/e" | has "the engine $back" ||
  fail "the error should name the engine: $(cat "$work/e")"
curl -fsS "$front/health" > /dev/null || fail "the front stopped serving"
test_done
