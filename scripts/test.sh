#!/usr/bin/env bash
# The README's second command, and what CI runs: install what is missing,
# then build and run the whole test suite three ways:
#   1. Release build, all tests (ctest), `loco registry validate` on the
#      shipped adapters/registry.yaml
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, all tests
#   3. a short libFuzzer run of the GGUF and safetensors readers and the
#      request parser of loco serve (clang)
# Tests that need the shared fixtures (../shared), the default model or
# python3 skip with a message when they are absent: ctest lists them as
# skipped (exit status 77), and each ctest run ends with the skip count.
# With LOCO_TEST_NO_SKIP=1 (what CI sets: it has all three) a skip fails.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --tests
jobs=$(nproc)

# run_ctest DIR: the whole suite in DIR, then how many tests skipped.
run_ctest() {
  local log rc=0 skipped
  log=$(mktemp)
  ctest --test-dir "$1" --output-on-failure -j"$jobs" 2>&1 | tee "$log" || rc=$?
  skipped=$(grep -c ' (Skipped)$' "$log" || true)
  echo "== $1: $skipped test(s) skipped${LOCO_TEST_NO_SKIP:+ (LOCO_TEST_NO_SKIP is set: a skip fails)}"
  rm -f "$log"
  return "$rc"
}

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
# The default model is compared against its transformers reference; fetch it
# once into the model cache (verified by sha256). Offline, the tests that
# need it skip (and fail under LOCO_TEST_NO_SKIP=1).
./build/loco models pull default || echo "warning: could not fetch the default model;" \
  "the tests that need it will skip" >&2
run_ctest build
echo "== the shipped adapter registry"
./build/loco registry validate

echo "== sanitizer build (ASan + UBSan) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLOCO_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_ctest build-asan

echo "== fuzzing the GGUF and safetensors readers and the request parser"
./tests/fuzz/run-fuzz.sh "${LOCO_FUZZ_SECONDS:-60}"
