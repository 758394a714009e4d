#!/usr/bin/env bash
# One option parser for every command (cli/opt.c): unknown options and bad
# values get one message style and exit 2, with the nearest option or
# command suggested; --opt=value, --opt value and -- work; the help lists
# exactly the options a command takes; `loco help CMD` is `loco CMD --help`.
# Needs no model and nothing from ../shared.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
here=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state"
export LOCO_REGISTRY="$here/adapters/registry.yaml" LOCO_LOG_DB="$tmp/logs.sqlite"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# expect_error STATUS MESSAGE CMD...: CMD exits STATUS and prints exactly MESSAGE on stderr
expect_error() {
  local want_rc=$1 want=$2 rc=0 err
  shift 2
  err=$("$LOCO" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = "$want_rc" ] || fail "$*: exit $rc, wanted $want_rc ($err)"
  [ "$err" = "$want" ] || fail "$*: said '$err', wanted '$want'"
}

# ---- bad values: one style, naming the option and the value ----------------
expect_error 2 "loco ask: --temperature: 'abc' is not a number" ask --temperature abc x
expect_error 2 "loco ask: --threads: 0 is out of range (1 to 512)" ask --threads=0 x
expect_error 2 "loco chat: --seed: '-1' is not a non-negative integer" chat --seed -1
expect_error 2 "loco logs: -n: 'ten' is not an integer" logs -n ten
expect_error 2 "loco leaderboard: --format: 'pdf' is not one of md, html, json" \
  leaderboard --format pdf
expect_error 2 "loco train: --max-steps: 0 is out of range (1 to 1099511627776)" \
  train --max-steps 0 r.yaml
expect_error 2 "loco route: --model needs a value (NAME|PATH)" route x --model
expect_error 2 "loco models list: --json takes no value" models list --json=yes

# ---- unknown options, with the nearest one ----------------------------------
expect_error 2 "loco ask: unknown option '--jsn'; did you mean '--json'? (see loco ask --help)" \
  ask --jsn x
expect_error 2 \
  "loco route: unknown option '--regstry=x'; did you mean '--registry'? (see loco route --help)" \
  route --regstry=x q
expect_error 2 "loco logs: unknown option '--zebra' (see loco logs --help)" logs --zebra
# commands no longer accept options they ignore: route does not sample
expect_error 2 "loco route: unknown option '--temperature' (see loco route --help)" \
  route --temperature 0 q
expect_error 2 "loco report eval: unexpected argument 'b' (see loco report eval --help)" \
  report eval a b
expect_error 2 "loco eval: unknown option '--top-k' (see loco eval --help)" eval --top-k 5 a.gguf

# ---- eval: --registry is a FILE; where the scores go is --record-in ---------
expect_error 2 "loco eval: --record-in: 'disk' is not one of user, project, none" \
  eval --record-in disk a.gguf
expect_error 2 \
  "loco eval: --record-in user: --registry FILE reads no user overlay (the scores go to FILE)" \
  eval --registry "$LOCO_REGISTRY" --record-in user a.gguf
expect_error 2 "loco eval: --registry none is the old --record-in; give one" \
  eval --registry none --record-in none a.gguf
"$LOCO" eval --help > "$tmp/help"
grep -q '^  --record-in user|project|none' "$tmp/help" || fail "eval --help: --record-in"

# ---- unknown commands and subcommands, with the nearest one -----------------
expect_error 2 "loco: unknown command 'aks'; did you mean 'ask'? (see loco --help)" aks
expect_error 2 "loco: unknown command 'frobnicate' (see loco --help)" frobnicate
expect_error 2 \
  "loco models: unknown subcommand 'lst'; did you mean 'list'? (see loco models --help)" \
  models lst

# ---- value forms and -- -----------------------------------------------------
q="A baker sells 12 cakes a day. How many cakes does she sell in a week?"
no_ms() { field 'sorted((k, v) for k, v in d.items() if k != "ms")'; }  # ms varies
a=$("$LOCO" route --json --router keyword "$q" 2>/dev/null | no_ms)
b=$("$LOCO" route --json --router=keyword --registry="$LOCO_REGISTRY" "$q" 2>/dev/null | no_ms)
c=$("$LOCO" route "$q" --router keyword --json 2>/dev/null | no_ms) # options after the query too
[ "$a" = "$b" ] || fail "--opt=value differs from --opt value: $a / $b"
[ "$a" = "$c" ] || fail "options after the query differ: $a / $c"
case "$a" in *"('domain', 'math')"*) ;; *) fail "route: $a";; esac
# after --, an argument that looks like an option is the query
out=$("$LOCO" route --json -- "--json")
[ "$(echo "$out" | field 'd["query"]')" = "--json" ] || fail "-- did not end the options: $out"

