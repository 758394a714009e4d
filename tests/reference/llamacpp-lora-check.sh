#!/usr/bin/env bash
# llamacpp-lora-check.sh - run by hand: does an adapter written by LocoLLM
# load in llama.cpp, and do both engines give the same greedy continuation
# with it? (llama.cpp is not a dependency of the project; build it yourself,
# e.g. from the llama-cpp-python sdist as bench/compare-llamacpp.sh says.)
#
#   tests/reference/llamacpp-lora-check.sh LLAMA_COMPLETION MODEL ADAPTER [PROMPT]
#
# Prints the greedy continuation (raw prompt, no chat template, 48 tokens) of
# llama.cpp without and with the adapter, and of `build/loco ask --raw` with
# the adapter.
set -euo pipefail
llama=${1:?path to llama.cpp\'s llama-completion}
model=${2:?base model GGUF}
adapter=${3:?adapter GGUF}
prompt=${4:-"Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?
Answer:"}
root=$(cd "$(dirname "$0")/../.." && pwd)
n=48
run_llama() {
  "$llama" -m "$model" "$@" -p "$prompt" -n "$n" --temp 0 -s 1 -t 2 -no-cnv \
           --no-display-prompt --no-warmup 2>/dev/null
}
echo "== llama.cpp, base model"
run_llama
echo
echo "== llama.cpp, --lora $adapter"
run_llama --lora "$adapter"
echo
echo "== loco, --adapter $adapter"
"$root/build/loco" ask --raw --model "$model" --adapter "$adapter" --temperature 0 \
    --repeat-penalty 1 --max-tokens "$n" "$prompt" 2>/dev/null
