#!/usr/bin/env python3
"""Golden values for tests/test-score.c: ROUGE-L and the Porter stemmer.

Run by hand (needs Google's rouge-score and NLTK, which the C build does not):

    python3 -m venv /tmp/rougeenv
    /tmp/rougeenv/bin/pip install rouge-score nltk
    /tmp/rougeenv/bin/python tests/reference/make-rouge-golden.py \
        ../shared/datasets/summarisation/summarisation.jsonl \
        tests/reference/rouge-golden.json

What it writes (JSON):
  - "pairs": for the first 200 records of summarisation.jsonl, the record id
    and rouge-score's ROUGE-L precision, recall and F1 (use_stemmer=True)
    with reference = `summary` and candidate = the first 30 words of
    `document`, words being runs of characters other than ASCII whitespace,
    joined by one space. Only ids and numbers: the texts stay in ../shared
    and the C test rebuilds them from there by id.
  - "synthetic": a few hand-written pairs (text included; none of it comes
    from a data set) that exercise edge cases of the tokenizer.
  - "stems": common English words chosen for this test (plus the examples
    from Porter's 1980 paper and the irregular forms NLTK special-cases) and
    NLTK PorterStemmer().stem() of each, in the default NLTK_EXTENSIONS mode
    that rouge-score uses.
"""
import importlib.metadata
import json
import re
import sys

import nltk
from nltk.stem import porter
from rouge_score import rouge_scorer

N_PAIRS = 200
N_WORDS = 30
ASCII_WS = re.compile(r"[ \t\n\r\f\v]+")

SYNTHETIC = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("The Cat SAT!!", "the cat sat"),
    ("", "something here"),
    ("nothing in common", "xyz qrs"),
    ("Running runners ran; the runner runs.", "a runner running"),
    ("\u0130stanbul \u212aelvin caf\u00e9 na\u00efve", "istanbul kelvin cafe naive"),
    ("It's 3.14 -- isn't it? 2,000 people", "its 3 14 isn t it 2 000 people"),
    ("generously relational conditional", "generous relate condition"),
    ("   ", ""),
    ("skies dying lying news innings", "sky die lie new inning"),
]

WORDS = """
a an the and or but if of to in on at by for with from as is are was were be
been being have has had do does did done say says said go goes going went gone
get gets got make makes made making know knows knew known think thought take took
see saw seen come came coming want wants wanted look looking use used using find
found give gave given tell told work worked working call called try tried trying
ask asked need needed feel felt become became leave left put means meaning keep
let begin began seem seemed help helped talk talked turn turned start started show
showed hear heard play played run running ran move moved like liked live lived
believe believed hold held bring brought happen happened write writing written
provide provided sit sat stand stood lose lost pay paid meet met include included
continue continued set learn learned change changed lead led understand understood
watch watched follow followed stop stopped create created speak spoke read reading
allow allowed add added spend spent grow grew open opened walk walked win won offer
offered remember remembered love loved consider considered appear appeared buy
bought wait waited serve served die died send sent expect expected build built stay
stayed fall fell cut reach reached kill killed remain remained suggest suggested
raise raised pass passed sell sold require required report reported decide decided
pull pulled government governments company companies people person children child
country countries family families problem problems service services university
universities happiness happily happy happier happiest hopeful hopefulness hopefully
national nationally nationalism nationality nationalization relational relation
relations relationship conditional condition conditioning rational rationality
electrical electricity electric electrician formative formalize formality formal
generously generous generosity sensitivity sensitive sensible sensibility
effective effectiveness effect adjustable adjustment adjust dependent dependence
depend adoption adopt communism communist activate activation activity agreed agree
feed plastered bled motoring sing conflated troubled sized hopping tanned falling
hissing fizzed failing filing caresses ponies ties caress cats sky skies dying
lying tying news innings inning outings cannings howe proceed exceed succeed flies
dies spied died enjoy enjoyment spy fly try cry analogously radically differently
vilely callousness decisiveness operator predication digitizer vietnamization
feudalism triplicate electriciti goodness revival allowance inference airliner
gyroscopic defensible irritant replacement homologous bowdlerize probate rate cease
controlling roll archaeology geology theology philology biology beautifully
carefully skillfully generalization organization organizational international
internationally computer computing computation computational compute computed
running runner runs ran swimming swimmer swam argue argued argument arguments
dogs cats horses oxen feet teeth mice geese women men tomatoes potatoes heroes
quickly slowly easily busily gently simply truly fully nicely really
yesterday tomorrow today monday tuesday eyes toy syzygy yyyy yelling yoyo
football basketball players played playing player announcement announced
minister ministers parliament election elections elected councillor councils
police officers investigation investigated investigating hospital hospitals
"""

def main():
    src, dst = sys.argv[1], sys.argv[2]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    pairs = []
    with open(src, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= N_PAIRS:
                break
            rec = json.loads(line)
            words = [w for w in ASCII_WS.split(rec["document"]) if w]
            cand = " ".join(words[:N_WORDS])
            s = scorer.score(rec["summary"], cand)["rougeL"]
            pairs.append({"id": rec["id"], "precision": s.precision,
                          "recall": s.recall, "f1": s.fmeasure})
    synthetic = []
    for ref, cand in SYNTHETIC:
        s = scorer.score(ref, cand)["rougeL"]
        synthetic.append({"reference": ref, "candidate": cand,
                          "precision": s.precision, "recall": s.recall,
                          "f1": s.fmeasure})
    stemmer = porter.PorterStemmer()
    seen, stems = set(), []
    for w in WORDS.split():
        if w not in seen:
            seen.add(w)
            stems.append([w, stemmer.stem(w)])
    out = {
        "generator": "tests/reference/make-rouge-golden.py",
        "rouge_score_version": importlib.metadata.version("rouge-score"),
        "nltk_version": nltk.__version__,
        "candidate": "first %d ASCII-whitespace words of document" % N_WORDS,
        "reference": "summary",
        "pairs": pairs,
        "synthetic": synthetic,
        "stems": stems,
    }
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=True)
        f.write("\n")

if __name__ == "__main__":
    main()
