#!/usr/bin/env bash
# loco serve end to end on the default model, over loopback with curl:
#   1. /health, /v1/models (routed, base, every registry adapter), /api/tags,
#      /loco/leaderboard (the rows of `loco leaderboard --json`), /metrics;
#   2. a routed chat completion: the code adapter answers a code question,
#      says so in the `loco` object and X-Loco-* headers, and its greedy text
#      is the one `loco ask` prints; streamed (SSE) it is the same text, with
#      the role first, finish_reason, the usage chunk and [DONE];
#   3. a runtime set (loco:math:0.5+code:0.5), completions, n=2, a stop
#      string, Ollama's /api/chat (NDJSON) and /api/generate; voted
#      strategies (sc:3, the code domain's ensemble) with their vote;
#   4. hostile requests (malformed JSON, wrong types, huge numbers, invalid
#      UTF-8, unknown models, a path as adapter name, a body over the limit,
#      unknown endpoints and methods) get a 4xx and the server keeps serving;
#   5. the exchange log holds the served exchanges (loco logs);
#   6. a client that trickles its request in is cut off at the request
#      deadline; a full queue answers 429 with Retry-After; a client that
#      disconnects frees its slot; SIGTERM drains and exits 0;
#   7. --api-key: 401 without the key, 200 with it, /health open; a
#      non-loopback --host without a key is refused.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || skip_all "python3 (reads the JSON) not found"
command -v curl >/dev/null || skip_all "curl not found"
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
model=$("$LOCO" models path default 2>/dev/null) || model=
[ -n "$model" ] && [ -f "$model" ] ||
  skip_all "the default model is not in the model cache (loco models pull default)"
work=$(mktemp -d)
export LOCO_LOG_DB=$work/log.sqlite
trap 'kill_server; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib-serve.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# post PATH BODY: the response body; the status into $work/code, headers into $work/headers
post() {
  curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' "$base$1" \
       -H 'Content-Type: application/json' --data-binary "$2" > "$work/code" || true
  cat "$work/body"
}
code() { cat "$work/code"; }

"$LOCO" serve --help > "$work/help" || fail "loco serve --help"
grep -q -- "--api-key" "$work/help" || fail "serve --help lacks --api-key"
start_server --slots 4
echo "== 1. health, models, leaderboard"
curl -fsS "$base/health" | json 'd["status"], d["slots"]' | has "ok 4" || fail "health"
curl -fsS "$base/v1/models" > "$work/models.json"
ids=$(json '" ".join(m["id"] for m in d["data"])' < "$work/models.json")
echo "models: $ids"
for want in loco loco:base loco:math loco:code loco:summarisation loco:writing; do
  case " $ids " in *" $want "*) ;; *) fail "/v1/models lacks $want";; esac
done
curl -fsS "$base/api/tags" | json '[m["name"] for m in d["models"]][:2]' | has "'loco', 'loco:base'" ||
  fail "/api/tags"
curl -fsS "$base/loco/leaderboard" | json 'sorted(set(r["domain"] for r in d))' > "$work/lb"
"$LOCO" leaderboard --json | json 'sorted(set(r["domain"] for r in d))' | cmp - "$work/lb" ||
  fail "/loco/leaderboard differs from loco leaderboard --json"

echo "== 2. routed chat, plain and streamed, equals loco ask"
q="Write a Python function that returns the square of a number."
body=$(python3 -c 'import json,sys; print(json.dumps({"model":"loco","messages":[{"role":"user","content":sys.argv[1]}],"max_tokens":48,"temperature":0}))' "$q")
post /v1/chat/completions "$body" > "$work/chat.json"
[ "$(code)" = 200 ] || fail "chat: $(code) $(cat "$work/chat.json")"
answer=$(json 'd["choices"][0]["message"]["content"]' < "$work/chat.json")
[ -n "$answer" ] || fail "empty answer"
json 'd["loco"]["adapter"], d["loco"]["domain"], d["loco"]["routed"], d["loco"]["label"]' \
  < "$work/chat.json" | has "^code code True \[code" || fail "routing: $(cat "$work/chat.json")"
json 'd["usage"]["completion_tokens"] > 0 and d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + d["usage"]["completion_tokens"]' \
  < "$work/chat.json" | has True || fail "usage"
