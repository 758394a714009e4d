#!/usr/bin/env python3
"""Golden values for tests/test-stats.c, from scipy and statsmodels.

Run by hand when the data sets or methods change (the output is committed):

    python3 -m venv /tmp/statsenv
    /tmp/statsenv/bin/pip install scipy statsmodels numpy
    /tmp/statsenv/bin/python tests/reference/make-stats-golden.py

It writes tests/reference/stats-golden.json next to this file. The data sets
are written out in full in the JSON, so the C test reads the very same
numbers. Where a library has the method (Wilson, binomial tails, McNemar,
t intervals, Wilcoxon, normal power) the library computes the golden; where
none does (Newcombe's paired interval, the exact McNemar power, the exact
Wilcoxon distribution with ties) this script computes it independently by
the textbook definition - by brute-force enumeration where that is possible -
so the C code is checked against a second implementation.
"""
import itertools
import json
import math
import os

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

ALPHA = 0.05
DELTAS = [0.10, 0.05]


# ---- distributions ----------------------------------------------------------

def distributions():
    norm_p = [1e-10, 0.001, 0.025, 0.05, 0.3, 0.5, 0.8, 0.975, 0.999]
    t_cases = [(-3.5, 1.0), (-1.2, 2.0), (0.0, 5.0), (0.7, 3.5), (2.1, 19.0), (4.0, 59.0),
               (1.96, 1000.0)]
    t_ppf = [(0.975, 1.0), (0.975, 4.0), (0.975, 19.0), (0.975, 49.0), (0.025, 7.0),
             (0.995, 99.0), (0.6, 2.5)]
    binom = [(0, 1), (3, 10), (5, 10), (7, 10), (12, 40), (30, 200), (0, 100), (99, 100),
             (450, 1000)]
    return {
        "norm_ppf": [{"p": p, "x": stats.norm.ppf(p)} for p in norm_p],
        "norm_cdf": [{"x": x, "p": stats.norm.cdf(x)} for x in [-8.0, -1.96, 0.0, 0.5, 3.0]],
        "t_cdf": [{"t": t, "df": df, "p": stats.t.cdf(t, df)} for t, df in t_cases],
        "t_ppf": [{"p": p, "df": df, "t": stats.t.ppf(p, df)} for p, df in t_ppf],
        "binom_half_cdf": [{"k": k, "n": n, "p": stats.binom.cdf(k, n, 0.5)} for k, n in binom],
    }


# ---- pass/fail items --------------------------------------------------------

def newcombe_paired(n11, b, c, n00, alpha):
    """Newcombe (1998) method 10 for adapter - base; first = adapter."""
    n = n11 + b + c + n00
    pa, pb = (n11 + c) / n, (n11 + b) / n
    la, ua = proportion_confint(n11 + c, n, alpha, method="wilson")
    lb, ub = proportion_confint(n11 + b, n, alpha, method="wilson")
    if n11 + c == 0:
        la = 0.0
    if n11 + c == n:
        ua = 1.0
    if n11 + b == 0:
        lb = 0.0
    if n11 + b == n:
        ub = 1.0
    marg = (n11 + c) * (b + n00) * (n11 + b) * (c + n00)
    phi = (n11 * n00 - b * c) / math.sqrt(marg) if marg > 0 else 0.0
    dla, dua, dlb, dub = pa - la, ua - pa, pb - lb, ub - pb
    lo = (pa - pb) - math.sqrt(max(dla**2 - 2 * phi * dla * dub + dub**2, 0.0))
    hi = (pa - pb) + math.sqrt(max(dua**2 - 2 * phi * dua * dlb + dlb**2, 0.0))
    return lo, hi


