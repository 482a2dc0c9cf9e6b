/*
 * test_linear_sharded.c -- the linear cross-entropy over a sharded vocabulary (1.3.0): the weight's classes split
 * into shards, xent_linear_partial_stats_f32/_f64 on each, xent_merge_stats left to right, xent_finalize_stats_*,
 * then xent_linear_grad_from_stats_* on each shard (grad_hidden summed over the shards in long double; each
 * shard's grad_weight rows and grad_bias entries written in place in whole arrays), against the unsharded
 * xent_linear_cross_entropy_* call and the long double reference (xt_ref_linear on the whole weight).
 *
 * Accuracy (the header's bound). Every output (loss, lse, the gradients, finalize's z_loss_out) against the
 * reference with test_linear.c's metric (|got - ref| over the magnitude of the sum that produced it, floored at 1e-2
 * of the output's largest): f64 <= 1e-12; f32 <= 2 x the unfused float32 pipeline's error (sgemm logits,
 * xent_cross_entropy_ex_f32, sgemm gradients) + FLT_EPSILON, and 1e-4: the unsharded call's bound. A reduced loss
 * within 1 ulp (f32) / 1e-14 relative (f64) of the unsharded call's, when the BLAS forms every shard's logits as
 * the whole weight's (checked: one GEMM per shard against one of the whole weight, bitwise) and the workspace is
 * the default. Per-row loss and lse against the unsharded call are measured only (the note).
 * Coverage: splits (one shard, even, 1 | 17 | rest, a shard holding no label), every reduction, ignored rows, every
 * row ignored, smoothing (the global class count), grad_scale, z-loss (its gradient; z_loss_out from finalize, the
 * same options struct passed to every call), soft cap, no bias, padded strides, pointers one element off, each
 * gradient alone, accumulate, class counts 1..33 and shards across the 2048-class tiles, rows 0, small workspaces
 * (many row blocks; the header's least), num_threads 1/2/3 bit-identical, -inf bias masking, a NaN hidden row; the
 * refusals (status, message, nothing written: one arena compared with its snapshot).
 * A note per element type prints the largest differences and errors measured.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#include <cblas.h>

/* The largest values measured, per element type: against the unsharded call in units of the 1-ulp bound (ulp for
   f32, 1e-14 relative for f64) the reduced loss where the bound applies (and how often it did) and per-row loss and
   lse; every output's error x scale against the reference, sharded and unsharded. */
typedef struct ls_seen_t {
    double reduced, rows, err_s[XT_LIN_NOUT], err_u[XT_LIN_NOUT];
    int applied;
} ls_seen_t;
static ls_seen_t ls_seen[2];

/* The arguments of the refusal tests, by position in one arena: PST the partial statistics (output), ST merged
   statistics (grad_from_stats' input), CW class weights. */
enum { SA_H, SA_W, SA_B, SA_LAB, SA_PST, SA_ST, SA_GH, SA_GW, SA_GB, SA_CW, SA_N };
static const char *const ls_arg_name[SA_N] = {"hidden",      "weight",      "bias",      "labels",       "stats",
                                              "merged stats", "grad_hidden", "grad_weight", "grad_bias", "weights"};

#define XT_TYPED_FILE "test_linear_sharded.c"
#include "xt_instantiate.h"

void xt_test_linear_sharded(void)
{
    int t, k;
    for (t = 0; t < 2; t++) {
        ls_seen_t *s = &ls_seen[t];
        if (t == 0) ls_all_f32();
        else ls_all_f64();
        printf("note [%s]: linear sharded %s vs unsharded: reduced loss <= %.3g %s (%d cases), per-row loss/lse <= "
               "%.3g; error x scale sharded/unsharded:",
               xt_get_tag(), t ? "f64" : "f32", t ? s->reduced * 1e-14 : s->reduced, t ? "relative" : "ulp", s->applied,
               t ? s->rows * 1e-14 : s->rows);
        for (k = 0; k < XT_LIN_NOUT; k++)
            printf(" %s %.2g/%.2g%s", xt_lin_out_name[k], s->err_s[k], s->err_u[k], k + 1 < XT_LIN_NOUT ? "," : "\n");
    }
}

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

typedef struct XT_FN(xt_ls) {
    size_t rows, dim, classes, hs, ws, ghs, gws, off, cut[5];
    int shards, want_gh, want_gw, want_gb;
    XT_REAL *h, *w, *b; /* b NULL: no bias */
    int64_t *labels;
    xent_options opts;
    XT_REAL *uloss, *ulse, *ugh, *ugw, *ugb; /* the unsharded call's outputs */
    XT_REAL *sloss, *slse, *sgh, *sgw, *sgb; /* the shards' (sgh: their grad_hidden summed) */
    XT_REAL *part;                           /* one shard's grad_hidden */
    double *uz, *sz;                         /* z_loss_out (z_loss != 0) */
    xt_ref_linear_out ref;                   /* the reference, kept across verifications when keep_ref */
    int have_ref, keep_ref;
    long double *ghsum;
    xent_stats *merged, *stats;
    void *mem[22];
    int nmem;
} XT_FN(xt_ls);

/* Every output and 4 values past it filled with the canary (grad_weight and grad_bias too when grads). */
static void XT_FN(ls_fill_outputs)(XT_FN(xt_ls) * L, int grads)
{
    size_t k, R = L->rows;
    XT_REAL *p[7];
    p[0] = L->uloss, p[1] = L->sloss, p[2] = L->ulse, p[3] = L->slse, p[4] = L->ugh, p[5] = L->sgh, p[6] = L->part;
    for (k = 0; k < 7; k++) XT_FN(xt_fill_const)(p[k], (k < 4 ? R + 1 : R * L->ghs) + 4, XT_CANARY);
    for (k = 0; k < R + 5; k++) L->uz[k] = L->sz[k] = (double)XT_CANARY;
    if (!grads) return;
    XT_FN(xt_fill_const)(L->ugw, L->classes * L->gws + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->sgw, L->classes * L->gws + 4, XT_CANARY);
    XT_FN(xt_fill_const)(L->ugb, L->classes + 4, XT_CANARY), XT_FN(xt_fill_const)(L->sgb, L->classes + 4, XT_CANARY);
}

/* n elements, 5 more (the canary's) and one before them when L->off. */
static void *XT_FN(ls_block)(XT_FN(xt_ls) * L, size_t n, size_t size)
{
    char *p = (char *)xt_alloc(size * (n + 6));
    L->mem[L->nmem++] = p;
    return p + size * L->off;
}

/* Padded strides: hidden +3, weight +5, grad_hidden +2, grad_weight +7 (pad = 1), else all = dim; off: every
   array starts one element into its block. One shard until ls_split / ls_cuts. */
