/*
 * test_primitives.c -- logsumexp, softmax and log_softmax against the long double reference: class counts 1-25, 31,
 * 32, 33, 64, 1000, 4099, row and output strides, misaligned starts, in place.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_primitives.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Sweep: logsumexp, softmax, log_softmax ---- */

void XT_FN(xt_test_primitives_sweep)(void)
{
    static const size_t extra_cols[] = {31, 32, 33, 64, 1000, 4099};
    size_t ncols, rows, k, counter = 0;
    for (ncols = 1; ncols <= 25 + sizeof extra_cols / sizeof extra_cols[0]; ncols++)
        for (k = 0; k < 4; k++) {
            size_t cols = ncols <= 25 ? ncols : extra_cols[ncols - 26];
            size_t rs = cols + (k % 2 ? 3 : 0);
            size_t os = cols + (k / 2 ? 2 : 0);
            size_t off = counter % 3;
            size_t i, j;
            XT_REAL *xbuf, *x, *out, *lse, *inpl;
            long double *xl, *ref, *ref_lse, *ref_log;
            counter++;
            rows = 1 + counter % 5;
            xt_set_case("primitives %s rows %lu cols %lu row_stride %lu out_stride %lu off %lu", XT_TYPE_NAME,
                        (unsigned long)rows, (unsigned long)cols, (unsigned long)rs, (unsigned long)os,
                        (unsigned long)off);
            xbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (off + rows * rs));
            out = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * os + 2));
            inpl = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (off + rows * rs));
            lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 2));
            xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref_log = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref_lse = (long double *)xt_alloc(sizeof(long double) * rows);
            XT_FN(xt_fill_const)(xbuf, off + rows * rs, (XT_REAL)NAN);
            x = xbuf + off;
            XT_FN(xt_fill_random)(x, rows, cols, rs, counter % 2 ? -8.0 : -80.0, counter % 2 ? 8.0 : 3.0);
            XT_FN(xt_widen)(x, rows, cols, rs, xl);
            for (i = 0; i < rows; i++) {
                xt_row_stats r = xt_ref_row(xl + i * cols, cols);
                ref_lse[i] = xt_ref_lse(&r);
                for (j = 0; j < cols; j++) {
                    ref[i * cols + j] = xt_ref_softmax(&r, xl[i * cols + j]);
                    ref_log[i * cols + j] = xt_ref_log_softmax(&r, xl[i * cols + j]);
                }
            }

            XT_FN(xt_fill_const)(lse, rows + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_logsumexp)(x, rows, cols, rs, lse), XENT_OK, "logsumexp")) {
                XT_FN(xt_check_vector)("logsumexp", lse, rows, ref_lse);
                xt_check(XT_FN(xt_untouched)(lse + rows, 2), "logsumexp wrote past rows values");
            }

            XT_FN(xt_fill_const)(out, rows * os + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_softmax)(x, rows, cols, rs, out, os), XENT_OK, "softmax")) {
                XT_FN(xt_check_matrix)("softmax", out, rows, cols, os, ref, NULL, 1);
                xt_check(XT_FN(xt_untouched)(out + (rows - 1) * os + cols, 2), "softmax wrote past the end");
            }

            XT_FN(xt_fill_const)(out, rows * os + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_log_softmax)(x, rows, cols, rs, out, os), XENT_OK, "log_softmax")) {
                XT_FN(xt_check_matrix)("log_softmax", out, rows, cols, os, ref_log, NULL, 1);
                xt_check(XT_FN(xt_untouched)(out + (rows - 1) * os + cols, 2), "log_softmax wrote past the end");
            }

            /* in place: out == x, out_stride == row_stride */
            memcpy(inpl, xbuf, sizeof(XT_REAL) * (off + rows * rs));
            if (xt_check_status(XT_FN(xent_softmax)(inpl + off, rows, cols, rs, inpl + off, rs), XENT_OK,
                                "softmax in place"))
                XT_FN(xt_check_matrix)("softmax in place", inpl + off, rows, cols, rs, ref, NULL, 0);
            memcpy(inpl, xbuf, sizeof(XT_REAL) * (off + rows * rs));
            if (xt_check_status(XT_FN(xent_log_softmax)(inpl + off, rows, cols, rs, inpl + off, rs), XENT_OK,
                                "log_softmax in place"))
                XT_FN(xt_check_matrix)("log_softmax in place", inpl + off, rows, cols, rs, ref_log, NULL, 0);
            if (!XT_FN(xt_padding_is_nan)(inpl + off, rows, cols, rs))
                xt_check(0, "in-place log_softmax wrote the padding");

            free(xbuf);
            free(out);
            free(inpl);
            free(lse);
            free(xl);
            free(ref);
            free(ref_log);
            free(ref_lse);
        }
}

#endif /* XT_REAL */
