#!/usr/bin/env bash
# bench/build-llamacpp.sh on a stand-in llama.cpp tree (a CMake project that
# records the GGML options it was given and builds three tiny programs under
# the llama.cpp names), so no download or real build is needed:
#   1. a source tree: the ISA's options reach CMake, the binaries land in
#      OUT/bin, loco-build.txt names the commit and the instruction set;
#   2. an sdist (.tar.gz): its vendor/llama.cpp is built and the commit is
#      read from its changelog;
#   3. the ISA by default is the kernels `loco doctor` names;
#   4. a bad ISA, a missing source, a tree that is not llama.cpp and a bad
#      pypi: version are refused with a message, before anything is built.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
script=$src/bench/build-llamacpp.sh
command -v cmake >/dev/null || skip_all "cmake not found"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fake=$work/pkg/vendor/llama.cpp
mkdir -p "$fake/ggml"
cat > "$fake/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(fake_llama C)
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
file(WRITE ${CMAKE_BINARY_DIR}/ggml-options.txt
     "native=${GGML_NATIVE} avx2=${GGML_AVX2} fma=${GGML_FMA} avx512=${GGML_AVX512} vnni=${GGML_AVX512_VNNI}\n")
file(WRITE ${CMAKE_BINARY_DIR}/main.c "int main(void) { return 0; }\n")
foreach(t llama-bench llama-perplexity llama-quantize)
  add_executable(${t} ${CMAKE_BINARY_DIR}/main.c)
endforeach()
CM
printf '# Changelog\n\n## [0.0.1]\n\n- feat: update llama.cpp to ggml-org/llama.cpp@abc1234def\n' \
  > "$work/pkg/CHANGELOG.md"

echo "== 1. a source tree, avx512vnni"
out=$("$script" "$fake" "$work/b1" avx512vnni 2>"$work/err") || fail "build: $(cat "$work/err")"
[ "$(tail -n 1 <<<"$out")" = "$work/b1/bin/llama-bench" ] || fail "last line is not llama-bench's path: $out"
for b in llama-bench llama-perplexity llama-quantize; do
  [ -x "$work/b1/bin/$b" ] || fail "no $b"
done
grep -qx 'native=OFF avx2=ON fma=ON avx512=ON vnni=ON' "$work/b1/ggml-options.txt" ||
  fail "options: $(cat "$work/b1/ggml-options.txt")"
grep -q '^instruction set: avx512vnni (' "$work/b1/bin/loco-build.txt" || fail "$(cat "$work/b1/bin/loco-build.txt")"
grep -q "^llama.cpp unknown from $fake" "$work/b1/bin/loco-build.txt" ||
  fail "a tree without git: $(cat "$work/b1/bin/loco-build.txt")"

echo "== 2. an sdist, avx2"
tar -czf "$work/fake_sdist-0.0.1.tar.gz" -C "$work" pkg
"$script" "$work/fake_sdist-0.0.1.tar.gz" "$work/b2" avx2 >/dev/null 2>"$work/err" ||
  fail "sdist build: $(cat "$work/err")"
grep -qx 'native=OFF avx2=ON fma=ON avx512= vnni=' "$work/b2/ggml-options.txt" ||
  fail "options: $(cat "$work/b2/ggml-options.txt")"
grep -q '^llama.cpp abc1234def from ' "$work/b2/bin/loco-build.txt" ||
  fail "the changelog's commit: $(cat "$work/b2/bin/loco-build.txt")"

echo "== 3. the ISA loco picks here"
kernels=$("$LOCO" doctor 2>/dev/null | sed -n 's/^cpu .*; kernels \([a-z0-9]*\).*/\1/p')
case $kernels in
avx2 | avx512vnni)
  LOCO=$LOCO "$script" "$fake" "$work/b3" >/dev/null 2>"$work/err" || fail "default ISA: $(cat "$work/err")"
  grep -q "^instruction set: $kernels (" "$work/b3/bin/loco-build.txt" ||
    fail "not loco's kernels ($kernels): $(cat "$work/b3/bin/loco-build.txt")"
  ;;
*) # a CPU without AVX2: loco's scalar kernels have no llama.cpp build to match
  if LOCO=$LOCO "$script" "$fake" "$work/b3" 2>"$work/err"; then fail "ISA '$kernels' accepted"; fi
  grep -q 'ISA must be' "$work/err" || fail "$(cat "$work/err")"
  ;;
esac

echo "== 4. refusals"
refused() { # MESSAGE ARGS...
  local says=$1
  shift
  if "$script" "$@" >/dev/null 2>"$work/err"; then fail "accepted: $*"; fi
  grep -q -- "$says" "$work/err" || fail "$*: $(cat "$work/err")"
}
refused "ISA must be avx2, avx512vnni or native" "$fake" "$work/b4" sse2
refused "neither a directory nor a file" "$work/nothing" "$work/b4" avx2
refused "is not a llama.cpp source tree" "$work/pkg" "$work/b4" avx2
refused "wants a version" pypi:latest "$work/b4" avx2
refused "usage" "$fake"
[ ! -e "$work/b4/bin" ] || fail "a refused call built something"
"$script" --help | has "SOURCE" || fail "--help"
test_done
