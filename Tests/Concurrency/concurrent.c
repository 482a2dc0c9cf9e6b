/*
 * concurrent.c -- 8 threads calling the public C ABI (include/xent.h) concurrently, issue 5.
 *
 * Every task (a function, an element type, num_threads 0/1/2, an input set, options) is first run sequentially
 * on the main thread; its outputs are the expected bytes. Then 8 threads run all tasks many times, on shared
 * read-only inputs and private outputs, in two orders: staggered (different functions at the same moment) and
 * in lockstep behind a barrier (the same function and inputs in every thread at the same moment). Every result
 * must be bit-identical to the sequential one. Inputs: a batch (64 x 1000, row stride 1003, ignored rows) and
 * long rows (2 x 70000 >= 65536 classes: fixed column blocks). Functions: cross-entropy (plain, ex with
 * gradient + lse + bias gradient, in place on a private copy), soft cross-entropy (plain and ex), softmax,
 * log_softmax, logsumexp, and the linear cross-entropy with every output (hidden: 63 rows of the batch, weight:
 * 139 x 1000 of the long rows; the default workspace, and one of a few rows a block: blocks of two sizes taken
 * from and given back to the one kept workspace); f32 and f64; reductions NONE/SUM/MEAN, with and without label
 * smoothing. Now and then a thread releases the kept workspace (xent_release_workspace) between its calls.
 *
 * Interleaved with them, each thread makes calls that fail (a label out of range at a row chosen by the
 * thread) and checks that xent_last_error_message() names its own row, also after yielding to the other
 * threads' calls, and that it is "" again after its next successful call: the message is per thread.
 *
 * Usage: concurrent [ITERATIONS]   (default 12; the ThreadSanitizer run uses fewer)
 * Prints one line per failed check (at most 50) and "N passed, N failed"; exits 1 when anything failed.
 * Build: cc -std=c99 -pthread -I../CSupport concurrent.c ../CSupport/xt_check.c $(pkg-config --cflags --libs xent)
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xent.h>

#include "xt_check.h"

#define NTHREADS 8

/* ---- Shared inputs (written once before the threads start, then read-only) -------------------------------- */

enum { BR = 64, BC = 1000, BS = 1003, LR = 2, LC = 70000, LS = 70000 };

typedef struct {
    size_t rows, cols, stride;
    float *x32, *t32; /* logits, soft targets */
    double *x64, *t64;
    int64_t *labels;
} input_set;

static input_set inputs[2];

/* The inputs' own stream of the harness's xorshift64* generator. */
static xt_rng_t input_rng = {0x2545F4914F6CDD1Dull};

static void make_input(input_set *in, size_t rows, size_t cols, size_t stride)
{
    size_t i, n = rows * stride;
    in->rows = rows;
    in->cols = cols;
    in->stride = stride;
    in->x32 = (float *)malloc(n * sizeof(float));
    in->t32 = (float *)malloc(n * sizeof(float));
    in->x64 = (double *)malloc(n * sizeof(double));
    in->t64 = (double *)malloc(n * sizeof(double));
    in->labels = (int64_t *)malloc(rows * sizeof(int64_t));
    for (i = 0; i < n; i++) {
        double v = xt_rng_uniform(&input_rng, -6, 6), t = xt_rng_uniform(&input_rng, 0, 2.0 / (double)cols);
        in->x64[i] = v;
        in->x32[i] = (float)v;
        in->t64[i] = t;
        in->t32[i] = (float)t;
    }
    for (i = 0; i < rows; i++) in->labels[i] = (int64_t)((i * 7919) % cols);
    if (rows > 5) in->labels[5] = -100; /* ignored rows */
    if (rows > 17) in->labels[17] = -100;
    in->x32[0] = -INFINITY; /* a masked class */
    in->x64[0] = -INFINITY;
}

/* ---- Tasks ---------------------------------------------------------------------------------------------------- */

enum { K_CE, K_CE_EX, K_CE_INPLACE, K_SOFT, K_SOFT_EX, K_SOFTMAX, K_LOG_SOFTMAX, K_LSE, K_LINEAR, K_COUNT };
static const char *const kind_name[K_COUNT] = {"cross_entropy",
                                               "cross_entropy_ex",
                                               "cross_entropy (in place)",
                                               "soft_cross_entropy",
                                               "soft_cross_entropy_ex",
                                               "softmax",
                                               "log_softmax",
                                               "logsumexp",
                                               "linear_cross_entropy"};

