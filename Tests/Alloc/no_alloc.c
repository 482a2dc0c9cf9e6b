/* No allocation in the hot path: after one warm-up call of each kind, 1000 more calls of every
   function on one thread — row kernel, rows-in-lanes kernel (<= 16 classes), long rows split into
   column blocks, soft targets, the softmax family — must not allocate at all. With two threads the
   count is reported (libdispatch's concurrentPerform allocates a few small blocks per call).
   The bias gradient's scratch: none up to 4096 classes, exactly one block per call above; when that block
   cannot be had (the counter makes malloc fail), XENT_ERR_OUT_OF_MEMORY and nothing written.
   bfloat16 logits without grad_f32 (loss only, and with grad_bf16): exactly one float32 scratch tile per call; when
   it cannot be had, XENT_ERR_OUT_OF_MEMORY, nothing written, and the next call succeeds (in a child process: a
   library that traps instead fails that one check).
   The linear cross-entropy: its workspace is kept between calls, so after a warm-up call no allocation at all, also
   with many row blocks and with rows == 0 (the first call's count, which includes the BLAS's one-time set-up, is
   reported); after xent_release_workspace exactly one block per call until it is kept again; when the workspace
   cannot be had, XENT_ERR_OUT_OF_MEMORY, nothing written, the next call succeeds.
   Prints "N passed, N failed" (Tests/CSupport/xt_check.h). */
#include <xent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xt_check.h"
#include "xt_isolate.h"
#include "xt_ref.h"

void counter_arm(int on);
long counter_allocations(void);
void counter_fail_next(int n);

static void run_all(const float *x, float *g, float *t, float *l, float *lse, float *b, int64_t *lab, int threads)
{
    xent_options o;
    xent_options_init(&o);
    o.num_threads = threads;
    o.reduction = XENT_REDUCTION_NONE;
    xent_cross_entropy_ex_f32(x, 64, 10, 10, lab, &o, l, g, 10, lse, b);      /* rows in lanes */
    xent_cross_entropy_ex_f32(x, 8, 1000, 1000, lab, &o, l, g, 1000, lse, b); /* row kernel */
    o.label_smoothing = 0.1f;
    xent_cross_entropy_f32(x, 1, 70000, 70000, lab, &o, l, g, lse); /* column blocks */
    xent_soft_cross_entropy_ex_f32(x, 8, 1000, 1000, t, 1000, &o, l, g, 1000, lse, b);
    /* The softmax family has no thread option: shapes below the automatic threshold stay on one thread. */
    xent_softmax_f32(x, 8, 1000, 1000, g, 1000);
    xent_log_softmax_f32(x, 8, 1000, 1000, g, 1000);
    xent_logsumexp_f32(x, 64, 10, 10, l);
}

static void check(const char *what, int threads, const float *x, float *g, float *t, float *l, float *lse, float *b,
                  int64_t *lab)
{
    run_all(x, g, t, l, lse, b, lab, threads); /* warm-up: one-time runtime and thread-pool set-up */
    counter_arm(1);
    long before = counter_allocations();
    for (int k = 0; k < 1000; k++) run_all(x, g, t, l, lse, b, lab, threads);
    long n = counter_allocations() - before;
    counter_arm(0);
    if (threads == 1) {
        XT_CHECK(n == 0, "%s (threads %d): %ld allocations in 7000 calls", what, threads, n);
    } else {
        printf("note: %s with %d threads: %ld allocations in 7000 calls (libdispatch)\n", what, threads, n);
    }
}

/* ---- bfloat16 logits without grad_f32: one scratch tile per call ------------------------------------------- */

enum { BF_ROWS = 16, BF_COLS = 1000 };
static uint16_t bf_x[BF_ROWS * BF_COLS], bf_g[BF_ROWS * BF_COLS];
static int64_t bf_lab[BF_ROWS];

static xent_status bf16_call(int with_grad, int reduction, float *loss, float *lse)
{
    xent_options o;
    xent_options_init(&o);
    o.num_threads = 1;
    o.reduction = reduction;
    return xent_cross_entropy_bf16(bf_x, BF_ROWS, BF_COLS, BF_COLS, bf_lab, &o, loss, NULL, with_grad ? bf_g : NULL,
                                   BF_COLS, lse);
}

