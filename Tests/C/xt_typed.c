/*
 * xt_typed.c -- the typed helpers of the C tests (declared in xt_typed_decl.h): fills, canaries, comparisons with
 * the reference, the generic cross-entropy call (hard/soft x plain/_ex) and its verification, every function on
 * one matrix.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "xt_typed.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* Fills rows x stride with NaN in the padding (so a read past cols shows up) and random values in the rows. */
void XT_FN(xt_fill_random)(XT_REAL *a, size_t rows, size_t cols, size_t stride, double lo, double hi)
{
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < stride; j++) a[i * stride + j] = j < cols ? (XT_REAL)xt_uniform(lo, hi) : (XT_REAL)NAN;
}

void XT_FN(xt_fill_const)(XT_REAL *a, size_t n, XT_REAL v)
{
    size_t i;
    for (i = 0; i < n; i++) a[i] = v;
}

void XT_FN(xt_canary_outputs)(XT_REAL *loss, size_t nloss, XT_REAL *grad, size_t ngrad, XT_REAL *lse, size_t nlse,
                              XT_REAL *bias, size_t nbias)
{
    XT_FN(xt_fill_const)(loss, nloss, XT_CANARY);
    XT_FN(xt_fill_const)(grad, ngrad, XT_CANARY);
    XT_FN(xt_fill_const)(lse, nlse, XT_CANARY);
    XT_FN(xt_fill_const)(bias, nbias, XT_CANARY);
}

int XT_FN(xt_padding_is_nan)(const XT_REAL *a, size_t rows, size_t cols, size_t stride)
{
    size_t i, j;
    for (i = 0; i + 1 < rows; i++)
        for (j = cols; j < stride; j++)
            if (!isnan(a[i * stride + j])) return 0;
    return 1;
}

/* All n values still hold the canary. */
int XT_FN(xt_untouched)(const XT_REAL *a, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!(a[i] == XT_CANARY)) return 0;
    return 1;
}

/* Checks a strided matrix against a contiguous reference; the padding of each row must still hold the canary
   when check_pad is set. One check per call; prints the first mismatch. */
void XT_FN(xt_check_matrix)(const char *what, const XT_REAL *got, size_t rows, size_t cols, size_t stride,
                            const long double *ref, const long double *scale, int check_pad)
{
    size_t i, j, bad = 0, bi = 0, bj = 0;
    for (i = 0; i < rows; i++) {
        for (j = 0; j < cols; j++) {
            long double sc = scale && scale[j] > 1.0L ? scale[j] : 1.0L;
            if (!xt_close_scaled((long double)got[i * stride + j], ref[i * cols + j], XT_TOL, sc)) {
                if (!bad) {
                    bi = i;
                    bj = j;
                }
                bad++;
            }
        }
        if (check_pad && i + 1 < rows)
            for (j = cols; j < stride; j++)
                if (!(got[i * stride + j] == XT_CANARY)) {
                    xt_check(0, "%s: padding at row %lu col %lu was written", what, (unsigned long)i, (unsigned long)j);
                    return;
                }
    }
    if (bad)
        xt_check(0, "%s: %lu of %lu values wrong; first at row %lu col %lu: got %.17Lg, expected %.17Lg", what,
                 (unsigned long)bad, (unsigned long)(rows * cols), (unsigned long)bi, (unsigned long)bj,
                 (long double)got[bi * stride + bj], ref[bi * cols + bj]);
    else xt_check(1, "ok");
}

void XT_FN(xt_check_vector)(const char *what, const XT_REAL *got, size_t n, const long double *ref)
{
    XT_FN(xt_check_matrix)(what, got, n, 1, 1, ref, NULL, 0);
}

void XT_FN(xt_check_value)(const char *what, XT_REAL got, long double ref)
{
    xt_check(xt_close((long double)got, ref, XT_TOL), "%s: got %.17Lg, expected %.17Lg", what, (long double)got, ref);
}

/* Runs c, compares every requested output with the reference, and checks that nothing else was written.
   The caller has filled all outputs (and their padding) with XT_CANARY. in_place: c->grad == c->logits. */
