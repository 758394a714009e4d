#!/usr/bin/env python3
"""Validate the held-out routing test files in this directory.

Checks every line is one JSON object with the expected fields, every domain
is one of the five labels (or null with a note, for the eval-set labels),
there are no duplicate ids or queries, and every labelled id exists in the
shared eval dataset it names.  The shared datasets are read from
../shared/datasets relative to the repository root (or $LOCO_SHARED); when
they are absent the id check is skipped with a message.

Prints counts per file and per domain.  Exits 1 on the first kind of error
found in any file (all errors are listed first).

Usage: python3 data/routing/holdout/check.py
"""
import json
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SHARED = os.environ.get("LOCO_SHARED", os.path.join(REPO, "..", "shared"))

DOMAINS = ("math", "code", "writing", "summarisation", "base")

LABEL_FILES = {
    "labels-alpacaeval.jsonl": (
        "alpacaeval_gpt4",
        "datasets/alpacaeval_gpt4/alpacaeval_gpt4.jsonl",
    ),
    "labels-selfinstruct.jsonl": (
        "selfinstruct_user_oriented",
        "datasets/selfinstruct_user_oriented/selfinstruct_user_oriented.jsonl",
    ),
}

# alpacaeval is labelled on a fixed sample: every 4th record from the first.
ALPACA_STRIDE = 4


def read_jsonl(path, errors):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                errors.append(f"{path}:{n}: blank line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{path}:{n}: invalid JSON ({e})")
                continue
            if not isinstance(row, dict):
                errors.append(f"{path}:{n}: not a JSON object")
                continue
            rows.append((n, row))
    return rows


def check_own_test(errors):
    path = os.path.join(HERE, "own-test.jsonl")
    rows = read_jsonl(path, errors)
    seen = set()
    for n, row in rows:
        where = f"{path}:{n}"
        if set(row) != {"query", "domain", "source", "style"}:
            errors.append(f"{where}: fields {sorted(row)}")
        if row.get("domain") not in DOMAINS:
            errors.append(f"{where}: bad domain {row.get('domain')!r}")
        if row.get("source") != "own-test":
            errors.append(f"{where}: source must be 'own-test'")
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            errors.append(f"{where}: empty query")
        elif query in seen:
            errors.append(f"{where}: duplicate query")
        seen.add(query)
        if not isinstance(row.get("style"), str) or not row["style"]:
            errors.append(f"{where}: empty style")
    return Counter(row.get("domain") for _, row in rows)


def shared_ids(rel):
    path = os.path.join(SHARED, rel)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["id"] for line in f if line.strip()]


def check_labels(name, dataset, rel, errors):
    path = os.path.join(HERE, name)
    rows = read_jsonl(path, errors)
    ids = shared_ids(rel)
    if ids is None:
        print(f"note: {os.path.join(SHARED, rel)} absent, id check skipped")
    known = set(ids) if ids is not None else None
    seen = set()
    for n, row in rows:
        where = f"{path}:{n}"
        domain = row.get("domain")
        expected = {"dataset", "id", "domain"} | ({"note"} if domain is None else set())
        if set(row) != expected:
            errors.append(f"{where}: fields {sorted(row)}")
        if row.get("dataset") != dataset:
            errors.append(f"{where}: dataset must be {dataset!r}")
        if domain is None:
            if not isinstance(row.get("note"), str) or not row["note"]:
                errors.append(f"{where}: null domain needs a note")
        elif domain not in DOMAINS:
            errors.append(f"{where}: bad domain {domain!r}")
        rid = row.get("id")
        if rid in seen:
            errors.append(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        if known is not None and rid not in known:
            errors.append(f"{where}: id {rid!r} not in {rel}")
    if ids is not None and dataset == "alpacaeval_gpt4":
        sample = set(ids[0:ALPACA_STRIDE * len(rows):ALPACA_STRIDE])
        if seen != sample:
            errors.append(f"{path}: ids are not every {ALPACA_STRIDE}th record from the first")
    return Counter(row.get("domain") for _, row in rows)


def show(name, counts):
    total = sum(counts.values())
    parts = [f"{d}={counts.get(d, 0)}" for d in DOMAINS]
    if counts.get(None):
        parts.append(f"null={counts[None]}")
    print(f"{name}: {total} rows: " + " ".join(parts))


def main():
    errors = []
    show("own-test.jsonl", check_own_test(errors))
    for name, (dataset, rel) in LABEL_FILES.items():
        show(name, check_labels(name, dataset, rel, errors))
    for e in errors:
        print("error:", e, file=sys.stderr)
    if errors:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