static void test_bf16_allocations(void)
{
    float loss[BF_ROWS], lse[BF_ROWS];
    int with_grad, red;
    for (with_grad = 0; with_grad <= 1; with_grad++)
        for (red = XENT_REDUCTION_NONE; red <= XENT_REDUCTION_MEAN; red++) {
            long before, n;
            int k, ok = 1;
            xt_set_case("bf16 without grad_f32, %s, reduction %d", with_grad ? "grad_bf16" : "loss only", red);
            ok &= bf16_call(with_grad, red, loss, lse) == XENT_OK; /* warm-up */
            counter_arm(1);
            before = counter_allocations();
            for (k = 0; k < 100; k++) ok &= bf16_call(with_grad, red, loss, lse) == XENT_OK;
            n = counter_allocations() - before;
            counter_arm(0);
            XT_CHECK(ok, "a call failed: %s", xent_last_error_message());
            XT_CHECK(n == 100, "%ld allocations in 100 calls (want exactly one scratch tile per call)", n);
        }
}

/* Out of memory on the scratch tile: XENT_ERR_OUT_OF_MEMORY, loss, lse and grad_bf16 untouched, a message; the
   next call succeeds. Run in a child process (a library that traps in its allocation fails only this). */
static void test_bf16_out_of_memory(void)
{
    float loss[BF_ROWS], lse[BF_ROWS];
    int with_grad;
    for (with_grad = 0; with_grad <= 1; with_grad++) {
        xent_status st;
        int untouched;
        xt_set_case("bf16 without grad_f32, %s: out of memory", with_grad ? "grad_bf16" : "loss only");
        xt_fill_canary(loss, sizeof loss);
        xt_fill_canary(lse, sizeof lse);
        xt_fill_canary(bf_g, sizeof bf_g);
        counter_fail_next(1);
        st = bf16_call(with_grad, XENT_REDUCTION_NONE, loss, lse);
        counter_fail_next(0);
        untouched = xt_is_canary(loss, sizeof loss) && xt_is_canary(lse, sizeof lse) && xt_is_canary(bf_g, sizeof bf_g);
        XT_CHECK(st == XENT_ERR_OUT_OF_MEMORY, "status %d (want %d, XENT_ERR_OUT_OF_MEMORY), message \"%s\"", st,
                 XENT_ERR_OUT_OF_MEMORY, xent_last_error_message());
        XT_CHECK(untouched, "loss, lse or grad_bf16 written by the failed call");
        XT_CHECK(xent_last_error_message()[0] != '\0', "empty message");
        XT_CHECK(bf16_call(with_grad, XENT_REDUCTION_NONE, loss, lse) == XENT_OK, "the next call: status %d (%s)",
                 (int)bf16_call(with_grad, XENT_REDUCTION_NONE, loss, lse), xent_last_error_message());
    }
}

/* ---- The linear cross-entropy: one workspace block, kept between calls ---------------------------------------- */

enum { LN_ROWS = 48, LN_DIM = 32, LN_CLASSES = 300 };
static float ln_h[LN_ROWS * LN_DIM], ln_w[LN_CLASSES * LN_DIM], ln_b[LN_CLASSES];
static float ln_loss[LN_ROWS], ln_gh[LN_ROWS * LN_DIM], ln_gw[LN_CLASSES * LN_DIM], ln_gb[LN_CLASSES], ln_lse[LN_ROWS];
static double ln_hd[LN_ROWS * LN_DIM], ln_wd[LN_CLASSES * LN_DIM], ln_bd[LN_CLASSES];
static double ln_lossd[LN_ROWS], ln_ghd[LN_ROWS * LN_DIM], ln_gwd[LN_CLASSES * LN_DIM], ln_gbd[LN_CLASSES],
    ln_lsed[LN_ROWS];
static int64_t ln_lab[LN_ROWS];

/* One call: f64 or f32; rows (0..LN_ROWS); grads: every output, else the loss only; workspace_bytes (0: default);
   accumulate. */
static xent_status linear_call(int f64, size_t rows, int threads, int grads, size_t workspace, int accumulate)
{
    xent_options o;
    xent_options_init(&o);
    o.num_threads = threads;
    o.reduction = XENT_REDUCTION_NONE;
    o.label_smoothing = 0.1f;
    o.workspace_bytes = workspace;
    o.accumulate = accumulate;
    if (f64)
        return xent_linear_cross_entropy_f64(ln_hd, rows, LN_DIM, LN_DIM, ln_wd, LN_CLASSES, LN_DIM, ln_bd, ln_lab, &o,
                                             ln_lossd, grads ? ln_ghd : NULL, LN_DIM, grads ? ln_gwd : NULL, LN_DIM,
                                             grads ? ln_gbd : NULL, grads ? ln_lsed : NULL);
    return xent_linear_cross_entropy_f32(ln_h, rows, LN_DIM, LN_DIM, ln_w, LN_CLASSES, LN_DIM, ln_b, ln_lab, &o, ln_loss,
                                         grads ? ln_gh : NULL, LN_DIM, grads ? ln_gw : NULL, LN_DIM,
                                         grads ? ln_gb : NULL, grads ? ln_lse : NULL);
}

