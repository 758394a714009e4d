#!/usr/bin/env python3
"""Build the routing benchmark: labelled queries from evaluation splits only.

    scripts/make-route-bench.py [--split test|dev] [--shared DIR] [--per-domain N]
                                [--seed S] [--out FILE]

Writes JSONL, one object per line: {"query", "domain", "source", "id"}.
Domains and where their queries come from (never a training item of the
reference adapters; docs/routers.md):

  math           GSM8K test split (the math adapter trains on train)
  code           MBPP test split (task_id 11-510) and HumanEval (the code
                 adapter trains on MBPP 601-974)
  summarisation  XSum records 601-1000 (the adapter trains on 1-600), each
                 article (first 120 words) behind one of several phrasings
                 of a summary request, some without the word "summary"
  writing        GPTeacher roleplay records 1001-1923 (the writing adapter
                 trains on 1-800), instruction plus input
  base           ARC-Easy and ARC-Challenge test questions: general
                 knowledge with no specialist

Every pool is cut in two halves by a fixed shuffle: --split dev draws from
one half, --split test (the default) from the other, so keywords and
thresholds tuned on dev are scored on queries they were not tuned on. Each
domain gets N queries (default 100) drawn with the seed (default 1); the
same arguments always give the same file. Standard library only.
"""
import argparse
import json
import os
import random
import sys

SUMMARY_ASKS = [
    "Summarise this article in one sentence:\n\n{doc}",
    "Give me a one-sentence summary of this news story:\n\n{doc}",
    "TL;DR:\n\n{doc}",
    "What is the gist of the following report?\n\n{doc}",
    "Can you condense this into a single line?\n\n{doc}",
    "{doc}\n\nSummarize the above in one sentence.",
    "Shorten this news piece to one sentence for a headline ticker:\n\n{doc}",
    "In one sentence, what happened here?\n\n{doc}",
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


SPLIT = "test"


def pick(rng, items, n):
    """n items of the SPLIT half of items (halves fixed by a seed-0 shuffle)."""
    items = list(items)
    random.Random(0).shuffle(items)
    half = len(items) // 2
    items = items[half:] if SPLIT == "test" else items[:half]
    rng.shuffle(items)
    return items[:n]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_shared = os.environ.get("LOCO_SHARED_DIR") or os.path.join(here, "..", "..", "shared")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=default_shared, help="the shared data folder")
    ap.add_argument("--split", choices=["test", "dev"], default="test")
    ap.add_argument("--per-domain", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="-", help="output file (default: stdout)")
    a = ap.parse_args()
    ds = os.path.join(a.shared, "datasets")
    if not os.path.isdir(ds):
        sys.exit(f"make-route-bench: no datasets folder at {ds} (use --shared DIR)")
    global SPLIT
    SPLIT = a.split
    rng = random.Random(a.seed)
    n = a.per_domain
    rows = []

    gsm = read_jsonl(os.path.join(ds, "gsm8k", "test.jsonl"))
    for r in pick(rng, gsm, n):
        rows.append({"query": r["question"], "domain": "math", "source": "gsm8k-test",
                     "id": r["id"]})

    mbpp = [r for r in read_jsonl(os.path.join(ds, "mbpp", "mbpp.jsonl"))
            if 11 <= int(r["task_id"]) <= 510]
    he = read_jsonl(os.path.join(ds, "humaneval", "humaneval.jsonl"))
    code = [("mbpp-test", str(r["task_id"]), r["text"]) for r in mbpp]
    code += [("humaneval", r["task_id"], "Complete this Python function:\n\n" + r["prompt"])
             for r in he]
    for src, ident, q in pick(rng, code, n):
        rows.append({"query": q, "domain": "code", "source": src, "id": ident})

    xsum = read_jsonl(os.path.join(ds, "summarisation", "summarisation.jsonl"))[600:1000]
    for r in pick(rng, xsum, n):
        doc = " ".join(r["document"].split()[:120])
        ask = rng.choice(SUMMARY_ASKS)
        rows.append({"query": ask.format(doc=doc), "domain": "summarisation",
                     "source": "xsum-601-1000", "id": r["id"]})

    rp = read_jsonl(os.path.join(ds, "gpteacher_roleplay", "gpteacher_roleplay.jsonl"))[1000:]
    for r in pick(rng, rp, n):
        q = r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")
        rows.append({"query": q, "domain": "writing", "source": "gpteacher-roleplay-1001+",
                     "id": r["id"]})

    arc = read_jsonl(os.path.join(ds, "arc", "ARC-Easy-test.jsonl"))
    arc += read_jsonl(os.path.join(ds, "arc", "ARC-Challenge-test.jsonl"))
    for r in pick(rng, arc, n):
        rows.append({"query": r["question"], "domain": "base", "source": "arc-test",
                     "id": r["id"]})

    rng.shuffle(rows)
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    for r in rows:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
    if out is not sys.stdout:
        out.close()
        print(f"make-route-bench: {len(rows)} {a.split} queries ({n} per domain) -> {a.out}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
