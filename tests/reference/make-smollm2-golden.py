#!/usr/bin/env python3
"""
make-smollm2-golden.py - an independent reference for the default base model.

Loads the embedded default GGUF (SmolLM2-135M-Instruct Q4_1, the file
`loco models pull default` fetches) with Hugging Face transformers, which
dequantizes every tensor to float32 and runs its own PyTorch Llama forward
pass, and writes smollm2-135m-instruct-q4_1.golden.json beside this script:

  - the model's sha256 and the package versions used;
  - for each of 5 fixed prompts, rendered with the model's own chat
    template (checked to equal the chatml text below):
      * the prompt text and its token ids (HF tokenizer, no added specials),
      * the logits at the LAST prompt position, full vocabulary, 6
        significant digits, plus their logsumexp and the top 10,
      * the first 32 greedy tokens (stopping early only at <|im_end|> or
        <|endoftext|>), with the top1 - top2 logit margin at every step, so a
        test can stop comparing where the margin is too small for float
        differences to be meaningful.

Run by hand, never in CI (it needs torch and the 94 MB model):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.15.0 transformers==5.24.0 gguf==0.19.0 \
        numpy==2.4.6 accelerate==1.15.0
    loco models pull default          # or pass --model PATH
    /tmp/refenv/bin/python tests/reference/make-smollm2-golden.py

Versions that produced the committed JSON: Python 3.11.7, torch 2.15.0 (CPU),
transformers 5.24.0, gguf 0.19.0, numpy 2.4.6, accelerate 1.15.0,
tokenizers 0.23.3 (also recorded inside the JSON).
"""
import argparse
import hashlib
import json
import math
import os
import platform
import sys

import gguf
import numpy
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHATML = ("<|im_start|>system\n" + SYSTEM + "<|im_end|>\n"
          "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n")
PROMPTS = [
    "What is the capital of France?",
    "Write a Python function that returns the factorial of n.",
    "Tom has 5 apples. He buys 3 bags with 4 apples in each bag. "
    "How many apples does he have now?",
    "Why is the sky blue?",
    "Give me three tips for learning a new language such as Español or Français.",
]
N_GEN = 32
STOP_TEXTS = ("<|im_end|>", "<|endoftext|>")


def default_model_path():
    d = os.environ.get("LOCO_MODELS_DIR")
    if not d:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = xdg if xdg and xdg.startswith("/") else os.path.expanduser("~/.cache")
        d = os.path.join(base, "locollm", "models")
    return os.path.join(d, MODEL_FILE)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def g6(x):
    """A float rounded to 6 significant digits (JSON keeps it short)."""
    return float(f"{x:.6g}")


def last_logits_record(logits):
    """logits: [V] float32 tensor of the last prompt position."""
    lse = torch.logsumexp(logits.double(), 0).item()
    top = torch.topk(logits, 10)
    return {
        "logsumexp": g6(lse),
        "top10": [{"id": int(i), "logit": g6(v)} for v, i in zip(top.values.tolist(),
                                                                 top.indices.tolist())],
        "logits": [g6(v) for v in logits.tolist()],
    }


@torch.no_grad()
def greedy(model, ids, stop_ids):
    """First N_GEN greedy tokens with the top1 - top2 margin at each step."""
    out = model(ids, use_cache=True)
    past, logits = out.past_key_values, out.logits[0, -1]
    steps = []
    for _ in range(N_GEN):
        top = torch.topk(logits, 2)
        tok = int(top.indices[0])
        steps.append({"id": tok, "logit": g6(top.values[0].item()),
                      "margin": g6((top.values[0] - top.values[1]).item())})
        if tok in stop_ids:
            break
        out = model(torch.tensor([[tok]]), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=default_model_path())
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "smollm2-135m-instruct-q4_1.golden.json"))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found: run `loco models pull default` or pass --model")
    digest = sha256_file(args.model)
    if digest != MODEL_SHA256:
        sys.exit(f"{args.model} has sha256 {digest}, expected {MODEL_SHA256}")

    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    d, f = os.path.dirname(os.path.abspath(args.model)), os.path.basename(args.model)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    stop_ids = {tok.convert_tokens_to_ids(t) for t in STOP_TEXTS}

    prompts = []
    for q in PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                       add_generation_prompt=True)
        if text != CHATML.format(q=q):
            sys.exit(f"the GGUF's chat template renders\n{text!r}\nnot the expected chatml\n"
                     f"{CHATML.format(q=q)!r}")
        ids = tok(text, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float()
        steps = greedy(model, torch.tensor([ids]), stop_ids)
        gen_ids = [s["id"] for s in steps]
        prompts.append({
            "question": q,
            "prompt": text,
            "prompt_ids": ids,
            "last_position": last_logits_record(logits),
            "greedy": steps,
            "greedy_ids": gen_ids,
            "greedy_text": tok.decode(gen_ids),
        })
        print(f"{q[:50]!r}: {len(ids)} prompt tokens -> {tok.decode(gen_ids)!r}", flush=True)

    cfg = model.config
    golden = {
        "what": "SmolLM2-135M-Instruct Q4_1 reference: HF transformers float32 forward on the "
                "dequantized GGUF; chat template chatml with the template's default system "
                "prompt; logits rounded to 6 significant digits",
        "generator": "tests/reference/make-smollm2-golden.py",
        "model_file": MODEL_FILE,
        "model_sha256": digest,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__,
                     "gguf": getattr(gguf, "__version__", "0.19.0"),
                     "numpy": numpy.__version__},
        "config": {"vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
                   "num_hidden_layers": cfg.num_hidden_layers,
                   "num_attention_heads": cfg.num_attention_heads,
                   "num_key_value_heads": cfg.num_key_value_heads,
                   "rms_norm_eps": cfg.rms_norm_eps,
                   "rope_theta": getattr(cfg, "rope_theta", None)
                   or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta"),
                   "tie_word_embeddings": cfg.tie_word_embeddings},
        "chat_template": "chatml",
        "system_prompt": SYSTEM,
        "n_greedy": N_GEN,
        "stop_ids": sorted(stop_ids),
        "prompts": prompts,
    }
    with open(args.out, "w") as fp:
        json.dump(golden, fp, separators=(",", ":"))
        fp.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
