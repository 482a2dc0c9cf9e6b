/*
 * adv_numeric.c -- numeric cases against the long double reference: cols = 1; all -inf rows; a single +inf; NaN in
 * one row only; a -inf at the label; label smoothing 0 and 1.
 */
#ifndef XT_REAL
#include "adversarial.h"

#define XT_TYPED_FILE "adv_numeric.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Numeric cases against the long double reference --------------------------------------------------------- */

/* Checks a CE result (reduction NONE, scale 1) row by row against the reference: loss, lse, gradient. */
void XT_FN(check_ce_rows)(const XT_REAL *x, size_t rows, size_t cols, size_t stride, const int64_t *labels,
                          const XT_REAL *targets, double eps, int64_t ignore, const XT_REAL *loss, const XT_REAL *grad,
                          size_t grad_stride, const XT_REAL *lse, double bound)
{
    double *xd = (double *)malloc(cols * sizeof(double)), *yd = (double *)malloc(cols * sizeof(double));
    long double *g = (long double *)malloc(cols * sizeof(long double));
    size_t i, j;
    for (i = 0; i < rows; i++) {
        long double ref_lse, ref_loss;
        int ignored = labels != NULL && labels[i] == ignore;
        long bad = 0;
        for (j = 0; j < cols; j++) {
            xd[j] = (double)x[i * stride + j];
            if (targets) yd[j] = (double)targets[i * stride + j];
        }
        ref_loss = adv_ref_ce_d(xd, cols, labels ? labels[i] : -1, targets ? yd : NULL, eps, &ref_lse, g);
        if (ignored) {
            ref_loss = 0;
            for (j = 0; j < cols; j++) g[j] = 0;
        }
        XT_CHECK(xt_close_abs(loss[i], ref_loss, bound * fmaxl(1, fabsl(ref_loss))),
                 "row %zu: loss %.9Lg, reference %.12Lg", i, (long double)loss[i], ref_loss);
        if (lse)
            XT_CHECK(xt_close_abs(lse[i], ref_lse, bound * fmaxl(1, fabsl(ref_lse))),
                     "row %zu: lse %.9Lg, reference %.12Lg", i, (long double)lse[i], ref_lse);
        if (grad) {
            /* The header's gradient bound: bound * max(1, sum_j |t_j|) (soft targets need not sum to 1). */
            long double tabs = 0, gtol;
            for (j = 0; j < cols && targets; j++) tabs += fabsl((1.0L - eps) * yd[j] + (long double)eps / cols);
            gtol = bound * fmaxl(1, tabs);
            for (j = 0; j < cols; j++)
                if (!xt_close_abs(grad[i * grad_stride + j], g[j], gtol)) {
                    if (bad < 3)
                        XT_CHECK(0, "row %zu col %zu: grad %.9Lg, reference %.12Lg", i, j,
                                 (long double)grad[i * grad_stride + j], g[j]);
                    bad++;
                }
            XT_CHECK(bad == 0, "row %zu: %ld gradient elements off", i, bad);
        }
    }
    free(xd);
    free(yd);
    free(g);
}

