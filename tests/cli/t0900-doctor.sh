#!/usr/bin/env bash
# loco doctor: a healthy run lists every section and exits 0 (and --json
# says the same); then, in a temporary environment (its own model cache,
# user data folder and classifier file), a damaged model, a missing model,
# a malformed overlay and a router file made for another model are each
# reported with their fix and exit 1. The shipped registry and the real
# default model are read, never written.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# usage
set +e
"$LOCO" doctor extra >/dev/null 2>&1; [ $? -eq 2 ] || fail "a stray argument should exit 2"
"$LOCO" doctor --frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "an unknown option should exit 2"
set -e
"$LOCO" doctor --help | has "usage: loco doctor" || fail "--help"

model=$("$LOCO" models path default 2>/dev/null) ||
  skip_all "the default model is not in the cache (loco models pull default)"
command -v python3 >/dev/null || skip_all "python3 (reads the --json output)"

# the environment every run below starts from: the project's registry, no
# overlay, a model cache holding a copy of the default model
export LOCO_PROJECT_DIR="$src" XDG_DATA_HOME="$tmp/data" LOCO_MODELS_DIR="$tmp/models"
unset LOCO_REGISTRY LOCO_ROUTER_CLASSIFIER LOCO_ROUTER_CONFIDENCE
mkdir -p "$XDG_DATA_HOME" "$LOCO_MODELS_DIR"
cp "$model" "$LOCO_MODELS_DIR/"
copy="$LOCO_MODELS_DIR/$(basename "$model")"
sections="cpu cores memory disk registry models router sandbox libraries"

# json_check FILE EXPR: EXPR (Python, over the object j) must hold
json_check() {
  python3 - "$1" "$2" <<'PY' || fail "json: $2 (in $1)"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# 1. healthy: every section, no problem, exit 0
out=$("$LOCO" doctor) || fail "healthy run exited $?: $out"
echo "$out"
for s in $sections; do
  grep -qE "^$s +[^ ]" <<<"$out" || fail "section $s missing"
done
grep -q "^ok: no problems" <<<"$out" || fail "no verdict"
grep -q "1 known model verified by sha256" <<<"$out" || fail "the default model not verified"
grep -q "^router .*opens on the registry's base model" <<<"$out" || fail "router not opened"
"$LOCO" doctor --json >"$tmp/ok.json" || fail "healthy --json exited $?"
json_check "$tmp/ok.json" "j['ok'] is True and j['problems'] == []"
json_check "$tmp/ok.json" "sorted(j['sections']) == sorted('$sections'.split())"
json_check "$tmp/ok.json" "[k['state'] for k in j['sections']['models']['known'] if k['name'] == 'default'] == ['verified']"
json_check "$tmp/ok.json" "j['sections']['registry']['overlay_state'] == 'absent' and j['sections']['registry']['problems'] == 0"
json_check "$tmp/ok.json" "j['sections']['router']['state'] == 'ok' and j['sections']['router']['classifier']['exists']"
json_check "$tmp/ok.json" "j['sections']['cpu']['kernels'] in ('scalar', 'avx2', 'avx512vnni')"
json_check "$tmp/ok.json" "j['sections']['cores']['usable'] >= 1 and j['sections']['memory']['total_bytes'] > 0"
json_check "$tmp/ok.json" "j['sections']['disk']['model_cache']['path'] == '$LOCO_MODELS_DIR'"
json_check "$tmp/ok.json" "all(j['sections']['libraries'][k] for k in ('libcurl', 'openssl', 'cjson', 'libyaml', 'sqlite', 'libzip', 'libmicrohttpd', 'openblas'))"
json_check "$tmp/ok.json" "isinstance(j['sections']['sandbox']['network_isolated'], bool)"
# a warning (scalar kernels forced by the environment) is not a problem
out=$(LOCO_KERNELS=scalar "$LOCO" doctor) || fail "a warning made the exit status $?"
grep -q "LOCO_KERNELS=scalar" <<<"$out" || fail "forced kernels not warned about: $out"

# expect_problem FIX TEXT: doctor exits 1, names TEXT and FIX, and --json
# holds a problem with that fix
expect_problem() {
  local fix=$1 text=$2 rc=0
  out=$("$LOCO" doctor) || rc=$?
  [ "$rc" -eq 1 ] || fail "exit status $rc, not 1, for '$text': $out"
  grep -qF -- "$text" <<<"$out" || fail "'$text' not reported: $out"
  echo "$out" | grep "^    fix: " | has -F -- "$fix" || fail "fix '$fix' not given: $out"
  rc=0
  "$LOCO" doctor --json >"$tmp/bad.json" || rc=$?
  [ "$rc" -eq 1 ] || fail "--json exit status $rc, not 1, for '$text'"
  json_check "$tmp/bad.json" "j['ok'] is False and any('$fix' in p['fix'] for p in j['problems'])"
}

# 2. a damaged copy of the default model (same size, ten bytes changed)
printf 'LOCODOCTOR' | dd of="$copy" bs=1 seek=50000000 conv=notrunc status=none
expect_problem "loco models pull default" "the default model $copy is damaged"
json_check "$tmp/bad.json" "[k['state'] for k in j['sections']['models']['known'] if k['name'] == 'default'] == ['damaged']"
json_check "$tmp/bad.json" "j['sections']['router']['state'] == 'not-checked' and len(j['problems']) == 1"

# 3. no model at all: missing, and the router cannot be checked
rm -f "$copy"
expect_problem "loco models pull default" "the default model is missing from $LOCO_MODELS_DIR"
grep -q "^router .*not opened" <<<"$out" || fail "router line without a model: $out"

# the rest reads the real cache again
export LOCO_MODELS_DIR=$(dirname "$model")

# 4. a malformed overlay (a YAML syntax error)
mkdir -p "$XDG_DATA_HOME/locollm"
overlay=$XDG_DATA_HOME/locollm/registry.yaml
printf 'adapters:\n- {name: broken\n' >"$overlay"
expect_problem "mv $overlay $overlay.broken" "your overlay $overlay breaks the registry"
json_check "$tmp/bad.json" "j['sections']['registry']['overlay_state'] == 'unreadable'"

# 5. an overlay that parses but may not set the base model
printf 'base_model: {name: Other}\n' >"$overlay"
expect_problem "edit $overlay" "the user overlay may not set the base model"
rm -f "$overlay"

# 6. a classifier file fitted for another model
sed 's/"model_sha256":"[0-9a-f]\{4\}/"model_sha256":"0000/' "$src/adapters/router-classifier.json" \
  >"$tmp/classifier.json"
cmp -s "$tmp/classifier.json" "$src/adapters/router-classifier.json" && fail "sed changed nothing"
export LOCO_ROUTER_CLASSIFIER=$tmp/classifier.json
expect_problem "loco router loso --data /tmp/pool.jsonl --out $tmp/classifier.json" \
  "was trained on another model"
unset LOCO_ROUTER_CLASSIFIER

# and healthy again
"$LOCO" doctor >/dev/null || fail "not healthy after the repairs"
test_done