/* The linear cross-entropy's problem: hidden = rows 1..63 of the batch (row 0 holds its -inf), weight = rows
   1..139 of the long rows read as 1000-wide rows (the first holds its -inf), labels below 139. */
enum { LIN_ROWS = BR - 1, LIN_DIM = BC, LIN_CLASSES = 139, LIN_FEW_ROWS_BYTES = 16384 };
static int64_t lin_labels[LIN_ROWS];

typedef struct {
    int kind, f64, threads, input, reduction;
    float smoothing;
    size_t bytes;          /* size of the result */
    unsigned char *expect; /* the sequential result */
} task;

static task tasks[K_COUNT * 2 * 3 * 2];
static int ntasks;
static size_t max_bytes;

/* Result layout in a byte buffer: [loss rows][lse rows][bias cols][matrix rows*stride] in the element type
   (the plain soft cross-entropy writes its gradient with the logits' row stride; the others use stride cols). */
static size_t result_bytes(const task *t)
{
    const input_set *in = &inputs[t->input];
    const size_t el = t->f64 ? sizeof(double) : sizeof(float);
    if (t->kind == K_LINEAR) /* [loss][lse][grad_bias][grad_hidden][grad_weight] */
        return (2 * LIN_ROWS + LIN_CLASSES + LIN_ROWS * LIN_DIM + LIN_CLASSES * LIN_DIM) * el;
    return (2 * in->rows + in->cols + in->rows * in->stride) * el;
}

/* The body of run_task for one element type T (suffix SFX, inputs X and TG of the input set). */
#define RUN_TASK_TYPED(T, SFX, X, TG)                                                                                  \
    do {                                                                                                               \
        T *loss = (T *)(void *)buf, *lse = loss + r, *bias = lse + r, *m = bias + c;                                   \
        switch (t->kind) {                                                                                             \
        case K_CE: return xent_cross_entropy_##SFX(in->X, r, c, s, in->labels, &o, loss, NULL, lse);                   \
        case K_CE_EX: return xent_cross_entropy_ex_##SFX(in->X, r, c, s, in->labels, &o, loss, m, c, lse, bias);       \
        case K_CE_INPLACE: {                                                                                           \
            T *g = (T *)scratch;                                                                                       \
            size_t i;                                                                                                  \
            xent_status st;                                                                                            \
            memcpy(g, in->X, r *s * sizeof(T));                                                                        \
            st = xent_cross_entropy_ex_##SFX(g, r, c, s, in->labels, &o, loss, g, s, lse, bias);                       \
            for (i = 0; i < r; i++) memcpy(m + i * c, g + i * s, c * sizeof(T));                                       \
            return st;                                                                                                 \
        }                                                                                                              \
        case K_SOFT: return xent_soft_cross_entropy_##SFX(in->X, r, c, s, in->TG, s, &o, loss, m, NULL);               \
        case K_SOFT_EX:                                                                                                \
            return xent_soft_cross_entropy_ex_##SFX(in->X, r, c, s, in->TG, s, &o, loss, NULL, 0, lse, bias);          \
        case K_SOFTMAX: return xent_softmax_##SFX(in->X, r, c, s, m, c);                                               \
        case K_LOG_SOFTMAX: return xent_log_softmax_##SFX(in->X, r, c, s, m, c);                                       \
        case K_LINEAR:                                                                                                 \
            loss = (T *)(void *)buf, lse = loss + LIN_ROWS, bias = lse + LIN_ROWS, m = bias + LIN_CLASSES;             \
            if (t->input) o.workspace_bytes = LIN_FEW_ROWS_BYTES;                                                      \
            return xent_linear_cross_entropy_##SFX(inputs[0].X + BS, LIN_ROWS, LIN_DIM, BS, inputs[1].X + LIN_DIM,     \
                                                   LIN_CLASSES, LIN_DIM, NULL, lin_labels, &o, loss, m, LIN_DIM,       \
                                                   m + LIN_ROWS * LIN_DIM, LIN_DIM, bias, lse);                        \
        default: return xent_logsumexp_##SFX(in->X, r, c, s, lse);                                                     \
        }                                                                                                              \
    } while (0)

