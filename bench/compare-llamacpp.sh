#!/usr/bin/env bash
# compare-llamacpp.sh - run `loco bench` and llama.cpp's `llama-bench` on the
# same model and thread counts, and print their speeds side by side.
#
# usage: bench/compare-llamacpp.sh LLAMA_BENCH [MODEL] [THREADS...]
#
#   LLAMA_BENCH  path to a llama-bench binary built from llama.cpp
#   MODEL        a .gguf file (default: what `loco models path default` prints)
#   THREADS      thread counts to measure (default: 1 and the number of CPUs)
#
# Environment:
#   LOCO         the loco binary (default: build/loco next to this script's repo)
#   PROMPT       prompt tokens for ppN (default: 512)
#   GEN          generated tokens for tgN (default: 128)
#   REPS         repetitions of each test (default: 5)
#   KEEP_LOGS    a directory to keep both tools' raw output in (default: none)
#   LOAD         run both tools under a competing load: LOAD processes that
#                spin on the CPU for the whole comparison (default: 0, none);
#                run once with LOAD=0 and once with LOAD=N to see how each
#                tool degrades on a busy machine
#
# Both tools are run for one thread count after the other (loco first, then
# llama-bench), so each pair is measured under the same machine conditions.
# The output names the CPU, the SIMD flags it offers and the kernels loco
# picked (a ratio means little without them).
# Ratio is loco t/s divided by llama.cpp t/s: above 1 means loco is faster.
set -euo pipefail

