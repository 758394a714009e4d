#!/usr/bin/env bash
# bench-exchlog (bench/bench-exchlog.c), small: 200 exchanges into a kept
# file. Every step of the table is printed, the log holds the 200 finished
# exchanges (read back with `loco logs`), a temporary log is removed at the
# end, and a bad count is refused. No timing or memory figure is checked.
# bench-exchlog is built beside $LOCO.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
bench=$(dirname "$LOCO")/bench-exchlog
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$bench" ] || skip_all "$bench not built"

out=$("$bench" 200 "$work/log.sqlite") || fail "bench-exchlog failed: $out"
echo "$out"
rows=$(echo "$out" | grep -cE '^ +[0-9]+ +[0-9.]+ ' || true)
[ "$rows" = 11 ] || fail "expected 11 table rows (0, 20, ..., 200), got $rows"
grep -q '^ *200 ' <<<"$out" || fail "no row for 200 exchanges"
grep -q '^resident memory: ' <<<"$out" || fail "no memory summary"

# the log is a real exchange log: loco logs reads the finished exchanges
n=$(LOCO_LOG_DB="$work/log.sqlite" "$LOCO" logs --limit 1000 --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert all(r["answer"] and r["command"] == "server" for r in rows), rows[:2]
print(len(rows))')
[ "$n" = 200 ] || fail "loco logs read $n exchanges, expected 200"

# a temporary log goes to $TMPDIR and is removed
mkdir "$work/tmp"
TMPDIR="$work/tmp" "$bench" 20 > "$work/tmp.txt" || fail "bench-exchlog 20 failed"
grep -q "exchange log $work/tmp/bench-exchlog-" "$work/tmp.txt" || fail "not in TMPDIR: $(head -1 "$work/tmp.txt")"
[ -z "$(ls -A "$work/tmp")" ] || fail "the temporary log was left: $(ls "$work/tmp")"

if "$bench" 3 > "$work/bad.txt" 2>&1; then fail "a count below 10 was taken"; fi
grep -q usage "$work/bad.txt" || fail "no usage line: $(cat "$work/bad.txt")"
echo "OK"
