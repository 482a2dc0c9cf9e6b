/*
 * bandwidth.c -- this machine's DRAM bandwidth, for the memory floor of each benchmark case.
 *
 *   read      sum of a 512 MiB float buffer (AVX2 loads, 4 accumulators)          bytes = size
 *   copy      512 MiB -> 512 MiB with ordinary stores                              bytes = 2 * size
 *   copy_nt   512 MiB -> 512 MiB with non-temporal (streaming) stores + sfence     bytes = 2 * size
 *
 * each with 1 and 2 threads (the buffer split in halves, one pthread per half). Buffers are allocated and
 * touched (written) before timing: the first touch of fresh pages costs ~1 GB/s on these guests and would
 * otherwise dominate. Each figure is measured `reps` times; JSON reports the best (used for the floor:
 * the floor is a lower bound on time) and the median, in GB/s (1e9 bytes/s).
 *
 *   gcc -O2 -mavx2 -mfma -pthread bandwidth.c -o bandwidth && ./bandwidth [MiB=512] [reps=7]
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { READ, COPY, COPY_NT };
static const char *kind_name[] = {"read", "copy", "copy_nt"};

typedef struct {
    const float *src;
    float *dst;
    size_t n; /* floats, multiple of 32 */
    int kind;
    double sum;
} part;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *work(void *arg)
{
    part *p = arg;
    const float *s = p->src;
    float *d = p->dst;
    size_t n = p->n;
    if (p->kind == READ) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < n; i += 32) {
            a0 = _mm256_add_ps(a0, _mm256_load_ps(s + i));
            a1 = _mm256_add_ps(a1, _mm256_load_ps(s + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_load_ps(s + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_load_ps(s + i + 24));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        double t = 0;
        for (int k = 0; k < 8; k++) t += lanes[k];
        p->sum = t;
    } else if (p->kind == COPY) {
        for (size_t i = 0; i < n; i += 32) {
            _mm256_store_ps(d + i, _mm256_load_ps(s + i));
            _mm256_store_ps(d + i + 8, _mm256_load_ps(s + i + 8));
            _mm256_store_ps(d + i + 16, _mm256_load_ps(s + i + 16));
            _mm256_store_ps(d + i + 24, _mm256_load_ps(s + i + 24));
        }
    } else {
        for (size_t i = 0; i < n; i += 32) {
            _mm256_stream_ps(d + i, _mm256_load_ps(s + i));
            _mm256_stream_ps(d + i + 8, _mm256_load_ps(s + i + 8));
            _mm256_stream_ps(d + i + 16, _mm256_load_ps(s + i + 16));
            _mm256_stream_ps(d + i + 24, _mm256_load_ps(s + i + 24));
        }
        _mm_sfence();
    }
    return NULL;
}

/* One timed pass of `kind` with `threads` threads over n floats; returns seconds. */
static double pass(const float *src, float *dst, size_t n, int kind, int threads, double *sink)
{
    part parts[2];
    pthread_t tid[2];
    size_t half = (n / threads) & ~(size_t)31;
    double t0 = now();
    for (int t = 0; t < threads; t++) {
        parts[t] = (part){src + t * half, dst + t * half, t == threads - 1 ? n - t * half : half, kind, 0};
        if (t > 0) pthread_create(&tid[t], NULL, work, &parts[t]);
    }
    work(&parts[0]);
    for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
    double dt = now() - t0;
    for (int t = 0; t < threads; t++) *sink += parts[t].sum;
    return dt;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > 1000) reps = 7;
    size_t bytes = mib << 20, n = bytes / sizeof(float);
    float *src = aligned_alloc(4096, bytes), *dst = aligned_alloc(4096, bytes);
    if (!src || !dst) {
        fprintf(stderr, "bandwidth: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) src[i] = (float)(i & 1023) * 0.001f; /* touch every page */
    memset(dst, 0, bytes);
    double sink = 0;
    printf("{\"buffer_mib\": %zu, \"reps\": %d, \"unit\": \"GB/s (1e9 bytes/s); copy counts read + write\"", mib, reps);
    for (int kind = READ; kind <= COPY_NT; kind++) {
        for (int threads = 1; threads <= 2; threads++) {
            double t[1000];
            pass(src, dst, n, kind, threads, &sink); /* warm-up */
            for (int r = 0; r < reps; r++) t[r] = pass(src, dst, n, kind, threads, &sink);
            qsort(t, reps, sizeof t[0], cmp);
            double moved = (double)bytes * (kind == READ ? 1 : 2);
            printf(", \"%s_%dt\": {\"best\": %.2f, \"median\": %.2f}", kind_name[kind], threads, moved / t[0] / 1e9,
                   moved / t[reps / 2] / 1e9);
            fflush(stdout);
        }
    }
    printf(", \"checksum\": %.1f}\n", sink * 0.0 + (double)dst[n / 3]);
    free(src);
    free(dst);
    return 0;
}
