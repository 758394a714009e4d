#!/usr/bin/env bash
# loco migrate --base MODEL --dry-run: with the tiny stories260K model as
# the new base, every shipped adapter is invalid (another base, and shapes
# that do not fit), every record the registry cites is listed as made on
# another base, and so is the classifier file; exit status 3. With a
# copy of the default model changed in one byte (another sha256, the same
# shapes) the adapters are invalid but fit. The current base: nothing to
# redo, 0. Without --dry-run it refuses (2). Nothing is written.
#
# Exit statuses (cli/cmd-migrate.c): 0 MODEL is already the base, 3 the
# listing went through and something must be redone, 1 an error (MODEL or
# the registry unreadable), 2 a bad command line or a missing --dry-run.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_PROJECT_DIR="$src" XDG_DATA_HOME="$tmp/data"
unset LOCO_REGISTRY LOCO_ROUTER_CLASSIFIER LOCO_RESULTS_DIR

# the command line
rc=0; "$LOCO" migrate --dry-run >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no --base: exit $rc, not 2"
rc=0; "$LOCO" migrate --base "$tmp/none.gguf" --dry-run >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a missing model: exit $rc, not 1"
grep -q "none.gguf" "$tmp/err" || fail "the missing model is not named: $(cat "$tmp/err")"

tiny="${LOCO_SHARED_DIR:-$src/../shared}/fixtures/models/stories260K.gguf"
[ -f "$tiny" ] || skip_all "$tiny not found (set LOCO_SHARED_DIR)"
command -v python3 >/dev/null || skip_all "python3 (reads the --json output)"

# without --dry-run: refused, pointing at the guide, nothing changed
before=$(sha256sum "$src/adapters/registry.yaml")
rc=0; "$LOCO" migrate --base "$tiny" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "without --dry-run: exit $rc, not 2"
grep -q "docs/migration.md" "$tmp/err" || fail "the refusal does not name the guide"

# 1. the tiny model as the new base
rc=0; out=$("$LOCO" migrate --base "$tiny" --dry-run) || rc=$?
echo "$out"
[ "$rc" -eq 3 ] || fail "dry run: exit $rc, not 3"
names=$(python3 -c '
import json, subprocess, sys
j = json.loads(subprocess.run([sys.argv[1], "registry", "validate", "--no-files", "--json"],
                              capture_output=True, text=True).stdout)
print(j["adapters"])' "$LOCO")
[ "$names" -ge 6 ] || fail "the shipped registry lists $names adapters"
n_invalid=$(echo "$out" | grep -c "INVALID: trained for another base, and cannot even load" || true)
[ "$n_invalid" -eq "$names" ] || fail "$n_invalid of $names adapters listed as unloadable"
for a in math code writing summarisation; do
  grep -qE "^  $a +INVALID" <<<"$out" || fail "adapter $a not listed"
  grep -q "loco train recipes/$a.yaml" <<<"$out" || fail "no retrain command for $a"
  grep -q "loco eval $a --plan" <<<"$out" || fail "no eval plan command for $a"
done
grep -q "router-classifier.json .*INVALID" <<<"$out" || fail "classifier file not invalid"
grep -q "loco router loso --data" <<<"$out" || fail "no router command"
grep -q "results/2026-S2/math-gsm8k.json .*INVALID.*math:gsm8k" <<<"$out" ||
  fail "the math record is not listed with its score"

"$LOCO" migrate --base "$tiny" --dry-run --json >"$tmp/m.json" || [ $? -eq 3 ] || fail "--json"
python3 - "$tmp/m.json" "$names" <<'PY' || fail "json checks"
import json, sys
j = json.load(open(sys.argv[1]))
assert not j["same_base"]
assert len(j["adapters"]) == int(sys.argv[2])
for a in j["adapters"]:
    assert a["valid"] is False and a["same_base"] is False, a
    assert a["shapes"] == "do-not-fit", a
    assert "576" in a["shapes_why"] and "64" in a["shapes_why"], a
assert j["new_base"]["embedding_length"] == 64 and j["new_base"]["architecture"] == "llama"
recs = j["records"]
cited = [c for r in recs for c in r["cited_by"]]
assert "math:gsm8k" in cited and "code:mbpp" in cited, cited
assert all(not r["made_on_new_base"] for r in recs)
assert any(r["kind"].startswith("locollm-swarm") for r in recs), "the swarm record"
assert j["router"]["classifier"]["exists"] and j["router"]["classifier"]["valid"] is False
assert j["default_model"]["is_new_base"] is False
t = j["to_redo"]
assert t["pin"] and t["default_model"] and t["router"] and t["records"] == len(recs)
assert sorted(t["retrain"]) == sorted(a["name"] for a in j["adapters"])
assert j["nothing_to_redo"] is False
PY
[ "$(sha256sum "$src/adapters/registry.yaml")" = "$before" ] || fail "the registry was changed"

# 2. part way through: a copy of the project whose registry pins the tiny
# model already, its adapters not yet retrained: what is left is listed
mkdir -p "$tmp/proj/adapters" "$tmp/models"
cp "$tiny" "$tmp/models/"
for d in "$src"/adapters/*/; do
  n=$(basename "$d"); [ -f "$d$n.gguf" ] || continue
  mkdir -p "$tmp/proj/adapters/$n"; cp "$d$n.gguf" "$tmp/proj/adapters/$n/"
done
cp "$src/adapters/router-classifier.json" "$tmp/proj/adapters/"
tsha=$(sha256sum "$tiny" | cut -d' ' -f1)
python3 - "$src/adapters/registry.yaml" "$tmp/proj/adapters/registry.yaml" "$tsha" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r"base_model:\n(  .*\n)+", "base_model:\n  name: stories260K\n  file: stories260K.gguf\n"
           "  sha256: %s\n  architecture: llama\n  academic_year: '2027'\n" % sys.argv[3], s, count=1)
open(sys.argv[2], "w").write(s)
PY
rc=0
out=$(LOCO_PROJECT_DIR="$tmp/proj" LOCO_MODELS_DIR="$tmp/models" "$LOCO" migrate --base stories260K.gguf --dry-run) || rc=$?
[ "$rc" -eq 3 ] || fail "part way: exit $rc, not 3: $out"
grep -q "the registry's base_model is the new base already" <<<"$out" || fail "part way, pin: $out"
grep -q "pin the new base" <<<"$out" && fail "part way: the pin is asked for again: $out"
grep -qE "^  code +INVALID" <<<"$out" || fail "part way, adapters: $out"
grep -q "loco router loso" <<<"$out" || fail "part way, router: $out"

# 3. the current base: nothing to redo; 4. the same shapes, another sha256
if model=$("$LOCO" models path default 2>/dev/null); then
  rc=0; out=$("$LOCO" migrate --base default --dry-run) || rc=$?
  [ "$rc" -eq 0 ] || fail "the current base: exit $rc, not 0"
  grep -q "nothing to redo" <<<"$out" || fail "the current base: $out"
  cp "$model" "$tmp/other.gguf"
  printf 'LOCOMIGRATE' | dd of="$tmp/other.gguf" bs=1 seek=50000000 conv=notrunc status=none
  rc=0; out=$("$LOCO" migrate --base "$tmp/other.gguf" --dry-run) || rc=$?
  [ "$rc" -eq 3 ] || fail "a changed base: exit $rc, not 3"
  grep -qE "^  math +INVALID: trained for another base \(its shapes fit" <<<"$out" ||
    fail "same shapes, another base: $out"
else
  skip_part "the current base and a same-shape base: the default model is not in the cache"
fi
test_done
