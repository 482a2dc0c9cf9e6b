/*
 * test_ce_sweep.c -- hard and soft cross-entropy, plain and _ex, against the long double reference: class counts 1-25
 * and 1000, every reduction, label smoothing 0/0.1/1, grad_scale 1/2.5, ignore modes, row/target/gradient
 * strides, misaligned starts, every output combination and the gradient in place.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_ce_sweep.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Sweep: hard and soft cross-entropy against the reference ---- */

void XT_FN(xt_test_ce_sweep)(void)
{
    static const size_t col_list[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
                                      14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 1000};
    static const size_t row_list[] = {1, 4, 7, 3, 2};
    static const float eps_list[] = {0.0f, 0.1f, 1.0f};
    static const float gs_list[] = {1.0f, 2.5f};
    static const int red_list[] = {XENT_REDUCTION_NONE, XENT_REDUCTION_SUM, XENT_REDUCTION_MEAN};
    size_t ci, ri, ei, gi, ii, counter = 0;
    int soft;

    for (soft = 0; soft <= 1; soft++)
        for (ci = 0; ci < sizeof col_list / sizeof col_list[0]; ci++)
            for (ri = 0; ri < 3; ri++)
                for (ei = 0; ei < 3; ei++)
                    for (gi = 0; gi < 2; gi++)
                        for (ii = 0; ii < (soft ? 1u : 3u); ii++) {
                            size_t cols = col_list[ci];
                            size_t rows = row_list[counter % 5];
                            size_t rs = cols + (counter % 3 == 0 ? 0 : counter % 3 == 1 ? 3 : 8);
                            size_t ts = cols + (counter % 2 ? 5 : 0);
                            size_t gs_ex = cols + (counter % 2 ? 1 : 6);
                            size_t off = counter % 4; /* misaligned starts */
                            size_t i, j, variant;
                            int red = red_list[ri];
                            xent_options opts;
                            xt_ref_opts ro;
                            xt_ref_ce_out ref;
                            XT_REAL *xbuf, *tbuf, *gbuf, *lossbuf, *lsebuf, *biasbuf, *x;
                            long double *xl, *yl = NULL;
                            int64_t *labels;
                            double target_mass = counter % 3 == 0 ? 1.0 : counter % 3 == 1 ? 0.7 : 1.3;
                            size_t xsize = off + rows * rs, gsize = off + rows * (gs_ex > rs ? gs_ex : rs) + 8;
                            counter++;

                            xent_options_init(&opts);
                            opts.reduction = red;
                            opts.label_smoothing = eps_list[ei];
                            opts.grad_scale = gs_list[gi];
                            opts.num_threads = (int32_t)(counter % 3);
                            if (!soft && counter % 2) opts.ignore_index = -1;
                            ro = xt_ref_opts_from(&opts);
                            xt_set_case(
                                "%s %s rows %lu cols %lu row_stride %lu off %lu %s eps %g gs %g ignore-mode %lu "
                                "threads %d",
                                soft ? "soft_ce" : "ce", XT_TYPE_NAME, (unsigned long)rows, (unsigned long)cols,
                                (unsigned long)rs, (unsigned long)off,
                                red == 0   ? "NONE"
                                : red == 1 ? "SUM"
                                           : "MEAN",
                                (double)opts.label_smoothing, (double)opts.grad_scale, (unsigned long)ii,
                                (int)opts.num_threads);

                            xbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * xsize);
                            tbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * ts + 1));
                            gbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * gsize);
                            lossbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
                            lsebuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
                            biasbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
                            xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
                            labels = (int64_t *)xt_alloc(sizeof(int64_t) * rows);
                            xt_ref_ce_alloc(&ref, rows, cols);

                            x = xbuf + off;
                            XT_FN(xt_fill_const)(xbuf, xsize, (XT_REAL)NAN);
                            XT_FN(xt_fill_random)(x, rows, cols, rs, -8.0, 8.0);
                            XT_FN(xt_widen)(x, rows, cols, rs, xl);
                            for (i = 0; i < rows; i++) {
                                labels[i] = (int64_t)xt_rand_index(cols);
                                /* ignore-mode 1: some rows ignored; 2: all rows ignored */
                                if ((ii == 1 && i % 3 == 1) || ii == 2) labels[i] = opts.ignore_index;
                            }
                            if (soft) {
                                yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
                                for (i = 0; i < rows; i++) {
                                    double total = 0;
                                    for (j = 0; j < ts; j++) tbuf[i * ts + j] = (XT_REAL)NAN;
                                    for (j = 0; j < cols; j++) {
                                        double v = (j % 4 == 3) ? 0.0 : xt_uniform(0.0, 1.0);
                                        tbuf[i * ts + j] = (XT_REAL)v;
                                        total += (double)tbuf[i * ts + j];
                                    }
                                    for (j = 0; j < cols; j++)
                                        tbuf[i * ts + j] =
                                            (XT_REAL)(total > 0 ? (double)tbuf[i * ts + j] * target_mass / total : 0);
                                }
                                XT_FN(xt_widen)(tbuf, rows, cols, ts, yl);
                            }
                            xt_ref_ce(xl, rows, cols, soft ? NULL : labels, yl, &ro, &ref);

                            for (variant = 0; variant < 5; variant++) {
                                XT_FN(xt_ce_call)
                                c = XT_FN(xt_ce_on)(soft, 0, x, rows, cols, rs, labels, tbuf, ts, &opts);
                                int in_place = 0;
                                c.loss = lossbuf;
                                c.lse = lsebuf;
                                XT_FN(xt_canary_outputs)
                                (lossbuf, rows + 4, gbuf, gsize, lsebuf, rows + 4, biasbuf, cols + 4);
                                switch (variant) {
                                case 0: /* plain, all outputs */ c.grad = gbuf; break;
                                case 1: /* plain, gradient not requested, lse not requested */
                                    c.grad = NULL;
                                    c.lse = (counter % 2) ? lsebuf : NULL;
                                    break;
                                case 2: /* _ex with its own gradient stride and the bias gradient */
                                    c.ex = 1;
                                    c.grad = gbuf + 1;
                                    c.grad_stride = gs_ex;
                                    c.bias = biasbuf;
                                    break;
                                case 3: /* _ex, bias gradient only */
                                    c.ex = 1;
                                    c.grad = NULL;
                                    c.grad_stride = counter % 2 ? 0 : 3 * cols;
                                    c.bias = biasbuf;
                                    c.lse = NULL;
                                    break;
                                case 4: /* in place: grad == logits (plain or _ex) */
                                    memcpy(gbuf, xbuf, sizeof(XT_REAL) * xsize);
                                    c.logits = gbuf + off;
                                    c.grad = gbuf + off;
                                    c.ex = (int)(counter % 2);
                                    c.grad_stride = rs;
                                    c.bias = c.ex ? biasbuf : NULL;
                                    in_place = 1;
                                    break;
                                }
                                if (variant == 4 && opts.reduction == XENT_REDUCTION_MEAN &&
                                    opts.label_smoothing == 0.0f && opts.grad_scale == 1.0f &&
                                    opts.ignore_index == -100 && opts.num_threads == 0)
                                    c.opts = NULL; /* NULL options = the defaults */
                                XT_FN(xt_ce_verify)(&c, &ref, in_place, rows + 4, rows + 4, cols + 4);
                                if (in_place && !XT_FN(xt_padding_is_nan)(gbuf + off, rows, cols, rs))
                                    xt_check(0, "in-place: padding of logits was written");
                            }

                            xt_ref_ce_free(&ref);
                            free(xbuf);
                            free(tbuf);
                            free(gbuf);
                            free(lossbuf);
                            free(lsebuf);
                            free(biasbuf);
                            free(xl);
                            free(yl);
                            free(labels);
                        }
}

#endif /* XT_REAL */
