/*
 * test_linear.c -- xent_linear_cross_entropy_f32/_f64 (1.2.0) against the long double reference of
 * Tests/CSupport/xt_ref.h (xt_ref_linear: logits o = h*w^T + b in long double, the cross-entropy reference, then
 * grad_hidden = G*w, grad_weight = G^T*h, grad_bias = column sums of G).
 *
 * Accuracy. Every output is compared element by element with |got - ref| <= tol * scale, where scale is the
 * magnitude of the sum that produced it (xt_ref_linear's *_abs: sum of |terms|; for loss and lse max(1, |ref|,
 * max_j sum_k |h_ik*w_jk|), the size of the logits' rounding), floored at 1e-2 of the output's largest scale.
 *   f64: tol 1e-12.
 *   f32: the unfused float32 pipeline on the same inputs -- cblas_sgemm logits (+ bias in float),
 *        xent_cross_entropy_ex_f32, cblas_sgemm gradients -- is measured against the same reference with the same
 *        metric, and the fused call must satisfy err_fused <= 2 * err_unfused + FLT_EPSILON for loss, lse,
 *        grad_hidden, grad_weight and grad_bias (the header's f32 bound). A loose absolute check (1e-4) guards
 *        against a pipeline that is wrong in both.
 * Coverage: every option (reductions, ignore_index, smoothing, grad_scale, z-loss with z_loss_out, soft cap, class
 * weights), with and without bias, padded strides (padding untouched), class counts 1..33 and 70001, rows 0, every
 * row ignored, accumulate, a workspace of a few rows (many row blocks), num_threads 1/2/3 bit-identical, the kept
 * workspace (a reused block gives the bits of a fresh one), -inf bias masking, a NaN hidden row. The refusals are in test_linear_refusals.c.
 * XENT_TEST_LINEAR_TABLE=1 also prints how the f32 grad_weight error grows with rows (fused and unfused).
 */
#ifndef XT_REAL
#include "xt_tests.h"

#include <cblas.h>

/* The unfused float32 pipeline (the f32 bound's yardstick); the double one is only used for symmetry. */
void xt_lin_gemm_f32(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                            size_t ldb, float *c, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}
void xt_lin_gemm_f64(int ta, int tb, size_t m, size_t n, size_t k, const double *a, size_t lda,
                            const double *b, size_t ldb, double *c, size_t ldc)
{
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0, a, (int)lda, b, (int)ldb, 0.0, c, (int)ldc);
}

const char *const xt_lin_out_name[XT_LIN_NOUT] = {"loss",        "lse",       "grad_hidden",
                                                  "grad_weight", "grad_bias", "z_loss_out"};

const char *xt_lin_basic_case(int cfg, xent_options *o, int64_t *labels, size_t rows)
{
    size_t i;
    switch (cfg) {
    case 0: return "MEAN";
    case 1: o->reduction = XENT_REDUCTION_SUM; return "SUM";
    case 2: o->reduction = XENT_REDUCTION_NONE; return "NONE";
    case 3:
        o->ignore_index = 3;
        for (i = 0; i < rows; i++)
            if (labels[i] == -100 || i % 4 == 0) labels[i] = 3;
        return "ignore_index 3";
    case 4: o->label_smoothing = 0.1f; return "smoothing 0.1";
    case 5: o->grad_scale = 2.5f, o->reduction = XENT_REDUCTION_SUM; return "grad_scale 2.5, SUM";
    default: return NULL;
    }
}

/* XENT_TEST_LINEAR_TABLE set: print the f32 fused and unfused errors of every checked call, and the growth table. */
static int xt_lin_print = -1;

#define XT_TYPED_FILE "test_linear.c"
#include "xt_instantiate.h"

/* The f32 grad_weight error as rows grow (dim 64, classes 1000, a workspace of 64 rows: rows/64 row blocks, whose
   partial products grad_weight accumulates), fused and unfused, componentwise (x the sum of |terms|) and normwise
   (max |err| / max |ref|). */
void xt_linear_growth_table(void)
{
    static const size_t rows[4] = {64, 256, 1024, 4096};
    int k;
    printf("linear f32: grad_weight error vs rows (dim 64, classes 1000, workspace 64 rows a block, smoothing 0)\n");
    printf("| rows | row blocks | fused, x sum|terms| | unfused, x sum|terms| | fused, normwise | unfused, normwise |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    for (k = 0; k < 4; k++) {
        double f, u, fn, un;
        xt_linear_growth_rows_f32(rows[k], 64, &f, &u, &fn, &un);
        printf("| %lu | %lu | %.3g | %.3g | %.3g | %.3g |\n", (unsigned long)rows[k], (unsigned long)(rows[k] / 64), f,
               u, fn, un);
    }
}

void xt_test_linear(void)
{
    xt_lin_print = getenv("XENT_TEST_LINEAR_TABLE") != NULL;
    if (xt_lin_print) {
        printf("linear f32: fused vs unfused error (x the scale of each sum; see test_linear.c)\n");
        printf("| case | loss | lse | grad_hidden | grad_weight | grad_bias |\n|---|---|---|---|---|---|\n");
    }
    xt_test_linear_f32();
    xt_test_linear_f64();
    if (xt_lin_print) xt_linear_growth_table();
}

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* One problem and one call: inputs with NaN in their stride padding, outputs (and their padding) filled with
   XT_CANARY. */
typedef struct XT_FN(xt_lin) {
    size_t rows, dim, classes, hs, ws, ghs, gws;
    XT_REAL *h, *w, *b; /* b NULL: no bias */
    int64_t *labels;
    double *cw; /* class weights (classes values) */
    xent_options opts;
    XT_REAL *loss, *gh, *gw, *gb, *lse;
    double *z;
    int want_gh, want_gw, want_gb, want_lse;
} XT_FN(xt_lin);

