#!/usr/bin/env bash
# build-llamacpp.sh - build llama.cpp's llama-bench, llama-perplexity and
# llama-quantize for the instruction set loco's kernels use on this CPU, so
# that bench/compare-llamacpp.sh, bench/production-size.sh and
# scripts/perplexity-compare.sh compare like with like.
#
# usage: bench/build-llamacpp.sh SOURCE OUT [ISA]
#
#   SOURCE  a llama.cpp source tree, or a llama-cpp-python sdist (.tar.gz,
#           whose vendor/llama.cpp is used), or `pypi:VERSION` to download
#           that sdist from PyPI (the only network access, and only then)
#   OUT     the build directory; the binaries land in OUT/bin
#   ISA     avx2 | avx512vnni | native (default: the kernels `loco doctor`
#           says loco picks here)
#
# avx2 turns on AVX, AVX2, FMA and F16C; avx512vnni adds AVX-512 F/BW/VL/DQ
# and VNNI; native lets llama.cpp probe the build machine (GGML_NATIVE=ON,
# which stops with an illegal instruction on some virtual machines).
# OUT/bin/loco-build.txt records the source, commit and flags; the
# comparison scripts print it beside their tables.
set -euo pipefail

prog=${0##*/}
die() {
    echo "$prog: $*" >&2
    exit 2
}
if [[ $# -ge 1 && ($1 == -h || $1 == --help) ]]; then
    sed -n '2,20s/^# \{0,1\}//p' "$0"
    exit 0
fi
[[ $# -ge 2 && $# -le 3 ]] || {
    sed -n '7,17s/^# \{0,1\}//p' "$0" >&2
    exit 2
}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib-cpu.sh"
loco=${LOCO:-$root/build/loco}
source=$1
out=$2
isa=${3:-}

if [[ -z $isa ]]; then
    [[ -x $loco ]] || die "no ISA given and no loco binary at $loco to ask (build it, or name the ISA)"
    isa=$("$loco" doctor 2>/dev/null | sed -n 's/^cpu .*; kernels \([a-z0-9]*\).*/\1/p')
    [[ -n $isa ]] || die "could not read the kernels from \`loco doctor\`; name the ISA"
fi
case $isa in
avx2) flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON) ;;
avx512vnni) flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
    -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON) ;;
native) flags=(-DGGML_NATIVE=ON) ;;
*) die "ISA must be avx2, avx512vnni or native (got '$isa')" ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
what=$source
case $source in
pypi:*)
    version=${source#pypi:}
    [[ $version =~ ^[0-9]+(\.[0-9]+)*$ ]] || die "pypi:VERSION wants a version such as 0.3.36 (got '$version')"
    command -v python3 >/dev/null || die "python3 is needed to download the sdist"
    echo "$prog: downloading llama-cpp-python $version's sdist from PyPI ..." >&2
    mkdir -p "$out/sdist"
    # PyPI's simple index (its JSON form, PEP 691) names the sdist's URL and
    # sha256; nothing is built
    python3 - "$version" "$out/sdist" <<'PY' || die "could not download llama-cpp-python $version"
import hashlib, json, sys, urllib.request
version, dest = sys.argv[1], sys.argv[2]
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-python/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
with urllib.request.urlopen(req, timeout=60) as r:
    index = json.load(r)
name = f"llama_cpp_python-{version}.tar.gz"
files = [f for f in index["files"] if f["filename"] == name]
if not files:
    sys.exit(f"PyPI lists no {name}")
u = files[0]
path = f"{dest}/{u['filename']}"
h = hashlib.sha256()
with urllib.request.urlopen(u["url"], timeout=600) as r, open(path, "wb") as f:
    while chunk := r.read(1 << 20):
        h.update(chunk)
        f.write(chunk)
if h.hexdigest() != u["hashes"]["sha256"]:
    sys.exit(f"{u['filename']}: sha256 differs from PyPI's")
PY
    source=$out/sdist/llama_cpp_python-$version.tar.gz
    ;;
esac
if [[ -f $source ]]; then
    [[ $source == *.tar.gz ]] || die "'$source' is not a .tar.gz sdist"
    rm -rf "$out/src"
    mkdir -p "$out/src"
    tar -xzf "$source" -C "$out/src" || die "could not unpack $source"
    tree=$(ls -d "$out"/src/*/vendor/llama.cpp 2>/dev/null | sed -n 1p)
    [[ -n $tree ]] || die "$source holds no vendor/llama.cpp"
    # the sdist carries no git history: the commit is in its changelog
    commit=$(sed -n 's/.*update llama.cpp to ggml-org\/llama.cpp@\([0-9a-f]\{7,\}\).*/\1/p' \
        "$(dirname "$(dirname "$tree")")/CHANGELOG.md" 2>/dev/null | sed -n 1p)
elif [[ -d $source ]]; then
    tree=$(cd "$source" && pwd)
    commit=$(git -C "$tree" rev-parse --short=9 HEAD 2>/dev/null || true)
else
    die "SOURCE '$source' is neither a directory nor a file"
fi
[[ -f $tree/CMakeLists.txt && -d $tree/ggml ]] || die "$tree is not a llama.cpp source tree"
commit=${commit:-unknown}

echo "$prog: llama.cpp ${commit} for $isa in $out ..." >&2
cmake -S "$tree" -B "$out" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    "${flags[@]}" >"$out/configure.log" 2>&1 ||
    die "cmake configure failed: $(tail -n 5 "$out/configure.log")"
cmake --build "$out" -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)" \
    --target llama-bench llama-perplexity llama-quantize >"$out/build.log" 2>&1 ||
    die "build failed: $(tail -n 5 "$out/build.log")"
for b in llama-bench llama-perplexity llama-quantize; do
    [[ -x $out/bin/$b ]] || die "the build made no $out/bin/$b"
done
{
    echo "llama.cpp $commit from $what"
    echo "instruction set: $isa (${flags[*]})"
    echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(cpu_model)"
} >"$out/bin/loco-build.txt"
cat "$out/bin/loco-build.txt"
echo "$out/bin/llama-bench"