grep -qi '^X-Loco-Adapter: code' "$work/headers" || fail "X-Loco-Adapter header"
grep -qi '^X-Loco-Confidence: 0\.' "$work/headers" || fail "X-Loco-Confidence header"
exchange=$(sed -n 's/^X-Loco-Exchange: \([0-9]*\).*/\1/Ip' "$work/headers" | tr -d '\r')
[ -n "$exchange" ] || fail "X-Loco-Exchange header"
ask=$("$LOCO" ask --no-log --threads 2 --temperature 0 --max-tokens 48 "$q" 2>/dev/null)
[ "$answer" = "$ask" ] || fail "served answer differs from loco ask:
served: $answer
ask:    $ask"
sbody=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["stream"]=True; d["stream_options"]={"include_usage":True}; print(json.dumps(d))' "$body")
curl -sSN "$base/v1/chat/completions" --data-binary "$sbody" > "$work/sse"
python3 - "$work/sse" "$answer" <<'PY' || fail "stream"
import json, sys
events = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]", events[-1]
chunks = [json.loads(e) for e in events[:-1]]
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
assert chunks[0]["loco"]["adapter"] == "code"
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
assert text == sys.argv[2], (text, sys.argv[2])
finals = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
assert finals in (["stop"], ["length"]), finals
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
PY

echo "== 3. sets, completions, n, stop, Ollama"
post /v1/chat/completions '{"model":"loco:math:0.5+code:0.5","messages":[{"role":"user","content":"Add 2 and 3."}],"max_tokens":8}' > "$work/set.json"
[ "$(code)" = 200 ] || fail "set: $(cat "$work/set.json")"
json '[(a["name"], a["scale"]) for a in d["loco"]["adapters"]]' < "$work/set.json" |
  grep -q "('math', 0.5), ('code', 0.5)" || fail "set adapters: $(cat "$work/set.json")"