/* Runs task t writing its results into buf (and using scratch, rows*stride elements, for in place). */
static xent_status run_task(const task *t, unsigned char *buf, void *scratch)
{
    const input_set *in = &inputs[t->input];
    const size_t r = in->rows, c = in->cols, s = in->stride;
    xent_options o;
    xent_options_init(&o);
    o.num_threads = t->threads;
    o.reduction = t->reduction;
    o.label_smoothing = t->smoothing;
    o.grad_scale = 0.5f;
    if (!t->f64) RUN_TASK_TYPED(float, f32, x32, t32);
    RUN_TASK_TYPED(double, f64, x64, t64);
}

/* ---- Reporting: xt_check (thread-safe), at most 50 failure lines --------------------------------------------- */

static void describe(const task *t, char *out, size_t n)
{
    const char *input = t->kind == K_LINEAR ? (t->input ? "workspace of a few rows" : "default workspace")
                        : t->input          ? "long rows 2x70000"
                                            : "batch 64x1000";
    snprintf(out, n, "%s_%s, num_threads %d, %s, reduction %d, smoothing %g", kind_name[t->kind],
             t->f64 ? "f64" : "f32", t->threads, input, t->reduction, (double)t->smoothing);
}

/* ---- Worker ------------------------------------------------------------------------------------------------- */

static int iterations = 12;
static pthread_barrier_t barrier;

typedef struct {
    int id;
    long calls, failing_calls;
} worker_arg;

/* A failing call: a private copy of the batch labels with an out-of-range label at a row chosen by the thread;
   the message must name that row, also after the other threads had time to run (and fail) in between. */
static void failing_call(int id, int step, int64_t *labels, unsigned char *buf)
{
    const input_set *in = &inputs[0];
    const size_t row = (size_t)((id * 5 + step * 3) % BR);
    const int64_t bad = (step & 1) ? (int64_t)BC + id : -1 - id;
    char want[128], what[64];
    xent_status st;
    int y;
    xent_options o;
    memcpy(labels, in->labels, BR * sizeof(int64_t));
    labels[row] = bad;
    xent_options_init(&o);
    o.reduction = XENT_REDUCTION_NONE;
    snprintf(want, sizeof want, "label %" PRId64 " at row %zu is outside [0, %d)", bad, row, BC);
    snprintf(what, sizeof what, "thread %d step %d", id, step);
    if (step & 2) st = xent_cross_entropy_f32(in->x32, BR, BC, BS, labels, &o, (float *)(void *)buf, NULL, NULL);
    else st = xent_cross_entropy_f64(in->x64, BR, BC, BS, labels, &o, (double *)(void *)buf, NULL, NULL);
    xt_check(st == XENT_ERR_LABEL_OUT_OF_RANGE, "%s: the failing call returned %d", what, (int)st);
    xt_check(strcmp(xent_last_error_message(), want) == 0, "%s: message \"%s\", expected \"%s\"", what,
             xent_last_error_message(), want);
    for (y = 0; y < 20; y++) sched_yield();
    xt_check(strcmp(xent_last_error_message(), want) == 0,
             "%s: the message changed while other threads ran: now \"%s\", expected \"%s\"", what,
             xent_last_error_message(), want);
}

