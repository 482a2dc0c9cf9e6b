/*
 * ab_bench.c -- two builds of libxent.so in one process, timed alternately on the same buffers: the A/B of a
 * change (e.g. a release against the working tree) that a shared, noisy machine cannot spoil for one side only.
 *
 *   ab_bench LIB_A LIB_B ROWS COLS REPS THREADS JOB        JOB: lossgrad | loss
 *
 * Both libraries are dlopen'ed with RTLD_LOCAL (each keeps its own statically linked Swift runtime; only the
 * xent_* symbols are exported). xent_cross_entropy_f32 of each is called twice as a warm-up, then REPS times in
 * the order A B B A A B ... (so a drift of the machine hits both alike); one JSON line gives both medians, B/A,
 * and whether the two produced bit-identical losses and gradients.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xent.h>

typedef xent_status (*ce_fn)(const float *, size_t, size_t, size_t, const int64_t *, const xent_options *, float *,
                             float *, float *);
typedef void (*init_fn)(xent_options *);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void *sym(void *h, const char *lib, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "ab_bench: %s has no %s\n", lib, name);
        exit(2);
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: ab_bench LIB_A LIB_B ROWS COLS REPS THREADS JOB   (JOB: lossgrad | loss)\n");
        return 2;
    }
    size_t rows = strtoull(argv[3], NULL, 10), cols = strtoull(argv[4], NULL, 10), n = rows * cols, i;
    int reps = atoi(argv[5]), threads = atoi(argv[6]), grad = strcmp(argv[7], "lossgrad") == 0, r, k;
    ce_fn f[2];
    xent_options opts[2];
    for (k = 0; k < 2; k++) {
        void *h = dlopen(argv[1 + k], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "ab_bench: %s\n", dlerror());
            return 2;
        }
        f[k] = (ce_fn)sym(h, argv[1 + k], "xent_cross_entropy_f32");
        ((init_fn)sym(h, argv[1 + k], "xent_options_init"))(&opts[k]);
        opts[k].num_threads = threads;
    }
    float *x = malloc(sizeof(float) * n), *g[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    int64_t *labels = malloc(sizeof(int64_t) * rows);
    double *t[2] = {malloc(sizeof(double) * (size_t)reps), malloc(sizeof(double) * (size_t)reps)};
    float loss[2];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    if (!x || !g[0] || !g[1] || !labels || !t[0] || !t[1] || reps < 1) return 2;
    for (i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) * 0x1p-24 * 8.0 - 4.0);
    }
    for (i = 0; i < rows; i++) labels[i] = (int64_t)((i * 7919) % cols);
    memset(g[0], 0, sizeof(float) * n), memset(g[1], 0, sizeof(float) * n);
    for (r = 0; r < 2; r++)
        for (k = 0; k < 2; k++)
            if (f[k](x, rows, cols, cols, labels, &opts[k], &loss[k], grad ? g[k] : NULL, NULL) != XENT_OK) return 1;
    for (r = 0; r < reps; r++)
        for (int j = 0; j < 2; j++) {
            k = (r + j) % 2 == 0 ? 0 : 1; /* A B, B A, A B, ... */
            double t0 = now();
            f[k](x, rows, cols, cols, labels, &opts[k], &loss[k], grad ? g[k] : NULL, NULL);
            t[k][r] = now() - t0;
        }
    double a = median(t[0], reps), b = median(t[1], reps);
    int same = memcmp(&loss[0], &loss[1], sizeof(float)) == 0 && (!grad || memcmp(g[0], g[1], sizeof(float) * n) == 0);
    printf("{\"rows\": %zu, \"cols\": %zu, \"threads\": %d, \"job\": \"%s\", \"reps\": %d, \"a_ms\": %.4f, "
           "\"b_ms\": %.4f, \"b_over_a\": %.4f, \"bit_identical\": %s}\n",
           rows, cols, threads, argv[7], reps, a * 1e3, b * 1e3, b / a, same ? "true" : "false");
    return 0;
}