static void XT_FN(ls_init)(XT_FN(xt_ls) * L, size_t rows, size_t dim, size_t classes, int pad, int bias, int off)
{
    size_t i, R = rows, C = classes, E = sizeof(XT_REAL);
    memset(L, 0, sizeof *L);
    L->rows = R, L->dim = dim, L->classes = C, L->off = (size_t)off;
    L->hs = dim + (pad ? 3 : 0), L->ws = dim + (pad ? 5 : 0), L->ghs = dim + (pad ? 2 : 0), L->gws = dim + (pad ? 7 : 0);
    L->h = (XT_REAL *)XT_FN(ls_block)(L, R * L->hs, E), L->w = (XT_REAL *)XT_FN(ls_block)(L, C * L->ws, E);
    L->b = (XT_REAL *)XT_FN(ls_block)(L, C, E), L->labels = (int64_t *)XT_FN(ls_block)(L, R, 8);
    L->uloss = (XT_REAL *)XT_FN(ls_block)(L, R + 1, E), L->sloss = (XT_REAL *)XT_FN(ls_block)(L, R + 1, E);
    L->ulse = (XT_REAL *)XT_FN(ls_block)(L, R + 1, E), L->slse = (XT_REAL *)XT_FN(ls_block)(L, R + 1, E);
    L->ugh = (XT_REAL *)XT_FN(ls_block)(L, R * L->ghs, E), L->sgh = (XT_REAL *)XT_FN(ls_block)(L, R * L->ghs, E);
    L->part = (XT_REAL *)XT_FN(ls_block)(L, R * L->ghs, E);
    L->ugw = (XT_REAL *)XT_FN(ls_block)(L, C * L->gws, E), L->sgw = (XT_REAL *)XT_FN(ls_block)(L, C * L->gws, E);
    L->ugb = (XT_REAL *)XT_FN(ls_block)(L, C, E), L->sgb = (XT_REAL *)XT_FN(ls_block)(L, C, E);
    L->uz = (double *)XT_FN(ls_block)(L, R, 8), L->sz = (double *)XT_FN(ls_block)(L, R, 8);
    L->ghsum = (long double *)XT_FN(ls_block)(L, R * dim, sizeof(long double));
    L->merged = (xent_stats *)XT_FN(ls_block)(L, R, sizeof(xent_stats));
    L->stats = (xent_stats *)XT_FN(ls_block)(L, R, sizeof(xent_stats));
    XT_FN(xt_fill_random)(L->h, R, dim, L->hs, -1.5, 1.5);
    XT_FN(xt_fill_random)(L->w, C, dim, L->ws, -1.5, 1.5);
    XT_FN(xt_fill_random)(L->b, 1, C, C, -1, 1);
    if (!bias) L->b = NULL;
    for (i = 0; i < R; i++) L->labels[i] = (int64_t)xt_rand_index(C);
    xent_options_init(&L->opts);
    L->want_gh = L->want_gw = L->want_gb = 1;
    L->shards = 1, L->cut[1] = C;
    XT_FN(ls_fill_outputs)(L, 1);
}

static void XT_FN(ls_free)(XT_FN(xt_ls) * L)
{
    while (L->nmem > 0) free(L->mem[--L->nmem]);
    if (L->have_ref) xt_ref_linear_free(&L->ref);
}

/* Shards cut at c[0] = 0 < c[1] < ... < c[n] = classes. */
static void XT_FN(ls_cuts)(XT_FN(xt_ls) * L, int n, const size_t *c)
{
    int k;
    L->shards = n;
    for (k = 0; k <= n; k++) L->cut[k] = c[k];
}

/* kind 0: one shard; 1: three even shards; 2: 1 | 17 | rest; 3: three shards, the middle one holding no label
   (its labels moved into the first). */
static void XT_FN(ls_split)(XT_FN(xt_ls) * L, int kind)
{
    size_t c[4], C = L->classes, i;
    c[0] = 0, c[1] = kind == 2 ? 1 : C / 3, c[2] = kind == 2 ? 18 : 2 * C / 3, c[3] = C;
    if (kind == 0) c[1] = C;
    XT_FN(ls_cuts)(L, kind == 0 ? 1 : 3, c);
    if (kind == 3)
        for (i = 0; i < L->rows; i++)
            if (L->labels[i] >= (int64_t)c[1] && L->labels[i] < (int64_t)c[2]) L->labels[i] -= (int64_t)c[1];
}

/* The header's least workspace for cols classes and dim: one row of logits, its statistics (64 bytes per 2048-class
   tile and 64 more), its parts of grad_hidden (min(tiles, 4) - 1 rows of dim), the bias sums (reserved by both
   functions, with or without grad_bias, so that both form the same row blocks), 192 bytes. */
static size_t XT_FN(ls_least)(size_t cols, size_t dim)
{
    size_t tiles = (cols + 2047) / 2048;
    return cols * sizeof(XT_REAL) + 64 * (tiles + 1) + ((tiles < 4 ? tiles : 4) - 1) * dim * sizeof(XT_REAL) +
           (sizeof(XT_REAL) == 8 ? 16 : 8) * cols + 192;
}

/* ---- The calls ------------------------------------------------------------------------------------------------ */

static xent_status XT_FN(ls_unsharded)(XT_FN(xt_ls) * L)
{
    xent_options o = L->opts;
    o.workspace_bytes = 0; /* the unsharded call: the default workspace */
    o.z_loss_out = L->opts.z_loss != 0 ? L->uz : NULL;
    return XT_FN(xent_linear_cross_entropy)(L->h, L->rows, L->dim, L->hs, L->w, L->classes, L->ws, L->b, L->labels,
                                            &o, L->uloss, L->want_gh ? L->ugh : NULL, L->ghs,
                                            L->want_gw ? L->ugw : NULL, L->gws, L->want_gb ? L->ugb : NULL, L->ulse);
}

static xent_status XT_FN(ls_partial)(XT_FN(xt_ls) * L, int k, xent_stats *out)
{
    size_t lo = L->cut[k];
    return XT_FN(xent_linear_partial_stats)(L->h, L->rows, L->dim, L->hs, L->w + lo * L->ws, L->cut[k + 1] - lo,
                                            L->ws, lo, L->classes, L->b ? L->b + lo : NULL, L->labels, &L->opts, out);
}

static xent_status XT_FN(ls_grad)(XT_FN(xt_ls) * L, int k)
{
    size_t lo = L->cut[k];
    return XT_FN(xent_linear_grad_from_stats)(
        L->h, L->rows, L->dim, L->hs, L->w + lo * L->ws, L->cut[k + 1] - lo, L->ws, lo, L->classes,
        L->b ? L->b + lo : NULL, L->labels, L->merged, &L->opts, L->want_gh ? L->part : NULL, L->ghs,
        L->want_gw ? L->sgw + lo * L->gws : NULL, L->gws, L->want_gb ? L->sgb + lo : NULL);
}

/* The sharded pipeline: every shard's statistics merged left to right, the loss and lse, every shard's gradients
   (grad_hidden summed into sgh). Checks each status, the message, and that no shard wrote grad_hidden's padding,
   past it, or at all when it was not asked for. */
