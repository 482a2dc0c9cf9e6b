/*
 * test_validation.c -- invalid arguments of every function: the status, nothing written (one arena snapshot), and
 * a message naming the argument, the row or the label; a failing call followed by a valid one clears the message.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_validation.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Invalid arguments: status, nothing written, a message ---- */

typedef struct XT_FN(xt_err_env) {
    xt_arena arena;
    XT_REAL *logits;  /* ROWS x STRIDE */
    XT_REAL *targets; /* ROWS x STRIDE */
    int64_t *labels;  /* ROWS */
    XT_REAL *loss, *grad, *lse, *bias;
} XT_FN(xt_err_env);

#define XT_E_ROWS 5
#define XT_E_COLS 6
#define XT_E_STRIDE 8

/* Byte layout: each region 1 KiB apart, 64-byte aligned, the first 512 bytes into the arena (so that a pointer
   just before a region stays inside the arena). */
static void XT_FN(xt_err_env_init)(XT_FN(xt_err_env) * e)
{
    size_t i;
    xt_arena_init(&e->arena, 8 * 1024);
    e->logits = (XT_REAL *)(void *)(e->arena.mem + 512 + 0 * 1024);
    e->targets = (XT_REAL *)(void *)(e->arena.mem + 512 + 1 * 1024);
    e->labels = (int64_t *)(void *)(e->arena.mem + 512 + 2 * 1024);
    e->loss = (XT_REAL *)(void *)(e->arena.mem + 512 + 3 * 1024);
    e->grad = (XT_REAL *)(void *)(e->arena.mem + 512 + 4 * 1024);
    e->lse = (XT_REAL *)(void *)(e->arena.mem + 512 + 5 * 1024);
    e->bias = (XT_REAL *)(void *)(e->arena.mem + 512 + 6 * 1024);
    for (i = 0; i < XT_E_ROWS * XT_E_STRIDE; i++) {
        e->logits[i] = (XT_REAL)xt_uniform(-3.0, 3.0);
        e->targets[i] = (XT_REAL)xt_uniform(0.0, 0.3);
    }
    for (i = 0; i < XT_E_ROWS; i++) e->labels[i] = (int64_t)(i % XT_E_COLS);
}

static XT_FN(xt_ce_call) XT_FN(xt_err_base)(XT_FN(xt_err_env) * e, int soft, int ex, const xent_options *opts)
{
    XT_FN(xt_ce_call)
    c = XT_FN(xt_ce_on)(soft, ex, e->logits, XT_E_ROWS, XT_E_COLS, XT_E_STRIDE, e->labels, e->targets, XT_E_STRIDE,
                        opts);
    c.loss = e->loss;
    c.grad = e->grad;
    c.grad_stride = XT_E_STRIDE;
    c.lse = e->lse;
    c.bias = ex ? e->bias : NULL;
    return c;
}

/* Expects the call to fail with `want`, to leave every byte of the arena as it was, and to set a message.
   Returns the message (for further checks). */
static const char *XT_FN(xt_expect_fail)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * c, xent_status want,
                                         const char *what)
{
    xent_status st;
    char label[200];
    const char *msg;
    snprintf(label, sizeof label, "%s: %s", XT_FN(xt_ce_name)(c), what);
    xt_arena_snap(&e->arena);
    st = XT_FN(xt_ce_run)(c);
    msg = xent_last_error_message();
    xt_check_status(st, want, label);
    xt_check(xt_arena_unchanged(&e->arena), "%s: memory was written by a failing call", label);
    xt_check(msg != NULL && msg[0] != '\0', "%s: empty xent_last_error_message()", label);
    return msg ? msg : "";
}

static void XT_FN(xt_expect_ok)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * c, const char *what)
{
    char label[200];
    snprintf(label, sizeof label, "%s: %s", XT_FN(xt_ce_name)(c), what);
    (void)e;
    if (xt_check_status(XT_FN(xt_ce_run)(c), XENT_OK, label))
        xt_check(xent_last_error_message()[0] == '\0', "%s: message after success \"%s\"", label,
                 xent_last_error_message());
}

