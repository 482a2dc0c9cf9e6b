/*
 * adv_layouts.c -- MEAN with every row ignored and rows == 0; the gradient in place; pointers at element offset 1;
 * 1 000 003 classes against the long double reference with the error bounds stated in xent.h.
 */
#ifndef XT_REAL
#include "adversarial.h"

#define XT_TYPED_FILE "adv_layouts.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* MEAN with every row ignored: loss 0, gradient 0, bias 0, lse still written; rows == 0 edge cases. */
void XT_FN(test_all_ignored)(void)
{
    enum { R = 6, C = 9 };
    XT_REAL x[R * C], loss[R], grad[R * C], lse[R], bias[C];
    int64_t lab[R];
    xent_options o;
    int i, red;
    for (i = 0; i < R * C; i++) x[i] = (XT_REAL)xt_uniform(-2, 2);
    for (i = 0; i < R; i++) lab[i] = -100;
    for (red = XENT_REDUCTION_SUM; red <= XENT_REDUCTION_MEAN; red++) {
        xent_options_init(&o);
        o.reduction = red;
        o.label_smoothing = 0.2f;
        xt_set_case("every row ignored, %s, %s", red == XENT_REDUCTION_SUM ? "SUM" : "MEAN", XT_TYPE_NAME);
        xt_fill_canary(loss, sizeof loss);
        xt_fill_canary(grad, sizeof grad);
        xt_fill_canary(bias, sizeof bias);
        XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, loss, grad, C, lse, bias));
        XT_CHECK(loss[0] == 0 && !signbit(loss[0]), "loss %g, expected +0", (double)loss[0]);
        XT_CHECK(xt_is_canary(loss + 1, sizeof loss - sizeof loss[0]), "a reduced loss wrote more than one value");
        for (i = 0; i < R * C; i++)
            if (grad[i] != 0) {
                XT_CHECK(0, "grad[%d] = %g, expected 0", i, (double)grad[i]);
                break;
            }
        for (i = 0; i < C; i++)
            if (bias[i] != 0) {
                XT_CHECK(0, "bias[%d] = %g, expected 0", i, (double)bias[i]);
                break;
            }
        for (i = 0; i < R; i++) {
            double xd[C];
            int j;
            long double r;
            xt_row_stats rs;
            for (j = 0; j < C; j++) xd[j] = (double)x[i * C + j];
            rs = xt_ref_row_d(xd, C, NULL, 0);
            r = xt_ref_lse(&rs);
            XT_CHECK(xt_close_abs(lse[i], r, ADV_BOUND * fmaxl(1, fabsl(r))), "row %d: lse %g, reference %Lg", i,
                     (double)lse[i], r);
        }
    }
    /* rows == 0: SUM/MEAN give 0, NONE writes nothing, the bias gradient gets cols zeros. */
    for (red = XENT_REDUCTION_NONE; red <= XENT_REDUCTION_MEAN; red++) {
        int kind;
        for (kind = CE_EX; kind <= SOFT_EX; kind += 2) {
            xent_options_init(&o);
            o.reduction = red;
            xt_set_case("rows == 0, %s, reduction %d, %s", adv_ce_kind_name[kind], red, XT_TYPE_NAME);
            xt_fill_canary(loss, sizeof loss);
            xt_fill_canary(grad, sizeof grad);
            xt_fill_canary(lse, sizeof lse);
            xt_fill_canary(bias, sizeof bias);
            if (kind == CE_EX)
                XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, 0, C, C, lab, &o, loss, grad, C, lse, bias));
            else XT_EXPECT_OK(XT_FN(xent_soft_cross_entropy_ex)(x, 0, C, C, x, C, &o, loss, grad, C, lse, bias));
            if (red == XENT_REDUCTION_NONE)
                XT_CHECK(xt_is_canary(loss, sizeof loss), "NONE with rows == 0 wrote a loss");
            else XT_CHECK(loss[0] == 0, "loss %g, expected 0", (double)loss[0]);
            XT_CHECK(xt_is_canary(grad, sizeof grad) && xt_is_canary(lse, sizeof lse), "rows == 0 wrote grad or lse");
            for (i = 0; i < C; i++)
                if (bias[i] != 0) {
                    XT_CHECK(0, "bias[%d] = %g, expected 0", i, (double)bias[i]);
                    break;
                }
        }
    }
}