void XT_FN(check_rowwise)(const XT_REAL *x, size_t rows, size_t cols, size_t stride, double bound)
{
    XT_REAL *lse = (XT_REAL *)malloc(rows * sizeof(XT_REAL)), *sm = (XT_REAL *)malloc(rows * cols * sizeof(XT_REAL)),
            *ls = (XT_REAL *)malloc(rows * cols * sizeof(XT_REAL));
    double *xd = (double *)malloc(cols * sizeof(double));
    size_t i, j;
    XT_EXPECT_OK(XT_FN(xent_logsumexp)(x, rows, cols, stride, lse));
    XT_EXPECT_OK(XT_FN(xent_softmax)(x, rows, cols, stride, sm, cols));
    XT_EXPECT_OK(XT_FN(xent_log_softmax)(x, rows, cols, stride, ls, cols));
    for (i = 0; i < rows; i++) {
        long double r;
        xt_row_stats rs;
        long bad = 0;
        for (j = 0; j < cols; j++) xd[j] = (double)x[i * stride + j];
        rs = xt_ref_row_d(xd, cols, NULL, 0);
        r = xt_ref_lse(&rs);
        XT_CHECK(xt_close_abs(lse[i], r, bound * fmaxl(1, fabsl(r))), "row %zu: logsumexp %.9Lg, reference %.12Lg", i,
                 (long double)lse[i], r);
        for (j = 0; j < cols; j++) {
            long double p = xt_ref_softmax(&rs, xd[j]), lp = xt_ref_log_softmax(&rs, xd[j]);
            if (!xt_close_abs(sm[i * cols + j], p, bound)) {
                if (bad < 3)
                    XT_CHECK(0, "row %zu col %zu: softmax %.9Lg, reference %.12Lg", i, j, (long double)sm[i * cols + j],
                             p);
                bad++;
            }
            if (!xt_close_abs(ls[i * cols + j], lp, bound * fmaxl(1, fabsl(lp)))) {
                if (bad < 3)
                    XT_CHECK(0, "row %zu col %zu: log_softmax %.9Lg, reference %.12Lg", i, j,
                             (long double)ls[i * cols + j], lp);
                bad++;
            }
        }
        XT_CHECK(bad == 0, "row %zu: %ld softmax/log_softmax elements off", i, bad);
    }
    free(lse);
    free(sm);
    free(ls);
    free(xd);
}

/* cols = 1: loss 0, gradient 0, softmax 1, log_softmax 0, lse = x, whatever the logit (finite). */
void XT_FN(test_one_class)(void)
{
    const XT_REAL xs[] = {(XT_REAL)2.5, (XT_REAL)-1e30, (XT_REAL)0, (XT_REAL)1e30, (XT_REAL)-7.25};
    enum { N = 5, S = 3 };
    XT_REAL x[N * S], loss[N], grad[N * S], lse[N], out[N], tg[N * S], bias[1];
    int64_t lab[N] = {0, 0, 0, 0, 0};
    xent_options o;
    int i, k;
    for (i = 0; i < N * S; i++) x[i] = tg[i] = (XT_REAL)99;
    for (i = 0; i < N; i++) {
        x[i * S] = xs[i];
        tg[i * S] = (XT_REAL)(i == 2 ? 0.5 : 1.0);
    }
    for (k = 0; k < 2; k++) {
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        o.label_smoothing = k ? 0.3f : 0.0f;
        xt_set_case("cols = 1, %s, smoothing %g", XT_TYPE_NAME, (double)o.label_smoothing);
        XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, N, 1, S, lab, &o, loss, grad, S, lse, bias));
        for (i = 0; i < N; i++) {
            XT_CHECK(loss[i] == 0, "row %d: loss %g, expected 0", i, (double)loss[i]);
            XT_CHECK(grad[i * S] == 0, "row %d: grad %g, expected 0", i, (double)grad[i * S]);
            XT_CHECK(lse[i] == xs[i], "row %d: lse %g, expected %g", i, (double)lse[i], (double)xs[i]);
        }
        XT_CHECK(bias[0] == 0, "bias %g", (double)bias[0]);
        XT_EXPECT_OK(XT_FN(xent_soft_cross_entropy)(x, N, 1, S, tg, S, &o, loss, grad, lse));
        for (i = 0; i < N; i++) {
            XT_CHECK(loss[i] == 0, "soft row %d: loss %g, expected 0", i, (double)loss[i]);
            XT_CHECK(grad[i * S] == 0, "soft row %d: grad %g, expected 0", i, (double)grad[i * S]);
        }
    }
    xt_set_case("cols = 1, %s, row-wise", XT_TYPE_NAME);
    XT_EXPECT_OK(XT_FN(xent_softmax)(x, N, 1, S, out, 1));
    for (i = 0; i < N; i++) XT_CHECK(out[i] == 1, "row %d: softmax %g, expected 1", i, (double)out[i]);
    XT_EXPECT_OK(XT_FN(xent_log_softmax)(x, N, 1, S, out, 1));
    for (i = 0; i < N; i++) XT_CHECK(out[i] == 0, "row %d: log_softmax %g, expected 0", i, (double)out[i]);
    XT_EXPECT_OK(XT_FN(xent_logsumexp)(x, N, 1, S, out));
    for (i = 0; i < N; i++)
        XT_CHECK(out[i] == xs[i], "row %d: logsumexp %g, expected %g", i, (double)out[i], (double)xs[i]);
    /* A single -inf logit in a one-class row: an all -inf row. */
    x[0] = (XT_REAL)-INFINITY;
    XT_EXPECT_OK(XT_FN(xent_softmax)(x, 1, 1, S, out, 1));
    XT_CHECK(out[0] == 0, "softmax of [-inf] %g, expected 0", (double)out[0]);
    XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, 1, 1, S, lab, &o, loss, grad, lse));
    XT_CHECK(loss[0] == INFINITY && lse[0] == -INFINITY && grad[0] == -1,
             "[-inf] with label 0: loss %g lse %g grad %g (expected +inf, -inf, -1)", (double)loss[0], (double)lse[0],
             (double)grad[0]);
}

