#!/usr/bin/env bash
# loco ask / chat --engine URL: routing, the strategy's prompt, the label and
# the exchange log stay in loco, the answer comes from another engine.
# First against fake engines (tests/cli/fake-engine.py replaying
# tests/fixtures/remote: vLLM, llama-server, loco serve), checking what loco
# sent (model, lora, Bearer) and what it printed; then loco -> loco on
# loopback: `loco serve --port 0` and `loco ask --engine` give the local
# greedy answer (needs the default model).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib-skip.sh"
command -v python3 >/dev/null || skip_all "python3 not found (the fake engine)"
export LOCO_REGISTRY="$here/adapters/registry.yaml"
export XDG_DATA_HOME=$(mktemp -d) # no user overlay
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp" "$XDG_DATA_HOME"
}
trap cleanup EXIT
export LOCO_LOG_DB="$tmp/logs.sqlite"
unset LOCO_NO_LOG LOCO_ENGINE_KEY
fail() { echo "FAIL: $*"; exit 1; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# the n-th last request the fake saw (1: the last), as python of `d`
sent() { tail -n "$2" "$1" | sed -n 1p | field "$3"; }

# start_fake ENGINE [--key KEY]: the fake's URL in $url, its requests in $log
start_fake() {
  log="$tmp/$1.log"
  : >"$log"
  : >"$tmp/$1.out" # before the fake starts: the loop below reads it at once
  python3 "$here/tests/cli/fake-engine.py" "$here/tests/fixtures/remote" "$1" "$log" "${@:2}" \
    >"$tmp/$1.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    url=$(sed -n 's/^fake-engine: listening on //p' "$tmp/$1.out")
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  fail "the fake $1 engine did not start: $(cat "$tmp/$1.out")"
}

# ---- vLLM: adapters as model names, a key ---------------------------------
start_fake vllm --key sk-test
ask() { "$LOCO" ask --engine "$url" "$@"; }
out=$(ask --engine-key sk-test --adapter code "Write a function that adds two numbers" \
      2>"$tmp/err") || fail "ask --adapter code: $(cat "$tmp/err")"
[ "$out" = "$(printf 'def add(a, b):\n    return a + b')" ] || fail "vllm answer: $out"
grep -qx '\[code\] #1' "$tmp/err" || fail "the label: $(cat "$tmp/err")"
[ "$(sent "$log" 1 'd["body"]["model"]')" = code ] || fail "vllm model: $(tail -1 "$log")"
[ "$(sent "$log" 1 'd["auth"]')" = "Bearer sk-test" ] || fail "vllm key: $(tail -1 "$log")"
[ "$(sent "$log" 1 'd["body"]["stream"]')" = True ] || fail "not streamed"

# the key from the environment; without one, the engine's 401 and the hint
export LOCO_ENGINE_KEY=sk-test
# routed here (keyword router: no local model needed), answered there
out=$(ask --router keyword "Write a Python function that adds two numbers" 2>"$tmp/err") ||
  fail "routed ask: $(cat "$tmp/err")"
grep -q '^\[code · [0-9.]*\] #2$' "$tmp/err" || fail "routed label: $(cat "$tmp/err")"
[ "$(sent "$log" 1 'd["body"]["model"]')" = code ] || fail "routed model: $(tail -1 "$log")"
json=$(ask --router keyword --strategy re2 --json "Write a Python function that adds two numbers")
[ "$(echo "$json" | field 'd["engine"]["kind"]')" = vllm ] || fail "json engine: $json"
[ "$(echo "$json" | field 'd["route"]["domain"]')" = code ] || fail "json route: $json"
[ "$(echo "$json" | field 'd["tokens"]["generated"]')" = 13 ] || fail "json usage: $json"
case "$(sent "$log" 1 'd["body"]["messages"][-1]["content"]')" in
  *"Read the question again"*) ;; *) fail "re2 prompt not sent: $(tail -1 "$log")";; esac
unset LOCO_ENGINE_KEY
if err=$(ask --adapter code "hi" 2>&1); then fail "no key accepted"; fi
case "$err" in *"HTTP 401"*"wants an API key"*) ;; *) fail "401: $err";; esac