static int XT_FN(ls_run)(XT_FN(xt_ls) * L)
{
    size_t i, j, R = L->rows, D = L->dim;
    int k, ok = 1;
    L->opts.z_loss_out = L->opts.z_loss != 0 ? L->sz : NULL; /* one options struct for every call */
    for (k = 0; k < L->shards && ok; k++) {
        ok = xt_check_status(XT_FN(ls_partial)(L, k, k == 0 ? L->merged : L->stats), XENT_OK, "partial stats");
        if (ok && k > 0) ok = xt_check_status(xent_merge_stats(L->merged, L->stats, L->merged, R), XENT_OK, "merge");
    }
    if (ok)
        ok = xt_check_status(XT_FN(xent_finalize_stats)(L->merged, R, L->classes, L->labels, &L->opts, L->sloss, L->slse),
                             XENT_OK, "finalize");
    for (i = 0; i < R * D; i++) L->ghsum[i] = 0;
    for (k = 0; k < L->shards && ok; k++) {
        int pad_ok = 1;
        XT_FN(xt_fill_const)(L->part, R * L->ghs + 4, XT_CANARY);
        ok = xt_check_status(XT_FN(ls_grad)(L, k), XENT_OK, "grad from stats");
        for (i = 0; i < R; i++)
            for (j = 0; j < L->ghs; j++) {
                if (j >= D || !L->want_gh) pad_ok &= L->part[i * L->ghs + j] == XT_CANARY;
                else L->ghsum[i * D + j] += (long double)L->part[i * L->ghs + j];
            }
        xt_check(pad_ok && XT_FN(xt_untouched)(L->part + R * L->ghs, 4),
                 "shard %d: grad_hidden's padding or the values past it written (or grad_hidden not asked for)", k);
    }
    if (ok) xt_check(xent_last_error_message()[0] == '\0', "message after success: \"%s\"", xent_last_error_message());
    if (L->want_gh)
        for (i = 0; i < R; i++)
            for (j = 0; j < D; j++) L->sgh[i * L->ghs + j] = (XT_REAL)L->ghsum[i * D + j];
    L->opts.z_loss_out = NULL;
    return ok;
}

/* ---- Measurement ---------------------------------------------------------------------------------------------- */

/* |s - u| in units of the bound against the unsharded call: ulp of the larger (f32), 1e-14 * max(1, |u|) (f64);
   0 for the same NaN-ness or infinity, infinite for a mismatch. */
static double XT_FN(ls_units)(XT_REAL s, XT_REAL u)
{
    long double a = fabsl((long double)s) > fabsl((long double)u) ? fabsl((long double)s) : fabsl((long double)u);
    if (isnan(s) || isnan(u)) return isnan(s) && isnan(u) ? 0 : INFINITY;
    if (isinf(s) || isinf(u)) return s == u ? 0 : INFINITY;
    if (sizeof(XT_REAL) == sizeof(double)) return (double)(fabsl((long double)s - u) / (1e-14L * (a > 1 ? a : 1)));
    return (double)(fabsl((long double)s - u) / (long double)(nextafterf((float)a, INFINITY) - (float)a));
}

/* max over elements of |got - ref| / scale (scale floored at 1e-2 of its largest value), as test_linear.c; infinite
   when a NaN or an infinity does not match. */
static double XT_FN(ls_err)(const XT_REAL *got, size_t n, size_t cols, size_t stride, const long double *ref,
                            const long double *scale)
{
    size_t i, j;
    long double smax = 0, worst = 0;
    for (i = 0; i < n * cols; i++)
        if (isfinite(scale[i]) && scale[i] > smax) smax = scale[i];
    for (i = 0; i < n; i++)
        for (j = 0; j < cols; j++) {
            long double g = (long double)got[i * stride + j], r = ref[i * cols + j], s = scale[i * cols + j], e;
            if (isnan(r) || isinf(r) || isnan(g) || isinf(g)) {
                e = ((isnan(r) && isnan(g)) || g == r) ? 0 : (long double)INFINITY;
            } else {
                if (!(s >= smax * 1e-2L)) s = smax * 1e-2L;
                e = fabsl(g - r) / (s == 0 ? 1 : s);
            }
            if (e > worst) worst = e;
        }
    return (double)worst;
}

/* The errors of one set of outputs against the reference (outputs not asked for: 0); gradient strides ghs, gws. */
static void XT_FN(ls_measure)(const XT_FN(xt_ls) * L, const xt_ref_linear_out *ref, const XT_REAL *loss,
                              const XT_REAL *lse, const XT_REAL *gh, size_t ghs, const XT_REAL *gw, size_t gws,
                              const XT_REAL *gb, const double *z, double *e)
{
    size_t i, R = L->rows, nl = L->opts.reduction == XENT_REDUCTION_NONE ? R : 1;
    long double *sc = (long double *)xt_alloc(sizeof(long double) * 3 * (R + 1)), *zr = sc + R + 1, osum = 0, omax = 1;
    long double lam = (long double)L->opts.z_loss, lmax = 1;
    XT_REAL *zv = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (R + 1));
    for (i = 0; i < R; i++) {
        osum += ref->o_abs[i];
        if (ref->o_abs[i] > omax) omax = ref->o_abs[i];
        if (fabsl(ref->ce.lse[i]) > lmax) lmax = fabsl(ref->ce.lse[i]);
    }
    for (i = 0; i < nl; i++)
        sc[i] = fmaxl(fmaxl(1, fabsl(nl == R ? ref->ce.loss_rows[i] : ref->ce.loss_red)),
                      nl == R ? ref->o_abs[i] : L->opts.reduction == XENT_REDUCTION_SUM ? osum : omax);
    e[XT_LIN_LOSS] = XT_FN(ls_err)(loss, nl, 1, 1, nl == R ? ref->ce.loss_rows : &ref->ce.loss_red, sc);
    for (i = 0; i < R; i++) sc[i] = fmaxl(fmaxl(1, fabsl(ref->ce.lse[i])), ref->o_abs[i]);
    e[XT_LIN_LSE] = XT_FN(ls_err)(lse, R, 1, 1, ref->ce.lse, sc);
    e[XT_LIN_GH] = L->want_gh ? XT_FN(ls_err)(gh, R, L->dim, ghs, ref->gh, ref->gh_abs) : 0;
    e[XT_LIN_GW] = L->want_gw ? XT_FN(ls_err)(gw, L->classes, L->dim, gws, ref->gw, ref->gw_abs) : 0;
    e[XT_LIN_GB] = L->want_gb ? XT_FN(ls_err)(gb, 1, L->classes, L->classes, ref->ce.bias, ref->ce.bias_abs) : 0;
    e[XT_LIN_Z] = 0;
    if (lam != 0) { /* z = lambda*lse^2 errs by 2*lambda*|lse| x the lse's error (test_linear.c); double, measured
                       at the element type's precision */
        for (i = 0; i < nl; i++) {
            zv[i] = (XT_REAL)z[i], zr[i] = nl == R ? ref->ce.z_rows[i] : ref->ce.z_red;
            sc[i] = fmaxl(fmaxl(1, fabsl(zr[i])), 2 * lam * lmax * (nl == R ? fmaxl(1, ref->o_abs[i]) : omax));
        }
        e[XT_LIN_Z] = XT_FN(ls_err)(zv, nl, 1, 1, zr, sc);
    }
    free(sc), free(zv);
}

/* The unfused pipeline on L's inputs and options (the f32 bound's yardstick, as test_linear.c): GEMM logits (+ bias
   in the element type), xent_cross_entropy_ex_*, GEMM gradients; its errors against ref. */
static int XT_FN(ls_unfused)(const XT_FN(xt_ls) * L, const xt_ref_linear_out *ref, double *e)
{
    size_t i, j, R = L->rows, C = L->classes, D = L->dim;
    XT_REAL *o = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (2 * R * C + R * D + C * D + C + 2 * R + 1));
    XT_REAL *g = o + R * C, *gh = g + R * C, *gw = gh + R * D, *gb = gw + C * D, *loss = gb + C, *lse = loss + R;
    double *z = (double *)xt_alloc(sizeof(double) * (R + 1));
    xent_options opts = L->opts;
    xent_status st;
    opts.z_loss_out = z, opts.accumulate = 0;
    XT_FN(xt_lin_gemm)(0, 1, R, C, D, L->h, L->hs, L->w, L->ws, o, C);
    for (i = 0; i < R && L->b; i++)
        for (j = 0; j < C; j++) o[i * C + j] += L->b[j];
    st = XT_FN(xent_cross_entropy_ex)(o, R, C, C, L->labels, &opts, loss, g, C, lse, gb);
    if (st == XENT_OK) {
        XT_FN(xt_lin_gemm)(0, 0, R, D, C, g, C, L->w, L->ws, gh, D);
        XT_FN(xt_lin_gemm)(1, 0, C, D, R, g, C, L->h, L->hs, gw, D);
        XT_FN(ls_measure)(L, ref, loss, lse, gh, D, gw, D, gb, z, e);
    }
    free(o), free(z);
    return st == XENT_OK;
}

