#!/usr/bin/env bash
# The README's first command: install what is missing, build, fetch the
# default model (once, verified by sha256), answer a question through the
# router (a general question: the base model answers), then ask a coding
# question: the router sends it to the `code` adapter (it passed its gate)
# and names it on stderr with its confidence.
#   ./scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:-"Why is the sky blue? Answer in two sentences."}
./scripts/deps.sh
./scripts/build.sh
./build/loco models pull default
./build/loco ask "$question"
echo
./build/loco ask --temperature 0 --max-tokens 160 \
  "Write a Python function that returns the largest of three numbers."