def mcnemar_power(n, p_disc, delta, alpha):
    """Exact power by enumeration: M ~ Bin(n, p_disc) discordant pairs, and
    given M = m the adapter-only count C ~ Bin(m, (1 + delta/p_disc)/2);
    reject when scipy's binomtest two-sided p < alpha."""
    p_disc = min(max(p_disc, abs(delta)), 1.0)
    q = 0.5 * (1 + abs(delta) / p_disc)
    power = 0.0
    for m in range(1, n + 1):
        ks = [k for k in range(0, m // 2 + 1)
              if stats.binomtest(k, m, 0.5).pvalue < alpha]
        if not ks:
            continue
        k = max(ks)
        rej = stats.binom.cdf(k, m, q) + stats.binom.sf(m - k - 1, m, q)
        power += stats.binom.pmf(m, n, p_disc) * min(rej, 1.0)
    return power


def binary_case(name, n11, b, c, n00):
    n = n11 + b + c + n00
    # the item order: both right, base only, adapter only, both wrong, interleaved
    pairs = [(1, 1)] * n11 + [(1, 0)] * b + [(0, 1)] * c + [(0, 0)] * n00
    rng = np.random.default_rng(7)
    order = rng.permutation(n)
    base = [pairs[i][0] for i in order]
    adapter = [pairs[i][1] for i in order]
    ka, kb = n11 + c, n11 + b
    wl_a = proportion_confint(ka, n, ALPHA, method="wilson")
    wl_b = proportion_confint(kb, n, ALPHA, method="wilson")
    p_binom = stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c > 0 else 1.0
    p_sm = mcnemar([[n11, b], [c, n00]], exact=True).pvalue if b + c > 0 else 1.0
    assert abs(p_binom - p_sm) < 1e-12, (p_binom, p_sm)
    p_disc = (b + c) / n
    return {
        "name": name, "base": base, "adapter": adapter,
        "n11": n11, "b": b, "c": c, "n00": n00,
        "base_ci": list(wl_b), "adapter_ci": list(wl_a),
        "mcnemar_p": p_binom,
        "diff": (c - b) / n,
        "newcombe_ci": list(newcombe_paired(n11, b, c, n00, ALPHA)),
        "cohens_h": float(proportion_effectsize(ka / n, kb / n)),
        "power": [mcnemar_power(n, p_disc, d, ALPHA) for d in DELTAS],
    }


# ---- continuous items -------------------------------------------------------

def ranks_signed(d, zero_method):
    d = np.asarray(d, dtype=float)
    if zero_method == "wilcox":
        d = d[d != 0]
    r = stats.rankdata(np.abs(d))
    r[d == 0] = 0.0
    return d, r


def wilcoxon_brute(d, zero_method):
    """Exact two-sided p by enumerating every sign pattern of the non-zero
    ranks (the conditional null distribution, ties included)."""
    d, r = ranks_signed(d, zero_method)
    nz = r[d != 0]
    w_obs = r[d > 0].sum()
    le = ge = 0
    for signs in itertools.product((0, 1), repeat=len(nz)):
        w = float(np.dot(signs, nz))
        le += w <= w_obs + 1e-9
        ge += w >= w_obs - 1e-9
    total = 2 ** len(nz)
    return min(1.0, 2 * min(le, ge) / total)


def continuous_case(name, base, adapter, zero_method="wilcox", brute=False):
    base = [float(x) for x in base]
    adapter = [float(x) for x in adapter]
    n = len(base)
    d = np.array(adapter) - np.array(base)
    dz, r = ranks_signed(d, zero_method)
    w_plus, w_minus = float(r[dz > 0].sum()), float(r[dz < 0].sum())
    n_used = int((dz != 0).sum())
    out = {
        "name": name, "base": base, "adapter": adapter, "zero_method": zero_method,
        "mean_base": float(np.mean(base)), "mean_adapter": float(np.mean(adapter)),
        "diff": float(np.mean(d)), "sd": float(np.std(d, ddof=1)),
        "base_ci": list(stats.t.interval(1 - ALPHA, n - 1, loc=np.mean(base),
                                         scale=stats.sem(base))),
        "adapter_ci": list(stats.t.interval(1 - ALPHA, n - 1, loc=np.mean(adapter),
                                            scale=stats.sem(adapter))),
        "diff_t_ci": list(stats.t.interval(1 - ALPHA, n - 1, loc=np.mean(d),
                                           scale=stats.sem(d))),
        "w_plus": w_plus, "w_minus": w_minus, "n_used": n_used,
        "rank_biserial": (w_plus - w_minus) / (w_plus + w_minus),
        "cohens_dz": float(np.mean(d) / np.std(d, ddof=1)),
        "power": [float(NormalIndPower().power(effect_size=dl / np.std(d, ddof=1), nobs1=n,
                                               alpha=ALPHA, ratio=0)) for dl in DELTAS],
    }
    if n_used <= 25:
        ties = len(np.unique(np.abs(dz[dz != 0]))) < n_used
        zeros = n_used < len(dz)
        if brute or ties or zeros:
            out["wilcoxon_p"] = wilcoxon_brute(d, zero_method)
            out["wilcoxon_source"] = "brute-force enumeration of sign patterns"
        else:
            res = stats.wilcoxon(adapter, base, zero_method=zero_method, method="exact")
            out["wilcoxon_p"] = float(res.pvalue)
            out["wilcoxon_statistic"] = float(res.statistic)
            out["wilcoxon_source"] = "scipy.stats.wilcoxon method=exact"
            out["wilcoxon_brute_p"] = wilcoxon_brute(d, zero_method)
    else:
        res = stats.wilcoxon(adapter, base, zero_method=zero_method, method="approx",
                             correction=True)
        out["wilcoxon_p"] = float(res.pvalue)
        out["wilcoxon_statistic"] = float(res.statistic)
        out["wilcoxon_source"] = "scipy.stats.wilcoxon method=approx correction=True"
    return out


def continuous_cases():
    rng = np.random.default_rng(20240601)
    cases = []
    # C1: 20 ROUGE-like scores, no ties: the exact distribution
    b = np.round(rng.uniform(0.2, 0.6, 20), 4)
    a = np.round(b + rng.normal(0.06, 0.08, 20), 4)
    cases.append(continuous_case("rouge-20-exact", b, a))
    # C2: 60 ROUGE-like scores: the normal approximation
    b = np.round(rng.uniform(0.1, 0.7, 60), 4)
    a = np.round(b + rng.normal(0.03, 0.1, 60), 4)
    cases.append(continuous_case("rouge-60-approx", b, a))
    # C3: 80 judge scores 1..5 scaled to 0.2..1: many ties and zeros
    b = rng.integers(1, 6, 80) / 5.0
    a = np.clip(b * 5 + rng.integers(-1, 3, 80), 1, 5) / 5.0
    cases.append(continuous_case("judge-80-wilcox", b, a, "wilcox"))
    cases.append(continuous_case("judge-80-pratt", b, a, "pratt"))
    # C4: 12 items, tied differences, no zeros: exact with ties
    b = [0.5, 0.4, 0.6, 0.3, 0.5, 0.7, 0.2, 0.4, 0.5, 0.6, 0.3, 0.8]
    a = [0.75, 0.5, 0.85, 0.55, 0.4, 0.95, 0.45, 0.3, 0.75, 0.85, 0.55, 0.9]
    cases.append(continuous_case("ties-12-exact", b, a))
    # C5: 15 items with zeros and ties, both zero rules
    b = [0.2, 0.4, 0.4, 0.6, 0.8, 0.6, 0.4, 0.2, 0.6, 0.8, 0.4, 0.6, 0.2, 0.4, 1.0]
    a = [0.4, 0.4, 0.6, 0.8, 0.8, 0.4, 0.8, 0.6, 0.6, 1.0, 0.2, 1.0, 0.4, 0.4, 1.0]
    cases.append(continuous_case("zeros-15-wilcox", b, a, "wilcox"))
    cases.append(continuous_case("zeros-15-pratt", b, a, "pratt"))
    return cases


def main():
    golden = {
        "generator": "tests/reference/make-stats-golden.py",
        "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                     "numpy": np.__version__},
        "alpha": ALPHA, "deltas": DELTAS,
        "distributions": distributions(),
        "binary": [
            binary_case("b60", 30, 5, 14, 11),
            binary_case("b200", 120, 12, 30, 38),
            binary_case("no-discord-50", 40, 0, 0, 10),
            binary_case("tie-100", 50, 9, 9, 32),
            binary_case("worse-80", 40, 15, 4, 21),
            binary_case("b400", 250, 20, 38, 92),
        ],
        "continuous": continuous_cases(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stats-golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