static void XT_FN(lin_fill_outputs)(XT_FN(xt_lin) * L)
{
    XT_FN(xt_fill_const)(L->loss, L->rows + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->gh, L->rows * L->ghs + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->gw, L->classes * L->gws + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->gb, L->classes + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->lse, L->rows + 4, XT_CANARY);
    {
        size_t i;
        for (i = 0; i < L->rows + 4; i++) L->z[i] = (double)XT_CANARY;
    }
}

/* Padded strides: hidden +3, weight +5, grad_hidden +2, grad_weight +7 (pad = 1), else all = dim. */
static void XT_FN(lin_init)(XT_FN(xt_lin) * L, size_t rows, size_t dim, size_t classes, int pad, int bias)
{
    size_t i;
    memset(L, 0, sizeof *L);
    L->rows = rows;
    L->dim = dim;
    L->classes = classes;
    L->hs = dim + (pad ? 3 : 0);
    L->ws = dim + (pad ? 5 : 0);
    L->ghs = dim + (pad ? 2 : 0);
    L->gws = dim + (pad ? 7 : 0);
    L->h = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * L->hs + 1));
    L->w = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (classes * L->ws + 1));
    L->b = bias ? (XT_REAL *)xt_alloc(sizeof(XT_REAL) * classes) : NULL;
    L->labels = (int64_t *)xt_alloc(sizeof(int64_t) * (rows + 1));
    L->cw = (double *)xt_alloc(sizeof(double) * classes);
    L->loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    L->gh = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * L->ghs + 4));
    L->gw = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (classes * L->gws + 4));
    L->gb = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (classes + 4));
    L->lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    L->z = (double *)xt_alloc(sizeof(double) * (rows + 4));
    XT_FN(xt_fill_random)(L->h, rows, dim, L->hs, -1.5, 1.5);
    XT_FN(xt_fill_random)(L->w, classes, dim, L->ws, -1.5, 1.5);
    if (bias) XT_FN(xt_fill_random)(L->b, 1, classes, classes, -1, 1);
    for (i = 0; i < rows; i++) L->labels[i] = (int64_t)xt_rand_index(classes);
    for (i = 0; i < classes; i++) L->cw[i] = xt_uniform(0.25, 2);
    xent_options_init(&L->opts);
    L->want_gh = L->want_gw = L->want_gb = L->want_lse = 1;
    XT_FN(lin_fill_outputs)(L);
}

static void XT_FN(lin_free)(XT_FN(xt_lin) * L)
{
    free(L->h), free(L->w), free(L->b), free(L->labels), free(L->cw);
    free(L->loss), free(L->gh), free(L->gw), free(L->gb), free(L->lse), free(L->z);
}

static xent_status XT_FN(lin_call)(XT_FN(xt_lin) * L)
{
    return XT_FN(xent_linear_cross_entropy)(L->h, L->rows, L->dim, L->hs, L->w, L->classes, L->ws, L->b, L->labels,
                                            &L->opts, L->loss, L->want_gh ? L->gh : NULL, L->ghs,
                                            L->want_gw ? L->gw : NULL, L->gws, L->want_gb ? L->gb : NULL,
                                            L->want_lse ? L->lse : NULL);
}

static void XT_FN(lin_ref)(const XT_FN(xt_lin) * L, xt_ref_linear_out *ref)
{
    long double *hl = (long double *)xt_alloc(sizeof(long double) * (L->rows * L->dim + 1));
    long double *wl = (long double *)xt_alloc(sizeof(long double) * (L->classes * L->dim + 1));
    long double *bl = (long double *)xt_alloc(sizeof(long double) * (L->classes + 1));
    xt_ref_opts ro = xt_ref_opts_from(&L->opts);
    XT_FN(xt_widen)(L->h, L->rows, L->dim, L->hs, hl);
    XT_FN(xt_widen)(L->w, L->classes, L->dim, L->ws, wl);
    if (L->b) XT_FN(xt_widen)(L->b, 1, L->classes, L->classes, bl);
    xt_ref_linear_alloc(ref, L->rows, L->dim, L->classes);
    xt_ref_linear(hl, L->rows, L->dim, wl, L->classes, L->b ? bl : NULL, L->labels, &ro, ref);
    free(hl), free(wl), free(bl);
}

/* ---- Error measurement -------------------------------------------------------------------------------------- */


/* max over elements of |got - ref| / scale (scale floored at 1e-2 of its largest value over the array); infinite
   when NaN or an infinity does not match; *where receives the worst element. */
static double XT_FN(lin_err)(const XT_REAL *got, size_t n, size_t cols, size_t stride, const long double *ref,
                             const long double *scale, size_t *where)
{
    size_t i, j;
    long double smax = 0, worst = 0;
    *where = 0;
    for (i = 0; i < n * cols; i++)
        if (isfinite(scale[i]) && scale[i] > smax) smax = scale[i];
    for (i = 0; i < n; i++)
        for (j = 0; j < cols; j++) {
            long double g = (long double)got[i * stride + j], r = ref[i * cols + j], s = scale[i * cols + j], e;
            if (isnan(r) || isinf(r) || isnan(g) || isinf(g)) {
                e = ((isnan(r) && isnan(g)) || g == r) ? 0 : (long double)INFINITY;
            } else {
                if (!(s >= smax * 1e-2L)) s = smax * 1e-2L;
                if (s == 0) s = 1; /* an all-zero output: absolute error */
                e = fabsl(g - r) / s;
            }
            if (e > worst) {
                worst = e;
                *where = i * cols + j;
            }
        }
    return (double)worst;
}

