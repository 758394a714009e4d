#!/usr/bin/env python3
"""Build the routing test set from data/routing/holdout for one final reading.

    scripts/make-route-holdout.py [--shared DIR] [--holdout DIR] --out-dir DIR

The held-out set is read once, after every design choice of the routers is
frozen (data/routing/holdout/README.md, docs/routers.md). This script
writes, into --out-dir, one JSONL file per source and all.jsonl, each line
{"query", "domain", "source", "id"}:

  own-test        own-test.jsonl: requests written by hand for the test set
  selfinstruct    labels-selfinstruct.jsonl: hand labels of Self-Instruct's
                  user-oriented prompts, the text read from the shared
                  datasets by id (instruction, then the input if any)
  alpacaeval      labels-alpacaeval.jsonl: the same for AlpacaEval, less
                  the prompts that are also in Self-Instruct (counted once)

Rows labelled null are skipped. The repository holds only the ids and
labels; the prompts' text stays in the shared datasets. Score each file
with `loco route --bench FILE --router NAME`. Standard library only.
"""
import argparse
import json
import os
import sys

SOURCES = [
    ("selfinstruct", "labels-selfinstruct.jsonl",
     "selfinstruct_user_oriented/selfinstruct_user_oriented.jsonl"),
    ("alpacaeval", "labels-alpacaeval.jsonl", "alpacaeval_gpt4/alpacaeval_gpt4.jsonl"),
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def request(r):
    return r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_shared = os.environ.get("LOCO_SHARED_DIR") or os.path.join(here, "..", "..", "shared")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=default_shared, help="the shared data folder")
    ap.add_argument("--holdout", default=os.path.join(here, "..", "data", "routing", "holdout"))
    ap.add_argument("--out-dir", required=True)
    a = ap.parse_args()
    ds = os.path.join(a.shared, "datasets")
    if not os.path.isdir(ds):
        sys.exit(f"make-route-holdout: no datasets folder at {ds} (use --shared DIR)")
    os.makedirs(a.out_dir, exist_ok=True)
    seen = set()
    per_source = {"own-test": []}
    for k, r in enumerate(read_jsonl(os.path.join(a.holdout, "own-test.jsonl"))):
        seen.add(r["query"])
        per_source["own-test"].append({"query": r["query"], "domain": r["domain"],
                                       "source": "own-test", "id": f"own-test-{k + 1}"})
    for name, labels, data in SOURCES:
        text = {r["id"]: request(r) for r in read_jsonl(os.path.join(ds, data))}
        rows = []
        for lab in read_jsonl(os.path.join(a.holdout, labels)):
            if lab.get("domain") is None:
                continue
            q = text[lab["id"]]
            if q in seen:  # the prompts both datasets hold count once
                continue
            seen.add(q)
            rows.append({"query": q, "domain": lab["domain"], "source": name, "id": lab["id"]})
        per_source[name] = rows
    everything = []
    for name, rows in per_source.items():
        everything += rows
        with open(os.path.join(a.out_dir, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"  {name:14s} {len(rows)} requests", file=sys.stderr)
    with open(os.path.join(a.out_dir, "all.jsonl"), "w", encoding="utf-8") as f:
        for r in everything:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"make-route-holdout: {len(everything)} requests -> {a.out_dir}/all.jsonl",
          file=sys.stderr)


if __name__ == "__main__":
    main()