/* The gradient in place (grad == logits, same stride) equals the out-of-place gradient bit for bit, and the
   stride padding stays untouched; softmax/log_softmax in place likewise. */
void XT_FN(test_in_place)(void)
{
    const size_t cols_list[] = {3, 10, 16, 300, 70000};
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], stride = cols + 3, R = 9, n = R * stride;
        XT_REAL *x = (XT_REAL *)malloc(n * sizeof(XT_REAL)), *y = (XT_REAL *)malloc(n * sizeof(XT_REAL)),
                *g = (XT_REAL *)malloc(n * sizeof(XT_REAL)), *tg = (XT_REAL *)malloc(n * sizeof(XT_REAL));
        XT_REAL loss[9], loss2[9], lse[9], lse2[9], *bias = (XT_REAL *)malloc(cols * sizeof(XT_REAL)),
                                                    *bias2 = (XT_REAL *)malloc(cols * sizeof(XT_REAL));
        int64_t lab[9];
        xent_options o;
        size_t i, j;
        int kind;
        for (i = 0; i < n; i++) {
            x[i] = (XT_REAL)xt_uniform(-5, 5);
            tg[i] = (XT_REAL)xt_uniform(0, 1.0 / (double)cols);
        }
        for (i = 0; i < R; i++) lab[i] = (int64_t)((i * 13) % cols);
        lab[4] = -100;
        xent_options_init(&o);
        o.label_smoothing = 0.1f;
        o.grad_scale = 3.0f;
        for (kind = 0; kind < 4; kind++) {
            const int hard = kind == CE || kind == CE_EX;
            XT_FN(ce_args) a;
            int same = 1;
            xt_set_case("gradient in place, %s_%s, cols %zu", adv_ce_kind_name[kind], XT_TYPE_NAME, cols);
            a = XT_FN(xt_ce_on)(0, 0, x, R, cols, stride, lab, tg, stride, &o);
            XT_FN(xt_ce_set_outputs)(&a, loss, g, stride, lse, (kind == CE_EX || kind == SOFT_EX) ? bias : NULL);
            xt_fill_canary(g, n * sizeof(XT_REAL));
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            memcpy(y, x, n * sizeof(XT_REAL));
            a.logits = y;
            a.grad = y;
            a.loss = loss2;
            a.lse = lse2;
            a.bias = a.bias ? bias2 : NULL;
            XT_EXPECT_OK(XT_FN(ce_call)(kind, a));
            for (i = 0; i < R && same; i++) {
                for (j = 0; j < cols; j++)
                    if (memcmp(&y[i * stride + j], &g[i * stride + j], sizeof(XT_REAL)) != 0) {
                        same = 0;
                        break;
                    }
                for (j = cols; j < stride; j++)
                    if (memcmp(&y[i * stride + j], &x[i * stride + j], sizeof(XT_REAL)) != 0) {
                        XT_CHECK(0, "row %zu: padding element %zu was written", i, j);
                        break;
                    }
            }
            XT_CHECK(same, "in-place gradient differs from the out-of-place one (row %zu)", i - 1);
            XT_CHECK(memcmp(loss, loss2, sizeof loss[0]) == 0 && memcmp(lse, lse2, sizeof lse) == 0,
                     "in place: loss or lse differs");
            if (a.bias) XT_CHECK(memcmp(bias, bias2, cols * sizeof(XT_REAL)) == 0, "in place: bias gradient differs");
            (void)hard;
        }
        for (kind = SOFTMAX; kind <= LOG_SOFTMAX; kind++) {
            xt_set_case("%s_%s in place, cols %zu", adv_row_kind_name[kind], XT_TYPE_NAME, cols);
            XT_EXPECT_OK(XT_FN(row_call)(kind, x, R, cols, stride, g, stride));
            memcpy(y, x, n * sizeof(XT_REAL));
            XT_EXPECT_OK(XT_FN(row_call)(kind, y, R, cols, stride, y, stride));
            {
                int same = 1;
                for (i = 0; i < R && same; i++) {
                    if (memcmp(y + i * stride, g + i * stride, cols * sizeof(XT_REAL)) != 0) same = 0;
                    if (memcmp(y + i * stride + cols, x + i * stride + cols, (stride - cols) * sizeof(XT_REAL)) != 0) {
                        XT_CHECK(0, "row %zu: padding written", i);
                    }
                }
                XT_CHECK(same, "in place differs from out of place");
            }
        }
        free(x);
        free(y);
        free(g);
        free(tg);
        free(bias);
        free(bias2);
    }
}

