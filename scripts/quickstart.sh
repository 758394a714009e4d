#!/usr/bin/env bash
# The README's first command: install what is missing, build, fetch the
# default model (once, verified by sha256) and answer a question.
#   ./scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:-"Why is the sky blue? Answer in two sentences."}
./scripts/deps.sh
./scripts/build.sh
./build/loco models pull default
./build/loco ask "$question"
