#!/usr/bin/env bash
# Fails when a source file calls a function docs/style.md bans (unsafe string
# handling, unchecked conversions). Comments naming them are fine.
set -u
root=${1:-.}
pattern='\b(strcpy|strcat|sprintf|vsprintf|strtok|gets|atoi|atol|atof)[[:space:]]*\('
hits=$(grep -rnE --include="*.c" --include="*.h" "$pattern" "$root/src" "$root/cli" "$root/include" "$root/bench" 2>/dev/null \
       | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$hits" ]; then
  echo "banned functions used (see docs/style.md, rule 10):"
  echo "$hits"
  exit 1
fi
echo "no banned functions"