void XT_FN(xt_ce_verify)(const XT_FN(xt_ce_call) * c, const xt_ref_ce_out *ref, int in_place, size_t loss_cap,
                         size_t lse_cap, size_t bias_cap)
{
    char what[160];
    int red = c->opts ? c->opts->reduction : XENT_REDUCTION_MEAN;
    size_t gstride = c->ex ? c->grad_stride : c->row_stride;
    xent_status st = XT_FN(xt_ce_run)(c);
    snprintf(what, sizeof what, "%s", XT_FN(xt_ce_name)(c));
    if (!xt_check_status(st, XENT_OK, what)) return;
    xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
             "%s: message after success is \"%s\"", what, xent_last_error_message());
    if (red == XENT_REDUCTION_NONE) {
        snprintf(what, sizeof what, "%s loss (NONE)", XT_FN(xt_ce_name)(c));
        XT_FN(xt_check_vector)(what, c->loss, c->rows, ref->loss_rows);
        xt_check(XT_FN(xt_untouched)(c->loss + c->rows, loss_cap - c->rows), "%s: wrote past rows values", what);
    } else {
        snprintf(what, sizeof what, "%s loss (%s)", XT_FN(xt_ce_name)(c), red == XENT_REDUCTION_SUM ? "SUM" : "MEAN");
        XT_FN(xt_check_value)(what, c->loss[0], ref->loss_red);
        xt_check(XT_FN(xt_untouched)(c->loss + 1, loss_cap - 1), "%s: wrote past loss[0]", what);
    }
    if (c->grad) {
        snprintf(what, sizeof what, "%s grad%s", XT_FN(xt_ce_name)(c), in_place ? " (in place)" : "");
        XT_FN(xt_check_matrix)(what, c->grad, c->rows, c->cols, gstride, ref->grad, NULL, !in_place);
    }
    if (c->lse) {
        snprintf(what, sizeof what, "%s lse", XT_FN(xt_ce_name)(c));
        XT_FN(xt_check_vector)(what, c->lse, c->rows, ref->lse);
        xt_check(XT_FN(xt_untouched)(c->lse + c->rows, lse_cap - c->rows), "%s: wrote past rows values", what);
    }
    if (c->ex && c->bias) {
        snprintf(what, sizeof what, "%s bias_grad%s", XT_FN(xt_ce_name)(c), c->grad ? "" : " (grad NULL)");
        XT_FN(xt_check_matrix)(what, c->bias, 1, c->cols, c->cols, ref->bias, ref->bias_abs, 0);
        xt_check(XT_FN(xt_untouched)(c->bias + c->cols, bias_cap - c->cols), "%s: wrote past cols values", what);
    }
}

/* ---- Special values ---- */

/* Runs every function on one rows x cols matrix (contiguous) with given labels/targets and options and compares
   with the reference; used for the special-value cases. */
void XT_FN(xt_check_all_functions)(const char *name, const XT_REAL *x, size_t rows, size_t cols, const int64_t *labels,
                                   const XT_REAL *targets, const xent_options *opts)
{
    xt_ref_opts ro = xt_ref_opts_from(opts);
    xt_ref_ce_out ref, sref;
    long double *xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *ref_sm = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *ref_lsm = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    XT_REAL *loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *grad = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * cols + 4));
    XT_REAL *lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *bias = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
    size_t i, j;
    int soft, ex;

    xt_set_case("special %s: %s (%s, eps %g, gs %g)", XT_TYPE_NAME, name,
                opts->reduction == 0   ? "NONE"
                : opts->reduction == 1 ? "SUM"
                                       : "MEAN",
                (double)opts->label_smoothing, (double)opts->grad_scale);
    XT_FN(xt_widen)(x, rows, cols, cols, xl);
    XT_FN(xt_widen)(targets, rows, cols, cols, yl);
    xt_ref_ce_alloc(&ref, rows, cols);
    xt_ref_ce_alloc(&sref, rows, cols);
    xt_ref_ce(xl, rows, cols, labels, NULL, &ro, &ref);
    xt_ref_ce(xl, rows, cols, NULL, yl, &ro, &sref);
    for (i = 0; i < rows; i++) {
        xt_row_stats r = xt_ref_row(xl + i * cols, cols);
        for (j = 0; j < cols; j++) {
            ref_sm[i * cols + j] = xt_ref_softmax(&r, xl[i * cols + j]);
            ref_lsm[i * cols + j] = xt_ref_log_softmax(&r, xl[i * cols + j]);
        }
    }

    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++) {
            XT_FN(xt_ce_call) c = XT_FN(xt_ce_on)(soft, ex, x, rows, cols, cols, labels, targets, cols, opts);
            c.loss = loss;
            c.grad = grad;
            c.grad_stride = cols;
            c.lse = lse;
            c.bias = bias;
            XT_FN(xt_canary_outputs)(loss, rows + 4, grad, rows * cols + 4, lse, rows + 4, bias, cols + 4);
            XT_FN(xt_ce_verify)(&c, soft ? &sref : &ref, 0, rows + 4, rows + 4, cols + 4);
        }

    XT_FN(xt_fill_const)(lse, rows + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_logsumexp)(x, rows, cols, cols, lse), XENT_OK, "logsumexp"))
        XT_FN(xt_check_vector)("logsumexp", lse, rows, ref.lse);
    XT_FN(xt_fill_const)(grad, rows * cols + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_softmax)(x, rows, cols, cols, grad, cols), XENT_OK, "softmax"))
        XT_FN(xt_check_matrix)("softmax", grad, rows, cols, cols, ref_sm, NULL, 0);
    XT_FN(xt_fill_const)(grad, rows * cols + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_log_softmax)(x, rows, cols, cols, grad, cols), XENT_OK, "log_softmax"))
        XT_FN(xt_check_matrix)("log_softmax", grad, rows, cols, cols, ref_lsm, NULL, 0);

    xt_ref_ce_free(&ref);
    xt_ref_ce_free(&sref);
    free(xl);
    free(yl);
    free(ref_sm);
    free(ref_lsm);
    free(loss);
    free(grad);
    free(lse);
    free(bias);
}

#endif /* XT_REAL */
