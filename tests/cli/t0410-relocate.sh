#!/usr/bin/env bash
# A relocated loco finds its own project, never the checkout it was built in:
# a copy of adapters/ and the binary in a temporary tree is found from the
# working tree and from beside the binary; LOCO_PROJECT_DIR and LOCO_REGISTRY
# win from anywhere; an installed layout (<prefix>/bin, <prefix>/share/locollm)
# and the user data folder are found; with nothing to find, the error lists
# where it looked. `loco registry path` names the file and the rule.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
if [ ! -f "$src/adapters/registry.yaml" ]; then
  skip_all "$src/adapters/registry.yaml not found"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P)
if [ -f /tmp/adapters/registry.yaml ] || [ -f /adapters/registry.yaml ]; then
  skip_all "a project registry above $tmp would answer first"
fi
unset LOCO_REGISTRY LOCO_PROJECT_DIR LOCO_RESULTS_DIR XDG_DATA_HOME
export HOME=$tmp/home
mkdir -p "$HOME" "$tmp/copy/build" "$tmp/elsewhere"
cp -r "$src/adapters" "$tmp/copy/adapters"
cp "$LOCO" "$tmp/copy/build/loco"
loco=$tmp/copy/build/loco
reg=$tmp/copy/adapters/registry.yaml

# field NAME: the value of NAME in `loco registry path --json` (run in $PWD)
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 1. from the copy's working tree (a sub-folder): the copy, not the checkout
mkdir -p "$tmp/copy/src/deep"
out=$(cd "$tmp/copy/src/deep" && "$loco" registry path) || fail "registry path: $out"
case "$out" in *"project  $reg"*"found in the working tree above $tmp/copy/src/deep"*) ;;
  *) fail "working tree: $out";; esac
case "$out" in *"$src/"*) fail "names the original checkout: $out";; esac
json=$(cd "$tmp/copy/src/deep" && "$loco" registry path --json)
[ "$(echo "$json" | field rule)" = working-tree ] || fail "--json rule: $json"
[ "$(echo "$json" | field root)" = "$tmp/copy" ] || fail "--json root: $json"
[ "$(echo "$json" | field results)" = "$tmp/copy/results" ] || fail "--json results: $json"

# 2. from an unrelated folder: beside the binary (build/loco -> the copy)
out=$(cd "$tmp/elsewhere" && "$loco" registry path --json)
[ "$(echo "$out" | field registry)" = "$reg" ] || fail "beside the binary: $out"
[ "$(echo "$out" | field rule)" = beside-binary ] || fail "beside-binary rule: $out"
# ... and the registry it names is the one loaded (adapters listed from the copy)
(cd "$tmp/elsewhere" && "$loco" adapters info math --json) | has "\"$tmp/copy/adapters/" ||
  fail "adapters info does not read the copy"

# 3. LOCO_PROJECT_DIR from an unrelated folder, for a binary outside any project
mkdir -p "$tmp/bare"
cp "$LOCO" "$tmp/bare/loco"
out=$(cd "$tmp/elsewhere" && LOCO_PROJECT_DIR=$tmp/copy "$tmp/bare/loco" registry path)
case "$out" in *"project  $reg"*"in \$LOCO_PROJECT_DIR ($tmp/copy) [env-dir]"*) ;;
  *) fail "LOCO_PROJECT_DIR: $out";; esac
(cd "$tmp/elsewhere" && LOCO_PROJECT_DIR=$tmp/copy "$tmp/bare/loco" registry validate --no-files) \
  >/dev/null || fail "validate with LOCO_PROJECT_DIR"
out=$(cd "$tmp/elsewhere" && LOCO_REGISTRY=$reg "$tmp/bare/loco" registry path --json)
[ "$(echo "$out" | field rule)" = env-registry ] || fail "LOCO_REGISTRY: $out"

# 4. installed: <prefix>/bin/loco with <prefix>/share/locollm/adapters
mkdir -p "$tmp/prefix/bin" "$tmp/prefix/share/locollm/adapters"
cp "$LOCO" "$tmp/prefix/bin/loco"
cp "$reg" "$tmp/prefix/share/locollm/adapters/"
out=$(cd "$tmp/elsewhere" && "$tmp/prefix/bin/loco" registry path --json)
[ "$(echo "$out" | field registry)" = "$tmp/prefix/share/locollm/adapters/registry.yaml" ] ||
  fail "installed: $out"
[ "$(echo "$out" | field rule)" = installed ] || fail "installed rule: $out"

# 5. nothing to find: exit 1, every place named, and the fix
if out=$(cd "$tmp/elsewhere" && "$tmp/bare/loco" registry path 2>&1); then
  fail "found a project where there is none: $out"
fi
for want in "LOCO_PROJECT_DIR" "working tree $tmp/elsewhere" "beside the binary $tmp/bare" \
            "user data folder $HOME/.local/share/locollm" "Fix:"; do
  case "$out" in *"$want"*) ;; *) fail "the error lacks '$want': $out";; esac
done

# 6. the user data folder answers last
mkdir -p "$HOME/.local/share/locollm/adapters"
cp "$reg" "$HOME/.local/share/locollm/adapters/"
out=$(cd "$tmp/elsewhere" && "$tmp/bare/loco" registry path --json)
[ "$(echo "$out" | field rule)" = user-data ] || fail "user data: $out"
[ "$(echo "$out" | field root)" = "$HOME/.local/share/locollm" ] || fail "user data root: $out"
echo ok
