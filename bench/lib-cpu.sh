# lib-cpu.sh - what the benchmark scripts print about the CPU, so that a
# speed is never read without it. Sourced by compare-llamacpp.sh and
# production-size.sh.

# The CPU's model name ("" when /proc/cpuinfo does not say).
cpu_model() {
    sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1
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
    sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1 | tr ' ' '\n' |
        grep -xE 'avx|avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx512_bf16|avx_vnni|amx_tile|amx_int8|amx_bf16' |
        tr '\n' ' ' || true
}
