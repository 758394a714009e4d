#!/usr/bin/env python3
"""Check the hand-written routing sources in this directory.

Every line must be one JSON object with a non-empty "query", a "domain"
among the five labels and a "source" equal to its file's stem; no query may
appear twice across the files (compared case- and whitespace-insensitively).

Then every request is compared with the held-out routing test set, so that
none of it is trained on by accident: the hand-written test requests
(data/routing/holdout/own-test.jsonl) and *every* prompt of the two
evaluation-only shared datasets the holdout labels (AlpacaEval, Self-Instruct
user-oriented), not only the labelled ones. A request is too close when the
word sets overlap by 0.6 or more (Jaccard) or when both start with the same
40 characters (lower-cased, spaces collapsed, at least 20 of them). Only the
written request's file and line are printed, never the held-out text, so the
check can be run without reading the test set.

Prints the counts per file and label. Exits 1 when anything fails.

Usage: python3 data/routing/written/check.py   (shared datasets from
../shared/datasets, or $LOCO_SHARED/datasets; without them only own-test is
compared, and the script says so)
"""
import collections
import glob
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SHARED = os.environ.get("LOCO_SHARED", os.path.join(REPO, "..", "shared"))
HOLDOUT = os.path.join(REPO, "data", "routing", "holdout")
JACCARD = 0.6
PREFIX = 40

# The pool's own reader: its request text, word sets, labels and the list of
# evaluation-only datasets (scripts/make-route-data.py).
_spec = importlib.util.spec_from_file_location(
    "make_route_data", os.path.join(REPO, "scripts", "make-route-data.py"))
pool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pool)
LABELS = ("math", "code", "writing", "summarisation", "base")  # the table's columns


def prefix(text):
    return " ".join(text.lower().split())[:PREFIX]


def held_out():
    texts = [r["query"] for r in pool.read_jsonl(os.path.join(HOLDOUT, "own-test.jsonl"))]
    found = 0
    for rel in pool.EVAL_ONLY:
        path = os.path.join(SHARED, "datasets", rel)
        if os.path.exists(path):
            texts += [pool.with_input(r) for r in pool.read_jsonl(path)]
            found += 1
    if found < len(pool.EVAL_ONLY):
        print(f"check: shared evaluation sets not found under {SHARED}: compared with own-test only")
    return [(pool.word_set(t), prefix(t)) for t in texts]


def main():
    errors = []
    seen = {}
    counts = {}
    held = held_out()
    for path in sorted(glob.glob(os.path.join(HERE, "*.jsonl"))):
        stem = os.path.basename(path)[: -len(".jsonl")]
        c = collections.Counter()
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            where = f"{stem}.jsonl:{n}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: not JSON ({e})")
                continue
            q = r.get("query")
            if not isinstance(q, str) or not q.strip():
                errors.append(f"{where}: no query")
                continue
            if r.get("domain") not in pool.DOMAINS:
                errors.append(f"{where}: domain {r.get('domain')!r} is not one of {LABELS}")
            if r.get("source") != stem:
                errors.append(f"{where}: source {r.get('source')!r} is not {stem!r}")
            key = " ".join(q.lower().split())
            if key in seen:
                errors.append(f"{where}: the same query as {seen[key]}")
            seen.setdefault(key, where)
            w, p = pool.word_set(q), prefix(q)
            for hw, hp in held:
                j = len(w & hw) / max(1, len(w | hw))
                if j >= JACCARD or (p == hp and len(p) >= 20):
                    errors.append(f"{where}: too close to a held-out request (Jaccard {j:.2f})")
                    break
            c[r.get("domain")] += 1
        counts[stem] = c
    width = max(len(s) for s in counts) if counts else 4
    print(f"{'file':{width}}  " + " ".join(f"{d[:5]:>5}" for d in LABELS) + "  total")
    total = collections.Counter()
    for stem, c in counts.items():
        total.update(c)
        print(f"{stem:{width}}  " + " ".join(f"{c[d]:5d}" for d in LABELS) + f"  {sum(c.values()):5d}")
    print(f"{'all':{width}}  " + " ".join(f"{total[d]:5d}" for d in LABELS) + f"  {sum(total.values()):5d}")
    for e in errors:
        print("error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