/* The BLAS forms every shard's logits as the whole weight's: one GEMM of all rows against the whole weight and one
   per shard, bitwise (the header's condition for the reduced loss within 1 ulp of the unsharded call). */
static int XT_FN(ls_same_logits)(const XT_FN(xt_ls) * L)
{
    size_t R = L->rows, C = L->classes;
    XT_REAL *all = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (2 * R * C + 1)), *parts = all + R * C;
    int k, same;
    XT_FN(xt_lin_gemm)(0, 1, R, C, L->dim, L->h, L->hs, L->w, L->ws, all, C);
    for (k = 0; k < L->shards; k++)
        XT_FN(xt_lin_gemm)(0, 1, R, L->cut[k + 1] - L->cut[k], L->dim, L->h, L->hs, L->w + L->cut[k] * L->ws, L->ws,
                       parts + L->cut[k], C);
    same = memcmp(all, parts, sizeof(XT_REAL) * R * C) == 0;
    free(all);
    return same;
}

static void XT_FN(ls_ref)(const XT_FN(xt_ls) * L, xt_ref_linear_out *ref)
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

/* Runs the unsharded call and the sharded pipeline on L (outputs canary-filled first; grad_weight and grad_bias
   not with accumulate: the caller has set both calls' starting values) and checks the reduced loss against the
   unsharded call (where the bound applies), the padding and the values past every output, an output not asked for
   untouched, and (without accumulate) every output against the reference. */
static void XT_FN(ls_verify)(XT_FN(xt_ls) * L, const char *name)
{
    ls_seen_t *seen = &ls_seen[sizeof(XT_REAL) == sizeof(double)];
    double es[XT_LIN_NOUT], eu[XT_LIN_NOUT], ef[XT_LIN_NOUT], worst = 0;
    size_t i, j, R = L->rows, C = L->classes, nloss = L->opts.reduction == XENT_REDUCTION_NONE ? R : 1;
    int k, pad_ok = 1, z = L->opts.z_loss != 0;
    char cuts[64];
    snprintf(cuts, sizeof cuts, "%lu", (unsigned long)(L->cut[1] - L->cut[0]));
    for (k = 1; k < L->shards; k++)
        snprintf(cuts + strlen(cuts), sizeof cuts - strlen(cuts), " | %lu", (unsigned long)(L->cut[k + 1] - L->cut[k]));
    xt_set_case("linear sharded %s: %s (rows %lu dim %lu classes %s, strides %lu/%lu/%lu/%lu, %s%s)", XT_TYPE_NAME, name,
                (unsigned long)R, (unsigned long)L->dim, cuts, (unsigned long)L->hs, (unsigned long)L->ws,
                (unsigned long)L->ghs, (unsigned long)L->gws, L->b ? "bias" : "no bias", L->off ? ", offset 1" : "");
    XT_FN(ls_fill_outputs)(L, !L->opts.accumulate);
    if (!xt_check_status(XT_FN(ls_unsharded)(L), XENT_OK, "the unsharded call") || !XT_FN(ls_run)(L)) return;
    for (i = 0; i < R + (nloss == R ? R : 0); i++) { /* per-row loss and lse: measured */
        double u = i < R ? XT_FN(ls_units)(L->slse[i], L->ulse[i]) : XT_FN(ls_units)(L->sloss[i - R], L->uloss[i - R]);
        if (u < INFINITY && u > seen->rows) seen->rows = u;
        worst = u > worst ? u : worst;
    }
    xt_check(worst < INFINITY, "a loss or lse is NaN or infinite where the unsharded call's is not (or the converse)");
    if (nloss == 1 && L->opts.workspace_bytes == 0 && XT_FN(ls_same_logits)(L)) {
        double u = XT_FN(ls_units)(L->sloss[0], L->uloss[0]);
        seen->applied++;
        if (u < INFINITY && u > seen->reduced) seen->reduced = u;
        xt_check(u <= 1, "reduced loss %.9g, the unsharded call's %.9g: %.3g x the bound (1 ulp f32, 1e-14 f64)",
                 (double)L->sloss[0], (double)L->uloss[0], u);
    }
    for (i = 0; i < C && L->want_gw; i++)
        for (j = L->dim; j < L->gws; j++) pad_ok &= L->sgw[i * L->gws + j] == XT_CANARY;
    pad_ok &= XT_FN(xt_untouched)(L->sloss + nloss, R + 5 - nloss) && XT_FN(xt_untouched)(L->slse + R, 4);
    pad_ok &= XT_FN(xt_untouched)(L->sgw + C * L->gws, 4) && XT_FN(xt_untouched)(L->sgb + C, 4);
    for (i = z ? nloss : 0; i < R + 5; i++) pad_ok &= L->sz[i] == (double)XT_CANARY;
    xt_check(pad_ok, "padding, or values past loss, lse, grad_weight, grad_bias or z_loss_out, written");
    if (!L->want_gw) xt_check(XT_FN(xt_untouched)(L->sgw, C * L->gws), "grad_weight (not asked for) written");
    if (!L->want_gb) xt_check(XT_FN(xt_untouched)(L->sgb, C), "grad_bias (not asked for) written");
    if (L->opts.accumulate) return;
    if (!L->have_ref) XT_FN(ls_ref)(L, &L->ref), L->have_ref = 1;
    XT_FN(ls_measure)(L, &L->ref, L->sloss, L->slse, L->sgh, L->ghs, L->sgw, L->gws, L->sgb, L->sz, es);
    XT_FN(ls_measure)(L, &L->ref, L->uloss, L->ulse, L->ugh, L->ghs, L->ugw, L->gws, L->ugb, L->uz, eu);
    if (sizeof(XT_REAL) == sizeof(float) && !xt_check(XT_FN(ls_unfused)(L, &L->ref, ef), "the unfused pipeline failed"))
        return;
    for (k = 0; k < XT_LIN_NOUT; k++) {
        if (es[k] < INFINITY && es[k] > seen->err_s[k]) seen->err_s[k] = es[k];
        if (eu[k] < INFINITY && eu[k] > seen->err_u[k]) seen->err_u[k] = eu[k];
        if (sizeof(XT_REAL) == sizeof(double))
            xt_check(es[k] <= 1e-12, "%s: error %.3g (x scale) > 1e-12", xt_lin_out_name[k], es[k]);
        else
            xt_check((k == XT_LIN_Z || es[k] <= 2 * ef[k] + FLT_EPSILON) && es[k] <= 1e-4,
                     "%s: error %.3g (x scale) > 2 x the unfused pipeline's %.3g + FLT_EPSILON (or 1e-4)",
                     xt_lin_out_name[k], es[k], ef[k]);
    }
    if (!L->keep_ref) xt_ref_linear_free(&L->ref), L->have_ref = 0;
}

/* ---- Options, splits, strides, offsets ---------------------------------------------------------------------- */

