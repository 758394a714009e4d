#!/usr/bin/env bash
# Strategies (docs/strategies.md) from the command line: --strategy on ask
# and eval, /strategy in chat; bad names are refused with the known list.
# Runs on the tiny stories260K model (it never writes a calculator
# annotation: tests/test-strategy.c drives the calculator itself).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
model="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1

# 1. names the parser refuses, before any model is opened
for bad in nosuch sc sc:0 sc:1 sc:x sc:48 usc "re2+re2"; do
  if err=$("$LOCO" ask --model /nonexistent.gguf --strategy "$bad" "hi" 2>&1); then
    fail "ask --strategy $bad accepted"
  else
    rc=$?
  fi
  [ "$rc" = 2 ] || fail "ask --strategy $bad: exit $rc, want 2 ($err)"
  case "$err" in *"plain, re2, calc, re2+calc"*) ;; *) fail "ask --strategy $bad: $err";; esac
done
if err=$("$LOCO" eval math --strategy nosuch 2>&1); then fail "eval --strategy nosuch accepted"; fi
case "$err" in *"unknown strategy 'nosuch'"*) ;; *) fail "eval --strategy nosuch: $err";; esac
if err=$("$LOCO" eval math --strategy calc --record-in project 2>&1); then
  fail "eval --strategy with --record-in project accepted"
fi
case "$err" in *"--record-in"*) ;; *) fail "eval --strategy --record-in: $err";; esac
if err=$("$LOCO" chat --strategy nosuch </dev/null 2>&1); then fail "chat --strategy nosuch accepted"; fi
case "$err" in *"unknown strategy"*) ;; *) fail "chat --strategy nosuch: $err";; esac
# ensemble in eval: the members answer alone at scale 1 (t0725); --below takes two words
if err=$("$LOCO" eval math --strategy ensemble --scale 0.5 2>&1); then
  fail "eval --strategy ensemble --scale accepted"
fi
case "$err" in *"no --scale"*) ;; *) fail "eval --strategy ensemble --scale: $err";; esac
if err=$("$LOCO" ask --model /nonexistent.gguf --below maybe "hi" 2>&1); then
  fail "ask --below maybe accepted"
fi
case "$err" in *"abstain or fallback"*) ;; *) fail "ask --below maybe: $err";; esac
if err=$("$LOCO" ask --model /nonexistent.gguf --min-share 1.5 "hi" 2>&1); then
  fail "ask --min-share 1.5 accepted"
fi

if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi

# 2. ask: the strategy is in the JSON, re2 asks the question twice, the
# label on stderr names a strategy other than plain
ask() { "$LOCO" ask --model "$model" --raw --no-route --temperature 0 --max-tokens 8 "$@"; }
plain=$(ask --json "Once upon a time")
calc=$(ask --json --strategy calc "Once upon a time")
re2=$(ask --json --strategy re2 "Once upon a time")
grep -q '"strategy":[[:space:]]*"calc"' <<<"$calc" || fail "ask --strategy calc json: $calc"
grep -q '"strategy":[[:space:]]*"plain"' <<<"$plain" || fail "ask plain json: $plain"
prompt_of() { echo "$1" | tr -d '\n\t ' | sed -n 's/.*"tokens":{"prompt":\([0-9]*\).*/\1/p'; }
p0=$(prompt_of "$plain"); p1=$(prompt_of "$re2")
[ -n "$p0" ] && [ -n "$p1" ] || fail "no prompt token counts: $plain / $re2"
[ "$p1" -gt $((2 * p0 - 1)) ] || fail "re2 prompt has $p1 tokens, plain $p0: not read twice"
# calc changes nothing when no annotation is written
a0=$(ask "Once upon a time" 2>/dev/null); a1=$(ask --strategy calc "Once upon a time" 2>/dev/null)
[ "$a0" = "$a1" ] || fail "calc changed an answer without annotations: '$a0' vs '$a1'"
label=$(ask --strategy re2+calc "Once upon a time" 2>&1 >/dev/null)
case "$label" in *"[base model "*" re2+calc]"*) ;; *) fail "ask label: $label";; esac

# sc:K: K sampled answers, one chosen by the vote; all of them in the JSON,
# the same for the same seed
sc=$(ask --json --strategy sc:3 --seed 7 --temperature 1 "Once upon a time")
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
if command -v python3 >/dev/null; then
  [ "$(echo "$sc" | field 'd["strategy"]')" = "sc:3" ] || fail "sc json strategy: $sc"
  [ "$(echo "$sc" | field 'len(d["vote"]["answers"])')" = 3 ] || fail "sc json answers: $sc"
  [ "$(echo "$sc" | field 'd["answer"] == d["vote"]["answers"][d["vote"]["winner"]]')" = True ] \
    || fail "sc: the answer is not the winner's: $sc"
  [ "$(echo "$sc" | field 'len(set(d["vote"]["answers"])) > 1')" = True ] \
    || fail "sc: three identical sampled answers: $sc"
  again=$(ask --json --strategy sc:3 --seed 7 --temperature 1 "Once upon a time")
  [ "$(echo "$again" | field 'd["vote"]')" = "$(echo "$sc" | field 'd["vote"]')" ] \
    || fail "sc with the same seed differs"
else
  skip_part "python3 (reads the sc JSON) not found"
fi
out=$(ask --strategy usc:2 --seed 7 "Once upon a time" 2>&1)
case "$out" in *"(usc:2: answer "[12]" of 2 chosen, vote share "*) ;; *) fail "usc: $out";; esac