typedef struct XT_FN(lin_errs) {
    double e[XT_LIN_NOUT];
    size_t at[XT_LIN_NOUT];
} XT_FN(lin_errs);

/* The errors of one call's outputs (loss, lse, grad_hidden, grad_weight, grad_bias, z), given as arrays with their
   strides, against the reference. Outputs not asked for are left at 0. */
static XT_FN(lin_errs)
    XT_FN(lin_measure)(const XT_FN(xt_lin) * L, const xt_ref_linear_out *ref, const XT_REAL *loss, const XT_REAL *lse,
                       const XT_REAL *gh, size_t ghs, const XT_REAL *gw, size_t gws, const XT_REAL *gb, const double *z)
{
    XT_FN(lin_errs) r;
    size_t i, rows = L->rows, nloss = L->opts.reduction == XENT_REDUCTION_NONE ? rows : 1;
    long double *sc = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    long double *zref = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    long double *zsc = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    XT_REAL *zr = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 1));
    long double osum = 0, omax = 1;
    memset(&r, 0, sizeof r);
    for (i = 0; i < rows; i++) {
        osum += ref->o_abs[i];
        if (ref->o_abs[i] > omax) omax = ref->o_abs[i];
    }
    if (nloss == rows) {
        for (i = 0; i < rows; i++) sc[i] = fmaxl(fmaxl(1, fabsl(ref->ce.loss_rows[i])), ref->o_abs[i]);
        r.e[XT_LIN_LOSS] = XT_FN(lin_err)(loss, rows, 1, 1, ref->ce.loss_rows, sc, &r.at[XT_LIN_LOSS]);
    } else {
        sc[0] = fmaxl(fmaxl(1, fabsl(ref->ce.loss_red)), L->opts.reduction == XENT_REDUCTION_SUM ? osum : omax);
        r.e[XT_LIN_LOSS] = XT_FN(lin_err)(loss, 1, 1, 1, &ref->ce.loss_red, sc, &r.at[XT_LIN_LOSS]);
    }
    if (lse) {
        for (i = 0; i < rows; i++) sc[i] = fmaxl(fmaxl(1, fabsl(ref->ce.lse[i])), ref->o_abs[i]);
        r.e[XT_LIN_LSE] = XT_FN(lin_err)(lse, rows, 1, 1, ref->ce.lse, sc, &r.at[XT_LIN_LSE]);
    }
    if (gh) r.e[XT_LIN_GH] = XT_FN(lin_err)(gh, rows, L->dim, ghs, ref->gh, ref->gh_abs, &r.at[XT_LIN_GH]);
    if (gw) r.e[XT_LIN_GW] = XT_FN(lin_err)(gw, L->classes, L->dim, gws, ref->gw, ref->gw_abs, &r.at[XT_LIN_GW]);
    if (gb) r.e[XT_LIN_GB] = XT_FN(lin_err)(gb, 1, L->classes, L->classes, ref->ce.bias, ref->ce.bias_abs,
                                            &r.at[XT_LIN_GB]);
    if (z && L->opts.z_loss != 0) {
        /* z = lambda*lse^2 errs by 2*lambda*|lse|*(the lse's error) */
        size_t nz = nloss;
        long double lam = (long double)L->opts.z_loss, lmax = 1;
        for (i = 0; i < rows; i++)
            if (fabsl(ref->ce.lse[i]) > lmax) lmax = fabsl(ref->ce.lse[i]);
        for (i = 0; i < nz; i++) {
            zr[i] = (XT_REAL)z[i]; /* z_loss_out is double; measured at the element type's precision */
            zref[i] = nz == rows ? ref->ce.z_rows[i] : ref->ce.z_red;
            zsc[i] = fmaxl(fmaxl(1, fabsl(zref[i])), 2 * lam * lmax * (nz == rows ? fmaxl(1, ref->o_abs[i]) : omax));
        }
        r.e[XT_LIN_Z] = XT_FN(lin_err)(zr, nz, 1, 1, zref, zsc, &r.at[XT_LIN_Z]);
    }
    free(sc), free(zref), free(zsc), free(zr);
    return r;
}

/* The unfused pipeline on L's inputs and options: GEMM logits (+ bias in the element type), the plain cross-entropy
   (xent_cross_entropy_ex_*), GEMM gradients; its errors against ref. */
static int XT_FN(lin_unfused)(const XT_FN(xt_lin) * L, const xt_ref_linear_out *ref, XT_FN(lin_errs) * out)
{
    size_t i, j, rows = L->rows, C = L->classes, D = L->dim;
    XT_REAL *o = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * C + 1));
    XT_REAL *g = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * C + 1));
    XT_REAL *gh = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * D + 1));
    XT_REAL *gw = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (C * D + 1));
    XT_REAL *gb = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (C + 1));
    XT_REAL *loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 1));
    XT_REAL *lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 1));
    double *z = (double *)xt_alloc(sizeof(double) * (rows + 1));
    xent_options opts = L->opts;
    xent_status st;
    opts.z_loss_out = z;
    XT_FN(xt_lin_gemm)(0, 1, rows, C, D, L->h, L->hs, L->w, L->ws, o, C);
    if (L->b)
        for (i = 0; i < rows; i++)
            for (j = 0; j < C; j++) o[i * C + j] += L->b[j];
    st = XT_FN(xent_cross_entropy_ex)(o, rows, C, C, L->labels, &opts, loss, g, C, lse, gb);
    if (st == XENT_OK) {
        XT_FN(xt_lin_gemm)(0, 0, rows, D, C, g, C, L->w, L->ws, gh, D);
        XT_FN(xt_lin_gemm)(1, 0, C, D, rows, g, C, L->h, L->hs, gw, D);
        *out = XT_FN(lin_measure)(L, ref, loss, lse, gh, D, gw, D, gb, z);
    }
    free(o), free(g), free(gh), free(gw), free(gb), free(loss), free(lse), free(z);
    return st == XENT_OK;
}