curl -sSN "$base/v1/chat/completions" -d '{"model":"loco:base","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"n":2,"stream":true}' > "$work/n2.sse"
python3 - "$work/n2.sse" <<'PY' || fail "n=2 stream"
import json, sys
chunks = [json.loads(l[6:]) for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: {")]
for i in (0, 1):
    mine = [c for c in chunks if c["choices"] and c["choices"][0]["index"] == i]
    assert mine[0]["choices"][0]["delta"].get("role") == "assistant", mine[0]
    assert sum(1 for c in mine if c["choices"][0]["finish_reason"]) == 1
assert "loco" in chunks[0] and all("loco" not in c for c in chunks[1:])
PY
post /v1/completions '{"model":"loco:base","prompt":"The capital of France is","max_tokens":6,"temperature":0,"n":2}' > "$work/cmpl.json"
[ "$(code)" = 200 ] || fail "completions"
json 'd["object"], len(d["choices"]), d["choices"][0]["text"] == d["choices"][1]["text"]' \
  < "$work/cmpl.json" | has "text_completion 2 True" || fail "completions: $(cat "$work/cmpl.json")"
full=$(post /v1/chat/completions '{"model":"loco:base","messages":[{"role":"user","content":"List the days of the week, one per line."}],"max_tokens":40,"temperature":0}' |
       json 'd["choices"][0]["message"]["content"]')
stop=$(printf '%s' "$full" | python3 -c 'import sys; t=sys.stdin.read(); print(t[len(t)//2:len(t)//2+3])')
cut=$(post /v1/chat/completions "$(python3 -c 'import json,sys; print(json.dumps({"model":"loco:base","messages":[{"role":"user","content":"List the days of the week, one per line."}],"max_tokens":40,"temperature":0,"stop":[sys.argv[1]]}))' "$stop")" |
      json 'd["choices"][0]["message"]["content"], "|", d["choices"][0]["finish_reason"]')
want=$(printf '%s' "$full" | python3 -c 'import sys; t=sys.stdin.read(); s=sys.argv[1]; print(t[:t.index(s)], "|", "stop")' "$stop")
[ "$cut" = "$want" ] || fail "stop string '$stop': got [$cut] want [$want]"
curl -sSN "$base/api/chat" -d '{"model":"loco:base","messages":[{"role":"user","content":"Say hi."}],"options":{"num_predict":6,"temperature":0}}' > "$work/ollama"
python3 - "$work/ollama" <<'PY' || fail "ollama chat"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines[-1]["done"] is True and lines[-1]["eval_count"] == 6, lines[-1]
assert all(not l["done"] for l in lines[:-1])
assert "".join(l["message"]["content"] for l in lines).strip()
PY
post /api/generate '{"model":"loco","prompt":"What is 2 plus 2?","stream":false,"options":{"num_predict":5}}' |
  json 'd["done"], d["loco"]["domain"], len(d["response"]) > 0' | has "True math True" ||
  fail "ollama generate: $(cat "$work/body")"

echo "== 3b. voted strategies: sc:3 and the code domain's ensemble"
post /v1/chat/completions '{"messages":[{"role":"user","content":"What is 12 times 4?"}],"max_tokens":24,"loco":{"strategy":"sc:3"}}' > "$work/sc.json"
[ "$(code)" = 200 ] || fail "sc:3: $(cat "$work/sc.json")"
python3 - "$work/sc.json" <<'PY' || fail "sc:3 vote"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["loco"]["vote"]
assert d["loco"]["strategy"] == "sc:3" and len(v["answers"]) == 3, d["loco"]
assert d["choices"][0]["message"]["content"] == v["answers"][v["winner"]]
assert abs(v["share"] - max(v["votes"]) / 3) < 1e-9 and d["usage"]["completion_tokens"] > 0
PY
curl -sSN "$base/v1/chat/completions" --data-binary '{"messages":[{"role":"user","content":"Write a Python function that adds two numbers."}],"max_tokens":24,"stream":true,"loco":{"strategy":"ensemble"}}' > "$work/ens.sse"
python3 - "$work/ens.sse" <<'PY' || fail "ensemble stream"
import json, sys
events = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]"
first = json.loads(events[0])
v = first["loco"]["vote"]
names = [m["name"] for m in v["members"]]
assert first["loco"]["strategy"] == "ensemble" and names[0] == "code" and len(names) >= 2, names
text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
assert text == v["answers"][v["winner"]], (text, v)
PY

echo "== 4. hostile requests"
check() { # STATUS PATH BODY
  post "$2" "$3" > /dev/null
  [ "$(code)" = "$1" ] || fail "$2 $3: got $(code), want $1: $(cat "$work/body")"
  json 'd["error"]["message"]' < "$work/body" > /dev/null || fail "no OpenAI error for $3"
}
check 400 /v1/chat/completions '{'
check 400 /v1/chat/completions '{"messages":"hi"}'
check 400 /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":1e999}'
check 400 /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":99999999}'
check 400 /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}'
check 404 /v1/chat/completions '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}'
check 404 /v1/chat/completions '{"model":"loco:nosuchadapter","messages":[{"role":"user","content":"x"}]}'
check 400 /v1/chat/completions '{"model":"loco:../../etc/passwd","messages":[{"role":"user","content":"x"}]}'
check 400 /v1/chat/completions '{"model":"loco:base","messages":[{"role":"user","content":"x"}],"loco":{"strategy":"ensemble"}}'
check 400 /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"n":2,"loco":{"strategy":"sc:3"}}'
check 400 /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"loco":{"strategy":"vote-harder"}}'
check 400 /v1/chat/completions "$(printf '{"messages":[{"role":"user","content":"\xff\xfe"}]}')"
check 400 /api/chat '{"messages":[{"role":"user","content":"x","images":["AAAA"]}]}'
head -c 1100000 /dev/zero | tr '\0' a > "$work/big"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/chat/completions" --data-binary @"$work/big")
[ "$code" = 413 ] || fail "big body: $code"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/nope")" = 404 ] || fail "unknown endpoint"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$base/v1/models")" = 405 ] || fail "method"
# a header block over the limit is refused, a request cut short is dropped
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" "$base/health")
case "$code" in 4*) ;; *) fail "huge header: $code";; esac
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"mess' |
  timeout 5 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.close()' "${base##*:}"
curl -fsS "$base/health" > /dev/null || fail "the server stopped serving after hostile requests"

echo "== 5. the exchange log"
"$LOCO" logs "$exchange" > "$work/log.txt" || fail "loco logs $exchange"
grep -q "serve" "$work/log.txt" || fail "log: $(cat "$work/log.txt")"
grep -q "square" "$work/log.txt" || fail "log lacks the question: $(cat "$work/log.txt")"
curl -fsS "$base/metrics" > "$work/metrics"
grep -q '^loco_http_requests_total{endpoint="/v1/chat/completions",code="200"}' "$work/metrics" || fail "metrics requests"
grep -q '^loco_generated_tokens_total{adapter="code"}' "$work/metrics" || fail "metrics tokens"
grep -q '^loco_time_to_first_token_seconds_bucket{adapter="code",le="+Inf"}' "$work/metrics" || fail "metrics ttft"
grep -q '^loco_batch_size_count' "$work/metrics" || fail "metrics batch"
stop_server

