/*
 * adv_invalid.c -- every invalid argument of every function (issue 5): the status, the outputs untouched (canaries;
 * an in-place gradient target and every input too) and a message naming the argument or the row.
 */
#ifndef XT_REAL
#include "adversarial.h"

#define XT_TYPED_FILE "adv_invalid.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Every invalid argument of every function --------------------------------------------------------------- */

/* Shared fixture: inputs x (R x C, stride S), labels, targets; every output lives in one canary arena. */

/* x has room after its extent (AEXT elements) for the "touching, not overlapping" cases (AR values there). */
static XT_REAL XT_FN(fx_x)[AR * AS + 8], XT_FN(fx_x0)[AR * AS + 8], XT_FN(fx_tg)[AR * AS], XT_FN(fx_tg0)[AR * AS];
static int64_t XT_FN(fx_lab)[AR], XT_FN(fx_lab0)[AR];
static XT_REAL XT_FN(fx_arena)[4 * AR * AS + 64];

static void XT_FN(fx_reset)(void)
{
    int i;
    for (i = 0; i < AR * AS + 8; i++) {
        XT_FN(fx_x0)[i] = (XT_REAL)(0.25 * ((i * 7) % 11) - 1.0);
        if (i < AR * AS) XT_FN(fx_tg0)[i] = (XT_REAL)(0.1 * ((i * 3) % 5));
    }
    for (i = 0; i < AR; i++) XT_FN(fx_lab0)[i] = i % AC;
    memcpy(XT_FN(fx_x), XT_FN(fx_x0), sizeof XT_FN(fx_x));
    memcpy(XT_FN(fx_tg), XT_FN(fx_tg0), sizeof XT_FN(fx_tg));
    memcpy(XT_FN(fx_lab), XT_FN(fx_lab0), sizeof XT_FN(fx_lab));
    xt_fill_canary(XT_FN(fx_arena), sizeof XT_FN(fx_arena));
}

/* After a refused call: no output written, no input (possibly an in-place gradient target) modified. */
static void XT_FN(fx_untouched_at)(int line)
{
    xt_check_at(line, xt_is_canary(XT_FN(fx_arena), sizeof XT_FN(fx_arena)), "an output was written by a failed call");
    xt_check_at(line, memcmp(XT_FN(fx_x), XT_FN(fx_x0), sizeof XT_FN(fx_x)) == 0,
                "the logits were modified by a failed call");
    xt_check_at(line, memcmp(XT_FN(fx_tg), XT_FN(fx_tg0), sizeof XT_FN(fx_tg)) == 0,
                "the targets were modified by a failed call");
    xt_check_at(line, memcmp(XT_FN(fx_lab), XT_FN(fx_lab0), sizeof XT_FN(fx_lab)) == 0,
                "the labels were modified by a failed call");
}

/* A valid call of kind `kind` on the fixture: outputs at disjoint places of the arena. */
static XT_FN(ce_args) XT_FN(fx_args)(int kind, const xent_options *o)
{
    const int hard = kind == CE || kind == CE_EX, ex = kind == CE_EX || kind == SOFT_EX;
    XT_REAL *ar = XT_FN(fx_arena);
    XT_FN(ce_args)
    a = XT_FN(xt_ce_on)(0, 0, XT_FN(fx_x), AR, AC, AS, hard ? XT_FN(fx_lab) : NULL, hard ? NULL : XT_FN(fx_tg), AS, o);
    /* loss: AR values (NONE); grad: AEXT values; lse: AR values; bias: AC values */
    XT_FN(xt_ce_set_outputs)(&a, ar, ar + 8, AS, ar + 8 + AR * AS, ex ? ar + 16 + AR * AS : NULL);
    return a;
}

/* A refused call: the status and message, nothing written; then the fixture is reset. */
static void XT_FN(fx_refused_at)(int line, xent_status got, xent_status want, const char *n1, const char *n2,
                                 const char *name)
{
    xt_expect_error_at(line, got, want, n1, n2, name);
    XT_FN(fx_untouched_at)(line);
    XT_FN(fx_reset)();
}

