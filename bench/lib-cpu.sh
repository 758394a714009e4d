# lib-cpu.sh - what the benchmark scripts print about the CPU, so that a
# speed is never read without it. Sourced by compare-llamacpp.sh and
# production-size.sh.

# The CPU's model name ("" when /proc/cpuinfo does not say). sed stops at
# the first match itself: `sed | head -n 1` fails under pipefail where
# many CPUs make sed write past what head reads.
cpu_model() {
    sed -n '/^model name[[:space:]]*: /{s///;p;q}' /proc/cpuinfo 2>/dev/null || true
}

# The CPU's model name and how many CPUs are online: "NAME (N CPUs)".
cpu_summary() {
    local name
    name=$(cpu_model)
    echo "${name:-unknown} ($(getconf _NPROCESSORS_ONLN 2>/dev/null || echo ?) CPUs)"
}

# The 1, 5 and 15-minute load averages.
load_average() {
    cut -d' ' -f1-3 /proc/loadavg
}

# The SIMD flags the CPU offers that the kernels of loco or llama.cpp may
# use, space-separated ("" when none is listed).
cpu_simd_flags() {
    sed -n '/^flags[[:space:]]*: /{s///;p;q}' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' |
        grep -xE 'avx|avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx512_bf16|avx_vnni|amx_tile|amx_int8|amx_bf16' |
        tr '\n' ' ' || true
}