/* All -inf rows, a single +inf, NaN in one row only, a -inf at the label, labels 0 / cols-1 / ignored, for
   class counts that reach every kernel (rows in lanes <= 16, vector tails, column blocks >= 65536). */
void XT_FN(test_special_values)(void)
{
    const size_t cols_list[] = {1, 2, 7, 8, 9, 16, 17, 33, 1000, 70001};
    enum { R = 12 };
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], stride = cols + 2;
        XT_REAL *x = (XT_REAL *)malloc(R * stride * sizeof(XT_REAL)),
                *grad = (XT_REAL *)malloc(R * stride * sizeof(XT_REAL));
        XT_REAL loss[R], lse[R], red[1];
        int64_t lab[R];
        xent_options o;
        size_t i, j;
        int threads;
        for (i = 0; i < R; i++) {
            for (j = 0; j < stride; j++) x[i * stride + j] = (XT_REAL)xt_uniform(-6, 6);
            lab[i] = (int64_t)((i * 7) % cols);
        }
        for (j = 0; j < cols; j++) x[0 * stride + j] = (XT_REAL)-INFINITY; /* row 0: all -inf */
        x[3 * stride + cols / 2] = (XT_REAL)NAN;                           /* row 3: one NaN */
        x[5 * stride + cols - 1] = (XT_REAL)INFINITY;                      /* row 5: one +inf */
        if (cols > 1) {
            x[7 * stride + 0] = (XT_REAL)-INFINITY;
            lab[7] = 0;
        } /* row 7: -inf at the label */
        lab[8] = 0;
        lab[9] = -100; /* row 9: ignored */
        lab[10] = (int64_t)cols - 1;
        for (j = 0; j < cols; j++) x[11 * stride + j] = (XT_REAL)((j % 2) ? 1e30 : -1e30); /* row 11: huge finite */
        lab[11] = (int64_t)(cols - 1);
        for (threads = 0; threads <= 2; threads++) {
            xent_options_init(&o);
            o.reduction = XENT_REDUCTION_NONE;
            o.num_threads = threads;
            xt_set_case("special values, %s, cols %zu, num_threads %d", XT_TYPE_NAME, cols, threads);
            XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, cols, stride, lab, &o, loss, grad, lse));
            XT_FN(check_ce_rows)(x, R, cols, stride, lab, NULL, 0, -100, loss, grad, stride, lse, ADV_BOUND);
            /* Exact documented values. */
            XT_CHECK(lse[0] == -INFINITY && loss[0] == INFINITY, "all -inf row: lse %g loss %g", (double)lse[0],
                     (double)loss[0]);
            for (j = 0; j < cols; j++)
                if (grad[j] != ((int64_t)j == lab[0] ? -1 : 0)) {
                    XT_CHECK(0, "all -inf row: grad[%zu] = %g", j, (double)grad[j]);
                    break;
                }
            XT_CHECK(isnan(loss[3]) && isnan(lse[3]) && isnan(grad[3 * stride]), "NaN row: loss %g lse %g grad %g",
                     (double)loss[3], (double)lse[3], (double)grad[3 * stride]);
            XT_CHECK(isnan(loss[5]) && isnan(lse[5]) && isnan(grad[5 * stride]), "+inf row: loss %g lse %g grad %g",
                     (double)loss[5], (double)lse[5], (double)grad[5 * stride]);
            if (cols > 1)
                XT_CHECK(loss[7] == INFINITY && isfinite(grad[7 * stride]) && grad[7 * stride] == -1,
                         "-inf at the label: loss %g grad %g", (double)loss[7], (double)grad[7 * stride]);
            XT_CHECK(loss[9] == 0 && isfinite(lse[9]), "ignored row: loss %g lse %g", (double)loss[9], (double)lse[9]);
            /* SUM over all rows is NaN (rows 3, 5); SUM over rows 8..11 is finite. */
            o.reduction = XENT_REDUCTION_SUM;
            XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, cols, stride, lab, &o, red, NULL, NULL));
            XT_CHECK(isnan(red[0]), "SUM with NaN rows: %g", (double)red[0]);
            o.reduction = XENT_REDUCTION_MEAN;
            XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x + 8 * stride, 4, cols, stride, lab + 8, &o, red, NULL, NULL));
            {
                long double want = ((long double)loss[8] + loss[10] + loss[11]) / 3;
                XT_CHECK(xt_close_abs(red[0], want, ADV_BOUND * 4 * fmaxl(1, fabsl(want))),
                         "MEAN of rows 8..11 (9 ignored): %g, expected %Lg", (double)red[0], want);
            }
        }
        xt_set_case("special values, %s, cols %zu, row-wise", XT_TYPE_NAME, cols);
        XT_FN(check_rowwise)(x, R, cols, stride, ADV_BOUND);
        free(x);
        free(grad);
    }
}

