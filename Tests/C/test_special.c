/*
 * test_special.c -- special values (masked -inf logits, all -inf rows, a -inf label logit, NaN and +inf, zero
 * targets, ignored NaN rows, magnitudes of 1e30, cols 1, ignore_index a valid class, negative and zero grad_scale),
 * rows == 0, and long rows (4097, 65537, 100003 classes: the chunked kernels).
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_special.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

void XT_FN(xt_test_special)(void)
{
    enum { R = 4, C = 7 };
    const XT_REAL NI = (XT_REAL)-INFINITY;
    const XT_REAL big = (XT_REAL)1e30;
    XT_REAL x[R * C], y[R * C];
    int64_t labels[R];
    xent_options opts;
    size_t i, j, k;
    static const int reds[3] = {XENT_REDUCTION_NONE, XENT_REDUCTION_SUM, XENT_REDUCTION_MEAN};
    static const float epss[3] = {0.0f, 0.1f, 1.0f};
    static const float gss[2] = {1.0f, 2.5f};

    for (k = 0; k < 18; k++) {
        xent_options_init(&opts);
        opts.reduction = reds[k % 3];
        opts.label_smoothing = epss[(k / 3) % 3];
        opts.grad_scale = gss[(k / 9) % 2];

        /* base: random finite rows and soft targets (some zero) */
#define XT_BASE()                                                                                                      \
    do {                                                                                                               \
        for (i = 0; i < R * C; i++) {                                                                                  \
            x[i] = (XT_REAL)xt_uniform(-4.0, 4.0);                                                                     \
            y[i] = (XT_REAL)(i % 3 == 0 ? 0.0 : xt_uniform(0.0, 0.4));                                                 \
        }                                                                                                              \
        for (i = 0; i < R; i++) labels[i] = (int64_t)((i * 3 + 1) % C);                                                \
    } while (0)

        /* masked vocabulary: -inf logits away from the label, zero targets there */
        XT_BASE();
        for (i = 0; i < R; i++)
            for (j = 0; j < C; j++)
                if ((int64_t)j != labels[i] && (i + j) % 3 == 0) {
                    x[i * C + j] = NI;
                    y[i * C + j] = 0;
                }
        XT_FN(xt_check_all_functions)("masked -inf logits", x, R, C, labels, y, &opts);

        /* a row that is all -inf */
        XT_BASE();
        for (j = 0; j < C; j++) x[1 * C + j] = NI;
        XT_FN(xt_check_all_functions)("all -inf row 1", x, R, C, labels, y, &opts);
        /* z-loss: z = +inf, and the gradient's z term 2*lambda*lse*softmax is 0 there (softmax 0), not NaN */
        opts.z_loss = 0.01f;
        XT_FN(xt_check_all_functions)("all -inf row 1, z-loss", x, R, C, labels, y, &opts);
        opts.z_loss = 0;

        /* the label's logit is -inf, the others finite */
        XT_BASE();
        x[2 * C + (size_t)labels[2]] = NI;
        y[2 * C + (size_t)labels[2]] = (XT_REAL)0.25;
        XT_FN(xt_check_all_functions)("label logit -inf at row 2", x, R, C, labels, y, &opts);

        /* NaN and +inf logits poison only their row */
        XT_BASE();
        x[1 * C + 3] = (XT_REAL)NAN;
        XT_FN(xt_check_all_functions)("NaN logit at row 1", x, R, C, labels, y, &opts);
        XT_BASE();
        x[3 * C + 0] = (XT_REAL)INFINITY;
        XT_FN(xt_check_all_functions)("+inf logit at row 3", x, R, C, labels, y, &opts);

        /* soft targets all zero in row 0 (loss 0 and gradient 0 when eps == 0) */
        XT_BASE();
        for (j = 0; j < C; j++) y[j] = 0;
        XT_FN(xt_check_all_functions)("all-zero targets in row 0", x, R, C, labels, y, &opts);

        /* an ignored row containing NaN: loss 0, gradient 0, lse NaN, other rows unaffected */
        XT_BASE();
        x[2 * C + 5] = (XT_REAL)NAN;
        labels[2] = opts.ignore_index;
        XT_FN(xt_check_all_functions)("ignored row 2 with a NaN logit", x, R, C, labels, y, &opts);

        /* huge magnitudes: the exact finite answer */
        XT_BASE();
        x[0 * C + 0] = big;
        x[0 * C + 1] = big;
        x[0 * C + 2] = -big;
        x[1 * C + 4] = big;
        x[1 * C + 5] = (XT_REAL)(-1e30);
        x[2 * C + 0] = (XT_REAL)(-1e30);
        x[2 * C + (size_t)labels[2]] = (XT_REAL)5e29;
        for (j = 0; j < C; j++) x[3 * C + j] = (XT_REAL)(1e30 - (double)j * 1e23);
        labels[0] = 0;
        XT_FN(xt_check_all_functions)("logits of magnitude 1e30", x, R, C, labels, y, &opts);
