#!/usr/bin/env bash
# The submission checks, locally exactly as CI runs them
# (.github/workflows/adapters.yml calls this script; docs/sharing.md).
#   scripts/check-submission.sh                 every bundle under submissions/
#   scripts/check-submission.sh A.zip B.zip     these bundles
#   scripts/check-submission.sh DIR             every *.zip in DIR
# Steps: build `loco` if needed (into $LOCO_BUILD_DIR, default build/; a
# binary given as $LOCO is used as it is, nothing is built), validate the
# project registry (`loco registry validate`), then `loco adapters verify`
# each bundle against the project registry alone (your user overlay is
# left out, as CI has none). Exit status 0 only when the registry is valid
# and every bundle passed; each problem is printed with its fix.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${LOCO:-}" ]; then
  build=${LOCO_BUILD_DIR:-$root/build}
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target loco -j"$(nproc)" >/dev/null
  LOCO=$build/loco
fi
[ -x "$LOCO" ] || { echo "check-submission: $LOCO is not an executable loco" >&2; exit 2; }

# Bundles named on the command line are taken from where the caller stands.
bundles=()
shopt -s nullglob
for b in "$@"; do
  case "$b" in /*) ;; *) b=$PWD/$b ;; esac
  if [ -d "$b" ]; then
    bundles+=("$b"/*.zip)
  else
    bundles+=("$b")
  fi
done
cd "$root"
if [ $# -eq 0 ]; then
  bundles=("$root"/submissions/*.zip)
fi

status=0
echo "== loco registry validate"
if ! "$LOCO" registry validate; then
  echo "check-submission: the registry has problems (listed above)" >&2
  status=1
fi

if [ ${#bundles[@]} -eq 0 ]; then
  echo "== no bundles under submissions/: nothing more to verify"
fi
failed=()
for b in "${bundles[@]}"; do
  echo "== loco adapters verify ${b#"$root"/}"
  if ! "$LOCO" adapters verify --registry "$root/adapters/registry.yaml" "$b"; then
    failed+=("${b#"$root"/}")
    status=1
  fi
done

if [ $status -eq 0 ]; then
  echo "check-submission: ok (${#bundles[@]} bundle(s))"
else
  [ ${#failed[@]} -eq 0 ] || echo "check-submission: failed: ${failed[*]}" >&2
fi
exit $status