/* Pointers at an element offset of 1 (aligned for XT_REAL, but not to 16 or 32 bytes) for every argument. */
void XT_FN(test_unaligned)(void)
{
    const size_t cols_list[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1001};
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], R = 11, stride = cols + 1; /* odd stride: rows start misaligned too */
        const size_t n = R * stride + 8;
        XT_REAL *xb = (XT_REAL *)malloc(n * sizeof(XT_REAL)), *gb = (XT_REAL *)malloc(n * sizeof(XT_REAL)),
                *tb = (XT_REAL *)malloc(n * sizeof(XT_REAL));
        XT_REAL *ob = (XT_REAL *)malloc(n * sizeof(XT_REAL));
        XT_REAL lossb[16], lseb[16], *biasb = (XT_REAL *)malloc((cols + 8) * sizeof(XT_REAL));
        int64_t labb[16];
        xent_options o;
        size_t i;
        XT_REAL *x = xb + 1, *g = gb + 1, *tg = tb + 1, *out = ob + 1, *loss = lossb + 1, *lse = lseb + 1,
                *bias = biasb + 1;
        int64_t *lab = labb + 1;
        for (i = 0; i < n; i++) {
            xb[i] = (XT_REAL)xt_uniform(-4, 4);
            tb[i] = (XT_REAL)xt_uniform(0, 0.5);
        }
        for (i = 0; i < R; i++) lab[i] = (int64_t)((i * 5) % cols);
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        xt_set_case("unaligned (element offset 1), %s, cols %zu", XT_TYPE_NAME, cols);
        XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, R, cols, stride, lab, &o, loss, g, stride, lse, bias));
        XT_FN(check_ce_rows)(x, R, cols, stride, lab, NULL, 0, -100, loss, g, stride, lse, ADV_BOUND);
        {
            long bad = 0;
            size_t j;
            for (j = 0; j < cols; j++) {
                long double s = 0, sa = 0;
                for (i = 0; i < R; i++) {
                    s += g[i * stride + j];
                    sa += fabsl((long double)g[i * stride + j]);
                }
                if (!xt_close_abs(bias[j], s, ADV_BOUND * 2 * fmaxl(1, sa))) bad++;
            }
            XT_CHECK(bad == 0, "%ld bias gradient elements differ from the column sums", bad);
        }
        XT_EXPECT_OK(XT_FN(xent_soft_cross_entropy_ex)(x, R, cols, stride, tg, stride, &o, loss, g, stride, lse, bias));
        XT_FN(check_ce_rows)(x, R, cols, stride, NULL, tg, 0, -100, loss, g, stride, lse, ADV_BOUND);
        (void)out;
        XT_FN(check_rowwise)(x, R, cols, stride, ADV_BOUND);
        XT_EXPECT_OK(XT_FN(xent_softmax)(x, R, cols, stride, out, stride));
        XT_EXPECT_OK(XT_FN(xent_log_softmax)(x, R, cols, stride, out, stride));
        XT_EXPECT_OK(XT_FN(xent_logsumexp)(x, R, cols, stride, out));
        free(xb);
        free(gb);
        free(tb);
        free(ob);
        free(biasb);
    }
}

