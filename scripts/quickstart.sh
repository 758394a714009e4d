#!/usr/bin/env bash
# The README's first command: install what is missing, build, fetch the
# default model (once, verified by sha256), answer a question with the base
# model, then ask a maths question: the router sends it to the `math`
# adapter and names it on stderr with its confidence.
#   ./scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:-"Why is the sky blue? Answer in two sentences."}
./scripts/deps.sh
./scripts/build.sh
./build/loco models pull default
./build/loco ask "$question"
echo
./build/loco ask --temperature 0 "A pen costs 3 dollars. How much do 4 pens cost?"