# ---- help: generated from the table, only the options a command takes -------
"$LOCO" help ask > "$tmp/help-ask"
"$LOCO" ask --help > "$tmp/ask-help"
cmp -s "$tmp/help-ask" "$tmp/ask-help" || fail "loco help ask differs from loco ask --help"
grep -q '^  --temperature T  ' "$tmp/help-ask" || fail "ask --help lacks --temperature"
grep -q '^  --router NAME  ' "$tmp/help-ask" || fail "ask --help lacks --router"
for cmd in route "models list" "report trend" leaderboard feedback promote logs train; do
  # shellcheck disable=SC2086
  "$LOCO" help $cmd > "$tmp/help" || fail "loco help $cmd"
  grep -q '^usage: loco' "$tmp/help" || fail "loco help $cmd: no usage"
  if grep -q -- '--temperature\|--top-p\|^sampling:' "$tmp/help"; then
    fail "loco help $cmd lists sampling options it does not take"
  fi
done
"$LOCO" route --help > "$tmp/help"
grep -q '^  --registry FILE  ' "$tmp/help" || fail "route --help lacks --registry"
"$LOCO" help models pull > "$tmp/help"
grep -q -- '--sha256 HEX' "$tmp/help" || fail "loco help models pull"
"$LOCO" help > "$tmp/help"
grep -q '^  ask ' "$tmp/help" || fail "loco help alone lists the commands"
expect_error 2 "loco: unknown command 'akk'; did you mean 'ask'? (see loco --help)" help akk

# ---- --registry FILE means the same everywhere: that file alone -------------
mkdir -p "$XDG_DATA_HOME/locollm"
printf 'schema_version: 2\nnot yaml: [\n' > "$XDG_DATA_HOME/locollm/registry.yaml" # a broken overlay
if "$LOCO" leaderboard >/dev/null 2>&1; then fail "the broken overlay was not read"; fi
"$LOCO" leaderboard --registry "$LOCO_REGISTRY" >/dev/null || fail "leaderboard --registry read the overlay"
"$LOCO" route --registry "$LOCO_REGISTRY" "$q" >/dev/null 2>&1 || fail "route --registry read the overlay"
"$LOCO" adapters list --registry "$LOCO_REGISTRY" >/dev/null || fail "adapters list --registry"
json=$("$LOCO" registry validate --no-files --json --registry "$LOCO_REGISTRY")
[ "$(echo "$json" | field 'd["ok"], d["problems"]')" = "True []" ] || fail "validate --json: $json"
rc=0
json=$("$LOCO" registry validate --no-files --json --merged 2>/dev/null) || rc=$?
[ "$rc" = 1 ] || fail "validate --merged with a broken overlay: exit $rc"
[ "$(echo "$json" | field 'd["ok"]')" = False ] || fail "validate --merged --json: $json"
# ---- --json where there is machine output: bench, train ----------------------
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
if [ -f "$model" ]; then
  json=$("$LOCO" bench --model "$model" --threads 1 -p 16 -n 4 -r 1 --no-stream --json)
  [ "$(echo "$json" | field 'd["results"][0]["threads"]')" = 1 ] || fail "bench --json: $json"
  echo "$json" | field 'd["results"][0]["tg"]["tokens_per_s"] > 0' | has True \
    || fail "bench --json tg: $json"
  for i in 0 1 2 3 4 5 6 7; do printf '{"q":"Who is %d?","a":"A dog."}\n' "$i"; done > "$tmp/d.jsonl"
  cat > "$tmp/r.yaml" <<YAML
name: tiny
domain: testing
base: $model
chat_template: chatml
data: {path: $tmp/d.jsonl, format: fields, prompt: "{q}", response: "{a}", validation: 2}
lora: {rank: 2, alpha: 4, targets: [q]}
training: {max_steps: 2, batch: 2, seed: 1, threads: 1, checkpoint_every: 0}
output: {dir: out, samples: 0}
YAML
  # a registry named with --registry is never silently dropped (ask would answer unrouted)
  if err=$("$LOCO" ask --model "$model" --chat-template chatml --max-tokens 2 --no-log \
             --registry "$tmp/nosuch.yaml" "Once upon a time" 2>&1); then
    fail "ask --registry nosuch: exit 0"
  fi
  case "$err" in "loco ask: cannot read the registry"*nosuch.yaml*) ;; *) fail "ask --registry: $err";; esac
  json=$("$LOCO" train --dry-run --json "$tmp/r.yaml" 2>/dev/null)
  [ "$(echo "$json" | field 'd["data"]["train"] + d["data"]["validation"]')" = 8 ] \
    || fail "train --dry-run --json: $json"
else
  skip_part "the bench and train --json checks: $model not found"
fi
test_done