# the vote share's threshold: three different answers (share 1/3) pass
# --min-share 0.33 (at the threshold: 0.333.. >= 0.33), not 0.34; below it
# the answer abstains (the best one as a hint) or falls back to the base
# model answering plain (here the same model: its plain answer)
sc3() { ask --strategy sc:3 --seed 7 --temperature 1 "$@" "Once upon a time"; }
if command -v python3 >/dev/null; then
  [ "$(echo "$sc" | field 'd["vote"]["votes"]')" = "[1, 1, 1]" ] || fail "sc votes: $sc"
  j=$(sc3 --json --min-share 0.33)
  [ "$(echo "$j" | field 'd["vote"]["confident"]')" = True ] || fail "share 1/3 at 0.33: $j"
  [ "$(echo "$j" | field 'd["answer"]')" = "$(echo "$sc" | field 'd["answer"]')" ] \
    || fail "a confident answer changed: $j"
  j=$(sc3 --json --min-share 0.34)
  [ "$(echo "$j" | field 'd["answer"]')" = "I am not sure." ] || fail "abstain: $j"
  [ "$(echo "$j" | field 'd["vote"]["abstained"] and d["vote"]["hint"] == d["vote"]["answers"][d["vote"]["winner"]]')" = True ] \
    || fail "abstain hint: $j"
  j=$(sc3 --json --min-share 0.34 --below fallback)
  [ "$(echo "$j" | field 'd["vote"]["fallback"]')" = True ] || fail "fallback: $j"
  [ "$(echo "$j" | field 'd["answer"]')" = "$(ask --temperature 1 --seed 7 "Once upon a time" 2>/dev/null)" ] \
    || fail "fallback is not the plain answer: $j"
fi
out=$(sc3 --min-share 0.5 2>&1 >/dev/null)
case "$out" in *"vote share 0.33 is below 0.50: not sure; the best answer was: "*) ;;
  *) fail "abstain stderr: $out";; esac
[ "$(sc3 --min-share 0.5 2>/dev/null)" = "I am not sure." ] || fail "abstain stdout"

# 3. chat: /strategy sets, shows, refuses and goes back to the default
out=$(printf '/strategy\n/strategy calc\n/strategy\n/strategy nosuch\n/strategy sc:3\nOnce upon a time\n/strategy auto\n/quit\n' | \
      "$LOCO" chat --model "$model" --chat-template chatml --no-route --temperature 0 \
      --max-tokens 4 2>&1)
echo "$out"
case "$out" in *"(strategy: each domain's default)"*"(strategy: calc)"*"(strategy: calc)"*) ;;
  *) fail "chat /strategy: $out";; esac
case "$out" in *"unknown strategy 'nosuch'"*) ;; *) fail "chat /strategy nosuch: $out";; esac
# sc:3 in the chat: three answers, the vote on stderr
case "$out" in *"(strategy: sc:3)"*) ;; *) fail "chat /strategy sc:3: $out";; esac
case "$out" in *"(sc:3: answer "[123]" of 3 chosen, vote share "*) ;;
  *) fail "chat sc:3 vote line: $out";; esac
case "$out" in *"(each domain's default strategy)"*) ;; *) fail "chat /strategy auto: $out";; esac
out=$(printf 'Once upon a time\n/quit\n' | "$LOCO" chat --model "$model" --chat-template chatml \
      --no-route --strategy re2 --temperature 0 --max-tokens 4 2>&1)
case "$out" in *"[base model "*" re2]"*) ;; *) fail "chat --strategy re2 label: $out";; esac

# 4. the registry's default for the routed domain (domains[].strategy), which
# --strategy overrides; a registry naming an unknown strategy is refused.
# The domain's only adapter is not a GGUF file: the base model answers, but
# the route, and with it the domain's strategy, stand.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
msha=$(sha256sum "$model" | cut -d' ' -f1)
printf 'not a gguf file\n' > "$work/broken.gguf"
asha=$(sha256sum "$work/broken.gguf" | cut -d' ' -f1)
registry() { # STRATEGY
  cat > "$work/registry.yaml" <<YAML
schema_version: 2
base_model: {name: stories260K, file: stories260K.gguf, sha256: $msha, architecture: llama, academic_year: "2026"}
domains:
  testing: {primary_benchmark: custom, strategy: $1}
adapters:
  - name: broken
    domain: testing
    version: 1.0.0
    file: broken.gguf
    sha256: $asha
    base_sha256: $msha
    lora: {rank: 4, alpha: 8, targets: [q, v]}
    provenance: {recipe: ../r.yaml, data: generated, seed: 3, semester: 2026-S2, authors: [test]}
    router: {keywords: [who is here], examples: ["Who is here?"]}
    status: candidate
YAML
}
routed() {
  "$LOCO" ask --model "$model" --raw --registry "$work/registry.yaml" --serve-candidates \
    --router keyword --temperature 0 --max-tokens 4 "$@" "Who is here?"
}
registry re2
label=$(routed 2>&1 >/dev/null | grep '^\[')
case "$label" in "[testing -> base model: "*" re2]") ;; *) fail "registry default: $label";; esac
label=$(routed --strategy calc 2>&1 >/dev/null | grep '^\[')
case "$label" in *" calc]") ;; *) fail "--strategy over the default: $label";; esac
routed --json --strategy plain 2>/dev/null | has '"strategy":[[:space:]]*"plain"' \
  || fail "--strategy plain over the default"
registry nosuch
if err=$("$LOCO" registry validate "$work/registry.yaml" 2>&1); then
  fail "a registry with strategy nosuch validated: $err"
fi
case "$err" in *"domains.testing.strategy"*"unknown strategy 'nosuch'"*) ;;
  *) fail "registry validate: $err";; esac

test_done
