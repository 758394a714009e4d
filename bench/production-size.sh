#!/usr/bin/env bash
# production-size.sh - speed and memory of loco and llama.cpp on a model of
# production size: a random-weight GGUF with Qwen3-4B's shapes in llama.cpp's
# Q4_K_M mix (bench/make-random-model.c; nothing is downloaded, as the
# figures depend on shapes and types, not on the values).
#
# usage: bench/production-size.sh [LLAMA_BENCH]
#
#   LLAMA_BENCH  a llama-bench binary built from llama.cpp (default: none:
#                loco's figures only). llama-perplexity beside it, when
#                present, gives llama.cpp's load time and memory.
#
# Environment:
#   MODEL        the GGUF to measure (default: /tmp/loco-qwen3-4b-random-q4_k_m.gguf;
#                written first when missing, and then deleted at the end
#                unless KEEP_MODEL=1; a file that was already there is kept)
#   LOCO         the loco binary (default: build/loco); make-random-model is
#                taken from the same folder (MAKE_MODEL overrides it)
#   THREADS      thread counts (default: "1 2")
#   REPS         repetitions of each test (default: 2; the tests take minutes)
#   PROMPT, GEN  tokens for ppN and tgN (default: 512 and 128)
#   CTX          context for the load and memory run (default: 4096)
#
# What is measured, in one run, each thread count loco first, then llama.cpp:
#   ppN, tgN     `loco bench` and `llama-bench` (random token ids, mean ± sd)
#   roofline     loco bench's STREAM triad bandwidth / weight bytes read per
#                generated token; both tools' tgN as a share of it
#   load         wall time from start to the first token, page cache warm:
#                `loco ask --ctx CTX --max-tokens 1` (and the load alone: that
#                wall time less loco's own prompt and generation timers), and
#                llama-perplexity -c CTX on a one-line text (it loads, clears
#                the KV cache, runs its warm-up decode, then stops: the text is
#                too short to score)
#   peak RSS     /usr/bin/time's maximum resident set of those two runs. loco
#                allocates its f32 KV cache without touching it, so a short
#                prompt leaves most of it out: the ceiling row takes loco
#                bench's peak (a ppN batch and PROMPT+GEN positions written)
#                and adds the KV cache of the remaining CTX-PROMPT-GEN
#                positions. llama.cpp clears its f16 cache when it allocates
#                it, so its measured figure already includes the whole cache.
set -euo pipefail

