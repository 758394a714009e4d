/*
 * bench-stream.c - STREAM-style triad a[i] = b[i] + s*c[i] over three
 * 64 MiB arrays (far beyond the last-level cache), best of 10 runs, with 1
 * and 2 threads (the engine's pool). Decode speed is bounded by this bandwidth divided
 * by the bytes of weights read per token; the last lines print that bound
 * for a few model sizes.
 *
 * Usage: bench-stream [MiB per array] [reps]
 */
#include "loco/bench.h"
#include "loco/core.h"

#include <stdio.h>
#include <stdlib.h>

static long arg_long(const char *s, long lo, long hi, long dflt)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*end || v < lo || v > hi) ? dflt : v;
}

int main(int argc, char **argv)
{
    const long mib = argc > 1 ? arg_long(argv[1], 1, 4096, 64) : 64;
    const int reps = argc > 2 ? (int)arg_long(argv[2], 1, 1000, 10) : 10;
    const size_t bytes = (size_t)mib << 20;
    double best = 0.0;
    printf("STREAM triad, 3 x %ld MiB, best of %d\n", mib, reps);
    for (int nt = 1; nt <= 2; nt++) {
        double gbs = loco_bench_stream_triad_gbs(bytes, nt, reps);
        if (gbs < 0) {
            fprintf(stderr, "bench-stream: %s\n", loco_error_message());
            return 1;
        }
        printf("  %d thread%s  %10.0f MB/s\n", nt, nt > 1 ? "s" : " ", gbs * 1e3);
        best = gbs > best ? gbs : best;
    }
    printf("decode roofline at %.1f GB/s (weights read once per token):\n", best);
    const double sizes_mb[] = {100.0, 500.0, 1000.0, 4000.0};
    for (size_t i = 0; i < sizeof sizes_mb / sizeof sizes_mb[0]; i++)
        printf("  %6.0f MB of weights -> %7.1f tokens/s\n", sizes_mb[i], best * 1e3 / sizes_mb[i]);
    return 0;
}