static void *worker(void *p)
{
    worker_arg *w = (worker_arg *)p;
    unsigned char *buf = (unsigned char *)malloc(max_bytes);
    void *scratch =
        malloc((size_t)LR * LS * sizeof(double) > (size_t)BR * BS * sizeof(double) ? (size_t)LR * LS * sizeof(double)
                                                                                   : (size_t)BR * BS * sizeof(double));
    int64_t *labels = (int64_t *)malloc(BR * sizeof(int64_t));
    char what[160];
    int it, j;
    /* A thread that has made no call yet has the empty message. */
    xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
             "thread %d: a fresh thread's message is not empty", w->id);
    for (it = 0; it < iterations; it++) {
        int phase;
        for (phase = 0; phase < 2; phase++) {
            for (j = 0; j < ntasks; j++) {
                /* phase 0: staggered (thread k runs task (j + 11k + it) % n); phase 1: lockstep behind a barrier. */
                const int k = phase == 0 ? (j + 11 * w->id + it) % ntasks : j;
                const task *t = &tasks[k];
                xent_status st;
                if (phase == 1) pthread_barrier_wait(&barrier);
                memset(buf, 0xA5, t->bytes);
                st = run_task(t, buf, scratch);
                w->calls++;
                if (st != XENT_OK || memcmp(buf, t->expect, t->bytes) != 0 || xent_last_error_message()[0] != '\0') {
                    describe(t, what, sizeof what);
                    xt_check(0, "thread %d, iteration %d, %s: %s: status %d, message \"%s\", %s", w->id, it,
                             phase ? "lockstep" : "staggered", what, (int)st, xent_last_error_message(),
                             st == XENT_OK ? "result differs from the sequential one" : "call failed");
                } else {
                    xt_check(1, "ok");
                }
                if ((j + w->id) % 9 == 0) {
                    failing_call(w->id, it * ntasks + j, labels, buf);
                    w->failing_calls++;
                }
                if ((j + 3 * w->id) % 23 == 0) xent_release_workspace(); /* while other threads hold blocks */
            }
        }
    }
    free(buf);
    free(scratch);
    free(labels);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[NTHREADS];
    worker_arg args[NTHREADS];
    int k, kind, f64, thr, input, i;
    long calls = 0, failing = 0;
    static const int thread_counts[3] = {0, 1, 2};
    void *scratch;
    if (argc > 1) iterations = atoi(argv[1]);
    if (iterations < 1) iterations = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    xt_begin("concurrent");
    xt_set_max_fail_lines(50);

    make_input(&inputs[0], BR, BC, BS);
    make_input(&inputs[1], LR, LC, LS);
    for (i = 0; i < LIN_ROWS; i++) lin_labels[i] = i == 4 ? -100 : (int64_t)((i * 37) % LIN_CLASSES);
    scratch = malloc((size_t)LR * LS * sizeof(double));

    /* Every function x type x num_threads x input; reduction and smoothing vary with the task. */
    for (kind = 0; kind < K_COUNT; kind++)
        for (f64 = 0; f64 < 2; f64++)
            for (thr = 0; thr < 3; thr++)
                for (input = 0; input < 2; input++) {
                    task *t = &tasks[ntasks];
                    t->kind = kind;
                    t->f64 = f64;
                    t->threads = thread_counts[thr];
                    t->input = input;
                    t->reduction = (ntasks % 3 == 0)   ? XENT_REDUCTION_NONE
                                   : (ntasks % 3 == 1) ? XENT_REDUCTION_SUM
                                                       : XENT_REDUCTION_MEAN;
                    t->smoothing = (ntasks % 2) ? 0.1f : 0.0f;
                    t->bytes = result_bytes(t);
                    if (t->bytes > max_bytes) max_bytes = t->bytes;
                    t->expect = (unsigned char *)malloc(t->bytes);
                    memset(t->expect, 0xA5, t->bytes);
                    if (run_task(t, t->expect, scratch) != XENT_OK) {
                        char what[160];
                        describe(t, what, sizeof what);
                        printf("FAIL sequential call failed: %s: %s\n", what, xent_last_error_message());
                        return 1;
                    }
                    ntasks++;
                }
    /* num_threads does not change the result (the header's determinism promise), checked sequentially. */
    for (k = 0; k < ntasks; k++)
        for (i = 0; i < ntasks; i++) {
            const task *a = &tasks[k], *b = &tasks[i];
            if (a != b && a->kind == b->kind && a->f64 == b->f64 && a->input == b->input &&
                a->reduction == b->reduction && a->smoothing == b->smoothing) {
                char what[160];
                describe(a, what, sizeof what);
                xt_check(memcmp(a->expect, b->expect, a->bytes) == 0,
                         "sequential: results differ between num_threads "
                         "%d and %d: %s",
                         a->threads, b->threads, what);
            }
        }

    printf("concurrent: libxent %s (%s): %d tasks, %d threads, %d iterations\n", xent_version_string(), xent_isa_name(),
           ntasks, NTHREADS, iterations);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (k = 0; k < NTHREADS; k++) {
        args[k].id = k;
        args[k].calls = args[k].failing_calls = 0;
        if (pthread_create(&th[k], NULL, worker, &args[k]) != 0) {
            printf("FAIL pthread_create\n");
            return 1;
        }
    }
    for (k = 0; k < NTHREADS; k++) {
        pthread_join(th[k], NULL);
        calls += args[k].calls;
        failing += args[k].failing_calls;
    }
    pthread_barrier_destroy(&barrier);
    /* The main thread's own message is untouched by the workers' failures: its last call succeeded. */
    xt_check(xent_last_error_message()[0] == '\0', "main thread: message \"%s\" after the workers' failing calls",
             xent_last_error_message());
    printf("concurrent: %ld concurrent calls checked bit for bit, %ld failing calls\n", calls, failing);
    for (k = 0; k < ntasks; k++) free(tasks[k].expect);
    free(scratch);
    return xt_finish();
}