/* Runs L (outputs prefilled with the canary), checks the status and the message, the results against the
   reference (f64: tol; f32: within 2x the unfused pipeline's error), and that nothing past the outputs' elements
   was written. */
static void XT_FN(lin_verify)(XT_FN(xt_lin) * L, const char *name)
{
    xt_ref_linear_out ref;
    XT_FN(lin_errs) fused, unf;
    xent_status st;
    size_t i, j, nloss = L->opts.reduction == XENT_REDUCTION_NONE ? L->rows : 1;
    int k, pad_ok = 1;
    xt_set_case("linear %s: %s (rows %lu dim %lu classes %lu, strides %lu/%lu/%lu/%lu, %s)", XT_TYPE_NAME, name,
                (unsigned long)L->rows, (unsigned long)L->dim, (unsigned long)L->classes, (unsigned long)L->hs,
                (unsigned long)L->ws, (unsigned long)L->ghs, (unsigned long)L->gws, L->b ? "bias" : "no bias");
    XT_FN(lin_fill_outputs)(L);
    if (L->opts.z_loss != 0) L->opts.z_loss_out = L->z;
    st = XT_FN(lin_call)(L);
    L->opts.z_loss_out = NULL;
    if (!xt_check_status(st, XENT_OK, "call")) return;
    xt_check(xent_last_error_message()[0] == '\0', "message after success: \"%s\"", xent_last_error_message());
    XT_FN(lin_ref)(L, &ref);
    fused = XT_FN(lin_measure)(L, &ref, L->loss, L->want_lse ? L->lse : NULL, L->want_gh ? L->gh : NULL, L->ghs,
                               L->want_gw ? L->gw : NULL, L->gws, L->want_gb ? L->gb : NULL,
                               L->opts.z_loss != 0 ? L->z : NULL);
    if (sizeof(XT_REAL) == sizeof(double)) {
        for (k = 0; k < XT_LIN_NOUT; k++)
            xt_check(fused.e[k] <= 1e-12, "%s: error %.3g (x scale) > 1e-12 at element %lu", xt_lin_out_name[k],
                     fused.e[k], (unsigned long)fused.at[k]);
    } else {
        for (k = 0; k < XT_LIN_NOUT; k++)
            xt_check(fused.e[k] <= 1e-4, "%s: error %.3g (x scale) > 1e-4 at element %lu", xt_lin_out_name[k],
                     fused.e[k], (unsigned long)fused.at[k]);
        if (xt_check(XT_FN(lin_unfused)(L, &ref, &unf), "the unfused pipeline failed: %s",
                     xent_last_error_message())) {
            for (k = 0; k < XT_LIN_Z; k++)
                xt_check(fused.e[k] <= 2 * unf.e[k] + FLT_EPSILON,
                         "%s: fused error %.3g > 2 x the unfused pipeline's %.3g + FLT_EPSILON (element %lu)",
                         xt_lin_out_name[k], fused.e[k], unf.e[k], (unsigned long)fused.at[k]);
            if (xt_lin_print == 1)
                printf("| %s%s | %.2g / %.2g | %.2g / %.2g | %.2g / %.2g | %.2g / %.2g | %.2g / %.2g |\n", xt_get_case(),
                       "", fused.e[0], unf.e[0], fused.e[1], unf.e[1], fused.e[2], unf.e[2], fused.e[3], unf.e[3],
                       fused.e[4], unf.e[4]);
        }
    }
    /* nothing written past the outputs' elements (stride padding, the values after them) */
    for (i = 0; i < L->rows && L->want_gh; i++)
        for (j = L->dim; j < L->ghs; j++) pad_ok &= L->gh[i * L->ghs + j] == XT_CANARY;
    for (i = 0; i < L->classes && L->want_gw; i++)
        for (j = L->dim; j < L->gws; j++) pad_ok &= L->gw[i * L->gws + j] == XT_CANARY;
    pad_ok &= XT_FN(xt_untouched)(L->loss + nloss, L->rows + 4 - nloss);
    pad_ok &= XT_FN(xt_untouched)(L->gh + L->rows * L->ghs, 4) || !L->want_gh;
    pad_ok &= XT_FN(xt_untouched)(L->gw + L->classes * L->gws, 4);
    pad_ok &= XT_FN(xt_untouched)(L->gb + L->classes, 4) && XT_FN(xt_untouched)(L->lse + L->rows, 4);
    xt_check(pad_ok, "stride padding or values past an output were written");
    if (!L->want_gh) xt_check(XT_FN(xt_untouched)(L->gh, L->rows * L->ghs), "grad_hidden (not asked for) written");
    if (!L->want_gw) xt_check(XT_FN(xt_untouched)(L->gw, L->classes * L->gws), "grad_weight (not asked for) written");
    if (!L->want_gb) xt_check(XT_FN(xt_untouched)(L->gb, L->classes), "grad_bias (not asked for) written");
    if (!L->want_lse) xt_check(XT_FN(xt_untouched)(L->lse, L->rows), "lse (not asked for) written");
    xt_ref_linear_free(&ref);
}

/* ---- Options, strides, bias ------------------------------------------------------------------------------ */