/* base with the size_t field at byte offset `field` set to v (and rows to `rows` unless 0): must fail with
   XENT_ERR_INVALID_SHAPE, writing nothing. */
static void XT_FN(xt_expect_bad_size)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * base, size_t field, size_t v,
                                      size_t rows, const char *what)
{
    XT_FN(xt_ce_call) c = *base;
    memcpy((char *)&c + field, &v, sizeof v);
    if (rows) c.rows = rows;
    XT_FN(xt_expect_fail)(e, &c, XENT_ERR_INVALID_SHAPE, what);
}

/* base with the output pointer field at byte offset `field` (loss, grad, lse or bias) set to p: must fail with
   XENT_ERR_ALIASING, writing nothing. */
static void XT_FN(xt_expect_alias)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * base, size_t field, XT_REAL *p,
                                   const char *what)
{
    XT_FN(xt_ce_call) c = *base;
    memcpy((char *)&c + field, &p, sizeof p);
    XT_FN(xt_expect_fail)(e, &c, XENT_ERR_ALIASING, what);
}

void XT_FN(xt_test_errors_ce)(void)
{
    XT_FN(xt_err_env) e;
    xent_options opts;
    int soft, ex, k;
    const size_t esz = sizeof(XT_REAL);
    const size_t huge_stride = (size_t)PTRDIFF_MAX / esz; /* (huge_stride + cols) * esz > PTRDIFF_MAX */
    XT_FN(xt_err_env_init)(&e);

    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++) {
            XT_FN(xt_ce_call) c, base;
            xent_options_init(&opts);
            base = XT_FN(xt_err_base)(&e, soft, ex, &opts);
            xt_set_case("invalid arguments %s", XT_FN(xt_ce_name)(&base));

            /* the base call is valid */
            c = base;
            XT_FN(xt_expect_ok)(&e, &c, "valid base call");
            c.opts = NULL;
            XT_FN(xt_expect_ok)(&e, &c, "opts NULL");

            /* NULL pointers, also with rows == 0 */
            for (k = 0; k < 6; k++) {
                static const char *const what[6] = {
                    "logits NULL",         "labels/targets NULL",         "loss NULL",
                    "logits NULL, rows 0", "labels/targets NULL, rows 0", "loss NULL, rows 0"};
                c = base;
                c.rows = k < 3 ? XT_E_ROWS : 0;
                if (k % 3 == 0) c.logits = NULL;
                else if (k % 3 == 2) c.loss = NULL;
                else if (soft) c.targets = NULL;
                else c.labels = NULL;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER, what[k]);
            }
            /* optional outputs */
            c = base;
            c.grad = NULL;
            c.lse = NULL;
            c.bias = NULL;
            XT_FN(xt_expect_ok)(&e, &c, "grad, lse, bias_grad NULL");

            /* shapes */
            c = base;
            c.cols = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0");
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0, rows 0");
            c = base;
            c.row_stride = XT_E_COLS - 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride < cols");
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride < cols, rows 0");
            c = base;
            c.row_stride = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride 0");
            if (soft) {
                const size_t ts = offsetof(XT_FN(xt_ce_call), target_stride);
                XT_FN(xt_expect_bad_size)(&e, &base, ts, XT_E_COLS - 1, 0, "target_stride < cols");
                XT_FN(xt_expect_bad_size)(&e, &base, ts, huge_stride, 2, "target extent > PTRDIFF_MAX");
                XT_FN(xt_expect_bad_size)(&e, &base, ts, SIZE_MAX / 2, 0, "target extent overflows size_t");
            }
            if (ex) {
                const size_t gs = offsetof(XT_FN(xt_ce_call), grad_stride);
                XT_FN(xt_expect_bad_size)(&e, &base, gs, XT_E_COLS - 1, 0, "grad_stride < cols");
                c = base;
                c.grad_stride = XT_E_COLS - 1;
                c.grad = NULL;
                XT_FN(xt_expect_ok)(&e, &c, "grad_stride < cols with grad NULL");
                XT_FN(xt_expect_bad_size)(&e, &base, gs, huge_stride, 2, "grad extent > PTRDIFF_MAX");
                XT_FN(xt_expect_bad_size)(&e, &base, gs, SIZE_MAX / 3, 0, "grad extent overflows size_t");
            }
            c = base;
            c.rows = 2;
            c.row_stride = huge_stride;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "logits extent > PTRDIFF_MAX");
            c = base;
            c.rows = 2;
            c.row_stride = SIZE_MAX / esz;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "logits extent overflows size_t");
            c = base;
            c.rows = SIZE_MAX;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "rows SIZE_MAX");
            c = base;
            c.rows = SIZE_MAX / XT_E_STRIDE + 2;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "rows * row_stride overflows");
            c = base;
            c.cols = SIZE_MAX;
            c.row_stride = SIZE_MAX;
            c.rows = 1;
            c.target_stride = SIZE_MAX;
            c.grad_stride = SIZE_MAX;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols SIZE_MAX");

            /* options */
            c = base;
            opts.struct_size = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size 0");
            opts.struct_size = XENT_OPTIONS_V1_SIZE - 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size v1 size - 1");
            opts.struct_size = offsetof(xent_options, grad_scale);
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size without grad_scale");
            xent_options_init(&opts);
            opts.reduction = 3;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction 3");
            opts.reduction = -1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction -1");
            xent_options_init(&opts);
            opts.label_smoothing = (float)NAN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing NaN");
            opts.label_smoothing = -0.01f;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing -0.01");
            opts.label_smoothing = 1.01f;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing 1.01");
            opts.label_smoothing = (float)INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing inf");
            opts.label_smoothing = 1.0f;
            XT_FN(xt_expect_ok)(&e, &c, "label_smoothing 1");
            opts.label_smoothing = -0.0f;
            XT_FN(xt_expect_ok)(&e, &c, "label_smoothing -0.0");
            xent_options_init(&opts);
            opts.struct_size = SIZE_MAX; /* read min(struct_size, sizeof) */
            XT_FN(xt_expect_ok)(&e, &c, "struct_size SIZE_MAX");
            opts.struct_size = sizeof(xent_options) + 1;
            XT_FN(xt_expect_ok)(&e, &c, "struct_size sizeof + 1");
            xent_options_init(&opts);
            opts.grad_scale = (float)INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale inf");
            opts.grad_scale = (float)-INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale -inf");
            opts.grad_scale = (float)NAN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale NaN");
            opts.grad_scale = -2.0f;
            XT_FN(xt_expect_ok)(&e, &c, "grad_scale -2");
            xent_options_init(&opts);
            opts.num_threads = -1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "num_threads -1");
            opts.num_threads = INT32_MIN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "num_threads INT32_MIN");
            opts.num_threads = 64;
            XT_FN(xt_expect_ok)(&e, &c, "num_threads 64");
            xent_options_init(&opts);
            opts.reduction = 7;
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction 7, rows 0");
            xent_options_init(&opts);

            /* aliasing */
            c = base;
            c.grad = e.logits + 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad = logits + 1");
            c = base;
            c.grad = e.logits + XT_E_COLS; /* interleaved with the logits' rows: the extents overlap */
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad = logits + cols (interleaved rows)");
            if (ex) {
                c = base;
                c.grad = e.logits;
                c.grad_stride = XT_E_STRIDE + 1;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad == logits, grad_stride != row_stride");
                const size_t fb = offsetof(XT_FN(xt_ce_call), bias);
                XT_FN(xt_expect_alias)(&e, &base, fb, e.logits + 2, "bias_grad overlaps logits");
                XT_FN(xt_expect_alias)
                (&e, &base, fb, e.grad + (XT_E_ROWS - 1) * XT_E_STRIDE + 2, "bias_grad overlaps grad");
                XT_FN(xt_expect_alias)(&e, &base, fb, e.lse + 1, "bias_grad overlaps lse");
                XT_FN(xt_expect_alias)(&e, &base, fb, e.loss, "bias_grad overlaps loss");
                c = base;
                c.grad = NULL;
                c.bias = e.logits + 2;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps logits (grad NULL)");
                c = base;
                c.bias = e.grad + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS; /* just past grad's extent */
                XT_FN(xt_expect_ok)(&e, &c, "bias_grad adjacent to grad");
            }
            XT_FN(xt_expect_alias)
            (&e, &base, offsetof(XT_FN(xt_ce_call), lse), e.logits + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS - 1,
             "lse overlaps the last logit");
            XT_FN(xt_expect_alias)(&e, &base, offsetof(XT_FN(xt_ce_call), lse), e.grad + 3, "lse overlaps grad");
            c = base;
            c.lse = e.loss;
            opts.reduction = XENT_REDUCTION_SUM;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse == loss");
            c = base;
            c.loss = e.logits + 4;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps logits (SUM)");
            c.loss = e.grad + XT_E_STRIDE + 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps grad (SUM)");
            c.loss = e.logits - 1; /* one value just before the logits: no overlap */
            XT_FN(xt_expect_ok)(&e, &c, "loss adjacent to logits (SUM)");
            opts.reduction = XENT_REDUCTION_NONE;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss of rows values overlaps logits (NONE)");
            c = base;
            c.lse = e.logits + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS; /* just past the logits' extent */
            XT_FN(xt_expect_ok)(&e, &c, "lse adjacent to logits (NONE)");
            xent_options_init(&opts);
            c = base;
            if (soft) {
                c.grad = e.targets;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad == targets");
                c = base;
                c.lse = e.targets + XT_E_STRIDE;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps targets");
                c = base;
                c.targets = e.logits; /* two inputs may overlap */
                XT_FN(xt_expect_ok)(&e, &c, "targets == logits (inputs only)");
            } else {
                c.loss = (XT_REAL *)(void *)(e.labels + 1);
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps labels");
                c = base;
                c.grad = (XT_REAL *)(void *)e.labels;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad overlaps labels");
                c = base;
                c.lse = (XT_REAL *)(void *)(e.labels + XT_E_ROWS - 1);
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps labels");
            }
            /* in place on error: logits untouched */
            c = base;
            c.grad = e.logits;
            c.grad_stride = XT_E_STRIDE;
            c.loss = NULL;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER, "in place with loss NULL");

            /* labels */
            if (!soft) {
                static const int64_t bad[6] = {XT_E_COLS, -1, -101, INT64_MAX, INT64_MIN, 1234567};
                char row[32], lab[32];
                int b;
                for (b = 0; b < 6; b++) {
                    const char *msg;
                    size_t r = (size_t)(b % XT_E_ROWS);
                    int64_t saved = e.labels[r];
                    c = base;
                    e.labels[r] = bad[b];
                    msg = XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label out of range");
                    snprintf(row, sizeof row, "%lu", (unsigned long)r);
                    snprintf(lab, sizeof lab, "%lld", (long long)bad[b]);
                    xt_check(xt_contains(msg, row) && xt_contains(msg, lab),
                             "label %s at row %s: message \"%s\" does not name the row and the label", lab, row, msg);
                    /* also with grad == logits: the logits must stay intact */
                    c.grad = e.logits;
                    XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label out of range, in place");
                    e.labels[r] = saved;
                }
                /* a bad label in the last row of a bigger batch; message names row 4 and label 987654 */
                {
                    const char *msg;
                    int64_t saved = e.labels[XT_E_ROWS - 1];
                    e.labels[XT_E_ROWS - 1] = 987654;
                    c = base;
                    msg = XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label 987654 at the last row");
                    xt_check(xt_contains(msg, "987654") && xt_contains(msg, "4"),
                             "message \"%s\" does not name row 4 and label 987654", msg);
                    e.labels[XT_E_ROWS - 1] = saved;
                }
                /* ignore_index -1 makes label -1 valid; -100 then is out of range */
                c = base;
                opts.ignore_index = -1;
                e.labels[2] = -1;
                XT_FN(xt_expect_ok)(&e, &c, "label -1 with ignore_index -1");
                e.labels[2] = -100;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label -100 with ignore_index -1");
                e.labels[2] = 2;
                xent_options_init(&opts);
            }
            /* a failing call followed by a valid one clears the message */
            c = base;
            c.cols = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0 (again)");
            c = base;
            XT_FN(xt_expect_ok)(&e, &c, "valid call after a failure");
        }
    xt_arena_free(&e.arena);
}