# what vLLM cannot say is refused before anything is logged or sent
export LOCO_ENGINE_KEY=sk-test
n=$(wc -l <"$log")
if err=$(ask --adapter math:0.5,code "hi" 2>&1); then fail "a set accepted by vllm"; fi
case "$err" in *"one adapter per request"*) ;; *) fail "set refusal: $err";; esac
case "$err" in *"#"*) fail "a refused set was logged: $err";; esac
if err=$(ask --adapter writing "hi" 2>&1); then fail "an unserved adapter accepted"; fi
case "$err" in *"--lora-modules writing=DIR"*) ;; *) fail "unserved adapter: $err";; esac
if err=$(ask --strategy sc:3 "hi" 2>&1); then fail "sc:3 accepted"; fi
case "$err" in *"plain or re2"*) ;; *) fail "sc refusal: $err";; esac
if err=$(ask --raw "hi" 2>&1); then fail "--raw accepted"; fi
[ "$(grep -c '"POST"' "$log")" = "$(sed -n "1,${n}p" "$log" | grep -c '"POST"')" ] ||
  fail "a refused request reached the engine"

# the exchange log names the engine and the adapter
last=$("$LOCO" logs --json | field 'd[0]')
case "$last" in *"'adapter': 'code'"*"'model': 'vllm http://127.0.0.1:"*) ;;
  *) fail "logged: $last";; esac

# chat: the conversation travels, /adapter switches
out=$(printf 'hello\n/adapter math\nWhat is 2+2?\n' |
      "$LOCO" chat --engine "$url" --router keyword --no-log 2>"$tmp/err") ||
  fail "chat: $(cat "$tmp/err")"
[ "$(sent "$log" 1 'd["body"]["model"]')" = math ] || fail "chat /adapter: $(tail -1 "$log")"
[ "$(sent "$log" 1 'len(d["body"]["messages"])')" = 3 ] || fail "chat history: $(tail -1 "$log")"
unset LOCO_ENGINE_KEY

# ---- llama-server: a set with scales, by file name --------------------------
start_fake llama-server
out=$("$LOCO" ask --engine "$url" --adapter math:0.75,code:0.25 --no-log "12 + 30?" 2>"$tmp/err") ||
  fail "llama-server ask: $(cat "$tmp/err")"
[ "$out" = "12 + 30 = 42 · done" ] || fail "llama-server answer: $out"
lora=$(sent "$log" 1 'sorted((e["id"], e["scale"]) for e in d["body"]["lora"])')
[ "$lora" = "[(0, 0.75), (1, 0.25), (2, 0)]" ] || fail "lora sent: $lora"
grep -q 'math x0.75, code x0.25' "$tmp/err" || fail "set label: $(cat "$tmp/err")"

# ---- loco serve (fake): the set in the model name ---------------------------
start_fake loco
out=$("$LOCO" ask --engine "$url" --adapter math:0.5,code:0.5 --no-log "hi" 2>"$tmp/err") ||
  fail "loco ask: $(cat "$tmp/err")"
[ "$out" = "Half and half." ] || fail "loco answer: $out"
[ "$(sent "$log" 1 'd["body"]["model"]')" = "loco:math:0.5+code:0.5" ] ||
  fail "loco model: $(tail -1 "$log")"

# ---- loco -> loco on loopback ------------------------------------------------
"$LOCO" serve --help >/dev/null || fail "loco serve --help fails"
if ! "$LOCO" models path default >/dev/null 2>&1; then
  skip_part "the default model is not in the model cache (loco models pull default)"
else
  : >"$tmp/serve.err"
  LOCO_LOG_DB="$tmp/serve.sqlite" "$LOCO" serve --port 0 --slots 1 --threads 1 \
    2>"$tmp/serve.err" &
  pids+=($!)
  for _ in $(seq 300); do
    serve=$(sed -n 's/^loco serve: listening on //p' "$tmp/serve.err")
    [ -n "$serve" ] && break
    sleep 0.1
  done
  [ -n "$serve" ] || fail "loco serve did not start: $(cat "$tmp/serve.err")"
  q="What is 2+2?"
  opts=(--adapter math --temperature 0 --max-tokens 12 --threads 1 --no-log)
  local_answer=$("$LOCO" ask "${opts[@]}" "$q" 2>/dev/null) || fail "local ask"
  remote_answer=$("$LOCO" ask --engine "$serve" "${opts[@]}" "$q" 2>"$tmp/err") ||
    fail "ask --engine loco serve: $(cat "$tmp/err")"
  [ "$remote_answer" = "$local_answer" ] ||
    fail "loco serve's greedy answer differs: '$remote_answer' vs '$local_answer'"
  grep -qx '\[math\]' "$tmp/err" || fail "label via loco serve: $(cat "$tmp/err")"
  json=$("$LOCO" ask --engine "$serve" --router keyword --max-tokens 8 --json --no-log \
         "Write a Python function that adds two numbers")
  [ "$(echo "$json" | field 'd["engine"]["kind"]')" = loco ] || fail "kind: $json"
  [ "$(echo "$json" | field 'd["engine"]["model"]')" = "loco:code" ] || fail "model: $json"
fi
test_done