static void XT_FN(lin_options_sweep)(void)
{
    int cfg, bias, pad;
    for (cfg = 0; cfg < 12; cfg++)
        for (bias = 0; bias <= 1; bias++)
            for (pad = 0; pad <= 1; pad++) {
                XT_FN(xt_lin) L;
                const char *name = "";
                size_t i;
                XT_FN(lin_init)(&L, 37, 19, 45, pad, bias);
                for (i = 0; i < L.rows; i += 5) L.labels[i] = -100;
                switch (cfg) {
                case 0:
                case 1:
                case 2:
                case 3:
                case 4:
                case 5: name = xt_lin_basic_case(cfg, &L.opts, L.labels, L.rows); break;
                case 6: name = "z-loss 1e-3 (z_loss_out), NONE", L.opts.z_loss = 1e-3f, L.opts.reduction = 0; break;
                case 7: name = "z-loss 1e-2 (z_loss_out), MEAN", L.opts.z_loss = 1e-2f; break;
                case 8: name = "soft cap 3", L.opts.soft_cap = 3.0f; break;
                case 9: name = "class weights", L.opts.class_weights = L.cw; break;
                case 10:
                    name = "everything: weights, smoothing, soft cap, z-loss, grad_scale, NONE";
                    L.opts.class_weights = L.cw, L.opts.label_smoothing = 0.2f, L.opts.soft_cap = 2.0f;
                    L.opts.z_loss = 1e-3f, L.opts.grad_scale = 0.5f, L.opts.reduction = 0;
                    break;
                default:
                    name = "loss only (no gradients, no lse)";
                    L.want_gh = L.want_gw = L.want_gb = L.want_lse = 0;
                    break;
                }
                XT_FN(lin_verify)(&L, name);
                if (cfg == 4 && pad) { /* a gradient not asked for is not written; the others are still right */
                    L.want_gh = 0;
                    XT_FN(lin_verify)(&L, "smoothing 0.1, no grad_hidden");
                    L.want_gh = 1, L.want_gw = 0, L.want_lse = 0;
                    XT_FN(lin_verify)(&L, "smoothing 0.1, no grad_weight, no lse");
                    L.want_gw = 1, L.want_gb = 0;
                    XT_FN(lin_verify)(&L, "smoothing 0.1, no grad_bias");
                }
                XT_FN(lin_free)(&L);
            }
}

/* Every class-count tail 1..33 (and 1 class), then 70001 classes with few rows. */
static void XT_FN(lin_class_tails)(void)
{
    size_t c;
    for (c = 1; c <= 33; c++) {
        XT_FN(xt_lin) L;
        XT_FN(lin_init)(&L, 5, 7, c, (int)(c % 2), 1);
        L.opts.reduction = XENT_REDUCTION_NONE;
        L.opts.label_smoothing = c > 1 ? 0.05f : 0.0f;
        XT_FN(lin_verify)(&L, "class tail");
        XT_FN(lin_free)(&L);
    }
    {
        XT_FN(xt_lin) L;
        XT_FN(lin_init)(&L, 3, 5, 70001, 1, 1);
        L.labels[1] = 70000;
        L.opts.label_smoothing = 0.1f;
        XT_FN(lin_verify)(&L, "70001 classes");
        XT_FN(lin_free)(&L);
    }
}

/* ---- rows 0, every row ignored, accumulate ----------------------------------------------------------------- */

