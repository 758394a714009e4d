#!/usr/bin/env python3
"""The misrouting-cost table (research question 2) from `loco eval` records.

    scripts/misrouting-table.py [--check] DIR_OR_RECORD ...

Rows: the domain whose queries these are (math: GSM8K, code: MBPP,
summarisation: XSum ROUGE-L, writing: judge-roleplay). Columns: who answers
them (the domain's own adapter, the base model, each other adapter). Every
cell is scored on the row's common items: the first N of the benchmark
(GSM8K, MBPP, XSum 100; judge-roleplay 30) that every record of the row
holds, less every item a record flags as contaminated (so MBPP is
decontaminated against the code adapter, XSum against the summarisation
adapter) and, pair by pair, less items the judge left unrated.

Each cell: the mean score; the paired difference from the own adapter
(answerer - own: negative is the quality lost by misrouting) with its 95%
interval and p; the paired difference from the base model of the same
record. The statistics are the harness's (docs/statistics.md,
src/eval/stats.c), ported: pass/fail items get Newcombe's interval and the
exact McNemar p; scored items the paired percentile bootstrap (splitmix64,
seed 20240601, B = 10000, the same resamples as the harness) and the
Wilcoxon signed-rank p. `--check` recomputes every record's own
adapter-vs-base statistics on its used items and compares them with what
the harness wrote, to show the port agrees.

Records are looked up per (adapter, benchmark) in the arguments' order: the
first record that holds the pair wins. Standard library only.
"""
import glob
import json
import math
import os
import sys

# row domain -> (benchmark, common items, own adapter)
ROWS = [("math", "gsm8k", 100), ("code", "mbpp", 100),
        ("summarisation", "summarisation", 100), ("writing", "judge-roleplay", 30)]
ADAPTERS = ["math", "code", "summarisation", "writing"]
BENCH_LABEL = {"gsm8k": "GSM8K accuracy", "mbpp": "MBPP pass@1",
               "summarisation": "XSum ROUGE-L F1", "judge-roleplay": "judge-roleplay (prometheus, 0-1)"}
BINARY = {"gsm8k", "mbpp"}
Z = 1.959963984540054
MASK = (1 << 64) - 1


# ---- the harness's statistics (src/eval/stats.c) --------------------------

def norm_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def wilson(k, n):
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / den
    half = Z / den * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    lo = 0.0 if k == 0 else centre - half
    hi = 1.0 if k == n else centre + half
    return (lo, hi)


def mcnemar_p(b, c):
    m = b + c
    if m == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2.0 ** m
    return min(1.0, 2.0 * tail)


def binary_paired(base, adapter):
    """Newcombe (method 10) interval of adapter - base and the exact McNemar p."""
    n = len(base)
    n11 = sum(1 for x, y in zip(base, adapter) if x and y)
    b = sum(1 for x, y in zip(base, adapter) if x and not y)
    c = sum(1 for x, y in zip(base, adapter) if not x and y)
    n00 = n - n11 - b - c
    pa, pb = (n11 + c) / n, (n11 + b) / n
    la, ua = wilson(n11 + c, n)
    lb, ub = wilson(n11 + b, n)
    den = (n11 + c) * (b + n00) * (n11 + b) * (c + n00)
    phi = (n11 * n00 - b * c) / math.sqrt(den) if den > 0 else 0.0
    diff = (c - b) / n
    lo = diff - math.sqrt(max(0.0, (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2))
    hi = diff + math.sqrt(max(0.0, (ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2))
    return {"n": n, "base": pb, "adapter": pa, "diff": diff, "ci": (lo, hi), "p": mcnemar_p(b, c),
            "test": "McNemar"}


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def quantile_sorted(v, q):
    h = (len(v) - 1) * q
    lo = int(math.floor(h))
    if lo + 1 >= len(v):
        return v[-1]
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo])


def bootstrap(d, b=10000, seed=20240601, alpha=0.05):
    n = len(d)
    limit = MASK - MASK % n
    state = seed
    means = []
    for _ in range(b):
        s = 0.0
        for _ in range(n):
            while True:
                state, r = splitmix64(state)
                if r < limit:
                    break
            s += d[r % n]
        means.append(s / n)
    le = sum(1 for m in means if m <= 0.0)
    ge = sum(1 for m in means if m >= 0.0)
    means.sort()
    return ((quantile_sorted(means, alpha / 2), quantile_sorted(means, 1 - alpha / 2)),
            min(1.0, 2.0 * min(le, ge) / b))