/* label_smoothing 0 and 1 (1: uniform targets, the label does not matter), soft targets, MEAN/SUM scaling. */
void XT_FN(test_smoothing_edges)(void)
{
    enum { R = 5, C = 37 };
    XT_REAL x[R * C], tg[R * C], loss[R], grad[R * C], lse[R], loss2[R], grad2[R * C];
    int64_t lab[R] = {0, C - 1, 5, 0, C - 1}, lab2[R] = {3, 3, 3, 3, 3};
    xent_options o;
    int k, i;
    for (i = 0; i < R * C; i++) {
        x[i] = (XT_REAL)xt_uniform(-3, 3);
        tg[i] = (XT_REAL)xt_uniform(0, 0.1);
    }
    for (k = 0; k < 2; k++) {
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        o.label_smoothing = (float)k;
        xt_set_case("label_smoothing %d, %s", k, XT_TYPE_NAME);
        XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, grad, lse));
        XT_FN(check_ce_rows)(x, R, C, C, lab, NULL, (double)k, -100, loss, grad, C, lse, ADV_BOUND);
        XT_EXPECT_OK(XT_FN(xent_soft_cross_entropy)(x, R, C, C, tg, C, &o, loss, grad, lse));
        XT_FN(check_ce_rows)(x, R, C, C, NULL, tg, (double)k, -100, loss, grad, C, lse, ADV_BOUND);
        if (k == 1) {
            XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, grad, NULL));
            XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, C, C, lab2, &o, loss2, grad2, NULL));
            for (i = 0; i < R; i++)
                XT_CHECK(xt_close_abs(loss[i], loss2[i], ADV_BOUND * fmaxl(1, fabsl(loss[i]))),
                         "smoothing 1: the label changed the loss of row %d (%g vs %g)", i, (double)loss[i],
                         (double)loss2[i]);
        }
    }
}

#endif /* XT_REAL */
