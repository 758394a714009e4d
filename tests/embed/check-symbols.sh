#!/usr/bin/env bash
# check-symbols.sh ARCHIVE - every global symbol that liblocollm.a defines
# must be named loco_*, so a program that embeds the library cannot collide
# with its internal names. Prints the offenders and fails when there is one.
set -euo pipefail
archive=${1:?usage: check-symbols.sh liblocollm.a}
[ -f "$archive" ] || { echo "check-symbols: $archive not found" >&2; exit 1; }
total=$(nm -g --defined-only "$archive" | awk 'NF == 3' | wc -l)
bad=$(nm -g --defined-only "$archive" | awk 'NF == 3 && $3 !~ /^loco_/ {print $3}')
if [ -n "$bad" ]; then
  echo "check-symbols: $(printf '%s\n' "$bad" | wc -l) exported symbols lack the loco_ prefix:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
[ "$total" -gt 100 ] || { echo "check-symbols: only $total symbols: not the library?" >&2; exit 1; }
echo "check-symbols: all $total exported symbols are loco_*"
