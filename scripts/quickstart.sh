#!/usr/bin/env bash
# The README's first command: install what is missing, build, fetch the
# default model (once, verified by sha256), answer a question with the base
# model, then answer a maths question with the `math` adapter (the engine
# names the adapter on stderr).
#   ./scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:-"Why is the sky blue? Answer in two sentences."}
./scripts/deps.sh
./scripts/build.sh
./build/loco models pull default
./build/loco ask "$question"
echo
./build/loco ask --adapter math --temperature 0 \
  "A pen costs 3 dollars. How much do 4 pens cost?"
