#!/usr/bin/env bash
# A FIFO named where a file is read is refused at once, never waited on: an
# evaluation record (report eval, report archive), a record in the results
# archive (report trend passes over it), a routing benchmark (route --bench)
# and the confidence router's thresholds file. Each command runs under
# `timeout 10`: exit status 124 means it waited on the FIFO.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_MODELS_DIR="$tmp/models" LOCO_ADAPTERS_DIR="$tmp/adapters"
export XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_STATE_HOME="$tmp/state"
export LOCO_REGISTRY="${LOCO_SOURCE_DIR:-.}/adapters/registry.yaml"
unset LOCO_PROJECT_DIR LOCO_ROUTER_CONFIDENCE
[ -f "$LOCO_REGISTRY" ] || fail "no project registry at $LOCO_REGISTRY (set LOCO_SOURCE_DIR)"
mkfifo "$tmp/record.json" "$tmp/bench.jsonl" "$tmp/confidence.json"

# refused WHAT CMD...: the command fails at once (not 0, not the timeout's
# 124) and says the path is a FIFO
refused() {
  local what=$1 rc=0 err
  shift
  err=$(timeout 10 "$@" 2>&1 </dev/null) || rc=$?
  [ "$rc" -ne 124 ] || fail "$what: waits on the FIFO"
  [ "$rc" -ne 0 ] || fail "$what: accepted: $err"
  case "$err" in *FIFO*) ;; *) fail "$what: the message does not say FIFO: $err" ;; esac
}

refused "report eval" "$LOCO" report eval "$tmp/record.json"
refused "report archive" "$LOCO" report archive "$tmp/record.json" --results "$tmp/results"
refused "route --bench" "$LOCO" route --router keyword --bench "$tmp/bench.jsonl"
refused "the confidence file" env LOCO_ROUTER_CONFIDENCE="$tmp/confidence.json" \
  "$LOCO" route --router confidence:keyword "what is 2 + 2?"

# a FIFO among the archived records is passed over, not waited on
mkdir -p "$tmp/results/2026-S2"
mkfifo "$tmp/results/2026-S2/math-gsm8k-2026-11-27T101500Z.json"
rc=0
err=$(timeout 10 "$LOCO" report trend --results "$tmp/results" 2>&1 </dev/null) || rc=$?
[ "$rc" -ne 124 ] || fail "report trend waits on a FIFO in the archive"
case "$err" in *"1 skipped"*) ;; *) fail "report trend: the FIFO is not counted as skipped: $err" ;; esac

test_done
