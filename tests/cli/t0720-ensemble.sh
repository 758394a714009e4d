#!/usr/bin/env bash
# The ensemble strategy (docs/strategies.md) from the command line, on the
# tiny stories260K model with two adapters trained here: reddog (60 steps,
# answers "The big red dog ran to the park.") and pup (3 steps, still
# answers otherwise). The routed domain's adapters that may serve each
# answer, batched as one decode; each member's answer is its answer alone;
# they vote, and a tie goes to the best-ranked (the leaderboard's rank);
# a domain with one servable adapter gets the base model as second voter;
# the registry's min_vote_share / below_threshold and --min-share decide
# below the threshold; /strategy ensemble works in the chat.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
export LOCO_SHARED_DIR="${LOCO_SHARED_DIR:-../shared}"
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1

# names the parser refuses, before any model is opened
for bad in ensemble: ensemble:1 ensemble:48 ensembles; do
  if err=$("$LOCO" ask --model /nonexistent.gguf --strategy "$bad" "hi" 2>&1); then
    fail "ask --strategy $bad accepted"
  fi
  case "$err" in *"ensemble, ensemble:N"*) ;; *) fail "ask --strategy $bad: $err";; esac
done

if [ ! -f "$model" ]; then
  skip_all "$model not found"
fi
command -v python3 >/dev/null || skip_all "python3 (reads the JSON) not found"
LOCO_SHARED_DIR=$(cd "$LOCO_SHARED_DIR" && pwd)
model="$LOCO_SHARED_DIR/fixtures/models/stories260K.gguf"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/lib-reddog.sh"
train_reddog "$work" "$model"
"$LOCO" train --max-steps 3 --out "$work/pup" "$work/r.yaml" > /dev/null 2> "$work/pup.err" ||
  { cat "$work/pup.err"; fail "train pup"; }
mkdir -p "$work/reg"
cp "$work/out/reddog.gguf" "$work/reg/reddog.gguf"
cp "$work/pup/reddog.gguf" "$work/reg/pup.gguf"
msha=$(sha256sum "$model" | cut -d' ' -f1)

# registry SCORE_REDDOG SCORE_PUP PUP_PASSED [DOMAIN_EXTRA]
registry() {
  local a
  cat > "$work/reg/registry.yaml" <<YAML
schema_version: 2
base_model: {name: stories260K, file: stories260K.gguf, sha256: $msha, architecture: llama, academic_year: "2026"}
domains:
  testing: {primary_benchmark: custom${4:-}}
adapters:
YAML
  for a in reddog:$1:true pup:$2:$3; do
    IFS=: read -r name score passed <<< "$a"
    cat >> "$work/reg/registry.yaml" <<YAML
  - name: $name
    domain: testing
    version: 1.0.0
    file: $name.gguf
    sha256: $(sha256sum "$work/reg/$name.gguf" | cut -d' ' -f1)
    base_sha256: $msha
    lora: {rank: 4, alpha: 8, targets: [q, v, o, down]}
    provenance: {recipe: ../r.yaml, data: generated, seed: 3, semester: 2026-S2, authors: [test]}
    router: {keywords: [who is here], examples: ["Who is here?"]}
    status: candidate
    scores: [{benchmark: custom, score: $score, ci_low: 0, ci_high: 1, base_score: 0.1, p_value: 0.01, passed: $passed, n_items: 50, record: r.json}]
YAML
  done
}
q="Who is here 101?"
opts=(--model "$model" --chat-template chatml --max-tokens 12 --registry "$work/reg/registry.yaml"
      --router keyword)
alone() { "$LOCO" ask --model "$model" --chat-template chatml --max-tokens 12 --temperature 0 \
            --adapter "$1" "$q" 2>/dev/null; }
ens() { "$LOCO" ask "${opts[@]}" --strategy ensemble "$@" "$q"; }

# 1. both adapters serve (both passed); reddog ranks first. Each member's
# answer is its answer alone; they differ, so the tie goes to reddog
registry 0.9 0.5 true
j=$(ens --json)
[ "$(echo "$j" | field '[m["name"] for m in d["vote"]["members"]]')" = "['reddog', 'pup']" ] ||
  fail "members: $j"
[ "$(echo "$j" | field '[m["rank"] for m in d["vote"]["members"]]')" = "[1, 2]" ] || fail "ranks: $j"
red=$(alone "$work/reg/reddog.gguf"); pup=$(alone "$work/reg/pup.gguf")
[ "$red" != "$pup" ] || fail "reddog and pup answer alike: '$red'"
[ "$(echo "$j" | field 'd["vote"]["members"][0]["answer"]')" = "$red" ] || fail "reddog: $j vs '$red'"
[ "$(echo "$j" | field 'd["vote"]["members"][1]["answer"]')" = "$pup" ] || fail "pup: $j vs '$pup'"
[ "$(echo "$j" | field 'd["vote"]["votes"]')" = "[1, 1]" ] || fail "votes: $j"
[ "$(echo "$j" | field 'd["vote"]["winner_member"]')" = reddog ] || fail "tie: $j"
[ "$(echo "$j" | field 'd["answer"]')" = "$red" ] || fail "answer: $j"
[ "$(echo "$j" | field 'd["vote"]["share"]')" = 0.5 ] || fail "share: $j"
[ "$(echo "$j" | field 'd["strategy"]')" = ensemble ] || fail "strategy: $j"
err=$(ens 2>&1 >/dev/null)
case "$err" in *"[reddog "*" ensemble]"*) ;; *) fail "label: $err";; esac
case "$err" in *"(ensemble of 2: reddog #1 0.50, pup #2 0.50; reddog's answer chosen, vote share 0.50)"*) ;;
  *) fail "stderr: $err";; esac