#define FX_FAILS(kind, args, want, n1, n2)                                                                             \
    XT_FN(fx_refused_at)(__LINE__, XT_FN(ce_call)((kind), (args)), (want), (n1), (n2), adv_ce_kind_name[kind])

/* The fixture's valid call of this kind with one argument changed (the assignment to `a`): refused with `want`. */
#define FX_REFUSES(assignment, want, n1, n2)                                                                           \
    do {                                                                                                               \
        a = XT_FN(fx_args)(kind, &o);                                                                                  \
        assignment;                                                                                                    \
        FX_FAILS(kind, a, want, n1, n2);                                                                               \
    } while (0)

/* One invalid option (the assignment to `bad`, a copy of o) on a valid call: XENT_ERR_INVALID_OPTION naming it. */
#define BAD_OPTION(assignment, needle)                                                                                 \
    do {                                                                                                               \
        bad = o;                                                                                                       \
        assignment;                                                                                                    \
        a = XT_FN(fx_args)(kind, &bad);                                                                                \
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, needle, NULL);                                                      \
    } while (0)

void XT_FN(test_invalid_cross_entropy)(void)
{
    int kind, k;
    for (kind = 0; kind < 4; kind++) {
        const int hard = kind == CE || kind == CE_EX, ex = kind == CE_EX || kind == SOFT_EX;
        xent_options o, bad;
        XT_FN(ce_args) a;
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        XT_FN(fx_reset)();
        xt_set_case("%s_%s: invalid arguments", adv_ce_kind_name[kind], XT_TYPE_NAME);

        /* The valid call succeeds (and clears the message of an earlier failure). */
        a = XT_FN(fx_args)(kind, &o);
        XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
        XT_FN(fx_reset)();

        /* NULL pointers, also with rows == 0. */
        for (k = 0; k < 6; k++) { /* logits, labels/targets, loss: each with rows AR, then rows 0 */
            const int which = k / 2;
            a = XT_FN(fx_args)(kind, &o);
            if (k % 2) a.rows = 0;
            if (which == 0) a.logits = NULL;
            else if (which == 2) a.loss = NULL;
            else if (hard) a.labels = NULL;
            else a.targets = NULL;
            FX_FAILS(kind, a, XENT_ERR_NULL_POINTER,
                     which == 0   ? "logits"
                     : which == 2 ? "loss"
                     : hard       ? "labels"
                                  : "targets",
                     NULL);
        }

        /* Shapes. */
        FX_REFUSES(a.cols = 0, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        a = XT_FN(fx_args)(kind, &o);
        a.cols = 0;
        a.rows = 0;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        a = XT_FN(fx_args)(kind, &o);
        a.row_stride = AC - 1;
        a.grad_stride = AC - 1;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "logits", "stride");
        a = XT_FN(fx_args)(kind, &o);
        a.row_stride = 0;
        a.grad_stride = 0;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "logits", "stride");
        if (!hard) {
            FX_REFUSES(a.target_stride = AC - 1, XENT_ERR_INVALID_SHAPE, "targets", "stride");
        } else {
            /* target_stride of a hard-label call does not exist; labels need no stride. */
        }
        if (ex) {
            FX_REFUSES(a.grad_stride = AC - 1, XENT_ERR_INVALID_SHAPE, "gradient", "stride");
            FX_REFUSES(a.grad_stride = SIZE_MAX, XENT_ERR_INVALID_SHAPE, "gradient", NULL);
            /* grad_stride is ignored without a gradient. */
            a = XT_FN(fx_args)(kind, &o);
            a.grad = NULL;
            a.grad_stride = 0;
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            XT_FN(fx_reset)();
        }

        /* Options. */
        BAD_OPTION(bad.struct_size = 0, "struct_size");
        BAD_OPTION(bad.struct_size = XENT_OPTIONS_V1_SIZE - 1, "struct_size");
        BAD_OPTION(bad.reduction = 3, "reduction");
        BAD_OPTION(bad.reduction = -1, "reduction");
        BAD_OPTION(bad.reduction = INT32_MIN, "reduction");
        {
            const float smoothing[] = {NAN, -NAN, -0.001f, 1.001f, INFINITY, -INFINITY, -FLT_MIN, 2.0f};
            size_t k;
            for (k = 0; k < sizeof smoothing / sizeof smoothing[0]; k++) {
                BAD_OPTION(bad.label_smoothing = smoothing[k], "smoothing");
            }
        }
        BAD_OPTION(bad.grad_scale = INFINITY, "grad scale");
        BAD_OPTION(bad.grad_scale = -INFINITY, "grad scale");
        BAD_OPTION(bad.grad_scale = NAN, "grad scale");
        BAD_OPTION(bad.num_threads = -1, "thread");
        BAD_OPTION(bad.num_threads = INT32_MIN, "thread");
        /* Accepted: a larger struct_size (a caller compiled against a later header), up to SIZE_MAX. */
        {
            adv_later_options big; /* garbage after the fields this header knows */
            memset(&big, 0x5C, sizeof big);
            xent_options_init(&big.v1);
            big.v1.reduction = XENT_REDUCTION_NONE;
            big.v1.struct_size = sizeof big;
            a = XT_FN(fx_args)(kind, &big.v1);
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            XT_FN(fx_reset)();
            big.v1.struct_size = SIZE_MAX;
            a = XT_FN(fx_args)(kind, &big.v1);
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            XT_FN(fx_reset)();
        }
        /* Smoothing exactly 0 and 1, a zero and a negative grad_scale are valid. */
        bad = o;
        bad.label_smoothing = 1.0f;
        bad.grad_scale = -2.5f;
        a = XT_FN(fx_args)(kind, &bad);
        XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
        XT_FN(fx_reset)();
        bad = o;
        bad.grad_scale = 0.0f;
        a = XT_FN(fx_args)(kind, &bad);
        XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
        XT_FN(fx_reset)();

        /* Aliasing: every output against every input and every other output, partial overlaps. */
        FX_REFUSES(a.loss = XT_FN(fx_x) + 2, XENT_ERR_ALIASING, "loss", "logits");
        /* last logit */
        FX_REFUSES(a.loss = XT_FN(fx_x) + AEXT - 1, XENT_ERR_ALIASING, "loss", "logits");
        /* in row 0's stride gap */
        FX_REFUSES(a.lse = XT_FN(fx_x) + AC, XENT_ERR_ALIASING, "lse", "logits");
        /* partial overlap */
        FX_REFUSES(a.grad = XT_FN(fx_x) + 1, XENT_ERR_ALIASING, "gradient", "logits");
        FX_REFUSES(a.lse = a.loss + 1, XENT_ERR_ALIASING, "lse", "loss");
        FX_REFUSES(a.grad = a.loss + 2, XENT_ERR_ALIASING, "gradient", "loss");
        FX_REFUSES(a.lse = a.grad + AEXT - 1, XENT_ERR_ALIASING, "lse", "gradient");
        if (hard) {
            FX_REFUSES(a.loss = (XT_REAL *)(void *)(XT_FN(fx_lab) + 1), XENT_ERR_ALIASING, "loss", "labels");
            FX_REFUSES(a.lse = (XT_REAL *)(void *)XT_FN(fx_lab), XENT_ERR_ALIASING, "lse", "labels");
        } else {
            FX_REFUSES(a.loss = XT_FN(fx_tg) + 3, XENT_ERR_ALIASING, "loss", "targets");
            /* "in place" on the targets */
            FX_REFUSES(a.grad = XT_FN(fx_tg), XENT_ERR_ALIASING, "gradient", "targets");
            a = XT_FN(fx_args)(kind, &o);
            a.logits = XT_FN(fx_tg); /* logits == targets: two inputs */
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            XT_FN(fx_reset)();
        }
        if (ex) {
            a = XT_FN(fx_args)(kind, &o);
            a.grad_stride = AS + 1;
            a.grad = XT_FN(fx_x); /* in place, other stride */
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "gradient", "logits");
            FX_REFUSES(a.bias = XT_FN(fx_x) + 3, XENT_ERR_ALIASING, "bias", "logits");
            FX_REFUSES(a.bias = a.grad + 2, XENT_ERR_ALIASING, "bias", "gradient");
            FX_REFUSES(a.bias = a.lse + AR - 1, XENT_ERR_ALIASING, "bias", "lse");
            FX_REFUSES(a.bias = a.loss, XENT_ERR_ALIASING, "bias", "loss");
            if (hard) {
                FX_REFUSES(a.bias = (XT_REAL *)(void *)(XT_FN(fx_lab) + AR - 1), XENT_ERR_ALIASING, "bias", "labels");
            } else {
                FX_REFUSES(a.bias = XT_FN(fx_tg) + AEXT - 1, XENT_ERR_ALIASING, "bias", "targets");
            }
        }
        /* Touching but not overlapping is fine: lse right after the logits' extent, loss right before. */
        a = XT_FN(fx_args)(kind, &o);
        a.lse = XT_FN(fx_x) + AEXT;
        XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
        XT_FN(fx_reset)();
        /* SUM/MEAN: loss is one value, so loss + 1 is free for lse. */
        bad = o;
        bad.reduction = XENT_REDUCTION_SUM;
        a = XT_FN(fx_args)(kind, &bad);
        a.lse = a.loss + 1;
        XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
        XT_FN(fx_reset)();

        /* Labels out of range name the row and the label; nothing is written, not even an in-place gradient. */
        if (hard) {
            const int64_t badlab[] = {AC, AC + 1, -1, -101, -99, INT64_MIN, INT64_MAX, INT64_MIN + 1};
            size_t k;
            for (k = 0; k < sizeof badlab / sizeof badlab[0]; k++) {
                int inplace;
                for (inplace = 0; inplace < 2; inplace++) {
                    char want[128];
                    XT_FN(fx_reset)();
                    XT_FN(fx_lab)[2] = XT_FN(fx_lab0)[2] = badlab[k];
                    XT_FN(fx_lab)[3] = XT_FN(fx_lab0)[3] = badlab[k]; /* the first offending row is reported */
                    a = XT_FN(fx_args)(kind, &o);
                    if (inplace) a.grad = XT_FN(fx_x);
                    snprintf(want, sizeof want, "label %" PRId64 " at row 2 is outside [0, %d)", badlab[k], AC);
                    {
                        xent_status s = XT_FN(ce_call)(kind, a);
                        const char *msg = xent_last_error_message();
                        xt_expect_error_at(__LINE__, s, XENT_ERR_LABEL_OUT_OF_RANGE, "row 2", NULL, "bad label");
                        XT_CHECK(strcmp(msg, want) == 0, "label %" PRId64 ": message \"%s\", expected \"%s\"",
                                 badlab[k], msg, want);
                        XT_FN(fx_untouched_at)(__LINE__);
                    }
                }
            }
            XT_FN(fx_reset)();
            /* The ignore index is not range-checked, whatever its value. */
            {
                const int64_t ignore[] = {-100, -1, AC, INT64_MIN, INT64_MAX};
                for (k = 0; k < sizeof ignore / sizeof ignore[0]; k++) {
                    xent_options oi = o;
                    oi.ignore_index = ignore[k];
                    XT_FN(fx_reset)();
                    XT_FN(fx_lab)[1] = XT_FN(fx_lab0)[1] = ignore[k];
                    a = XT_FN(fx_args)(kind, &oi);
                    XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
                    XT_CHECK(a.loss[1] == 0, "ignored row (ignore_index %" PRId64 "): loss %g", ignore[k],
                             (double)a.loss[1]);
                }
                /* -100 is not ignored when ignore_index is something else. */
                {
                    xent_options oi = o;
                    oi.ignore_index = -1;
                    XT_FN(fx_reset)();
                    XT_FN(fx_lab)[1] = XT_FN(fx_lab0)[1] = -100;
                    a = XT_FN(fx_args)(kind, &oi);
                    FX_FAILS(kind, a, XENT_ERR_LABEL_OUT_OF_RANGE, "label -100 at row 1", NULL);
                }
            }
            XT_FN(fx_reset)();
        }
    }
}