static void XT_FN(ls_sweep)(void)
{
    int cfg, split;
    for (cfg = 0; cfg < 13; cfg++)
        for (split = 0; split < 4; split++) {
            XT_FN(xt_ls) L;
            const char *name = "";
            size_t i;
            XT_FN(ls_init)(&L, 37, 19, 45, cfg % 2, cfg != 7, cfg % 3 == 2);
            for (i = 0; i < L.rows; i += 5) L.labels[i] = -100;
            switch (cfg) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5: name = xt_lin_basic_case(cfg, &L.opts, L.labels, L.rows); break;
            case 6: name = "soft cap 3", L.opts.soft_cap = 3.0f; break;
            case 7:
                name = "smoothing 0.2, soft cap 2, z-loss 1e-3, grad_scale 0.5, NONE";
                L.opts.label_smoothing = 0.2f, L.opts.soft_cap = 2.0f, L.opts.grad_scale = 0.5f, L.opts.reduction = 0;
                L.opts.z_loss = 1e-3f;
                break;
            case 11: name = "z-loss 1e-2 (z_loss_out), MEAN", L.opts.z_loss = 1e-2f; break;
            case 12: name = "z-loss 1e-3 (z_loss_out), SUM", L.opts.z_loss = 1e-3f, L.opts.reduction = 1; break;
            case 8: name = "only grad_weight, smoothing 0.1", L.want_gh = L.want_gb = 0; break;
            case 9: name = "only grad_bias, smoothing 0.1", L.want_gh = L.want_gw = 0; break;
            default: name = "only grad_hidden, smoothing 0.1", L.want_gw = L.want_gb = 0; break;
            }
            if (cfg >= 8 && cfg <= 10) L.opts.label_smoothing = 0.1f;
            XT_FN(ls_split)(&L, split);
            XT_FN(ls_verify)(&L, name);
            XT_FN(ls_free)(&L);
        }
}

/* Class counts 1..33 (two shards from 2), then shards across the kernels' 2048-class tiles. */
static void XT_FN(ls_tails)(void)
{
    static const size_t wide[3][5] = {{2, 0, 1, 2049, 0}, {3, 0, 2047, 4095, 4099}, {2, 0, 2049, 6145, 0}};
    size_t c;
    int k;
    for (c = 1; c <= 33; c++) {
        XT_FN(xt_ls) L;
        size_t cut[3];
        cut[0] = 0, cut[1] = (c + 1) / 2, cut[2] = c;
        XT_FN(ls_init)(&L, 5, 7, c, (int)(c % 2), 1, c % 3 == 0);
        L.opts.reduction = XENT_REDUCTION_NONE;
        L.opts.label_smoothing = c > 1 ? 0.05f : 0.0f;
        XT_FN(ls_cuts)(&L, c > 1 ? 2 : 1, cut);
        XT_FN(ls_verify)(&L, "class tail");
        XT_FN(ls_free)(&L);
    }
    for (k = 0; k < 3; k++) {
        XT_FN(xt_ls) L;
        size_t C = wide[k][(int)wide[k][0] + 1];
        XT_FN(ls_init)(&L, 3, 5, C, 1, 1, k == 1);
        XT_FN(ls_cuts)(&L, (int)wide[k][0], wide[k] + 1);
        L.labels[1] = (int64_t)C - 1;
        L.opts.label_smoothing = 0.1f;
        XT_FN(ls_verify)(&L, "shards across 2048-class tiles");
        XT_FN(ls_free)(&L);
    }
}

/* ---- rows 0, every row ignored, accumulate --------------------------------------------------------------------- */

static void XT_FN(ls_edges)(void)
{
    static const size_t cut2[3] = {0, 4, 9}, cut3[4] = {0, 1, 18, 30};
    XT_FN(xt_ls) L;
    XT_REAL *keep;
    int red, acc, ok;
    size_t i, j, G;
    XT_FN(ls_init)(&L, 0, 6, 9, 1, 1, 0); /* rows 0: loss 0 (NONE: nothing), grad_weight and grad_bias 0 or kept */
    XT_FN(ls_cuts)(&L, 2, cut2);
    for (red = 0; red < 3; red++)
        for (acc = 0; acc <= 1; acc++) {
            xt_set_case("linear sharded %s: rows 0, reduction %d, accumulate %d", XT_TYPE_NAME, red, acc);
            XT_FN(ls_fill_outputs)(&L, 1);
            for (i = 0; i < L.classes; i++) {
                for (j = 0; j < L.dim; j++) L.sgw[i * L.gws + j] = (XT_REAL)0.5;
                L.sgb[i] = (XT_REAL)-0.25;
            }
            L.opts.reduction = red, L.opts.accumulate = acc;
            if (!XT_FN(ls_run)(&L)) continue;
            XT_CHECK(L.sloss[0] == (red == XENT_REDUCTION_NONE ? XT_CANARY : 0), "loss[0] %g", (double)L.sloss[0]);
            for (i = 0, ok = 1; i < L.classes; i++) {
                for (j = 0; j < L.gws; j++)
                    ok &= L.sgw[i * L.gws + j] == (j >= L.dim ? XT_CANARY : acc ? (XT_REAL)0.5 : 0);
                ok &= L.sgb[i] == (acc ? (XT_REAL)-0.25 : 0);
            }
            XT_CHECK(ok, "grad_weight and grad_bias: want %s (padding untouched)", acc ? "unchanged" : "zero");
        }
    XT_FN(ls_free)(&L);

    XT_FN(ls_init)(&L, 6, 4, 11, 0, 1, 1); /* every row ignored: loss 0 (not NaN), every gradient exactly 0 */
    XT_FN(ls_split)(&L, 1);
    for (i = 0; i < L.rows; i++) L.labels[i] = -100;
    for (red = 0; red < 3; red++) {
        L.opts.reduction = red;
        L.opts.label_smoothing = red == 1 ? 0.1f : 0.0f;
        XT_FN(ls_verify)(&L, "every row ignored");
        ok = L.sloss[0] == 0;
        for (i = 0; i < L.rows * L.ghs; i++) ok &= L.sgh[i] == 0 || i % L.ghs >= L.dim;
        for (i = 0; i < L.classes * L.gws; i++) ok &= L.sgw[i] == 0 || i % L.gws >= L.dim;
        for (i = 0; i < L.classes; i++) ok &= L.sgb[i] == 0;
        XT_CHECK(ok, "loss %g: the loss or a gradient is not exactly 0 with every row ignored", (double)L.sloss[0]);
    }
    XT_FN(ls_free)(&L);

    /* accumulate onto random values P (both calls): grad_weight and grad_bias become P + the plain run's, grad_hidden
       is overwritten (the plain run's bits) */
    XT_FN(ls_init)(&L, 50, 12, 30, 1, 1, 1);
    XT_FN(ls_cuts)(&L, 3, cut3);
    L.opts.label_smoothing = 0.1f;
    L.opts.workspace_bytes = XT_FN(ls_least)(17, L.dim) + 6 * (17 * sizeof(XT_REAL) + 128); /* 7 rows a block */
    XT_FN(ls_verify)(&L, "several row blocks, before accumulating");
    G = L.classes * L.gws;
    keep = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (2 * G + 2 * L.classes + L.rows * L.ghs));
    memcpy(keep, L.sgw, sizeof(XT_REAL) * G), memcpy(keep + G, L.sgb, sizeof(XT_REAL) * L.classes);
    memcpy(keep + G + L.classes, L.sgh, sizeof(XT_REAL) * L.rows * L.ghs);
    XT_FN(xt_fill_random)(keep + G + L.classes + L.rows * L.ghs, 1, G + L.classes, G + L.classes, -3, 3);
    XT_FN(ls_fill_outputs)(&L, 1);
    for (i = 0; i < G + L.classes; i++) {
        XT_REAL v = keep[G + L.classes + L.rows * L.ghs + i];
        if (i >= G) L.sgb[i - G] = L.ugb[i - G] = v;
        else if (i % L.gws < L.dim) L.sgw[i] = L.ugw[i] = v;
    }
    L.opts.accumulate = 1;
    XT_FN(ls_verify)(&L, "accumulate onto random values");
    for (i = 0, ok = 1; i < G + L.classes; i++) {
        long double p = keep[G + L.classes + L.rows * L.ghs + i], g = keep[i]; /* keep: grad_weight, grad_bias */
        if (i < G && i % L.gws >= L.dim) continue;
        ok &= xt_close_scaled(i < G ? L.sgw[i] : L.sgb[i - G], p + g, 4 * XT_TOL, 1 + fabsl(g));
    }
    XT_CHECK(ok, "accumulate: grad_weight or grad_bias != P + the plain run's");
    XT_CHECK(memcmp(keep + G + L.classes, L.sgh, sizeof(XT_REAL) * L.rows * L.ghs) == 0,
             "accumulate: grad_hidden differs from the plain run's (it is always overwritten)");
    free(keep);
    XT_FN(ls_free)(&L);
}

