#!/usr/bin/env bash
# loco registry validate / adapters list|info|remove / promote, on a copy
# of a small registry in a temporary folder (LOCO_REGISTRY points at it, the
# overlay lives in XDG_DATA_HOME); the shipped registry is validated when
# the shipped adapters are present.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME=$tmp/data LOCO_REGISTRY=$tmp/proj/registry.yaml
mkdir -p "$tmp/proj" "$XDG_DATA_HOME/locollm/adapters"

# 1. the shipped registry passes (what CI runs)
if [ -f "$src/adapters/math/math.gguf" ]; then
  out=$(LOCO_REGISTRY= "$LOCO" registry validate "$src/adapters/registry.yaml") \
    || fail "shipped registry: $out"
  case "$out" in ok:*) ;; *) fail "shipped registry output: $out";; esac
else
  skip_part "the shipped registry: $src/adapters/math/math.gguf not found"
fi

# 2. a small registry with real (empty) files
base=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
printf 'x' >"$tmp/proj/m1.bin"; printf 'y' >"$tmp/proj/m2.bin"
entry() { # NAME DOMAIN STATUS FILE
  cat <<YAML
  - name: $1
    domain: $2
    version: 1.0.0
    file: $4
    sha256: $(sha256sum "$tmp/proj/$4" | cut -d' ' -f1)
    base_sha256: $base
    lora: {rank: 2, alpha: 4, targets: [q]}
    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, authors: [A]}
    router: {keywords: [sum], examples: ["what is 2+2?"]}
    status: $3
YAML
}
{
  cat <<YAML
schema_version: 2
base_model: {name: Tiny, file: tiny.gguf, sha256: $base, architecture: llama, academic_year: "2026"}
domains:
  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}
adapters:
YAML
  entry m1 math active m1.bin
  entry m2 math candidate m2.bin
} >"$LOCO_REGISTRY"

# validate --no-files passes; with files, the .bin files are not GGUF: named
"$LOCO" registry validate --no-files >/dev/null || fail "schema-only validate"
if out=$("$LOCO" registry validate); then fail "non-GGUF files accepted"; fi
case "$out" in *"m1.bin"*"not a readable GGUF"*) ;; *) fail "GGUF problem: $out";; esac

# a typo is named by file, line, field and value; exit status 1
sed 's/status: candidate/status: candidat/' "$LOCO_REGISTRY" >"$tmp/bad.yaml"
set +e; out=$("$LOCO" registry validate --no-files "$tmp/bad.yaml"); rc=$?; set -e
[ "$rc" = 1 ] || fail "exit status $rc for a bad registry"
case "$out" in *"$tmp/bad.yaml:"*"adapters[m2].status = 'candidat'"*) ;; *) fail "typo: $out";; esac

# 3. list / info
out=$("$LOCO" adapters list)
case "$out" in *NAME*DOMAIN*VERSION*STATUS*m1*math*1.0.0*active*) ;; *) fail "list: $out";; esac
"$LOCO" adapters list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [a["name"] for a in d["adapters"]]==["m1","m2"], d' \
  || fail "list --json"
out=$("$LOCO" adapters info m2)
case "$out" in *"status       candidate"*"keywords     sum"*) ;; *) fail "info: $out";; esac
if "$LOCO" adapters info nope 2>"$tmp/err"; then fail "info of an unknown adapter"; fi
grep -q "known: m1, m2" "$tmp/err" || fail "unknown adapter message: $(cat "$tmp/err")"

# 4. promote: m2 becomes active, m1 a candidate
out=$("$LOCO" promote m2)
case "$out" in *"m2 is now active (m1 is now a candidate)"*) ;; *) fail "promote: $out";; esac
"$LOCO" adapters list | has -E '^m1 +math +1.0.0 +candidate' || fail "m1 not demoted"
if "$LOCO" promote --best math 2>"$tmp/err"; then fail "promote --best without scores"; fi
grep -q "no adapter of domain 'math' qualifies" "$tmp/err" || fail "--best message: $(cat "$tmp/err")"
"$LOCO" registry validate --no-files >/dev/null || fail "registry invalid after promote"

# 5. remove: project adapters are refused; an overlay adapter goes, file on request
if "$LOCO" adapters remove m1 2>"$tmp/err"; then fail "removed a project adapter"; fi
grep -q "is a project adapter" "$tmp/err" || fail "remove message: $(cat "$tmp/err")"
printf 'z' >"$XDG_DATA_HOME/locollm/adapters/u1.bin"
{
  echo "schema_version: 2"
  echo "adapters:"
  entry u1 math candidate m1.bin | sed "s|file: m1.bin|file: adapters/u1.bin|; s|sha256: $(sha256sum "$tmp/proj/m1.bin" | cut -d' ' -f1)|sha256: $(sha256sum "$XDG_DATA_HOME/locollm/adapters/u1.bin" | cut -d' ' -f1)|"
} >"$XDG_DATA_HOME/locollm/registry.yaml"
cp "$XDG_DATA_HOME/locollm/registry.yaml" "$tmp/overlay.yaml"
"$LOCO" adapters list | has '^u1 .*(user)' || fail "overlay adapter not listed"
"$LOCO" registry validate --merged --no-files >/dev/null || fail "merged validate"
"$LOCO" adapters remove u1 >/dev/null
[ -f "$XDG_DATA_HOME/locollm/adapters/u1.bin" ] || fail "file deleted without --delete-file"
if "$LOCO" adapters list | has '^u1 '; then fail "u1 still listed"; fi
cp "$tmp/overlay.yaml" "$XDG_DATA_HOME/locollm/registry.yaml"
out=$("$LOCO" adapters remove u1 --delete-file)
case "$out" in *"deleted: $XDG_DATA_HOME/locollm/adapters/u1.bin"*) ;; *) fail "remove --delete-file: $out";; esac
[ ! -e "$XDG_DATA_HOME/locollm/adapters/u1.bin" ] || fail "file kept with --delete-file"
test_done
