#!/usr/bin/env bash
# The README's second command, and what CI runs: install what is missing,
# then build and run the whole test suite three ways:
#   1. Release build, all tests (ctest), `loco registry validate` on the
#      shipped adapters/registry.yaml
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, all tests
#   3. a short libFuzzer run of the GGUF and safetensors readers (clang)
# Tests that need the shared fixtures (../shared) skip with a message when
# they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
# The default model is compared against its transformers reference; fetch it
# once into the model cache (verified by sha256). Offline, that test skips.
./build/loco models pull default || echo "warning: could not fetch the default model;" \
  "test-default-model will skip" >&2
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== the shipped adapter registry"
./build/loco registry validate

echo "== sanitizer build (ASan + UBSan) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLOCO_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== fuzzing the GGUF and safetensors readers"
./tests/fuzz/run-fuzz.sh "${LOCO_FUZZ_SECONDS:-60}"
