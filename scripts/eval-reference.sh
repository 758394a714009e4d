#!/usr/bin/env bash
# Evaluate the four reference adapters the way the README's leaderboard
# reports them, record the scores in the project registry, promote the
# adapters that pass, and write the leaderboard and the routed-system table.
#
#   ./scripts/eval-reference.sh [--with-ood]   # after ./scripts/quickstart.sh
#
# Every answer goes through the generation cache
# (~/.cache/locollm/eval-cache.sqlite): a run that was stopped resumes, and a
# repeated run only re-scores. From an empty cache it takes about four hours
# on a 2-core laptop CPU (most of it GSM8K: 1319 problems, both sides).
# Needs the shared data folder ($LOCO_SHARED_DIR, default ../shared).
#
# Per adapter: its domain benchmark (at least 200 items; all 1319 GSM8K
# problems), then, for the adapters that pass it, the other domains'
# benchmarks as the out-of-domain check (100 items; 200 where 100 cannot
# decide). An adapter that fails its own gate cannot be promoted, so its
# out-of-domain check is left to `--with-ood` (it costs about an hour here).
# A record file keeps every run made into it and the first run of each
# benchmark decides its gate (docs/evaluation.md): running this again adds
# reruns to the same records. Out-of-domain checks whose base scores below
# the 5-point margin (GSM8K, MBPP here) are uninformative at any n.
# Items that share a 13-gram with the adapter's training data are listed in
# the record and left out of the statistics (--decontaminate): the gates
# are decided on the clean items. Records go to results/<semester>/ without
# the datasets' text (--omit-prompts), each with its Markdown and HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
loco=build/loco
[ -x "$loco" ] || ./scripts/build.sh
month=$(date -u +%m)
semester="$(date -u +%Y)-S$([ "${month#0}" -le 6 ] && echo 1 || echo 2)"
out="results/$semester"
mkdir -p "$out"
# exit status 3 is a failed gate: the record is written and the next step reads it
ev() { name=$1; shift; "$loco" eval "$@" --slots 8 --record-in project --omit-prompts \
         --decontaminate --out "$out/$name.json" || [ $? = 3 ]; }

with_ood=false
[ "${1:-}" = --with-ood ] && with_ood=true
# Did the adapter pass its own (in-domain) gate in record $1?
passed() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if all(b["passed"] for b in r["benchmarks"] if b.get("in_domain")) else 1)' "$out/$1.json"
}

ev math-gsm8k            math          --bench gsm8k
if passed math-gsm8k || $with_ood; then
  ev math-ood            math          --bench mbpp --bench summarisation --limit 100
fi
ev code-mbpp             code          --bench mbpp --limit 200
if passed code-mbpp || $with_ood; then
  ev code-ood            code          --bench gsm8k --bench summarisation --limit 100
fi
ev summarisation-xsum    summarisation --bench summarisation --limit 200
if passed summarisation-xsum || $with_ood; then
  ev summarisation-ood   summarisation --bench mbpp --limit 100
  # a record of its own: first run on 100 items (FAIL, drop bound 5.2 points,
  # not kept), rerun on 200 (PASS). With the base at 2% this check is
  # uninformative at any n (the floor rule); its record now keeps every run
  # and the first decides, so a rerun cannot flip it
  ev summarisation-ood-gsm8k summarisation --bench gsm8k --limit 200
fi
ev writing-roleplay      writing       --bench judge-roleplay --limit 200 --judge-rubric prometheus
if passed writing-roleplay || $with_ood; then
  ev writing-ood         writing       --bench gsm8k --bench mbpp --bench summarisation --limit 100
fi

for domain in math code writing summarisation; do
  "$loco" promote --best "$domain" --project || echo "($domain: no adapter passes; it stays a candidate)"
done
"$loco" registry validate
"$loco" leaderboard --all --format md > "$out/leaderboard.md"
# the routed system under the serving rule (only proven adapters answer; items in a
# serving adapter's training data left out); 100 items per benchmark are the ones
# the out-of-domain records above already answered, so it generates nothing new;
# writes swarm.json and swarm.md (docs/swarm.md)
"$loco" eval --swarm --limit "${LOCO_SWARM_LIMIT:-100}" --slots 8 --out "$out/swarm.json"
echo "records, reports, leaderboard and swarm table: $out/"
