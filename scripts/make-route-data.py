#!/usr/bin/env python3
"""Build the routing pool: labelled requests from many sources, for training
routers and for leave-one-source-out evaluation (`loco router loso`).

    scripts/make-route-data.py [--shared DIR] [--written DIR] [--labels DIR] [--per-source N]
                               [--seed S] [--out FILE]

Writes JSONL, one object per line: {"query", "domain", "source", "id"}.
Each dataset is its own source; where a dataset is bare (an article, a
one-line intent, a function stub) it is put behind requests as people
would phrase them, drawn from a list per source (the phrasings are part of
the source: a held-out source brings its own). Labels follow
/work/team/LABELS.md (docs/routers.md, "Labels").

  source                domain         from
  gsm8k                 math           GSM8K train questions (some behind a request)
  mbpp                  code           MBPP train/validation (task_id 511-974) problem texts
  humaneval             code           HumanEval prompts behind a request to complete them
  conala                code           CoNaLa train intents, asked as "how do I ... in Python"
  codealpaca            code           CodeAlpaca instructions whose answer is code
  gpteacher-codegen     code           GPTeacher codegen instructions (+ input)
  gpteacher-roleplay    writing        GPTeacher role-play records 1-1000 (+ input)
  xsum                  summarisation  XSum articles (first 60-160 words) behind
                                       summary requests (before or after the text)
  arc                   base           ARC-Easy/Challenge train questions, bare or
                                       with their options
  alpaca                (per line)     Alpaca instructions (+ input), labelled by hand,
                                       by id, in data/routing/labels/alpaca.jsonl
                                       (rows labelled null are skipped)
  written/<name>        (per line)     data/routing/written/<name>.jsonl: requests
                                       written by hand, one style family per file

Left out: alpacaeval_gpt4 and selfinstruct_user_oriented (evaluation only:
the held-out set reads them), and every test split the routing benchmark
(make-route-bench.py) or the holdout uses. An Alpaca request whose words
nearly repeat an AlpacaEval or Self-Instruct prompt (word-set overlap of
0.7 or more) is dropped, so the held-out set stays unseen. Each source
gives at most N requests (default 300), drawn with the seed (default 1);
the same arguments always give the same file. Standard library only.
"""
import argparse
import glob
import json
import os
import random
import re
import sys