static void XT_FN(lin_edges)(void)
{
    XT_FN(xt_lin) L;
    int red, acc;
    size_t i;
    XT_FN(lin_init)(&L, 0, 6, 9, 1, 1);
    for (red = 0; red < 3; red++)
        for (acc = 0; acc <= 1; acc++) {
            xt_set_case("linear %s: rows 0, reduction %d, accumulate %d", XT_TYPE_NAME, red, acc);
            XT_FN(lin_fill_outputs)(&L);
            for (i = 0; i < L.classes * L.gws; i++) L.gw[i] = (XT_REAL)0.5;
            for (i = 0; i < L.classes; i++) L.gb[i] = (XT_REAL)-0.25;
            L.opts.reduction = red;
            L.opts.accumulate = acc;
            XT_EXPECT_OK(XT_FN(lin_call)(&L));
            if (red == XENT_REDUCTION_NONE) XT_CHECK(L.loss[0] == XT_CANARY, "NONE with rows 0 wrote loss[0]");
            else XT_CHECK(L.loss[0] == 0, "loss %g, want 0", (double)L.loss[0]);
            for (i = 0; i < L.classes; i++) {
                size_t j;
                int ok = 1;
                for (j = 0; j < L.dim; j++) ok &= L.gw[i * L.gws + j] == (acc ? (XT_REAL)0.5 : 0);
                for (j = L.dim; j < L.gws; j++) ok &= L.gw[i * L.gws + j] == (XT_REAL)0.5; /* padding */
                XT_CHECK(ok, "grad_weight row %lu: want %s", (unsigned long)i, acc ? "unchanged" : "zero");
                XT_CHECK(L.gb[i] == (acc ? (XT_REAL)-0.25 : 0), "grad_bias[%lu] = %g", (unsigned long)i,
                         (double)L.gb[i]);
            }
        }
    XT_FN(lin_free)(&L);

    /* every row ignored: loss 0 (MEAN divides 0 by 0 weight: 0, not NaN), gradients zero, lse finite */
    XT_FN(lin_init)(&L, 6, 4, 11, 0, 1);
    for (i = 0; i < L.rows; i++) L.labels[i] = -100;
    for (red = 0; red < 3; red++) {
        L.opts.reduction = red;
        L.opts.class_weights = red == 2 ? L.cw : NULL;
        XT_FN(lin_verify)(&L, "every row ignored");
        XT_CHECK(L.loss[0] == 0 && !isnan(L.loss[0]), "loss %g, want 0", (double)L.loss[0]);
        for (i = 0; i < L.rows * L.dim; i++) XT_CHECK(L.gh[i] == 0, "grad_hidden[%lu] %g", (unsigned long)i, L.gh[i]);
        for (i = 0; i < L.classes * L.dim; i++)
            XT_CHECK(L.gw[i] == 0, "grad_weight[%lu] %g", (unsigned long)i, (double)L.gw[i]);
    }
    XT_FN(lin_free)(&L);

    /* accumulate: once plain, then accumulating onto it gives twice; onto arbitrary values P + grads */
    {
        XT_FN(xt_lin) A;
        xt_ref_linear_out ref;
        XT_REAL *gw1, *gb1, *p;
        int ok_w = 1, ok_b = 1;
        XT_FN(lin_init)(&A, 50, 12, 30, 1, 1);
        A.opts.label_smoothing = 0.1f;
        A.opts.workspace_bytes = 7 * 30 * sizeof(XT_REAL) + 2 * 30 * sizeof(double); /* several row blocks */
        xt_set_case("linear %s: accumulate", XT_TYPE_NAME);
        XT_FN(lin_fill_outputs)(&A);
        XT_EXPECT_OK(XT_FN(lin_call)(&A));
        gw1 = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * A.classes * A.gws);
        gb1 = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * A.classes);
        p = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * A.classes * A.gws);
        memcpy(gw1, A.gw, sizeof(XT_REAL) * A.classes * A.gws);
        memcpy(gb1, A.gb, sizeof(XT_REAL) * A.classes);
        A.opts.accumulate = 1;
        XT_EXPECT_OK(XT_FN(lin_call)(&A));
        for (i = 0; i < A.classes; i++) {
            size_t j;
            for (j = 0; j < A.dim; j++)
                ok_w &= xt_close_scaled(A.gw[i * A.gws + j], 2 * (long double)gw1[i * A.gws + j], 4 * XT_TOL,
                                        fabsl((long double)gw1[i * A.gws + j]) + 1e-3L);
            for (j = A.dim; j < A.gws; j++) ok_w &= A.gw[i * A.gws + j] == XT_CANARY;
            ok_b &= xt_close_scaled(A.gb[i], 2 * (long double)gb1[i], 4 * XT_TOL, 1e-3L);
        }
        XT_CHECK(ok_w, "accumulate twice: grad_weight is not 2x (or its padding was written)");
        XT_CHECK(ok_b, "accumulate twice: grad_bias is not 2x");
        /* onto arbitrary values: P + G^T h against the reference */
        XT_FN(lin_ref)(&A, &ref);
        XT_FN(xt_fill_random)(p, A.classes, A.dim, A.gws, -3, 3);
        for (i = 0; i < A.classes; i++) {
            size_t j;
            for (j = 0; j < A.dim; j++) A.gw[i * A.gws + j] = p[i * A.gws + j];
            A.gb[i] = (XT_REAL)(0.125 * (double)i);
        }
        XT_EXPECT_OK(XT_FN(lin_call)(&A));
        ok_w = ok_b = 1;
        for (i = 0; i < A.classes; i++) {
            size_t j;
            for (j = 0; j < A.dim; j++)
                ok_w &= xt_close_scaled(A.gw[i * A.gws + j], (long double)p[i * A.gws + j] + ref.gw[i * A.dim + j],
                                        4 * XT_TOL, 1 + ref.gw_abs[i * A.dim + j]);
            ok_b &= xt_close_scaled(A.gb[i], 0.125L * (long double)i + ref.ce.bias[i], 4 * XT_TOL,
                                    1 + ref.ce.bias_abs[i]);
        }
        XT_CHECK(ok_w, "accumulate onto P: grad_weight != P + G^T h");
        XT_CHECK(ok_b, "accumulate onto P: grad_bias != P + sum G");
        xt_ref_linear_free(&ref);
        free(gw1), free(gb1), free(p);
        XT_FN(lin_free)(&A);
    }
}

/* The least workspace_bytes L's call accepts (bisection between one row of logits + the bias sums, which must be
   refused one byte below, and 64 KiB more, which must be accepted). */
static size_t XT_FN(lin_least_workspace)(XT_FN(xt_lin) * L)
{
    size_t least = L->classes * sizeof(XT_REAL) + (sizeof(XT_REAL) == 8 ? 2 : 1) * L->classes * sizeof(double);
    size_t lo = least - 1, hi = least + 65536, keep = L->opts.workspace_bytes;
    L->opts.workspace_bytes = lo;
    XT_CHECK(XT_FN(lin_call)(L) == XENT_ERR_INVALID_OPTION, "workspace %lu (below one row + the sums) accepted",
             (unsigned long)lo);
    L->opts.workspace_bytes = hi;
    if (!XT_CHECK(XT_FN(lin_call)(L) == XENT_OK, "workspace %lu refused", (unsigned long)hi)) return hi;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        L->opts.workspace_bytes = mid;
        if (XT_FN(lin_call)(L) == XENT_OK) hi = mid;
        else lo = mid;
    }
    L->opts.workspace_bytes = keep;
    return hi;
}

/* ---- Workspace, threads ----------------------------------------------------------------------------------- */