echo "== 6. a full queue, a client that leaves, SIGTERM"
start_server --slots 1 --max-queue 1 --request-timeout 2
# a client that trickles its headers in is cut off at the request deadline,
# and the server goes on serving
python3 - "${base##*:}" <<'PY' || fail "a slow client held its connection"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
try:
    while time.time() - t0 < 60:      # never more than a minute: then it failed
        s.sendall(b"X-Slow: a\r\n")
        s.settimeout(0.5)
        try:
            if s.recv(1) == b"":
                sys.exit(0)           # closed by the server
        except socket.timeout:
            pass
except (BrokenPipeError, ConnectionResetError):
    sys.exit(0)
sys.exit(1)
PY
curl -fsS "$base/metrics" | has '^loco_slow_clients_closed_total 1$' || fail "slow client not counted"
long='{"model":"loco:base","messages":[{"role":"user","content":"Tell me a very long story."}],"max_tokens":400,"temperature":0,"stream":true}'
curl -sSN "$base/v1/chat/completions" --data-binary "$long" > "$work/a.out" & a=$!
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$base/health" | json 'd["running"]')" = 1 ] && break; sleep 0.1
done
curl -sSN "$base/v1/chat/completions" --data-binary "$long" > "$work/b.out" & b=$!
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$base/health" | json 'd["queued"]')" = 1 ] && break; sleep 0.1
done
post /v1/chat/completions "$long" > /dev/null
[ "$(code)" = 429 ] || fail "full queue: $(code) $(cat "$work/body")"
grep -qi '^Retry-After:' "$work/headers" || fail "429 without Retry-After"
kill "$a" "$b" 2>/dev/null || true
wait "$a" "$b" 2>/dev/null || true
for _ in $(seq 1 100); do
  h=$(curl -fsS "$base/health" | json 'd["running"] + d["queued"]')
  [ "$h" = 0 ] && break; sleep 0.1
done
[ "$h" = 0 ] || fail "the requests of clients that left still hold the slot"
# the same for a client that leaves while waiting for a whole (not streamed) answer
nostream=$(printf '%s' "$long" | sed 's/"stream":true/"stream":false/')
curl -sS -o /dev/null "$base/v1/chat/completions" --data-binary "$nostream" & a=$!
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$base/health" | json 'd["running"]')" = 1 ] && break; sleep 0.1
done
kill "$a" 2>/dev/null || true
wait "$a" 2>/dev/null || true
for _ in $(seq 1 100); do
  h=$(curl -fsS "$base/health" | json 'd["running"] + d["queued"]')
  [ "$h" = 0 ] && break; sleep 0.1
done
[ "$h" = 0 ] || fail "a whole answer kept running after its client left"
# SIGTERM while a request runs: it finishes, the server exits 0
post /v1/chat/completions '{"model":"loco:base","messages":[{"role":"user","content":"Hi"}],"max_tokens":2}' > /dev/null
curl -sSN "$base/v1/chat/completions" --data-binary '{"model":"loco:base","messages":[{"role":"user","content":"Count to twenty."}],"max_tokens":60,"temperature":0,"stream":true}' > "$work/drain.out" & d=$!
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$base/health" | json 'd["running"]')" = 1 ] && break; sleep 0.1
done
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
server=
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc: $(cat "$work/serve.err")"
wait "$d" || true
grep -q 'data: \[DONE\]' "$work/drain.out" || fail "the running request was not drained: $(tail -c 300 "$work/drain.out")"
grep -q "stopped" "$work/serve.err" || fail "no stop message"

echo "== 7. API keys and addresses"
if "$LOCO" serve --host 0.0.0.0 --port 0 2> "$work/err"; then fail "0.0.0.0 without a key was served"; fi
grep -q "API key" "$work/err" || fail "the refusal should name the API key: $(cat "$work/err")"
LOCO_API_KEY=sesame start_server --slots 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/models")" = 401 ] || fail "no key accepted"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$base/v1/models")" = 401 ] || fail "a wrong key accepted"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sesame' "$base/v1/models")" = 200 ] || fail "the key refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" = 200 ] || fail "/health needs no key"
stop_server
test_done