/* 1 000 003 classes, two rows, labels 0 and cols-1, against the long double reference with the header's bounds;
   also bit-identical for num_threads 1, 2 and 0. */
void XT_FN(test_million_classes)(void)
{
    const size_t C = 1000003, R = 2;
    XT_REAL *x = (XT_REAL *)malloc(R * C * sizeof(XT_REAL)), *g = (XT_REAL *)malloc(R * C * sizeof(XT_REAL)),
            *g2 = (XT_REAL *)malloc(R * C * sizeof(XT_REAL));
    XT_REAL *bias = (XT_REAL *)malloc(C * sizeof(XT_REAL)), *bias2 = (XT_REAL *)malloc(C * sizeof(XT_REAL));
    XT_REAL loss[2], lse[2], mean[1], mean2[1], lse2[2];
    int64_t lab[2] = {0, (int64_t)C - 1};
    xent_options o;
    size_t i, j;
    int threads;
    for (i = 0; i < R * C; i++) x[i] = (XT_REAL)xt_uniform(-8, 8);
    x[C - 1] = (XT_REAL)9; /* a clear winner in row 0, elsewhere than the label */
    xent_options_init(&o);
    o.reduction = XENT_REDUCTION_NONE;
    xt_set_case("1000003 classes, %s, NONE", XT_TYPE_NAME);
    XT_EXPECT_OK(XT_FN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, g, lse));
    XT_FN(check_ce_rows)(x, R, C, C, lab, NULL, 0, -100, loss, g, C, lse, ADV_BOUND);
    o.reduction = XENT_REDUCTION_MEAN;
    o.label_smoothing = 0.05f;
    for (threads = 1; threads >= 0; threads--) {
        o.num_threads = threads;
        xt_set_case("1000003 classes, %s, MEAN, smoothing, bias, num_threads %d", XT_TYPE_NAME, threads);
        XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, threads ? mean : mean2, threads ? g : g2, C,
                                                  threads ? lse : lse2, threads ? bias : bias2));
    }
    o.num_threads = 2;
    XT_EXPECT_OK(XT_FN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, mean2, g2, C, lse2, bias2));
    XT_CHECK(memcmp(mean, mean2, sizeof mean) == 0 && memcmp(g, g2, R * C * sizeof(XT_REAL)) == 0 &&
                 memcmp(bias, bias2, C * sizeof(XT_REAL)) == 0 && memcmp(lse, lse2, sizeof lse) == 0,
             "num_threads 1 and 2 differ");
    {
        double *xd = (double *)malloc(C * sizeof(double));
        long double *gr = (long double *)malloc(C * sizeof(long double)),
                    *bs = (long double *)calloc(C, sizeof(long double));
        long double total = 0;
        long bad = 0, badb = 0;
        const double eps = (double)o.label_smoothing;
        for (i = 0; i < R; i++) {
            long double l;
            for (j = 0; j < C; j++) xd[j] = (double)x[i * C + j];
            total += adv_ref_ce_d(xd, C, lab[i], NULL, eps, &l, gr);
            for (j = 0; j < C; j++) {
                if (!xt_close_abs(g[i * C + j], gr[j] / R, ADV_BOUND / R)) bad++;
                bs[j] += gr[j] / R;
            }
        }
        for (j = 0; j < C; j++)
            if (!xt_close_abs(bias[j], bs[j], ADV_BOUND * R / R)) badb++;
        XT_CHECK(xt_close_abs(mean[0], total / R, ADV_BOUND * fabsl(total / R)), "mean loss %.9g, reference %.12Lg",
                 (double)mean[0], total / R);
        XT_CHECK(bad == 0, "%ld gradient elements outside the bound", bad);
        XT_CHECK(badb == 0, "%ld bias gradient elements outside the bound", badb);
        free(xd);
        free(gr);
        free(bs);
    }
    xt_set_case("1000003 classes, %s, row-wise", XT_TYPE_NAME);
    XT_FN(check_rowwise)(x, R, C, C, ADV_BOUND);
    free(x);
    free(g);
    free(g2);
    free(bias);
    free(bias2);
}

#endif /* XT_REAL */