#undef XT_BASE
    }

    /* cols == 1: loss 0, gradient 0, lse = x */
    {
        XT_REAL x1[3] = {(XT_REAL)-3.5, (XT_REAL)1e30, (XT_REAL)0}, y1[3] = {1, 1, 1};
        int64_t l1[3] = {0, 0, 0};
        xent_options_init(&opts);
        opts.reduction = XENT_REDUCTION_NONE;
        opts.label_smoothing = 0.1f;
        XT_FN(xt_check_all_functions)("cols 1", x1, 3, 1, l1, y1, &opts);
    }

    /* custom ignore_index that is a valid class, negative and zero grad_scale */
    for (k = 0; k < 3; k++) {
        for (i = 0; i < R * C; i++) {
            x[i] = (XT_REAL)xt_uniform(-4.0, 4.0);
            y[i] = (XT_REAL)xt_uniform(0.0, 0.3);
        }
        for (i = 0; i < R; i++) labels[i] = (int64_t)(i % 3);
        xent_options_init(&opts);
        opts.ignore_index = 2; /* rows with label 2 are ignored */
        opts.reduction = reds[k];
        opts.grad_scale = k == 0 ? -1.0f : k == 1 ? 0.0f : 1e-3f;
        opts.label_smoothing = 0.05f;
        XT_FN(xt_check_all_functions)("ignore_index = 2 (a valid class)", x, R, C, labels, y, &opts);
        opts.num_threads = 1;
        XT_FN(xt_check_all_functions)("ignore_index = 2, num_threads 1", x, R, C, labels, y, &opts);
    }
}

/* ---- rows == 0 ---- */

void XT_FN(xt_test_rows0)(void)
{
    XT_REAL x[4] = {1, 2, 3, 4}, t[4] = {0, 0, 1, 0};
    XT_REAL loss[2], grad[4], lse[2], bias[8], out[4];
    int64_t labels[1] = {0};
    xent_options opts;
    int red, soft, ex;
    size_t j;
    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++)
            for (red = 0; red < 3; red++) {
                XT_FN(xt_ce_call) c = XT_FN(xt_ce_on)(soft, ex, x, 0, 6, 6, labels, t, 6, &opts);
                xent_options_init(&opts);
                opts.reduction = red;
                c.loss = loss;
                c.grad = grad;
                c.grad_stride = 6;
                c.lse = lse;
                c.bias = bias;
                XT_FN(xt_canary_outputs)(loss, 2, grad, 4, lse, 2, bias, 8);
                xt_set_case("rows 0 %s %s", XT_FN(xt_ce_name)(&c), red == 0 ? "NONE" : red == 1 ? "SUM" : "MEAN");
                if (!xt_check_status(XT_FN(xt_ce_run)(&c), XENT_OK, "rows 0")) continue;
                if (red == XENT_REDUCTION_NONE) xt_check(XT_FN(xt_untouched)(loss, 2), "NONE wrote a loss");
                else xt_check(loss[0] == 0 && XT_FN(xt_untouched)(loss + 1, 1), "loss %g, expected 0", (double)loss[0]);
                xt_check(XT_FN(xt_untouched)(grad, 4) && XT_FN(xt_untouched)(lse, 2), "grad or lse written");
                if (ex) {
                    for (j = 0; j < 6; j++)
                        if (bias[j] != 0) break;
                    xt_check(j == 6, "bias_grad[%lu] = %g, expected zeros", (unsigned long)j,
                             j < 6 ? (double)bias[j] : 0.0);
                    xt_check(XT_FN(xt_untouched)(bias + 6, 2), "bias_grad written past cols values");
                }
            }
    xt_set_case("rows 0 primitives %s", XT_TYPE_NAME);
    XT_FN(xt_fill_const)(out, 4, XT_CANARY);
    xt_check_status(XT_FN(xent_logsumexp)(x, 0, 3, 3, out), XENT_OK, "logsumexp");
    xt_check_status(XT_FN(xent_softmax)(x, 0, 3, 3, out, 3), XENT_OK, "softmax");
    xt_check_status(XT_FN(xent_log_softmax)(x, 0, 3, 3, out, 3), XENT_OK, "log_softmax");
    xt_check(XT_FN(xt_untouched)(out, 4), "an output was written with rows == 0");
}

/* Long rows (chunked kernels): every function on 3 rows of 4097, 65537 and 100003 columns. */
void XT_FN(xt_test_long_rows)(void)
{
    static const size_t col_list[3] = {4097, 65537, 100003};
    size_t ci, j;
    for (ci = 0; ci < 3; ci++) {
        const size_t rows = 3, cols = col_list[ci];
        XT_REAL *x = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
        XT_REAL *t = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
        int64_t labels[3];
        xent_options opts;
        char name[64];
        XT_FN(xt_fill_random)(x, rows, cols, cols, -10, 10);
        XT_FN(xt_fill_random)(t, rows, cols, cols, 0, 2.0 / (double)cols);
        /* row 1: a dominant logit in the middle and scattered -inf (zero targets there); row 2: its maximum in the
           last element */
        for (j = 0; j < cols; j += 97) {
            x[cols + j] = (XT_REAL)-INFINITY;
            t[cols + j] = 0;
        }
        x[cols + cols / 2 + 1] = (XT_REAL)40;
        x[2 * cols + cols - 1] = (XT_REAL)30;
        labels[0] = (int64_t)(cols - 1);
        labels[1] = (int64_t)(cols / 2 + 1);
        labels[2] = 0;
        xent_options_init(&opts);
        opts.reduction = ci == 2 ? XENT_REDUCTION_MEAN : XENT_REDUCTION_NONE;
        opts.label_smoothing = ci == 1 ? 0.1f : 0.0f;
        snprintf(name, sizeof name, "long rows, cols %lu", (unsigned long)cols);
        XT_FN(xt_check_all_functions)(name, x, rows, cols, labels, t, &opts);
        free(x);
        free(t);
    }
}

#endif /* XT_REAL */