#define ROW_FAILS(kind, x, rows, cols, stride, out, ostride, want, n1, n2)                                             \
    XT_FN(fx_refused_at)                                                                                               \
    (__LINE__, XT_FN(row_call)((kind), (x), (rows), (cols), (stride), (out), (ostride)), (want), (n1), (n2),           \
     adv_row_kind_name[kind])

void XT_FN(test_invalid_rowwise)(void)
{
    int kind;
    for (kind = 0; kind < 3; kind++) {
        XT_REAL *x = XT_FN(fx_x), *out = XT_FN(fx_arena);
        const int matrix = kind != LSE;
        xt_set_case("%s_%s: invalid arguments", adv_row_kind_name[kind], XT_TYPE_NAME);
        XT_FN(fx_reset)();
        XT_EXPECT_OK(XT_FN(row_call)(kind, x, AR, AC, AS, out, AS));
        XT_FN(fx_reset)();
        ROW_FAILS(kind, NULL, AR, AC, AS, out, AS, XENT_ERR_NULL_POINTER, "x", NULL);
        ROW_FAILS(kind, NULL, 0, AC, AS, out, AS, XENT_ERR_NULL_POINTER, "x", NULL);
        ROW_FAILS(kind, x, AR, AC, AS, NULL, AS, XENT_ERR_NULL_POINTER, "out", NULL);
        ROW_FAILS(kind, x, 0, AC, AS, NULL, AS, XENT_ERR_NULL_POINTER, "out", NULL);
        ROW_FAILS(kind, x, AR, 0, AS, out, AS, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        ROW_FAILS(kind, x, AR, AC, AC - 1, out, AS, XENT_ERR_INVALID_SHAPE, "x", "stride");
        ROW_FAILS(kind, x, AR, AC, SIZE_MAX, out, AS, XENT_ERR_INVALID_SHAPE, "x", NULL);
        if (matrix) {
            ROW_FAILS(kind, x, AR, AC, AS, out, AC - 1, XENT_ERR_INVALID_SHAPE, "out", "stride");
            ROW_FAILS(kind, x, AR, AC, AS, out, 0, XENT_ERR_INVALID_SHAPE, "out", "stride");
            ROW_FAILS(kind, x, AR, AC, AS, out, SIZE_MAX, XENT_ERR_INVALID_SHAPE, "out", NULL);
            ROW_FAILS(kind, x, AR, AC, AS, x + 1, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x, AS + 1, XENT_ERR_ALIASING, "out", "x"); /* in place, other stride */
            ROW_FAILS(kind, x, AR, AC, AS, x, AC, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x + AS, AR - 1, AC, AS, x, AS, XENT_ERR_ALIASING, "out", "x"); /* one row behind */
        } else {
            /* logsumexp: out may not be x at all (it is rows values, not a matrix). */
            ROW_FAILS(kind, x, AR, AC, AS, x, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x + AEXT - 1, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x + AC, AS, XENT_ERR_ALIASING, "out", "x"); /* the stride gap */
            XT_EXPECT_OK(XT_FN(row_call)(kind, x, AR, AC, AS, x + AEXT, AS));          /* right after: fine */
            XT_FN(fx_reset)();
        }
        /* rows == 0: nothing is read or written. */
        XT_EXPECT_OK(XT_FN(row_call)(kind, x, 0, AC, AS, out, AS));
        XT_FN(fx_untouched_at)(__LINE__);
        XT_FN(fx_reset)();
    }
}

#endif /* XT_REAL */