static void test_linear_allocations(void)
{
    /* workspaces: the default (one block of rows), and 5 rows a block (10 row blocks, still one allocation) */
    const size_t small = 5 * LN_CLASSES * sizeof(double) + 2 * LN_CLASSES * sizeof(double);
    long first, before, n;
    int f64, grads, k, w, ok = 1;
    for (size_t i = 0; i < LN_ROWS * LN_DIM; i++) ln_hd[i] = ln_h[i] = (float)((i * 37) % 101) * 0.02f - 1;
    for (size_t i = 0; i < LN_CLASSES * LN_DIM; i++) ln_wd[i] = ln_w[i] = (float)((i * 53) % 97) * 0.02f - 1;
    for (size_t i = 0; i < LN_CLASSES; i++) ln_bd[i] = ln_b[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < LN_ROWS; i++) ln_lab[i] = (int64_t)((i * 13) % LN_CLASSES);
    ln_lab[5] = -100;

    /* The very first call: the BLAS may set itself up (its buffers, its threads); reported, not asserted. */
    xt_set_case("linear: the first call of the process");
    counter_arm(1);
    before = counter_allocations();
    ok &= linear_call(0, LN_ROWS, 1, 1, 0, 0) == XENT_OK;
    first = counter_allocations() - before;
    counter_arm(0);
    printf("note: the first linear call of the process made %ld allocations (1 is the workspace; the rest, if any, "
           "the BLAS's or the runtime's one-time set-up)\n",
           first);
    for (f64 = 0; f64 <= 1; f64++)
        for (grads = 0; grads <= 1; grads++)
            for (w = 0; w <= 1; w++) {
                size_t ws = w ? small : 0;
                xt_set_case("linear %s, %s, workspace %s", f64 ? "f64" : "f32", grads ? "every output" : "loss only",
                            w ? "of 5 rows (10 row blocks)" : "default");
                ok &= linear_call(f64, LN_ROWS, 1, grads, ws, 0) == XENT_OK; /* warm-up */
                counter_arm(1);
                before = counter_allocations();
                for (k = 0; k < 100; k++) ok &= linear_call(f64, LN_ROWS, 1, grads, ws, k & 1) == XENT_OK;
                n = counter_allocations() - before;
                counter_arm(0);
                XT_CHECK(ok, "a call failed: %s", xent_last_error_message());
                XT_CHECK(n == 0, "%ld allocations in 100 calls (want none: the workspace is kept)", n);
                /* rows == 0: no allocation at all */
                counter_arm(1);
                before = counter_allocations();
                for (k = 0; k < 100; k++) ok &= linear_call(f64, 0, 1, grads, ws, k & 1) == XENT_OK;
                n = counter_allocations() - before;
                counter_arm(0);
                XT_CHECK(ok, "a rows-0 call failed: %s", xent_last_error_message());
                XT_CHECK(n == 0, "%ld allocations in 100 calls with rows 0 (want none)", n);
            }
    /* Released: the next call allocates its block (exactly one) and keeps it; releasing twice frees nothing more. */
    {
        size_t freed, again;
        xt_set_case("linear: xent_release_workspace");
        xent_release_workspace(); /* a larger block from the calls above would serve this one */
        ok &= linear_call(0, LN_ROWS, 1, 1, 0, 0) == XENT_OK;
        freed = xent_release_workspace();
        again = xent_release_workspace();
        XT_CHECK(freed > 0 && again == 0, "released %zu then %zu bytes (want > 0, then 0)", freed, again);
        counter_arm(1);
        before = counter_allocations();
        for (k = 0; k < 10; k++) ok &= linear_call(0, LN_ROWS, 1, 1, 0, 0) == XENT_OK;
        n = counter_allocations() - before;
        counter_arm(0);
        XT_CHECK(ok && n == 1, "%ld allocations in 10 calls after a release (want 1)", n);
        counter_arm(1);
        before = counter_allocations();
        for (k = 0; k < 10; k++) {
            ok &= xent_release_workspace() == freed; /* the block the previous call kept */
            ok &= linear_call(0, LN_ROWS, 1, 1, 0, 0) == XENT_OK;
        }
        n = counter_allocations() - before;
        counter_arm(0);
        XT_CHECK(ok && n == 10, "%ld allocations in 10 calls, each released (want 10; or a size other than %zu)", n,
                 freed);
    }
    /* two threads: reported (the thread pool's handoffs may allocate) */
    ok &= linear_call(0, LN_ROWS, 2, 1, 0, 0) == XENT_OK;
    counter_arm(1);
    before = counter_allocations();
    for (k = 0; k < 100; k++) ok &= linear_call(0, LN_ROWS, 2, 1, 0, 0) == XENT_OK;
    n = counter_allocations() - before;
    counter_arm(0);
    printf("note: linear f32 with num_threads 2: %ld allocations in 100 calls\n", n);
}