# pup ranked first wins the tie; ensemble:1 member is refused, ensemble:2 is both
registry 0.4 0.95 true
j=$(ens --json)
[ "$(echo "$j" | field 'd["vote"]["winner_member"]')" = pup ] || fail "tie to pup: $j"
[ "$(echo "$j" | field 'd["answer"]')" = "$pup" ] || fail "pup's answer: $j"
j=$("$LOCO" ask "${opts[@]}" --json --strategy ensemble:2 "$q")
[ "$(echo "$j" | field 'd["strategy"]')" = ensemble:2 ] || fail "ensemble:2: $j"
[ "$(echo "$j" | field 'len(d["vote"]["members"])')" = 2 ] || fail "ensemble:2 members: $j"

# 2. pup has not passed its gate: reddog alone may serve, the base model votes
# too (and loses the tie); --serve-candidates brings pup back
registry 0.9 0.5 false
j=$(ens --json)
[ "$(echo "$j" | field '[m["name"] for m in d["vote"]["members"]]')" = "['reddog', 'base model']" ] ||
  fail "with the base model: $j"
[ "$(echo "$j" | field 'd["vote"]["base_model_added"]')" = True ] || fail "base_model_added: $j"
base=$("$LOCO" ask --model "$model" --chat-template chatml --max-tokens 12 --temperature 0 \
       --no-route "$q" 2>/dev/null)
[ "$(echo "$j" | field 'd["vote"]["members"][1]["answer"]')" = "$base" ] || fail "base: $j vs '$base'"
err=$(ens 2>&1 >/dev/null)
case "$err" in *"reddog is the only adapter of the domain that may serve; the base model votes too"*) ;;
  *) fail "stderr with the base model: $err";; esac
j=$(ens --json --serve-candidates)
[ "$(echo "$j" | field '[m["name"] for m in d["vote"]["members"]]')" = "['reddog', 'pup']" ] ||
  fail "--serve-candidates: $j"

# 3. the domain's threshold: share 0.5 is below 0.6, so it falls back to the
# base model answering plain; --min-share 0.5 (exactly the share) passes;
# --below abstain overrides the registry
registry 0.9 0.5 true ", min_vote_share: 0.6, below_threshold: fallback"
j=$(ens --json --seed 5)
[ "$(echo "$j" | field 'd["vote"]["fallback"]')" = True ] || fail "fallback: $j"
plain=$("$LOCO" ask --model "$model" --chat-template chatml --max-tokens 12 --seed 5 --no-route \
        "$q" 2>/dev/null)
[ "$(echo "$j" | field 'd["answer"]')" = "$plain" ] || fail "fallback answer: $j vs '$plain'"
err=$(ens --seed 5 2>&1 >/dev/null)
case "$err" in *"vote share 0.50 is below 0.60: the base model answers, plain"*) ;;
  *) fail "fallback stderr: $err";; esac
j=$(ens --json --min-share 0.5)
[ "$(echo "$j" | field 'd["vote"]["confident"]')" = True ] || fail "at the threshold: $j"
[ "$(echo "$j" | field 'd["answer"]')" = "$red" ] || fail "at the threshold answer: $j"
j=$(ens --json --below abstain)
[ "$(echo "$j" | field 'd["answer"]')" = "I am not sure." ] || fail "--below abstain: $j"
[ "$(echo "$j" | field 'd["vote"]["hint"]')" = "$red" ] || fail "abstain hint: $j"
registry 0.9 0.5 true ", min_vote_share: 2"
if err=$("$LOCO" registry validate "$work/reg/registry.yaml" 2>&1); then
  fail "min_vote_share 2 validated"
fi
case "$err" in *"domains.testing.min_vote_share"*"from 0 to 1"*) ;; *) fail "validate: $err";; esac

# 4. the chat: /strategy ensemble on a routed message, the vote on stderr;
# not routed (--no-route), it is answered plain and says why
registry 0.9 0.5 true
out=$(printf '/strategy ensemble\n%s\n/quit\n' "$q" |
      "$LOCO" chat "${opts[@]}" 2>&1)
case "$out" in *"(ensemble of 2: reddog #1 0.50, pup #2 0.50; reddog's answer chosen"*) ;;
  *) fail "chat ensemble: $out";; esac
out=$(printf '%s\n/quit\n' "$q" | "$LOCO" chat "${opts[@]}" --no-route --strategy ensemble 2>&1)
case "$out" in *"ensemble: the adapters of the routed domain vote"*"answered plain"*) ;;
  *) fail "chat ensemble unrouted: $out";; esac

test_done