prog=${0##*/}
die() {
    echo "$prog: $*" >&2
    exit 2
}
if [[ $# -ge 1 && ($1 == -h || $1 == --help) ]]; then
    sed -n '7,12s/^# \{0,1\}//p' "$0"
    exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib-cpu.sh"
loco=${LOCO:-$root/build/loco}
make_model=${MAKE_MODEL:-$(dirname "$loco")/make-random-model}
model=${MODEL:-/tmp/loco-qwen3-4b-random-q4_k_m.gguf}
llama_bench=${1:-}
llama_ppl=
read -r -a threads <<<"${THREADS:-1 2}"
reps=${REPS:-2}
n_prompt=${PROMPT:-512}
n_gen=${GEN:-128}
n_ctx=${CTX:-4096}

[[ -x $loco ]] || die "loco binary '$loco' is missing (build it, or set LOCO=path/to/loco)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed for peak RSS (apt-get install time)"
command -v python3 >/dev/null || die "python3 is needed to read the JSON figures"
if [[ -n $llama_bench ]]; then
    [[ -x $llama_bench ]] || die "llama-bench binary '$llama_bench' is missing or not executable"
    [[ -x $(dirname "$llama_bench")/llama-perplexity ]] &&
        llama_ppl=$(dirname "$llama_bench")/llama-perplexity
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/production-size.XXXXXX")
made_model=0
cleanup() {
    rm -rf "$tmp"
    if [[ $made_model == 1 && ${KEEP_MODEL:-0} != 1 ]]; then rm -f "$model"; fi
}
trap cleanup EXIT

load_before=$(load_average)
if [[ ! -f $model ]]; then
    [[ -x $make_model ]] || die "'$make_model' is missing (cmake --build builds it)"
    echo "writing $model ..." >&2
    made_model=1
    /usr/bin/time -f '%e' -o "$tmp/make.time" "$make_model" "$model" >&2
    echo "written in $(cat "$tmp/make.time") s" >&2
fi

# ---- speed: each thread count, loco then llama.cpp -----------------------
for t in "${threads[@]}"; do
    echo "threads $t: loco bench ..." >&2
    "$loco" bench --model "$model" --threads "$t" -p "$n_prompt" -n "$n_gen" -r "$reps" --json \
        >"$tmp/loco.$t.json" 2>"$tmp/loco.$t.err" ||
        die "loco bench failed at $t threads: $(tail -n 3 "$tmp/loco.$t.err")"
    if [[ -n $llama_bench ]]; then
        echo "threads $t: llama-bench ..." >&2
        "$llama_bench" -m "$model" -t "$t" -p "$n_prompt" -n "$n_gen" -r "$reps" -o json \
            >"$tmp/llama.$t.json" 2>"$tmp/llama.$t.err" ||
            die "llama-bench failed at $t threads: $(tail -n 3 "$tmp/llama.$t.err")"
    fi
done

# ---- load time and peak RSS with an n_ctx context ------------------------
t_load=${threads[${#threads[@]} - 1]}
echo "load and memory, --ctx $n_ctx: loco ask ..." >&2
/usr/bin/time -f '%e %M' -o "$tmp/loco.time" "$loco" ask --model "$model" --no-route --no-log \
    --raw --json --ctx "$n_ctx" --threads "$t_load" --max-tokens 1 --temperature 0 "Hello" \
    >"$tmp/loco.ask.json" 2>"$tmp/loco.ask.err" ||
    die "loco ask failed: $(tail -n 3 "$tmp/loco.ask.err")"
if [[ -n $llama_ppl ]]; then
    echo "load and memory, -c $n_ctx: llama-perplexity ..." >&2
    echo "Hello" >"$tmp/short.txt"
    # it stops with an error once loaded: the text is too short to score
    /usr/bin/time -f '%e %M' -o "$tmp/llama.time" "$llama_ppl" -m "$model" -c "$n_ctx" \
        -t "$t_load" -f "$tmp/short.txt" >"$tmp/llama.ppl.out" 2>&1 || true
    # (system_info is printed once the model and context are ready)
    grep -q 'system_info' "$tmp/llama.ppl.out" ||
        die "llama-perplexity did not load the model: $(tail -n 3 "$tmp/llama.ppl.out")"
fi
load_after=$(load_average)

# ---- the report ------------------------------------------------------------
cpu_flags=$(cpu_simd_flags)
loco_commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]] &&
    loco_commit="$loco_commit (with uncommitted changes)"

export TMPDIR_PS=$tmp THREADS_PS="${threads[*]}" T_LOAD=$t_load N_CTX=$n_ctx REPS=$reps
export MODEL_PS=$model CPU_MODEL="$(cpu_summary)"
export CPU_FLAGS="$cpu_flags" LOCO_COMMIT="$loco_commit" LOAD_BEFORE="$load_before"
export LOAD_AFTER="$load_after" HAVE_LLAMA=${llama_bench:+1} HAVE_PPL=${llama_ppl:+1}
# bench/build-llamacpp.sh records the instruction set it built llama.cpp for
llama_isa=
[[ -n $llama_bench && -f $(dirname "$llama_bench")/loco-build.txt ]] &&
    llama_isa=$(sed -n '2p' "$(dirname "$llama_bench")/loco-build.txt")
export LLAMA_ISA="${llama_isa:-instruction set not recorded (build it with bench/build-llamacpp.sh)}"
# the shapes the KV cache's size follows (layers, KV heads, head width)
"$loco" models info --json "$model" > "$tmp/info.json" || die "loco models info failed"
python3 - <<'EOF'
import json, os

tmp, env = os.environ["TMPDIR_PS"], os.environ
threads = env["THREADS_PS"].split()
MiB = 1 << 20


def read(name):
    with open(os.path.join(tmp, name)) as f:
        return f.read()


def kv_bytes(n_ctx):
    """n_layer x n_ctx x (KV heads x head dim) x 2 (K and V), from loco models info"""
    info = json.loads(read("info.json"))
    n_kv_head = info["head_count_kv"] or info["head_count"]
    return info["block_count"] * n_ctx * n_kv_head * info["head_dim"] * 2


def llama_rows(t):
    """llama-bench -o json: {"ppN"|"tgN": (mean, sd, row)}"""
    out = {}
    for r in json.loads(read(f"llama.{t}.json")):
        test = f"pp{r['n_prompt']}" if r["n_gen"] == 0 else f"tg{r['n_gen']}"
        out[test] = (r["avg_ts"], r["stddev_ts"], r)
    return out


loco = {t: json.loads(read(f"loco.{t}.json")) for t in threads}
llama = {t: llama_rows(t) for t in threads} if env.get("HAVE_LLAMA") else {}
first = loco[threads[0]]
np, ng = first["prompt_tokens"], first["generated_tokens"]
bytes_tok = first["weight_bytes_per_token"]

lb = next(iter(llama[threads[0]].values()))[2] if llama else None
print(f"model: {env['MODEL_PS']} ({first['architecture']}, "
      f"{first['weight_bytes'] / MiB:.1f} MiB, {first['params'] / 1e6:.1f} M params)")
print(f"cpu: {env['CPU_MODEL']}")
print(f"cpu flags: {env['CPU_FLAGS']}")
print(f"loco: commit {env['LOCO_COMMIT']}, kernels {first['kernels']}")
if lb:
    print(f"llama.cpp: commit {lb['build_commit']}, build {lb['build_number']}, "
          f"{lb.get('cpu_info', '')}")
    print(f"llama.cpp {env['LLAMA_ISA']}")
print(f"load average (1/5/15 min) before: {env['LOAD_BEFORE']}, after: {env['LOAD_AFTER']}")
print(f"pp{np} / tg{ng}, {env['REPS']} repetitions, mean ± sd in tokens/s\n")

print("| threads | test    |          loco t/s |     llama.cpp t/s | ratio |")
print("|--------:|---------|------------------:|------------------:|------:|")
for t in threads:
    r = loco[t]["results"][0]
    for test, s in ((f"pp{np}", r["pp"]), (f"tg{ng}", r["tg"])):
        lm = llama.get(t, {}).get(test)
        ll = f"{lm[0]:.2f} ± {lm[1]:.2f}" if lm else "-"
        ratio = f"{s['tokens_per_s'] / lm[0]:.2f}" if lm and lm[0] > 0 else "-"
        print(f"| {t:>7} | {test:<7} | {s['tokens_per_s']:>8.2f} ± {s['sd']:<6.2f} | "
              f"{ll:>17} | {ratio:>5} |")

print(f"\nroofline: STREAM triad bandwidth / {bytes_tok / MiB:.1f} MiB of weights read per token")
print(f"| threads | triad GB/s | roofline t/s | loco tg{ng} | llama.cpp tg{ng} |")
print("|--------:|-----------:|-------------:|---------:|--------------:|")
for t in threads:
    r = loco[t]["results"][0]
    roof = r["roofline_tokens_per_s"]
    lt = llama.get(t, {}).get(f"tg{ng}")
    ls = f"{100 * lt[0] / roof:.0f}%" if lt else "-"
    print(f"| {t:>7} | {r['triad_gb_per_s']:>10.2f} | {roof:>12.2f} | "
          f"{100 * r['tg']['tokens_per_s'] / roof:>7.0f}% | {ls:>13} |")

ask = json.loads(read("loco.ask.json"))
wall, rss_kib = (float(x) for x in read("loco.time").split())
tm = ask["timings"]
load_s = wall - (tm["prompt_ms"] + tm["generate_ms"]) / 1e3
n_ctx = int(env["N_CTX"])
print(f"\nload and memory, context {n_ctx}, {env['T_LOAD']} threads, page cache warm:")
print("| figure | loco | llama.cpp |")
print("|--------|-----:|----------:|")
lw = lr = None
if env.get("HAVE_PPL"):
    lw, lr = (float(x) for x in read("llama.time").split())
print(f"| start to first token (s) | {wall:.2f} | {lw:.2f} |" if lw is not None else
      f"| start to first token (s) | {wall:.2f} | - |")
print(f"| of which loading, loco's timers (s) | {load_s:.2f} | - |")
print(f"| peak RSS (MiB) | {rss_kib / 1024:.0f} | "
      + (f"{lr / 1024:.0f} |" if lr is not None else "- |"))
kv = kv_bytes(n_ctx)  # K and V elements
bench_ctx = np + ng
bench_rss = max(loco[t]["peak_rss_bytes"] for t in threads)
print(f"| KV cache, {n_ctx} positions (MiB) | {4 * kv / MiB:.0f} (f32; a short prompt "
      f"touches little of it) | {2 * kv / MiB:.0f} (f16, cleared when allocated) |")
print(f"| peak RSS of loco bench, pp{np} + tg{ng}, context {bench_ctx} (MiB) | "
      f"{bench_rss / MiB:.0f} | - |")
ceiling = bench_rss + 4 * kv * (n_ctx - bench_ctx) / n_ctx
print(f"| peak RSS ceiling, all {n_ctx} positions used (MiB) | {ceiling / MiB:.0f} "
      f"(bench's peak + the KV of the other {n_ctx - bench_ctx} positions) | "
      f"{'as measured' if lr is not None else '-'} |")
EOF