/* Out of memory on the workspace (none kept, or a smaller one): XENT_ERR_OUT_OF_MEMORY, every output untouched (also
   with accumulate, which would read them), a message; the next call succeeds. In a child process (a library that
   traps fails only this). */
static void test_linear_out_of_memory(void)
{
    int f64, acc;
    for (f64 = 0; f64 <= 1; f64++)
        for (acc = 0; acc <= 1; acc++) {
            xent_status st;
            int untouched;
            xt_set_case("linear %s: out of memory (accumulate %d)", f64 ? "f64" : "f32", acc);
            /* so that the call below must allocate: no block kept, or one too small for it (5 rows) */
            xent_release_workspace();
            if (acc)
                linear_call(f64, LN_ROWS, 1, 1, 5 * LN_CLASSES * sizeof(double) + 2 * LN_CLASSES * sizeof(double), 0);
            if (f64) {
                xt_fill_canary(ln_lossd, sizeof ln_lossd), xt_fill_canary(ln_ghd, sizeof ln_ghd);
                xt_fill_canary(ln_gwd, sizeof ln_gwd), xt_fill_canary(ln_gbd, sizeof ln_gbd);
                xt_fill_canary(ln_lsed, sizeof ln_lsed);
            } else {
                xt_fill_canary(ln_loss, sizeof ln_loss), xt_fill_canary(ln_gh, sizeof ln_gh);
                xt_fill_canary(ln_gw, sizeof ln_gw), xt_fill_canary(ln_gb, sizeof ln_gb);
                xt_fill_canary(ln_lse, sizeof ln_lse);
            }
            counter_fail_next(1);
            st = linear_call(f64, LN_ROWS, 1, 1, 0, acc);
            counter_fail_next(0);
            if (f64)
                untouched = xt_is_canary(ln_lossd, sizeof ln_lossd) && xt_is_canary(ln_ghd, sizeof ln_ghd) &&
                            xt_is_canary(ln_gwd, sizeof ln_gwd) && xt_is_canary(ln_gbd, sizeof ln_gbd) &&
                            xt_is_canary(ln_lsed, sizeof ln_lsed);
            else
                untouched = xt_is_canary(ln_loss, sizeof ln_loss) && xt_is_canary(ln_gh, sizeof ln_gh) &&
                            xt_is_canary(ln_gw, sizeof ln_gw) && xt_is_canary(ln_gb, sizeof ln_gb) &&
                            xt_is_canary(ln_lse, sizeof ln_lse);
            XT_CHECK(st == XENT_ERR_OUT_OF_MEMORY, "status %d (want %d, XENT_ERR_OUT_OF_MEMORY), message \"%s\"", st,
                     XENT_ERR_OUT_OF_MEMORY, xent_last_error_message());
            XT_CHECK(untouched, "an output was written by the failed call");
            XT_CHECK(xent_last_error_message()[0] != '\0', "empty message");
            st = linear_call(f64, LN_ROWS, 1, 1, 0, 0);
            XT_CHECK(st == XENT_OK, "the next call: status %d (%s)", st, xent_last_error_message());
        }
}

