#!/usr/bin/env bash
# loco adapters merge (docs/composition.md):
#   - bad command lines are refused before any model is read, and write
#     nothing;
#   - with the default model and the project's math and code adapters: the
#     exact linear merge math:0.5 code:0.5 answers as the run-time set
#     math:0.5,code:0.5 does, --rank and ties report the kept energy, --json
#     reads back, and a missing adapter, an existing output and a base
#     mismatch are refused leaving no output file.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$work/new.gguf

# refused: exit 2 (a bad command line), message, no file
refuse() { # WORDS ARGS...
  local words=$1 err rc
  shift
  if err=$("$LOCO" adapters merge "$@" 2>&1); then fail "accepted: merge $*"; else rc=$?; fi
  [ "$rc" = 2 ] || fail "merge $*: exit $rc, want 2 ($err)"
  case "$err" in *"$words"*) ;; *) fail "merge $*: message lacks '$words': $err";; esac
  [ ! -e "$out" ] || fail "merge $* left $out"
}

# 1. the command line, before any model is opened
refuse "'slerp' is not one of linear, ties, dare" math code --method slerp -o "$out"
refuse "scale 'lots'" math:lots code -o "$out"
refuse "scale 'inf'" math:inf code -o "$out"
refuse "give -o NEW.gguf" math code
refuse "which adapters?" -o "$out"
refuse "--density and --seed are for --method ties or dare" math code --density 0.5 -o "$out"
refuse "--seed is for --method dare" math code --method ties --seed 3 -o "$out"
refuse "0 keeps nothing" math code --method dare --density 0 -o "$out"
refuse "--density: 2 is out of range" math code --method ties --density 2 -o "$out"
refuse "--rank: 0 is out of range" math code --rank 0 -o "$out"
help=$("$LOCO" help adapters)
case "$help" in *"merge"*"TIES or DARE"*) ;; *) fail "loco help adapters lacks merge: $help";; esac
help=$("$LOCO" adapters merge --help)
case "$help" in *"--method linear|ties|dare"*"not registered"*) ;; *) fail "merge --help: $help";; esac

# 2. with the default model and the project's adapters
model=$("$LOCO" models path default 2>/dev/null) || model=
math=$src/adapters/math/math.gguf
code=$src/adapters/code/code.gguf
if [ -z "$model" ] || [ ! -f "$model" ]; then
  skip_all "the default model is not in the model cache (loco models pull default)"
fi
if [ ! -f "$math" ] || [ ! -f "$code" ]; then
  skip_all "$math or $code not found"
fi

res=$("$LOCO" adapters merge "$math:0.5" "$code:0.5" -o "$out")
echo "$res"
[ -s "$out" ] || fail "no file written"
case "$res" in *"merged: $out"*"rank     32 (exact"*"not registered"*) ;; *) fail "merge output: $res";; esac
ask() { "$LOCO" ask --temperature 0 --max-tokens 16 "$@" "What is 12 times 7?"; }
merged=$(ask --adapter "$out" 2>"$work/ask.err")
set_answer=$(ask --adapter "$math:0.5,$code:0.5" 2>/dev/null)
base=$(ask --no-route 2>/dev/null)
echo "merged: $merged"
echo "set:    $set_answer"
[ -n "$merged" ] || fail "no answer with the merged adapter"
[ "$merged" = "$set_answer" ] || fail "merged and set answers differ"
[ "$merged" != "$base" ] || fail "the merged adapter did not change the base answer"
grep -q "^\[new\]" "$work/ask.err" || fail "ask does not name the merged adapter: $(cat "$work/ask.err")"

# --rank and --json: a truncated merge keeps part of the energy
json=$("$LOCO" adapters merge "$math:0.5" "$code:0.5" --rank 8 --json -o "$work/r8.gguf")
echo "$json"
grep -q '"rank":[[:space:]]*8' <<<"$json" || fail "--json rank: $json"
grep -q '"exact":[[:space:]]*false' <<<"$json" || fail "--json exact: $json"
kept=$(echo "$json" | sed -n 's/.*"energy_kept":[[:space:]]*\([0-9.e-]*\).*/\1/p')
awk -v k="$kept" 'BEGIN { exit !(k > 0.5 && k < 1) }' || fail "energy_kept $kept not in (0.5, 1)"
ask --adapter "$work/r8.gguf" >/dev/null 2>&1 || fail "the rank-8 merge does not load"

# ties, by name, with a name and domain of its own
res=$(LOCO_ADAPTERS_DIR=$work/none "$LOCO" adapters merge math code --method ties --density 0.3 \
      --rank 4 --name mathcode --domain mixed -o "$work/ties.gguf")
echo "$res"
case "$res" in *"ties (density 0.3)"*"rank     4"*"kept"*) ;; *) fail "ties output: $res";; esac
# the GGUF's keys record the merge (plain strings in the file's header)
for want in locollm.merge.method locollm.merge.sources math,code locollm.merge.density mathcode mixed; do
  LC_ALL=C grep -a -q "$want" "$work/ties.gguf" || fail "'$want' not in the ties file's metadata"
done

# refusals that need the files, leaving no output
if err=$("$LOCO" adapters merge "$math" "$work/nosuch.gguf" -o "$out.2" 2>&1); then
  fail "a missing adapter accepted"
fi
case "$err" in *"no such adapter file"*) ;; *) fail "missing adapter message: $err";; esac
[ ! -e "$out.2" ] || fail "a failed merge left a file"
before=$(cksum <"$out")
if err=$("$LOCO" adapters merge "$math" "$code" -o "$out" 2>&1); then fail "overwrote without --force"; fi
case "$err" in *"already exists"*--force*) ;; *) fail "overwrite message: $err";; esac
[ "$(cksum <"$out")" = "$before" ] || fail "the existing file changed"
"$LOCO" adapters merge "$math" "$code" -o "$out" --force >/dev/null || fail "--force refused"
stories="${LOCO_SHARED_DIR:-../shared}/fixtures/models/stories260K.gguf"
if [ -f "$stories" ]; then
  if err=$("$LOCO" adapters merge "$math" "$code" --model "$stories" -o "$out.3" 2>&1); then
    fail "adapters of another base accepted"
  fi
  case "$err" in *"trained for the base model with sha256"*) ;; *) fail "base mismatch message: $err";; esac
  [ ! -e "$out.3" ] || fail "a base mismatch left a file"
else
  skip_part "the base mismatch check: $stories not found"
fi
test_done