def wilcoxon_p(d):
    """Two-sided signed-rank p, zeros dropped (Wilcoxon), exact up to 25 non-zero."""
    nz = sorted((abs(x), 1 if x > 0 else -1) for x in d if x != 0.0)
    m = len(nz)
    if m == 0:
        return 1.0
    ranks = [0.0] * m
    i = 0
    while i < m:
        j = i
        while j + 1 < m and nz[j + 1][0] == nz[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = 0.5 * ((i + 1) + (j + 1))
        i = j + 1
    w_plus = sum(r for r, (_, s) in zip(ranks, nz) if s > 0)
    if m <= 25:
        counts = {0: 1}
        for r in ranks:
            step = int(round(2 * r))
            nxt = dict(counts)
            for t, c in counts.items():
                nxt[t + step] = nxt.get(t + step, 0) + c
            counts = nxt
        total = 2 ** m
        w2 = int(round(2 * w_plus))
        le = sum(c for t, c in counts.items() if t <= w2) / total
        ge = sum(c for t, c in counts.items() if t >= w2) / total
        return min(1.0, 2 * min(le, ge))
    e = sum(ranks) / 2
    var = sum(r * r for r in ranks) / 4
    zc = max(abs(w_plus - e) - 0.5, 0.0) / math.sqrt(var)
    return min(1.0, 2 * norm_cdf(-zc))


def continuous_paired(base, adapter):
    d = [a - b for a, b in zip(adapter, base)]
    n = len(d)
    ci, _ = bootstrap(d)
    return {"n": n, "base": sum(base) / n, "adapter": sum(adapter) / n, "diff": sum(d) / n,
            "ci": ci, "p": wilcoxon_p(d), "test": "Wilcoxon"}


def paired(bench, base, adapter):
    return binary_paired(base, adapter) if bench in BINARY else continuous_paired(base, adapter)


# ---- records ----------------------------------------------------------------

def load(paths):
    """(adapter name, benchmark) -> (file, benchmark record), first argument first."""
    found = {}
    for p in paths:
        files = sorted(glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
        for f in files:
            try:
                r = json.load(open(f))
            except (OSError, ValueError):
                continue
            if r.get("format", "").startswith("locollm-swarm") or "adapter" not in r:
                continue
            for b in r.get("benchmarks", []):
                if "benchmark" not in b or "items" not in b:
                    continue
                found.setdefault((r["adapter"]["name"], b["benchmark"]), (f, b))
    return found


def side_score(item, side):
    s = item.get(side) or {}
    return s.get("score")


def flagged(b):
    return set((b.get("contamination") or {}).get("flagged_ids") or [])


def fmt_p(p):
    return "p<0.001" if p < 0.001 else f"p={p:.3f}" if p < 0.01 else f"p={p:.2f}"


def fmt_d(s):
    lo, hi = s["ci"]
    return f"{s['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] {fmt_p(s['p'])}"


def check(found):
    """Recompute each record's adapter-vs-base statistics on its used items."""
    worst = 0.0
    for (name, bench), (f, b) in sorted(found.items()):
        drop = flagged(b) if (b.get("contamination") or {}).get("decontaminated") else set()
        items = [it for it in b["items"] if it["id"] not in drop and not it.get("unrated")]
        base = [side_score(it, "base") for it in items]
        ad = [side_score(it, "adapter") for it in items]
        s = paired(bench, base, ad)
        got = (s["diff"], s["ci"][0], s["ci"][1], s["p"])
        want = (b["diff"], b["diff_ci95"][0], b["diff_ci95"][1], b["p_value"])
        err = max(abs(x - y) for x, y in zip(got, want))
        worst = max(worst, err)
        print(f"{os.path.basename(f)} {name} {bench}: n {s['n']} (record {b['n_used']}), "
              f"diff {got[0]:+.4f} ci [{got[1]:+.4f}, {got[2]:+.4f}] p {got[3]:.4g} | "
              f"record {want[0]:+.4f} [{want[1]:+.4f}, {want[2]:+.4f}] p {want[3]:.4g} | "
              f"max abs difference {err:.2g}")
    print(f"largest difference from the harness: {worst:.2g}")
    return worst


notes = []


def table(found):
    out = []
    notes.clear()
    header = "| queries (metric, n) | own adapter | base model | another adapter | another adapter | another adapter |"
    out.append(header)
    out.append("|---|---|---|---|---|---|")
    missing = []
    for domain, bench, n_common in ROWS:
        own = found.get((domain, bench))
        if not own:
            missing.append(f"{domain} on {bench} (the own adapter: the row cannot be built)")
            continue
        others = [a for a in ADAPTERS if a != domain]
        recs = {a: found.get((a, bench)) for a in [domain] + others}
        present = {a: r for a, r in recs.items() if r}
        order = [it["id"] for it in own[1]["items"]][:n_common]
        held = set(order)
        drop = set()
        for a, (f, b) in present.items():
            held &= {it["id"] for it in b["items"]}
            drop |= flagged(b)
        ids = [i for i in order if i in held and i not in drop]
        by = {a: {it["id"]: it for it in b["items"]} for a, (f, b) in present.items()}

        def scores(a, side, keep):
            return [side_score(by[a][i], side) for i in keep]

        def rated(a, i):
            return not by[a][i].get("unrated")

        own_ids = [i for i in ids if rated(domain, i)]
        own_s = scores(domain, "adapter", own_ids)
        vb = paired(bench, scores(domain, "base", own_ids), own_s)
        cells = [f"**{vb['adapter']:.3f}**<br>vs base {fmt_d(vb)}"]
        base_vs_own = paired(bench, own_s, scores(domain, "base", own_ids))
        cells.append(f"**{vb['base']:.3f}**<br>vs own {fmt_d(base_vs_own)}")
        for a in others:
            if a not in present:
                cells.append(f"{a}: not measured")
                missing.append(f"{a} adapter on {bench}")
                continue
            keep = [i for i in ids if rated(domain, i) and rated(a, i)]
            s_own = paired(bench, scores(domain, "adapter", keep), scores(a, "adapter", keep))
            s_base = paired(bench, scores(a, "base", keep), scores(a, "adapter", keep))
            nk = f" (n={len(keep)})" if len(keep) != len(own_ids) else ""
            cells.append(f"{a}: **{s_own['adapter']:.3f}**{nk}<br>vs own {fmt_d(s_own)}"
                         f"<br>vs base {fmt_d(s_base)}")
        label = f"{domain}: {BENCH_LABEL[bench]}, n={len(own_ids)}"
        out.append("| " + label + " | " + " | ".join(cells) + " |")
        # the base model answered again in another record: how far apart are the two runs?
        for a in others:
            if a not in present or present[a][0] == own[0]:
                continue
            keep = [i for i in ids if rated(domain, i) and rated(a, i)]
            same = sum(1 for i in keep
                       if by[a][i]["base"].get("output") == by[domain][i]["base"].get("output"))
            if same == len(keep):
                continue
            s = paired(bench, scores(domain, "base", keep), scores(a, "base", keep))
            notes.append(f"- {bench}: the base model's answers in {os.path.basename(present[a][0])} "
                         f"vs {os.path.basename(own[0])}: {same} of {len(keep)} identical, "
                         f"score {s['adapter']:.3f} vs {s['base']:.3f}, difference {fmt_d(s)}")
    return "\n".join(out), missing


def main(argv):
    do_check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    found = load(paths)
    if do_check:
        check(found)
        return 0
    md, missing = table(found)
    print(md)
    print()
    print("Each cell: the mean score of whoever answers (bold); `vs own`: answerer minus the "
          "domain's own adapter on the same items, 95% interval and p (pass/fail: Newcombe and "
          "exact McNemar; scores: paired bootstrap and Wilcoxon); `vs base`: answerer minus the "
          "base model's answers in the same evaluation record.")
    for (domain, bench, _) in ROWS:
        for a in ADAPTERS:
            r = found.get((a, bench))
            if r:
                print(f"- {a} on {bench}: {os.path.relpath(r[0])}")
    if notes:
        print("\nThe same base model, answering the same items in two records:")
        print("\n".join(notes))
    if missing:
        print("\nNot measured: " + "; ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