/* ---- Workspace, threads ------------------------------------------------------------------------------------- */

static void XT_FN(ls_blocks_threads)(void)
{
    static const size_t cut[4] = {0, 1, 18, 700};
    XT_FN(xt_ls) L;
    XT_REAL *base[5], *outs[5];
    xent_stats *st = (xent_stats *)xt_alloc(sizeof(xent_stats) * 203);
    size_t sizes[5];
    int t, k, ws;
    XT_FN(ls_init)(&L, 203, 40, 700, 1, 1, 0);
    XT_FN(ls_cuts)(&L, 3, cut);
    L.keep_ref = 1; /* the same inputs and options throughout */
    L.opts.label_smoothing = 0.05f;
    L.opts.reduction = XENT_REDUCTION_NONE;
    sizes[0] = sizes[1] = L.rows, sizes[2] = L.rows * L.ghs, sizes[3] = L.classes * L.gws, sizes[4] = L.classes;
    outs[0] = L.sloss, outs[1] = L.slse, outs[2] = L.sgh, outs[3] = L.sgw, outs[4] = L.sgb;
    for (k = 0; k < 5; k++) base[k] = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * sizes[k]);
    for (ws = 0; ws < 3; ws++) {
        /* the default (one block); 5 rows of the widest shard a block; the header's least for the widest shard */
        L.opts.workspace_bytes = XT_FN(ls_least)(682, L.dim) + (ws == 1 ? 4 * (682 * sizeof(XT_REAL) + 128) : 0);
        if (ws == 0) L.opts.workspace_bytes = 0;
        for (t = 1; t <= 3; t++) {
            char name[96];
            L.opts.num_threads = t;
            snprintf(name, sizeof name, "workspace %lu bytes, num_threads %d", (unsigned long)L.opts.workspace_bytes, t);
            if (t == 1) XT_FN(ls_verify)(&L, name);
            else {
                xt_set_case("linear sharded %s: %s", XT_TYPE_NAME, name);
                XT_FN(ls_fill_outputs)(&L, 1);
                if (!XT_FN(ls_run)(&L)) continue;
            }
            if (t == 1) memcpy(st, L.merged, sizeof(xent_stats) * L.rows);
            else XT_CHECK(memcmp(st, L.merged, sizeof(xent_stats) * L.rows) == 0, "merged statistics differ from "
                          "num_threads 1 (must be bit-identical)");
            for (k = 0; k < 5; k++) {
                if (t == 1) memcpy(base[k], outs[k], sizeof(XT_REAL) * sizes[k]);
                else
                    XT_CHECK(memcmp(base[k], outs[k], sizeof(XT_REAL) * sizes[k]) == 0,
                             "%s differs from num_threads 1 (must be bit-identical)", xt_lin_out_name[k]);
            }
        }
    }
    for (k = 0; k < 5; k++) free(base[k]);
    free(st);
    XT_FN(ls_free)(&L);
}

/* ---- Special values ------------------------------------------------------------------------------------------ */

static void XT_FN(ls_special)(void)
{
    static const size_t cut[4] = {0, 10, 20, 31}, masked[3] = {2, 17, 29};
    XT_FN(xt_ls) L;
    size_t i, j;
    int ok = 1;
    XT_FN(ls_init)(&L, 40, 9, 31, 1, 1, 0);
    XT_FN(ls_cuts)(&L, 3, cut);
    for (i = 0; i < 3; i++) L.b[masked[i]] = (XT_REAL)-INFINITY;
    for (i = 0; i < L.rows; i++)
        while (L.labels[i] == 2 || L.labels[i] == 17 || L.labels[i] == 29) L.labels[i] = (int64_t)xt_rand_index(31);
    L.opts.reduction = XENT_REDUCTION_NONE;
    XT_FN(ls_verify)(&L, "-inf bias masks classes 2, 17, 29 (one in each shard)");
    for (i = 0; i < 3; i++) {
        for (j = 0; j < L.dim; j++) ok &= L.sgw[masked[i] * L.gws + j] == 0;
        ok &= L.sgb[masked[i]] == 0;
    }
    XT_CHECK(ok, "masked classes' grad_weight rows and grad_bias entries are not exactly 0");
    for (i = 0; i < L.rows; i++) ok &= isfinite(L.sloss[i]) && isfinite(L.slse[i]);
    XT_CHECK(ok, "a loss or lse is not finite with masked classes");
    L.opts.label_smoothing = 0.1f; /* smoothing puts weight on the masked classes: loss +inf, as unsharded */
    XT_FN(ls_verify)(&L, "-inf bias with smoothing");

    /* a NaN in hidden row 2: that row's loss, lse and grad_hidden NaN, the other rows exact (within the reference's
       bound: ls_verify); grad_weight and grad_bias, sums over the rows, NaN */
    L.opts.label_smoothing = 0;
    for (i = 0; i < 3; i++) L.b[masked[i]] = (XT_REAL)0.5;
    L.h[2 * L.hs + 4] = (XT_REAL)NAN;
    XT_FN(ls_verify)(&L, "NaN in hidden row 2");
    ok = isnan(L.sloss[2]) && isnan(L.slse[2]);
    for (j = 0; j < L.dim; j++) ok &= isnan(L.sgh[2 * L.ghs + j]) != 0;
    for (i = 0; i < L.rows; i++)
        if (i != 2) ok &= isfinite(L.sloss[i]) && isfinite(L.slse[i]) && isfinite(L.sgh[i * L.ghs]);
    for (i = 0; i < L.classes; i++) ok &= isnan(L.sgb[i]) && isnan(L.sgw[i * L.gws]);
    XT_CHECK(ok, "row 2 (loss %g lse %g, grad_hidden) must be NaN, the other rows finite, grad_weight and grad_bias "
             "NaN", (double)L.sloss[2], (double)L.slse[2]);
    XT_FN(ls_free)(&L);
}