GSM_ASKS = [
    "{q}",
    "{q}",
    "Solve this word problem: {q}",
    "Can you help me work this out? {q}",
    "{q} Show your working.",
    "Quick maths question: {q}",
]
MBPP_ASKS = [
    "{q}",
    "{q}",
    "In Python: {q}",
    "Can you {lq}",
    "I need code for this. {q}",
    "{q} Include a couple of test cases.",
]
HUMANEVAL_ASKS = [
    "Complete this Python function:\n\n{q}",
    "Finish the implementation:\n{q}",
    "{q}\n\nFill in the body of this function.",
    "Here is a stub, please implement it:\n\n{q}",
    "Write the code for this docstring.\n{q}",
]
CONALA_ASKS = [
    "How do I {lq} in Python?",
    "python: {lq}",
    "{q}",
    "What's the Python one-liner to {lq}?",
    "How can I {lq} using pandas or plain python?",
    "{q} (python 3)",
]
XSUM_ASKS = [
    "Summarise this article in one sentence:\n\n{doc}",
    "{doc}\n\nSummarize the above in a sentence.",
    "TL;DR please:\n\n{doc}",
    "Give me the key points of this news story as bullets.\n\n{doc}",
    "What is this article about? Keep it short.\n\n{doc}",
    "Write a headline for this article:\n\n{doc}",
    "{doc}\n\nCan you boil that down to two lines?",
    "Condense the following text into a short abstract.\n\n\"{doc}\"",
    "Please give me a brief summary of the text below\n{doc}",
    "Sum up this report for a busy reader:\n{doc}",
    "Here's a news piece:\n{doc}\nWhat's the gist?",
    "Shorten this to one line for a newsletter: {doc}",
]
ARC_ASKS = [
    "{q}",
    "{q}",
    "{q}\n{choices}",
    "Question: {q}\nOptions: {choices}",
    "{q} Choose from: {choices}",
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def lower_first(s):
    return s[:1].lower() + s[1:] if s[:1].isupper() and not s[1:2].isupper() else s


def with_input(r):
    return r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")


CODE_SIGNS = re.compile(r"(def |return |\bfor\b.*:|[;{}]|==|\w\(.*\)|<\w+>|SELECT |import )")


def looks_like_code(text):
    """Whether an answer is code (the CodeAlpaca label rule: the request asks
    for code when its answer is code)."""
    return bool(CODE_SIGNS.search(text or ""))


def sample(rng, items, n):
    items = list(items)
    rng.shuffle(items)
    return items[:n]


def ask(rng, asks, **kw):
    return rng.choice(asks).format(**kw)


def dataset_sources(ds, rng, n):
    """(source, domain, id, query) from the shared datasets."""
    out = []
    for r in sample(rng, read_jsonl(os.path.join(ds, "gsm8k", "train.jsonl")), n):
        out.append(("gsm8k", "math", r["id"], ask(rng, GSM_ASKS, q=r["question"])))

    mbpp = [r for r in read_jsonl(os.path.join(ds, "mbpp", "mbpp.jsonl"))
            if int(r["task_id"]) >= 511]
    for r in sample(rng, mbpp, n):
        q = r["text"].strip()
        out.append(("mbpp", "code", str(r["task_id"]), ask(rng, MBPP_ASKS, q=q, lq=lower_first(q))))

    he = read_jsonl(os.path.join(ds, "humaneval", "humaneval.jsonl"))
    for r in sample(rng, he, n):
        out.append(("humaneval", "code", r["task_id"], ask(rng, HUMANEVAL_ASKS, q=r["prompt"])))

    conala = read_jsonl(os.path.join(ds, "conala", "conala_train.jsonl"))
    seen = set()
    uniq = []
    for r in conala:
        k = r["instruction"].strip().lower()
        if k not in seen:
            seen.add(k)
            uniq.append(r)
    for r in sample(rng, uniq, n):
        q = r["instruction"].strip().rstrip(".?")
        out.append(("conala", "code", r["id"], ask(rng, CONALA_ASKS, q=q, lq=lower_first(q))))

    ca = [r for r in read_jsonl(os.path.join(ds, "codealpaca", "codealpaca.jsonl"))
          if looks_like_code(r.get("output"))]
    for r in sample(rng, ca, n):
        out.append(("codealpaca", "code", r["id"], with_input(r)))

    cg = read_jsonl(os.path.join(ds, "gpteacher_codegen", "gpteacher_codegen.jsonl"))
    for r in sample(rng, cg, n):
        out.append(("gpteacher-codegen", "code", r["id"], with_input(r)))

    rp = read_jsonl(os.path.join(ds, "gpteacher_roleplay", "gpteacher_roleplay.jsonl"))[:1000]
    for r in sample(rng, rp, n):
        out.append(("gpteacher-roleplay", "writing", r["id"], with_input(r)))

    xsum = read_jsonl(os.path.join(ds, "summarisation", "summarisation.jsonl"))
    for r in sample(rng, xsum, n):
        doc = " ".join(r["document"].split()[:rng.randint(60, 160)])
        out.append(("xsum", "summarisation", r["id"], ask(rng, XSUM_ASKS, doc=doc)))

    arc = read_jsonl(os.path.join(ds, "arc", "ARC-Easy-train.jsonl"))
    arc += read_jsonl(os.path.join(ds, "arc", "ARC-Challenge-train.jsonl"))
    for r in sample(rng, arc, n):
        choices = "; ".join(f"{c['label']}) {c['text']}" for c in r["choices"])
        out.append(("arc", "base", r["id"], ask(rng, ARC_ASKS, q=r["question"], choices=choices)))
    return out


DOMAINS = {"math", "code", "writing", "summarisation", "base"}

# Labelled datasets: data/routing/labels/<dataset>.jsonl holds
# {"dataset", "id", "domain"} rows; the text comes from the shared file.
LABELLED = {"alpaca": os.path.join("alpaca", "alpaca.jsonl")}
EVAL_ONLY = [os.path.join("alpacaeval_gpt4", "alpacaeval_gpt4.jsonl"),
             os.path.join("selfinstruct_user_oriented", "selfinstruct_user_oriented.jsonl")]


def word_set(text):
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def near_eval_prompt(words, eval_sets):
    """Whether a request's words nearly repeat an evaluation-only prompt
    (Jaccard overlap of the word sets >= 0.7)."""
    for e in eval_sets:
        union = len(words | e)
        if union and len(words & e) / union >= 0.7:
            return True
    return False


def labelled_sources(ds, folder, rng, n):
    out = []
    eval_sets = []
    for rel in EVAL_ONLY:
        path = os.path.join(ds, rel)
        if not os.path.exists(path):
            sys.exit(f"make-route-data: {path} is missing: the near-duplicate check needs it")
        eval_sets += [word_set(with_input(r)) for r in read_jsonl(path)]
    for name, rel in sorted(LABELLED.items()):
        labels = os.path.join(folder, name + ".jsonl")
        if not os.path.exists(labels):
            sys.exit(f"make-route-data: no labels for {name} at {labels} (use --labels DIR)")
        text = {r["id"]: r for r in read_jsonl(os.path.join(ds, rel))}
        rows = []
        dropped = 0
        for k, lab in enumerate(read_jsonl(labels)):
            if lab.get("domain") is None:
                continue
            if lab.get("domain") not in DOMAINS or lab.get("id") not in text:
                sys.exit(f"make-route-data: {labels}:{k + 1}: bad label row {lab!r}")
            q = with_input(text[lab["id"]])
            if near_eval_prompt(word_set(q), eval_sets):
                dropped += 1
                continue
            rows.append((name, lab["domain"], lab["id"], q))
        if dropped:
            print(f"make-route-data: {name}: {dropped} requests dropped as near an "
                  f"evaluation-only prompt", file=sys.stderr)
        out += sample(rng, rows, n)
    return out


def written_sources(folder, rng, n):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl"))):
        name = os.path.splitext(os.path.basename(path))[0]
        rows = []
        for k, r in enumerate(read_jsonl(path)):
            if r.get("domain") not in DOMAINS or not str(r.get("query", "")).strip():
                print(f"make-route-data: {path}:{k + 1}: skipped (domain "
                      f"{r.get('domain')!r})", file=sys.stderr)
                continue
            rows.append(("written/" + name, r["domain"], f"{name}-{k + 1}", r["query"]))
        out += sample(rng, rows, n)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_shared = os.environ.get("LOCO_SHARED_DIR") or os.path.join(here, "..", "..", "shared")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=default_shared, help="the shared data folder")
    ap.add_argument("--written", default=os.path.join(here, "..", "data", "routing", "written"),
                    help="hand-written requests, one source per file")
    ap.add_argument("--labels", default=os.path.join(here, "..", "data", "routing", "labels"),
                    help="hand labels of shared datasets, one file per dataset")
    ap.add_argument("--per-source", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-datasets", action="store_true", help="the written sources alone")
    ap.add_argument("--out", default="-", help="output file (default: stdout)")
    a = ap.parse_args()
    ds = os.path.join(a.shared, "datasets")
    rng = random.Random(a.seed)
    rows = []
    if not a.no_datasets:
        if not os.path.isdir(ds):
            sys.exit(f"make-route-data: no datasets folder at {ds} (use --shared DIR)")
        rows += dataset_sources(ds, rng, a.per_source)
        rows += labelled_sources(ds, a.labels, rng, a.per_source)
    if os.path.isdir(a.written):
        rows += written_sources(a.written, rng, a.per_source)
    rng.shuffle(rows)
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    for src, dom, ident, q in rows:
        out.write(json.dumps({"query": q, "domain": dom, "source": src, "id": ident},
                             ensure_ascii=False) + "\n")
    if out is not sys.stdout:
        out.close()
    counts = {}
    for src, dom, _, _ in rows:
        counts.setdefault(src, {}).setdefault(dom, 0)
        counts[src][dom] += 1
    for src in sorted(counts):
        print(f"  {src:28s} " + " ".join(f"{d}={c}" for d, c in sorted(counts[src].items())),
              file=sys.stderr)
    print(f"make-route-data: {len(rows)} requests from {len(counts)} sources -> {a.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
