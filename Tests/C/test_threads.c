/*
 * test_threads.c -- large problems (301 x 1000, row stride 1003) with num_threads 1, 2, 3, 0 and 16: hard and soft
 * cross-entropy against the reference, every reduction.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_threads.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

void XT_FN(xt_test_threads)(void)
{
    static const int32_t threads[5] = {1, 2, 3, 0, 16};
    const size_t rows = 301, cols = 1000, rs = 1003;
    XT_REAL *x = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * rs);
    XT_REAL *t = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
    XT_REAL *loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *grad = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * rs);
    XT_REAL *lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *bias = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
    long double *xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    int64_t *labels = (int64_t *)xt_alloc(sizeof(int64_t) * rows);
    xt_ref_ce_out ref, sref;
    xt_ref_opts ro;
    xent_options opts;
    size_t i, k;
    int red;
    XT_FN(xt_fill_const)(x, rows * rs, (XT_REAL)NAN);
    XT_FN(xt_fill_random)(x, rows, cols, rs, -6, 6);
    XT_FN(xt_fill_random)(t, rows, cols, cols, 0, 0.002);
    XT_FN(xt_widen)(x, rows, cols, rs, xl);
    XT_FN(xt_widen)(t, rows, cols, cols, yl);
    for (i = 0; i < rows; i++) labels[i] = i % 10 == 3 ? -100 : (int64_t)xt_rand_index(cols);
    xt_ref_ce_alloc(&ref, rows, cols);
    xt_ref_ce_alloc(&sref, rows, cols);
    for (red = 0; red < 3; red++) {
        xent_options_init(&opts);
        opts.reduction = red;
        opts.label_smoothing = 0.1f;
        opts.grad_scale = 2.5f;
        ro = xt_ref_opts_from(&opts);
        xt_ref_ce(xl, rows, cols, labels, NULL, &ro, &ref);
        xt_ref_ce(xl, rows, cols, NULL, yl, &ro, &sref);
        for (k = 0; k < 5; k++) {
            int soft;
            opts.num_threads = threads[k];
            for (soft = 0; soft <= 1; soft++) {
                XT_FN(xt_ce_call) c = XT_FN(xt_ce_on)(soft, 1, x, rows, cols, rs, labels, t, cols, &opts);
                xt_set_case("large %s rows %lu cols %lu %s num_threads %d", XT_TYPE_NAME, (unsigned long)rows,
                            (unsigned long)cols,
                            red == 0   ? "NONE"
                            : red == 1 ? "SUM"
                                       : "MEAN",
                            (int)threads[k]);
                c.loss = loss;
                c.grad = (k % 2) ? grad : NULL;
                c.grad_stride = rs;
                c.lse = lse;
                c.bias = bias;
                XT_FN(xt_canary_outputs)(loss, rows + 4, grad, rows * rs, lse, rows + 4, bias, cols + 4);
                XT_FN(xt_ce_verify)(&c, soft ? &sref : &ref, 0, rows + 4, rows + 4, cols + 4);
            }
        }
    }
    xt_ref_ce_free(&ref);
    xt_ref_ce_free(&sref);
    free(x);
    free(t);
    free(loss);
    free(grad);
    free(lse);
    free(bias);
    free(xl);
    free(yl);
    free(labels);
}

#endif /* XT_REAL */