/* ---- Refusals --------------------------------------------------------------------------------------------------- */

typedef struct XT_FN(ls_args) {
    size_t rows, dim, cols, hs, ws, ghs, gws, offset, total;
    void *p[SA_N];
    xent_options opts;
} XT_FN(ls_args);

static xent_status XT_FN(ls_args_call)(const XT_FN(ls_args) * a, int grad)
{
    xent_options o = a->opts;
    o.class_weights = (const double *)a->p[SA_CW];
    if (!grad)
        return XT_FN(xent_linear_partial_stats)((const XT_REAL *)a->p[SA_H], a->rows, a->dim, a->hs,
                                                (const XT_REAL *)a->p[SA_W], a->cols, a->ws, a->offset, a->total,
                                                (const XT_REAL *)a->p[SA_B], (const int64_t *)a->p[SA_LAB], &o,
                                                (xent_stats *)a->p[SA_PST]);
    return XT_FN(xent_linear_grad_from_stats)(
        (const XT_REAL *)a->p[SA_H], a->rows, a->dim, a->hs, (const XT_REAL *)a->p[SA_W], a->cols, a->ws, a->offset,
        a->total, (const XT_REAL *)a->p[SA_B], (const int64_t *)a->p[SA_LAB], (const xent_stats *)a->p[SA_ST], &o,
        (XT_REAL *)a->p[SA_GH], a->ghs, (XT_REAL *)a->p[SA_GW], a->gws, (XT_REAL *)a->p[SA_GB]);
}

static void XT_FN(ls_refuse)(const XT_FN(ls_args) * a, int grad, xt_arena *ar, xent_status want, const char *n1,
                             const char *n2, const char *what)
{
    xent_status st;
    xt_set_case("linear sharded %s refusal, %s: %s", XT_TYPE_NAME, grad ? "grad_from_stats" : "partial_stats", what);
    xt_arena_snap(ar);
    st = XT_FN(ls_args_call)(a, grad);
    xt_expect_error_at(__LINE__, st, want, n1, n2, what);
    XT_CHECK(xt_arena_unchanged(ar), "a byte of an input or output changed");
}

/* Invalid argument k of a call (grad: grad_from_stats) made on a: its name, a word of the message (or NULL) and the
   status the header names; 0 for a k that does not apply to the call, -1 past the last. */
static xent_status XT_FN(ls_invalid)(XT_FN(ls_args) * a, int grad, int k, void *cw, const char **what,
                                     const char **needle)
{
    static const char *const names[19] = {
        "dim 0", "cols 0", "col_offset + cols > total_cols", "hidden_stride < dim", "weight_stride < dim",
        "rows 2^62 (extent overflow)", "reduction 3", "num_threads -1", "soft_cap -1", "struct_size below 1.0.0",
        "class_weights", "workspace 1 byte", "workspace the header's least - 1", "no gradient asked for",
        "grad_hidden_stride < dim", "grad_weight_stride < dim", "smoothing 1.5", "grad_scale inf",
        "statistics of one shard (count != total_cols)"};
    if (k >= 19) return -1;
    if (k >= 13 && !grad) return 0;
    *what = names[k], *needle = k == 11 || k == 12 ? "workspace" : NULL;
    switch (k) {
    case 0: a->dim = 0; return XENT_ERR_INVALID_SHAPE;
    case 1: a->cols = 0; return XENT_ERR_INVALID_SHAPE;
    case 2: a->offset = a->total - a->cols + 1; return XENT_ERR_INVALID_SHAPE;
    case 3: a->hs = a->dim - 1; return XENT_ERR_INVALID_SHAPE;
    case 4: a->ws = a->dim - 1; return XENT_ERR_INVALID_SHAPE;
    case 5: a->rows = (size_t)1 << 62; return XENT_ERR_INVALID_SHAPE;
    case 6: a->opts.reduction = 3; return XENT_ERR_INVALID_OPTION;
    case 7: a->opts.num_threads = -1; return XENT_ERR_INVALID_OPTION;
    case 8: a->opts.soft_cap = -1; return XENT_ERR_INVALID_OPTION;
    case 9: a->opts.struct_size = XENT_OPTIONS_V1_SIZE - 1; return XENT_ERR_INVALID_OPTION;
    case 10: a->p[SA_CW] = cw; return XENT_ERR_UNSUPPORTED;
    case 11: a->opts.workspace_bytes = 1; return XENT_ERR_INVALID_OPTION;
    case 12: a->opts.workspace_bytes = XT_FN(ls_least)(a->cols, a->dim) - 1; return XENT_ERR_INVALID_OPTION;
    case 13: a->p[SA_GH] = a->p[SA_GW] = a->p[SA_GB] = NULL; return XENT_ERR_NULL_POINTER;
    case 14: a->ghs = a->dim - 1; return XENT_ERR_INVALID_SHAPE;
    case 15: a->gws = a->dim - 2; return XENT_ERR_INVALID_SHAPE;
    case 16: a->opts.label_smoothing = 1.5f; return XENT_ERR_INVALID_OPTION;
    case 17: a->opts.grad_scale = (float)INFINITY; return XENT_ERR_INVALID_OPTION;
    default: a->p[SA_ST] = a->p[SA_PST]; return XENT_ERR_INVALID_SHAPE; /* it holds one shard's statistics */
    }
}

