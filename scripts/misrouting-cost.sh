#!/usr/bin/env bash
# Misrouting cost (research question 2): for each domain, the quality lost
# when its queries are answered by another domain's adapter or by the base
# model instead of its own adapter. Prints the Markdown table of
# docs/routers.md ("Misrouting cost").
#
#   ./scripts/misrouting-cost.sh [--all] [--table] [-- EXTRA LOCO EVAL OPTIONS]
#
# Rows: the domain's queries (math: GSM8K, code: MBPP, summarisation: XSum
# ROUGE-L, writing: judge-roleplay with the prometheus rubric, judged three
# times per answer by the base model). Columns: the own adapter, the base
# model, each other adapter. Every cell is scored on the row's common items:
# the first 100 (judge-roleplay: 30) less the items any of the row's records
# flags as contaminated (MBPP: the code adapter's 13-gram overlaps; XSum: the
# summarisation adapter's) and, pair by pair, items the judge left unrated.
#
# Each (adapter, benchmark) pair is one `loco eval` record. The reference
# evaluation's records (results/<semester>/*.json, scripts/eval-reference.sh)
# already hold eight of the sixteen pairs; this script runs the others into
# results/<semester>/misroute/ (--all: every pair, ignoring the reference
# records). Records are written without the datasets' text (--omit-prompts)
# and leave the registry alone (--record-in none). Answers and judgments go
# through the generation cache, so a stopped run resumes and a repeated one
# only re-scores. --table only prints the table from the records there.
#
# The differences and their intervals are the harness's statistics, ported to
# scripts/misrouting-table.py (`--check` shows they agree with the records).
# Needs the shared data folder ($LOCO_SHARED_DIR, default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
loco=${LOCO:-build/loco}
month=$(date -u +%m)
semester="$(date -u +%Y)-S$([ "${month#0}" -le 6 ] && echo 1 || echo 2)"
stored="results/$semester"
out="${MISROUTE_DIR:-$stored/misroute}"

all=false
table_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --all) all=true ;;
    --table) table_only=true ;;
    --) shift; break ;;
    *) echo "usage: $0 [--all] [--table] [-- EXTRA LOCO EVAL OPTIONS]" >&2; exit 2 ;;
  esac
  shift
done
extra=("$@")

# Does a record in $4... already hold adapter $1 on the first $3 items of benchmark $2?
have() {
  python3 - "$@" <<'EOF'
import glob, json, os, sys
adapter, bench, limit, dirs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
for d in dirs:
    for f in glob.glob(os.path.join(d, "*.json")):
        try:
            r = json.load(open(f))
        except ValueError:
            continue
        if (r.get("adapter") or {}).get("name") == adapter and any(
                b.get("benchmark") == bench and len(b.get("items", [])) >= limit
                for b in r.get("benchmarks", [])):
            sys.exit(0)
sys.exit(1)
EOF
}

if ! $table_only; then
  [ -x "$loco" ] || ./scripts/build.sh
  mkdir -p "$out"
  dirs=("$out")
  $all || dirs+=("$stored")
  for bench in summarisation gsm8k mbpp judge-roleplay; do
    limit=100 opts=()
    [ "$bench" = judge-roleplay ] && limit=30 opts=(--judge-rubric prometheus)
    for adapter in math code summarisation writing; do
      have "$adapter" "$bench" "$limit" "${dirs[@]}" && continue
      echo "== $adapter adapter on $bench (first $limit items)" >&2
      "$loco" eval "$adapter" --bench "$bench" --limit "$limit" "${opts[@]}" --slots 8 \
        --decontaminate --omit-prompts --record-in none ${extra[@]+"${extra[@]}"} \
        --out "$out/$adapter-$bench.json" || [ $? = 3 ] # 3: a gate failed, the record stands
    done
  done
fi

if $all; then
  python3 scripts/misrouting-table.py "$out"
else
  python3 scripts/misrouting-table.py "$out" "$stored"
fi