static void XT_FN(lin_blocks_threads)(void)
{
    static const int32_t threads[3] = {1, 2, 3};
    XT_FN(xt_lin) L;
    XT_REAL *base[5];
    size_t sizes[5];
    int t, k, ws;
    XT_FN(lin_init)(&L, 203, 40, 700, 1, 1);
    L.opts.label_smoothing = 0.05f;
    L.opts.z_loss = 1e-4f;
    L.opts.reduction = XENT_REDUCTION_NONE;
    sizes[0] = L.rows, sizes[1] = L.rows * L.ghs, sizes[2] = L.classes * L.gws, sizes[3] = L.classes;
    sizes[4] = L.rows;
    for (k = 0; k < 5; k++) base[k] = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * sizes[k]);
    for (ws = 0; ws < 3; ws++) {
        /* 0: the default (one block); 1: about 5 rows a block; 2: the least accepted (one row a block) */
        size_t rowb = L.classes * sizeof(XT_REAL), biasb = (sizeof(XT_REAL) == 8 ? 2 : 1) * L.classes * 8;
        L.opts.workspace_bytes = ws == 0 ? 0 : ws == 1 ? 5 * rowb + biasb : XT_FN(lin_least_workspace)(&L);
        for (t = 0; t < 3; t++) {
            XT_REAL *outs[5];
            char name[96];
            outs[0] = L.loss, outs[1] = L.gh, outs[2] = L.gw, outs[3] = L.gb, outs[4] = L.lse;
            L.opts.num_threads = threads[t];
            snprintf(name, sizeof name, "workspace %lu bytes, num_threads %d", (unsigned long)L.opts.workspace_bytes,
                     (int)threads[t]);
            if (t == 0) XT_FN(lin_verify)(&L, name);
            else {
                xt_set_case("linear %s: %s", XT_TYPE_NAME, name);
                XT_FN(lin_fill_outputs)(&L);
                XT_EXPECT_OK(XT_FN(lin_call)(&L));
            }
            for (k = 0; k < 5; k++) {
                if (t == 0) memcpy(base[k], outs[k], sizeof(XT_REAL) * sizes[k]);
                else
                    XT_CHECK(memcmp(base[k], outs[k], sizeof(XT_REAL) * sizes[k]) == 0,
                             "output %d differs from num_threads 1 (must be bit-identical)", k);
            }
        }
    }
    for (k = 0; k < 5; k++) free(base[k]);
    XT_FN(lin_free)(&L);
}

/* The kept workspace (1.4.0): a call that reuses the block another call kept -- larger, full of that call's
   logits, gradients and sums, with NaN and infinities among them -- gives the same bits as a call with a fresh
   block; xent_release_workspace returns the kept block's size, then 0. */
static void XT_FN(lin_kept_workspace)(void)
{
    XT_FN(xt_lin) A, B;
    XT_REAL *fresh[5], *outs[5];
    size_t sizes[5], freed, again;
    int k, round;
    XT_FN(lin_init)(&B, 37, 12, 2100, 1, 1);
    B.opts.label_smoothing = 0.1f, B.opts.soft_cap = 20, B.opts.class_weights = B.cw; /* G beside the logits */
    B.opts.reduction = XENT_REDUCTION_NONE;
    XT_FN(lin_init)(&A, 61, 7, 4200, 0, 1); /* a larger workspace than B's */
    A.h[5 * A.hs + 3] = (XT_REAL)NAN, A.b[9] = (XT_REAL)INFINITY, A.b[10] = (XT_REAL)-INFINITY;
    A.opts.label_smoothing = 0.2f;
    sizes[0] = B.rows, sizes[1] = B.rows * B.ghs, sizes[2] = B.classes * B.gws, sizes[3] = B.classes;
    sizes[4] = B.rows;
    outs[0] = B.loss, outs[1] = B.gh, outs[2] = B.gw, outs[3] = B.gb, outs[4] = B.lse;
    xt_set_case("linear %s: the kept workspace", XT_TYPE_NAME);
    for (round = 0; round < 3; round++) {
        /* round 0: a fresh block; 1: A's block, kept; 2: A's again after a loss-only call of A */
        xent_release_workspace();
        if (round > 0) XT_EXPECT_OK(XT_FN(lin_call)(&A));
        if (round == 2) {
            A.want_gh = A.want_gw = A.want_gb = 0;
            XT_EXPECT_OK(XT_FN(lin_call)(&A));
        }
        XT_FN(lin_fill_outputs)(&B);
        XT_EXPECT_OK(XT_FN(lin_call)(&B));
        for (k = 0; k < 5; k++) {
            if (round == 0) {
                fresh[k] = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * sizes[k]);
                memcpy(fresh[k], outs[k], sizeof(XT_REAL) * sizes[k]);
            } else
                XT_CHECK(memcmp(fresh[k], outs[k], sizeof(XT_REAL) * sizes[k]) == 0,
                         "round %d: output %d differs from the call with a fresh workspace", round, k);
        }
    }
    freed = xent_release_workspace();
    again = xent_release_workspace();
    XT_CHECK(freed > 0 && again == 0, "xent_release_workspace returned %lu then %lu (want > 0, then 0)",
             (unsigned long)freed, (unsigned long)again);
    for (k = 0; k < 5; k++) free(fresh[k]);
    XT_FN(lin_free)(&A);
    XT_FN(lin_free)(&B);
}

/* ---- Special values ------------------------------------------------------------------------------------------ */

