/*
 * c_bench.c -- times Xent through its C ABI (xent_cross_entropy_f32 from libxent.so) against the C yardstick
 * (c_sleef_kernel.c: a plain C loop calling SLEEF, not the product) on the same buffers, same thread count.
 *
 *   c_bench ROWS COLS REPS THREADS[,THREADS...] JOB[,JOB...]      JOB: lossgrad | loss
 *
 * Buffers are allocated once and touched before timing. For every (threads, job) both functions are called
 * twice as a warm-up, then REPS times alternately (so drifts of the shared machine hit both alike); the
 * medians are printed as one JSON line per (threads, job), with the two losses and the largest gradient
 * difference, which show the two compute the same thing.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xent.h>

#include "c_sleef_kernel.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof v[0], cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void *alloc_touched(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "c_bench: out of memory\n");
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: c_bench ROWS COLS REPS THREADS[,..] JOB[,..]   (JOB: lossgrad|loss)\n");
        return 2;
    }
    size_t rows = strtoull(argv[1], NULL, 10), cols = strtoull(argv[2], NULL, 10);
    int reps = atoi(argv[3]);
    if (reps < 1) reps = 1;
    if (reps > 10000) reps = 10000;
    size_t n = rows * cols;
    float *x = alloc_touched(n * sizeof(float));
    float *gx = alloc_touched(n * sizeof(float)), *gc = alloc_touched(n * sizeof(float));
    int64_t *labels = alloc_touched(rows * sizeof(int64_t));
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) { /* uniform [-4, 4) */
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(state >> 40) * (8.0 / 16777216.0) - 4.0);
    }
    for (size_t r = 0; r < rows; r++) labels[r] = (int64_t)((r * 7919u) % cols);
    double *tx = malloc(reps * sizeof(double)), *tc = malloc(reps * sizeof(double));

    char threads_list[256], jobs_list[256];
    snprintf(threads_list, sizeof threads_list, "%s", argv[4]);
    for (char *ts = strtok(threads_list, ","); ts; ts = strtok(NULL, ",")) {
        int threads = atoi(ts);
        snprintf(jobs_list, sizeof jobs_list, "%s", argv[5]);
        char *save = NULL;
        for (char *js = strtok_r(jobs_list, ",", &save); js; js = strtok_r(NULL, ",", &save)) {
            int with_grad = strcmp(js, "loss") != 0;
            xent_options o;
            xent_options_init(&o);
            o.num_threads = threads;
            float lx = 0, lc = 0;
            for (int r = -2; r < reps; r++) {
                double t0 = now();
                xent_status s =
                    xent_cross_entropy_f32(x, rows, cols, cols, labels, &o, &lx, with_grad ? gx : NULL, NULL);
                double t1 = now();
                if (s != XENT_OK) {
                    fprintf(stderr, "c_bench: %s: %s\n", xent_status_string(s), xent_last_error_message());
                    return 1;
                }
                if (csk_cross_entropy_f32(x, rows, cols, labels, threads, &lc, with_grad ? gc : NULL) != 0) {
                    fprintf(stderr, "c_bench: the yardstick could not start its threads\n");
                    return 1;
                }
                double t2 = now();
                if (r >= 0) {
                    tx[r] = t1 - t0;
                    tc[r] = t2 - t1;
                }
            }
            double maxdiff = 0;
            if (with_grad)
                for (size_t i = 0; i < n; i++) {
                    double d = fabs((double)gx[i] - (double)gc[i]);
                    if (d > maxdiff || d != d) maxdiff = d;
                }
            double mx = median(tx, reps), mc = median(tc, reps);
            printf(
                "{\"rows\": %zu, \"cols\": %zu, \"threads\": %d, \"job\": \"%s\", \"reps\": %d, "
                "\"isa\": \"%s\", \"xent_c_abi_ms\": %.6f, \"c_sleef_ms\": %.6f, \"xent_speed_vs_c\": %.4f, "
                "\"loss_xent\": %.9g, \"loss_c\": %.9g, \"max_grad_diff\": %.3g, \"max_grad_diff_times_rows\": %.3g}\n",
                rows, cols, threads, with_grad ? "lossgrad" : "loss", reps, xent_isa_name(), mx * 1e3, mc * 1e3,
                mc / mx, lx, lc, maxdiff, maxdiff * (double)rows);
            fflush(stdout);
        }
    }
    csk_shutdown();
    return 0;
}