void XT_FN(xt_test_errors_primitives)(void)
{
    xt_arena a;
    XT_REAL *x, *out;
    int f;
    const size_t R = 4, C = 5, S = 7;
    size_t i;
    xt_arena_init(&a, 4096);
    x = (XT_REAL *)(void *)(a.mem + 512);
    out = (XT_REAL *)(void *)(a.mem + 2560);
    for (i = 0; i < R * S; i++) x[i] = (XT_REAL)xt_uniform(-2, 2);
    for (f = 0; f < 3; f++) {
        const char *name = f == 0 ? "logsumexp" : f == 1 ? "softmax" : "log_softmax";
#define XT_PRIM(X, ROWS, COLS, RS, OUT, OS)                                                                            \
    (f == 0   ? XT_FN(xent_logsumexp)(X, ROWS, COLS, RS, OUT)                                                          \
     : f == 1 ? XT_FN(xent_softmax)(X, ROWS, COLS, RS, OUT, OS)                                                        \
              : XT_FN(xent_log_softmax)(X, ROWS, COLS, RS, OUT, OS))
#define XT_PRIM_FAIL(want, what, X, ROWS, COLS, RS, OUT, OS)                                                           \
    do {                                                                                                               \
        xent_status st_;                                                                                               \
        xt_arena_snap(&a);                                                                                             \
        st_ = XT_PRIM(X, ROWS, COLS, RS, OUT, OS);                                                                     \
        xt_check_status(st_, want, what);                                                                              \
        xt_check(xt_arena_unchanged(&a), "%s: memory written by a failing call", what);                                \
        xt_check(xent_last_error_message()[0] != '\0', "%s: empty message", what);                                     \
    } while (0)
        xt_set_case("invalid arguments %s_%s", name, XT_TYPE_NAME);
        xt_check_status(XT_PRIM(x, R, C, S, out, S), XENT_OK, "valid call");
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "x NULL", NULL, R, C, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "out NULL", x, R, C, S, NULL, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "x NULL, rows 0", NULL, 0, C, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "out NULL, rows 0", x, 0, C, S, NULL, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "cols 0", x, R, 0, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "cols 0, rows 0", x, 0, 0, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "row_stride < cols", x, R, C, C - 1, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "row_stride > PTRDIFF_MAX/size", x, 2, C,
                     (size_t)PTRDIFF_MAX / sizeof(XT_REAL), out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "x extent overflows size_t", x, 2, C, SIZE_MAX / sizeof(XT_REAL), out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "rows SIZE_MAX", x, SIZE_MAX, C, S, out, S);
        if (f) {
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out_stride < cols", x, R, C, S, out, C - 1);
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out_stride 0", x, R, C, S, out, 0);
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out extent > PTRDIFF_MAX", x, 2, C, S, out,
                         (size_t)PTRDIFF_MAX / sizeof(XT_REAL));
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out extent overflows size_t", x, 2, C, S, out,
                         SIZE_MAX / sizeof(XT_REAL));
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out = x + 1", x, R, C, S, x + 1, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x, out_stride != row_stride", x, R, C, S, x, S + 1);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x + cols (interleaved rows)", x, R, C, S, x + C, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out ends inside x", x, R, C, S, x - S + 1, S);
            xt_check_status(XT_PRIM(x, R, C, S, x + (R - 1) * S + C, S), XENT_OK, "out adjacent to x (after)");
        } else {
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x", x, R, C, S, x, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out inside x's last row", x, R, C, S, x + (R - 1) * S + C - 1, S);
            xt_check_status(XT_PRIM(x, R, C, S, x + (R - 1) * S + C, S), XENT_OK, "out adjacent to x (after)");
            xt_check_status(XT_PRIM(x + R, R, C, S, x, S), XENT_OK, "out adjacent to x (before)");
        }
        xt_check(xent_last_error_message()[0] == '\0', "message not cleared by a valid call");
#undef XT_PRIM_FAIL
#undef XT_PRIM
    }
    xt_arena_free(&a);
}

#endif /* XT_REAL */