int main(void)
{
    size_t n = 70000 * 2;
    xt_begin("alloc");
    float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g), *t = malloc(n * sizeof *t);
    float l[128], lse[128], *b = malloc(n * sizeof *b);
    int64_t lab[128];
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((i * 7919) % 1000) * 0.01f - 5;
        t[i] = (i % 97 == 0) ? 0.5f : 0;
    }
    for (int i = 0; i < 128; i++) lab[i] = (i * 3) % 10;

    check("every function", 1, x, g, t, l, lse, b, lab);
    check("every function", 2, x, g, t, l, lse, b, lab);

    /* The bias gradient's running sum (Double, with error terms for double logits): on the stack up to 4096
       classes (no allocation, also for double), above it exactly one heap block per call (header). */
    {
        xent_options o;
        xent_options_init(&o);
        o.num_threads = 1;
        double *xd = malloc(8 * 4096 * sizeof *xd), *bd = malloc(4096 * sizeof *bd), ld;
        for (size_t i = 0; i < 8 * 4096; i++) xd[i] = x[i];
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) counter_arm(1);
            long before = counter_allocations();
            for (int k = 0; k < 100; k++) {
                xent_cross_entropy_ex_f64(xd, 8, 4096, 4096, lab, &o, &ld, NULL, 0, NULL, bd);
                xent_cross_entropy_ex_f32(x, 8, 4096, 4096, lab, &o, l, NULL, 0, NULL, b);
            }
            long stack = counter_allocations() - before;
            before = counter_allocations();
            for (int k = 0; k < 100; k++) xent_cross_entropy_ex_f32(x, 8, 4097, 4097, lab, &o, l, NULL, 0, NULL, b);
            long heap = counter_allocations() - before;
            counter_arm(0);
            if (pass == 0) continue;
            XT_CHECK(
                stack == 0 && heap == 100,
                "bias gradient: %ld allocations in 200 calls of 4096 classes (want 0), %ld in 100 of 4097 (want 100)",
                stack, heap);
        }
        free(xd);
        free(bd);
    }

    /* Out of memory: when the bias gradient's heap block cannot be had, the call returns XENT_ERR_OUT_OF_MEMORY
       with a message and writes nothing (loss, gradient, lse and bias keep their canary bytes). */
    {
        xent_options o;
        xent_options_init(&o);
        o.num_threads = 1;
        size_t rows = 3, cols = 5000;
        float *grad = malloc(rows * cols * sizeof *grad), lossv[3], lsev[3], *bias = malloc(cols * sizeof *bias);
        memset(grad, 0x5A, rows * cols * sizeof *grad), memset(lossv, 0x5A, sizeof lossv);
        memset(lsev, 0x5A, sizeof lsev), memset(bias, 0x5A, cols * sizeof *bias);
        int untouched = 1;
        counter_fail_next(1);
        xent_status st = xent_cross_entropy_ex_f32(x, rows, cols, cols, lab, &o, lossv, grad, cols, lsev, bias);
        counter_fail_next(0);
        const unsigned char *bytes[4] = {(const unsigned char *)grad, (const unsigned char *)lossv,
                                         (const unsigned char *)lsev, (const unsigned char *)bias};
        size_t sizes[4] = {rows * cols * sizeof *grad, sizeof lossv, sizeof lsev, cols * sizeof *bias};
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i < sizes[k]; i++) untouched &= bytes[k][i] == 0x5A;
        const char *msg = xent_last_error_message();
        XT_CHECK(st == XENT_ERR_OUT_OF_MEMORY && untouched && strstr(msg, "bias gradient") != NULL,
                 "out of memory: status %d (want %d), outputs %s, message \"%s\"", st, XENT_ERR_OUT_OF_MEMORY,
                 untouched ? "untouched" : "WRITTEN", msg);
        /* The same call with memory succeeds. */
        st = xent_cross_entropy_ex_f32(x, rows, cols, cols, lab, &o, lossv, grad, cols, lsev, bias);
        XT_CHECK(st == XENT_OK, "after out of memory: status %d", st);
        free(grad), free(bias);
    }

    /* The error path is not the hot path: its message is built as a Swift string, then copied into
       the fixed per-thread buffer. Reported, not asserted. */
    xent_options o;
    xent_options_init(&o);
    int64_t bad[2] = {0, 99};
    float loss;
    xent_cross_entropy_f32(x, 2, 10, 10, bad, &o, &loss, NULL, NULL);
    counter_arm(1);
    long before = counter_allocations();
    for (int k = 0; k < 1000; k++) xent_cross_entropy_f32(x, 2, 10, 10, bad, &o, &loss, NULL, NULL);
    long errors = counter_allocations() - before;
    counter_arm(0);
    printf("note: the error path allocates %ld times per 1000 failed calls (message formatting)\n", errors);

    for (size_t i = 0; i < BF_ROWS * BF_COLS; i++) bf_x[i] = xt_bf16_round(x[i]);
    for (int i = 0; i < BF_ROWS; i++) bf_lab[i] = (i * 37) % BF_COLS;
    bf_lab[3] = -100;
    test_bf16_allocations();
    /* Expected to fail (a trap in the child) with a library whose bfloat16 scratch comes from Swift's allocate. */
    xt_isolated("bf16 scratch out of memory", test_bf16_out_of_memory);

    test_linear_allocations();
    xt_isolated("linear workspace out of memory", test_linear_out_of_memory);

    return xt_finish();
}