/* rows 6, dim 5, 9 classes in all; the shard under test: classes [2, 7). Every buffer in one arena. */
static void XT_FN(ls_refusals)(void)
{
    enum { R = 6, D = 5, T = 9, C = 5, O = 2, S = D + 1 };
    static const int outs[3] = {SA_GH, SA_GW, SA_GB}, ins[5] = {SA_H, SA_W, SA_B, SA_LAB, SA_ST};
    static const size_t lo[4] = {0, O, O + C, T};
    size_t count[SA_N], off = 0, i;
    xent_stats part[R], tmp[R];
    XT_FN(ls_args) a, g;
    xt_arena ar;
    void *cw;
    int k, m, grad;
    count[SA_H] = R * S, count[SA_W] = T * S, count[SA_B] = T, count[SA_GH] = R * S, count[SA_GW] = C * S;
    count[SA_GB] = C;
    for (k = 0; k < SA_N; k++) {
        if (k == SA_PST || k == SA_ST) count[k] = R * sizeof(xent_stats);
        else if (k == SA_LAB || k == SA_CW) count[k] = (k == SA_LAB ? R : T) * 8;
        else count[k] *= sizeof(XT_REAL);
        off += (count[k] + 63) / 64 * 64;
    }
    xt_arena_init(&ar, off + 4096); /* slack: a misplaced output may reach past the last buffer */
    memset(&g, 0, sizeof g);
    for (k = 0, off = 0; k < SA_N; off += (count[k] + 63) / 64 * 64, k++) g.p[k] = ar.mem + off;
    g.rows = R, g.dim = D, g.cols = C, g.hs = g.ws = g.ghs = g.gws = S, g.offset = O, g.total = T;
    XT_FN(xt_fill_random)((XT_REAL *)g.p[SA_H], R, D, S, -1, 1);
    XT_FN(xt_fill_random)((XT_REAL *)g.p[SA_W], T, D, S, -1, 1);
    XT_FN(xt_fill_random)((XT_REAL *)g.p[SA_B], 1, T, T, -1, 1);
    for (i = 0; i < R; i++) ((int64_t *)g.p[SA_LAB])[i] = i == 1 ? -100 : (int64_t)((i * 4) % T);
    for (i = 0; i < T; i++) ((double *)g.p[SA_CW])[i] = 1.0 + (double)i;
    cw = g.p[SA_CW], g.p[SA_CW] = NULL;
    xent_options_init(&g.opts);
    g.opts.label_smoothing = 0.1f;
    /* the merged statistics of the shards [0, 2), [2, 7), [7, 9); the second one's alone in SA_PST */
    for (k = 0; k < 3; k++) {
        a = g, a.cols = lo[k + 1] - lo[k], a.offset = lo[k];
        a.p[SA_W] = (XT_REAL *)g.p[SA_W] + lo[k] * S, a.p[SA_B] = (XT_REAL *)g.p[SA_B] + lo[k];
        a.p[SA_PST] = k == 0 ? g.p[SA_ST] : k == 1 ? g.p[SA_PST] : (void *)tmp;
        xt_set_case("linear sharded %s refusal: the valid statistics of shard %d", XT_TYPE_NAME, k);
        XT_EXPECT_OK(XT_FN(ls_args_call)(&a, 0));
        if (k > 0)
            XT_EXPECT_OK(xent_merge_stats((xent_stats *)g.p[SA_ST], (const xent_stats *)a.p[SA_PST],
                                          (xent_stats *)g.p[SA_ST], R));
    }
    g.p[SA_W] = (XT_REAL *)g.p[SA_W] + O * S, g.p[SA_B] = (XT_REAL *)g.p[SA_B] + O;
    memcpy(part, g.p[SA_PST], sizeof part);
    for (grad = 0; grad <= 1; grad++) {
        static const int req[4] = {SA_H, SA_W, SA_LAB, SA_PST};
        const char *what = NULL, *needle = NULL;
        xent_status want;
        xt_set_case("linear sharded %s refusal: the valid call (%d)", XT_TYPE_NAME, grad);
        XT_EXPECT_OK(XT_FN(ls_args_call)(&g, grad));
        for (k = 0; k < 4; k++) {
            int q = grad && req[k] == SA_PST ? SA_ST : req[k];
            a = g, a.p[q] = NULL;
            XT_FN(ls_refuse)(&a, grad, &ar, XENT_ERR_NULL_POINTER, NULL, NULL, ls_arg_name[q]);
        }
        for (k = 0; (a = g, want = XT_FN(ls_invalid)(&a, grad, k, cw, &what, &needle)) >= 0; k++)
            if (want != 0) XT_FN(ls_refuse)(&a, grad, &ar, want, needle, NULL, what);
        a = g; /* a label outside [0, total_cols), named with its row */
        ((int64_t *)g.p[SA_LAB])[4] = T;
        XT_FN(ls_refuse)(&a, grad, &ar, XENT_ERR_LABEL_OUT_OF_RANGE, "9", "row 4", "label 9 (total_cols) at row 4");
        ((int64_t *)g.p[SA_LAB])[4] = -7;
        XT_FN(ls_refuse)(&a, grad, &ar, XENT_ERR_LABEL_OUT_OF_RANGE, "-7", "row 4", "label -7 at row 4");
        ((int64_t *)g.p[SA_LAB])[4] = 16 % T;
        /* accepted: the z-loss (partial_stats ignores it, grad_from_stats adds its term), the header's least
           workspace (with and without grad_bias) */
        xt_set_case("linear sharded %s: z_loss, the least workspace (%d)", XT_TYPE_NAME, grad);
        a = g, a.opts.z_loss = 1e-3f;
        XT_EXPECT_OK(XT_FN(ls_args_call)(&a, grad));
        if (!grad) XT_CHECK(memcmp(g.p[SA_PST], part, sizeof part) == 0, "the z-loss changed the statistics");
        a = g, a.opts.workspace_bytes = XT_FN(ls_least)(C, g.dim);
        XT_EXPECT_OK(XT_FN(ls_args_call)(&a, grad));
        a.p[SA_GB] = NULL; /* the same least without grad_bias: its sums' room is reserved all the same */
        if (grad) XT_EXPECT_OK(XT_FN(ls_args_call)(&a, grad));
        a.opts.workspace_bytes -= 1;
        if (grad) XT_FN(ls_refuse)(&a, grad, &ar, XENT_ERR_INVALID_OPTION, "workspace", NULL, "no grad_bias: least - 1");
    }
    /* overlaps: the statistics on every input (and partly, over the last label); every gradient on every input and
       every other gradient */
    for (k = 0; k < 5; k++) {
        char what[64];
        a = g, a.p[SA_PST] = k < 4 ? g.p[ins[k]] : (void *)((int64_t *)g.p[SA_LAB] + R - 1);
        snprintf(what, sizeof what, "stats on %s%s", k < 4 ? "" : "the last of ", ls_arg_name[k < 4 ? ins[k] : SA_LAB]);
        XT_FN(ls_refuse)(&a, 0, &ar, XENT_ERR_ALIASING, NULL, NULL, what);
    }
    for (k = 0; k < 3; k++)
        for (m = 0; m < 8; m++) {
            int q = m < 5 ? ins[m] : outs[m - 5];
            char what[64];
            if (q == outs[k]) continue;
            a = g, a.p[outs[k]] = g.p[q];
            snprintf(what, sizeof what, "%s on %s", ls_arg_name[outs[k]], ls_arg_name[q]);
            XT_FN(ls_refuse)(&a, 1, &ar, XENT_ERR_ALIASING, NULL, NULL, what);
        }
    /* unmerged statistics: a counted row's label seen 0 or 2 times, a row's count total_cols - 1 */
    memcpy(tmp, g.p[SA_ST], sizeof tmp);
    for (k = 0; k < 3; k++) {
        xent_stats *st = (xent_stats *)g.p[SA_ST];
        a = g;
        if (k < 2) st[3].label_seen = 2.0 * k;
        else st[5].count = T - 1;
        XT_FN(ls_refuse)(&a, 1, &ar, XENT_ERR_INVALID_SHAPE, NULL, NULL,
                         k == 0 ? "label_seen 0" : k == 1 ? "label_seen 2" : "count total_cols - 1");
        memcpy(g.p[SA_ST], tmp, sizeof tmp);
    }
    xt_set_case("linear sharded %s: opts NULL, no bias", XT_TYPE_NAME);
    a = g, a.p[SA_B] = NULL;
    XT_EXPECT_OK(XT_FN(xent_linear_partial_stats)((const XT_REAL *)a.p[SA_H], R, D, S, (const XT_REAL *)a.p[SA_W], C,
                                                  S, O, T, NULL, (const int64_t *)a.p[SA_LAB], NULL,
                                                  (xent_stats *)a.p[SA_PST]));
    XT_EXPECT_OK(XT_FN(xent_linear_grad_from_stats)((const XT_REAL *)a.p[SA_H], R, D, S, (const XT_REAL *)a.p[SA_W],
                                                    C, S, O, T, NULL, (const int64_t *)a.p[SA_LAB],
                                                    (const xent_stats *)a.p[SA_ST], NULL, NULL, S,
                                                    (XT_REAL *)a.p[SA_GW], S, NULL));
    xt_arena_free(&ar);
}

static void XT_FN(ls_all)(void)
{
    XT_FN(ls_sweep)();
    XT_FN(ls_tails)();
    XT_FN(ls_edges)();
    XT_FN(ls_blocks_threads)();
    XT_FN(ls_special)();
    XT_FN(ls_refusals)();
}

#endif /* XT_REAL */
