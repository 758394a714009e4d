#!/usr/bin/env python3
"""The gsm8k-pot composition table (docs/composition.md) from the records
scripts/composition-pot.sh writes: per configuration the harness's figures
(score, 95% CI, gain over the base with its interval and p), then what the
programs did, read from each item's detail (ran to the end; printed a
number), with exact McNemar p-values against the base, and the run-time set
against the merge (identical answers, discordant items)."""
import json
import math
import os
import sys

CONFIGS = [("math", "math"), ("code", "code"), ("set math:0.5,code:0.5", "set-math0.5-code0.5"),
           ("merged math:0.5+code:0.5", "merged-math0.5-code0.5")]


def mcnemar(b, c):
    """Exact two-sided McNemar p for b and c discordant pairs."""
    n, k = b + c, min(b, c)
    return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def ran(it, side):
    return it[side]["detail"].startswith("number=")


def printed(it, side):
    return ran(it, side) and not it[side]["detail"].startswith("number=none")


def main(folder):
    recs = {}
    print("| configuration | n | base | adapter side | gain [95% CI] | p |")
    print("|---|---:|---|---|---|---:|")
    for label, stem in CONFIGS:
        b = json.load(open(os.path.join(folder, stem + "-gsm8k-pot.json")))["benchmarks"][0]
        recs[label] = b["items"]
        print(f"| {label} | {b['n_items']} | {b['base_score']:.3f} [{b['base_ci95'][0]:.3f}, "
              f"{b['base_ci95'][1]:.3f}] | {b['adapter_score']:.3f} [{b['adapter_ci95'][0]:.3f}, "
              f"{b['adapter_ci95'][1]:.3f}] | {b['diff']:+.3f} [{b['diff_ci95'][0]:+.3f}, "
              f"{b['diff_ci95'][1]:+.3f}] | {b['p_value']:.3g} |")
    print()
    print("| configuration | ran to the end: base, adapter side (p) | printed a number: base, adapter side (p) |")
    print("|---|---|---|")
    for label, items in recs.items():
        cells = []
        for f in (ran, printed):
            bs, ad = sum(f(i, "base") for i in items), sum(f(i, "adapter") for i in items)
            bo = sum(f(i, "base") and not f(i, "adapter") for i in items)
            ao = sum(f(i, "adapter") and not f(i, "base") for i in items)
            cells.append(f"{bs}, {ad} (p = {mcnemar(bo, ao):.2g})")
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    s, m = recs[CONFIGS[2][0]], recs[CONFIGS[3][0]]
    same = sum(a["adapter"]["output"] == b["adapter"]["output"] for a, b in zip(s, m))
    both = sum(a["adapter"]["score"] == b["adapter"]["score"] for a, b in zip(s, m))
    print(f"\nset vs merge: {same} of {len(s)} answers identical; {both} scored alike")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/2026-S2/composition")