prog=${0##*/}
usage() {
    sed -n '4,9s/^# \{0,1\}//p' "$0" | sed "s|bench/compare-llamacpp.sh|$prog|"
}
die() {
    echo "$prog: $*" >&2
    exit 2
}

if [[ $# -ge 1 && ($1 == -h || $1 == --help) ]]; then
    usage
    exit 0
fi
if [[ $# -lt 1 ]]; then
    usage >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib-cpu.sh"
loco=${LOCO:-$root/build/loco}
llama_bench=$1
shift
n_prompt=${PROMPT:-512}
n_gen=${GEN:-128}
reps=${REPS:-5}
load=${LOAD:-0}

is_uint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for v in "$n_prompt" "$n_gen" "$reps"; do
    is_uint "$v" || die "PROMPT, GEN and REPS must be positive integers (got '$v')"
done
[[ $load =~ ^[0-9]{1,3}$ ]] && load=$((10#$load)) && [[ $load -le 64 ]] ||
    die "LOAD must be 0 to 64 busy processes (got '$load')"

[[ -x $llama_bench ]] || die "llama-bench binary '$llama_bench' is missing or not executable"
[[ -x $loco ]] || die "loco binary '$loco' is missing (build it, or set LOCO=path/to/loco)"

# MODEL is optional: a first argument that is a plain number is a thread count.
model=
if [[ $# -ge 1 ]] && ! is_uint "$1"; then
    model=$1
    shift
fi
if [[ -z $model ]]; then
    model=$("$loco" models path default 2>/dev/null) ||
        die "no MODEL given and \`loco models path default\` failed (run \`loco models pull default\` or pass a .gguf path)"
fi
[[ -f $model ]] || die "model file '$model' not found"

threads=("$@")
if [[ ${#threads[@]} -eq 0 ]]; then
    ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    threads=(1)
    [[ $ncpu -gt 1 ]] && threads+=("$ncpu")
fi
for t in "${threads[@]}"; do
    is_uint "$t" || die "thread count '$t' is not a positive integer"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-llamacpp.XXXXXX")
load_pids=()
stop_load() {
    if [[ ${#load_pids[@]} -gt 0 ]]; then
        kill "${load_pids[@]}" 2>/dev/null || true
        wait "${load_pids[@]}" 2>/dev/null || true
    fi
    load_pids=()
}
trap 'stop_load; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# the competing load: LOAD processes spinning for the whole comparison,
# named compare-llamacpp-load-PID (this script's pid), holding none of its
# files (a caller reading the script's output is not kept waiting by them)
for ((i = 0; i < load; i++)); do
    bash -c 'while :; do :; done' "compare-llamacpp-load-$$" >/dev/null 2>&1 </dev/null &
    load_pids+=($!)
done

# loco rows: "|       1 | pp512   |    123.45 ± 1.23 |" -> "1 pp512 123.45 1.23"
parse_loco() {
    awk -F'|' 'NF >= 4 && $2 ~ /^ *[0-9]+ *$/ && $3 ~ /^ *(pp|tg)[0-9]+ *$/ {
        t = $2; test = $3; v = $4
        gsub(/ /, "", t); gsub(/ /, "", test)
        n = split(v, a, " ")   # "123.45", "±", "1.23"
        if (n >= 3) print t, test, a[1], a[3]
    }' "$1"
}

# llama-bench -o csv: a header line, then one quoted row per test; fields may
# hold commas inside quotes (cpu_info, model_type), so split quote-aware.
# -> "threads ppN|tgN avg_ts stddev_ts"; with LLAMA_INFO=1 set, one line
# naming the build (commit, build number, CPU) instead.
parse_llama_csv() {
    awk '
    function split_csv(line, out,    n, i, c, f, inq) {
        n = 0; f = ""; inq = 0
        for (i = 1; i <= length(line); i++) {
            c = substr(line, i, 1)
            if (inq) {
                if (c == "\"") {
                    if (substr(line, i + 1, 1) == "\"") { f = f "\""; i++ }
                    else inq = 0
                } else f = f c
            } else if (c == "\"") inq = 1
            else if (c == ",") { out[++n] = f; f = "" }
            else f = f c
        }
        out[++n] = f
        return n
    }
    { sub(/\r$/, "") }
    !have_header {
        if ($0 !~ /n_threads/) next
        nh = split_csv($0, h)
        for (i = 1; i <= nh; i++) col[h[i]] = i
        if (!("n_threads" in col) || !("n_prompt" in col) || !("n_gen" in col) ||
            !("avg_ts" in col) || !("stddev_ts" in col)) {
            print "llama-bench csv lacks an expected column" > "/dev/stderr"; exit 1
        }
        have_header = 1; next
    }
    ENVIRON["LLAMA_INFO"] != "" {
        split_csv($0, r)
        b = ("build_commit" in col) ? r[col["build_commit"]] : "?"
        n = ("build_number" in col) ? r[col["build_number"]] : "?"
        c = ("cpu_info" in col) ? ", " r[col["cpu_info"]] : ""
        print "commit " b ", build " n c
        exit
    }
    {
        split_csv($0, r)
        np = r[col["n_prompt"]] + 0; ng = r[col["n_gen"]] + 0
        if (np > 0 && ng == 0) test = "pp" np
        else if (ng > 0 && np == 0) test = "tg" ng
        else test = "pp" np "+tg" ng
        print r[col["n_threads"]], test, r[col["avg_ts"]], r[col["stddev_ts"]]
    }' "$1"
}

: >"$tmp/loco.rows"
: >"$tmp/llama.rows"
for t in "${threads[@]}"; do
    echo "threads $t: loco bench ..." >&2
    "$loco" bench --model "$model" --threads "$t" -p "$n_prompt" -n "$n_gen" -r "$reps" \
        --no-stream >"$tmp/loco.$t.out" 2>"$tmp/loco.$t.err" ||
        die "loco bench failed at $t threads: $(tail -n 3 "$tmp/loco.$t.err")"
    parse_loco "$tmp/loco.$t.out" >>"$tmp/loco.rows"

    echo "threads $t: llama-bench ..." >&2
    "$llama_bench" -m "$model" -t "$t" -p "$n_prompt" -n "$n_gen" -r "$reps" -o csv \
        >"$tmp/llama.$t.csv" 2>"$tmp/llama.$t.err" ||
        die "llama-bench failed at $t threads: $(tail -n 3 "$tmp/llama.$t.err")"
    parse_llama_csv "$tmp/llama.$t.csv" >>"$tmp/llama.rows"
done
stop_load

if [[ -n ${KEEP_LOGS:-} ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$tmp"/*.out "$tmp"/*.csv "$tmp"/*.err "$KEEP_LOGS"/
fi

[[ -s $tmp/loco.rows ]] || die "no result rows in loco's output (see KEEP_LOGS=dir to inspect it)"
[[ -s $tmp/llama.rows ]] || die "no result rows in llama-bench's output (see KEEP_LOGS=dir)"

llama_build=$(LLAMA_INFO=1 parse_llama_csv "$tmp/llama.${threads[0]}.csv")

# The instruction sets the CPU offers (those the kernels of either tool may
# use) and the kernels loco picked, so a ratio is never read without them.
cpu_flags=$(cpu_simd_flags)
loco_kernels=$(sed -n 's/.*kernels: \([a-z0-9_-]*\).*/\1/p' "$tmp/loco.${threads[0]}.out" | sed -n 1p)

echo "model: $model"
echo "cpu: $(cpu_summary)"
echo "cpu flags: ${cpu_flags:-none of the SIMD flags listed}"
echo "loco: $loco (kernels: ${loco_kernels:-unknown}; LOCO_KERNELS=${LOCO_KERNELS:-auto})"
echo "llama.cpp: $llama_bench ($llama_build)"
# bench/build-llamacpp.sh leaves the build's source, commit and instruction
# set beside the binaries
if [[ -f $(dirname "$llama_bench")/loco-build.txt ]]; then
    sed -n '2s/^/llama.cpp /p' "$(dirname "$llama_bench")/loco-build.txt"
else
    echo "llama.cpp instruction set: not recorded (build it with bench/build-llamacpp.sh to say)"
fi
echo "pp$n_prompt / tg$n_gen, $reps repetitions, mean ± sd in tokens/s"
if [[ $load -gt 0 ]]; then
    echo "under a competing load: $load busy processes spinning beside both tools"
else
    echo "no competing load started (LOAD=0); the machine's own load: $(load_average)"
fi
echo
echo "| threads | test    |           loco t/s |      llama.cpp t/s | ratio |"
echo "|--------:|---------|-------------------:|-------------------:|------:|"
# join on (threads, test), in the order loco reported them
awk '
    FNR == NR { k = $1 " " $2; lm[k] = $3; ls[k] = $4; next }
    {
        k = $1 " " $2
        # "~" stands in for the two-byte "±" while padding (awk pads bytes)
        loco = sprintf("%.2f ~ %.2f", $3, $4)
        if (k in lm) {
            llama = sprintf("%.2f ~ %.2f", lm[k], ls[k])
            ratio = lm[k] > 0 ? sprintf("%.2f", $3 / lm[k]) : "-"
        } else { llama = "-"; ratio = "-" }
        line = sprintf("| %7s | %-7s | %18s | %18s | %5s |", $1, $2, loco, llama, ratio)
        gsub(/~/, "±", line)
        print line
    }' "$tmp/llama.rows" "$tmp/loco.rows"