static void XT_FN(lin_special)(void)
{
    XT_FN(xt_lin) L;
    size_t i, j, masked[3] = {2, 17, 29};
    int ok = 1;
    /* -inf bias masks its class: probability 0; without smoothing its grad_weight row and grad_bias are exactly 0 */
    XT_FN(lin_init)(&L, 40, 9, 31, 1, 1);
    for (i = 0; i < 3; i++) L.b[masked[i]] = (XT_REAL)-INFINITY;
    for (i = 0; i < L.rows; i++)
        while (L.labels[i] == 2 || L.labels[i] == 17 || L.labels[i] == 29) L.labels[i] = (int64_t)xt_rand_index(31);
    L.opts.reduction = XENT_REDUCTION_NONE;
    XT_FN(lin_verify)(&L, "-inf bias masks classes 2, 17, 29");
    for (i = 0; i < 3; i++) {
        for (j = 0; j < L.dim; j++) ok &= L.gw[masked[i] * L.gws + j] == 0;
        ok &= L.gb[masked[i]] == 0;
    }
    XT_CHECK(ok, "masked classes' grad_weight rows and grad_bias entries are not exactly 0");
    for (i = 0; i < L.rows; i++) ok &= isfinite(L.loss[i]) && isfinite(L.lse[i]);
    XT_CHECK(ok, "a loss or lse is not finite with masked classes");
    L.opts.label_smoothing = 0.1f; /* smoothing puts weight on the masked class: loss +inf, as for the plain call */
    XT_FN(lin_verify)(&L, "-inf bias with smoothing");

    /* a NaN in hidden row 2: that row's loss, lse and grad_hidden are NaN; the other rows exact; grad_weight and
       grad_bias, sums over the rows, NaN */
    L.opts.label_smoothing = 0;
    for (i = 0; i < 3; i++) L.b[masked[i]] = (XT_REAL)0.5;
    L.h[2 * L.hs + 4] = (XT_REAL)NAN;
    XT_FN(lin_verify)(&L, "NaN in hidden row 2");
    ok = isnan(L.loss[2]) && isnan(L.lse[2]);
    for (j = 0; j < L.dim; j++) ok &= isnan(L.gh[2 * L.ghs + j]) != 0;
    XT_CHECK(ok, "row 2: loss %g lse %g, grad_hidden must be NaN", (double)L.loss[2], (double)L.lse[2]);
    ok = 1;
    for (i = 0; i < L.rows; i++)
        if (i != 2) {
            ok &= isfinite(L.loss[i]) && isfinite(L.lse[i]);
            for (j = 0; j < L.dim; j++) ok &= isfinite(L.gh[i * L.ghs + j]) != 0;
        }
    XT_CHECK(ok, "a row other than 2 is not finite");
    ok = 1;
    for (i = 0; i < L.classes; i++) {
        ok &= isnan(L.gb[i]) != 0;
        for (j = 0; j < L.dim; j++) ok &= isnan(L.gw[i * L.gws + j]) != 0;
    }
    XT_CHECK(ok, "grad_weight and grad_bias must be NaN (sums over a NaN row)");
    L.opts.reduction = XENT_REDUCTION_MEAN;
    XT_FN(lin_verify)(&L, "NaN in hidden row 2, MEAN");
    XT_CHECK(isnan(L.loss[0]), "MEAN loss with a NaN row: %g", (double)L.loss[0]);
    XT_FN(lin_free)(&L);
}

/* ---- The growth of grad_weight's error with rows (XENT_TEST_LINEAR_TABLE=1) --------------------------------- */

void XT_FN(xt_linear_growth_rows)(size_t rows, size_t blocks_of, double *fused, double *unfused, double *fused_norm,
                                  double *unfused_norm)
{
    XT_FN(xt_lin) L;
    xt_ref_linear_out ref;
    XT_FN(lin_errs) f, u;
    size_t i, n;
    long double num = 0, den = 0, unum = 0;
    XT_REAL *gw;
    XT_FN(lin_init)(&L, rows, 64, 1000, 0, 1);
    L.opts.workspace_bytes = blocks_of * L.classes * sizeof(XT_REAL) + 2 * L.classes * sizeof(double);
    L.opts.z_loss_out = NULL;
    XT_FN(lin_fill_outputs)(&L);
    if (XT_FN(lin_call)(&L) != XENT_OK) {
        *fused = *unfused = *fused_norm = *unfused_norm = NAN;
        XT_FN(lin_free)(&L);
        return;
    }
    XT_FN(lin_ref)(&L, &ref);
    f = XT_FN(lin_measure)(&L, &ref, L.loss, L.lse, L.gh, L.ghs, L.gw, L.gws, L.gb, NULL);
    n = L.classes * L.dim;
    gw = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * n);
    memcpy(gw, L.gw, sizeof(XT_REAL) * n);
    XT_FN(lin_unfused)(&L, &ref, &u);
    /* normwise too: ||got - ref||_max / ||ref||_max */
    for (i = 0; i < n; i++) {
        long double e = fabsl((long double)gw[i] - ref.gw[i]);
        if (e > num) num = e;
        if (fabsl(ref.gw[i]) > den) den = fabsl(ref.gw[i]);
    }
    {
        /* the unfused grad_weight again, for its normwise error */
        XT_REAL *g = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * L.classes));
        XT_REAL *o = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * L.classes));
        XT_REAL *ug = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * n), *l = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * 2);
        size_t j;
        XT_FN(xt_lin_gemm)(0, 1, rows, L.classes, L.dim, L.h, L.hs, L.w, L.ws, o, L.classes);
        for (i = 0; i < rows; i++)
            for (j = 0; j < L.classes; j++) o[i * L.classes + j] += L.b[j];
        XT_FN(xent_cross_entropy_ex)(o, rows, L.classes, L.classes, L.labels, &L.opts, l, g, L.classes, NULL, NULL);
        XT_FN(xt_lin_gemm)(1, 0, L.classes, L.dim, rows, g, L.classes, L.h, L.hs, ug, L.dim);
        for (i = 0; i < n; i++) {
            long double e = fabsl((long double)ug[i] - ref.gw[i]);
            if (e > unum) unum = e;
        }
        free(g), free(o), free(ug), free(l);
    }
    *fused = f.e[XT_LIN_GW];
    *unfused = u.e[XT_LIN_GW];
    *fused_norm = (double)(num / den);
    *unfused_norm = (double)(unum / den);
    free(gw);
    xt_ref_linear_free(&ref);
    XT_FN(lin_free)(&L);
}

void XT_FN(xt_test_linear)(void)
{
    XT_FN(lin_options_sweep)();
    XT_FN(lin_class_tails)();
    XT_FN(lin_edges)();
    XT_FN(lin_blocks_threads)();
    XT_FN(lin_kept_workspace)();
    XT_FN(lin_special)();
}

#endif /* XT_REAL */
