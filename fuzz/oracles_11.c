/*
 * fuzz/oracles_11.c -- invariants 6-7: the 1.1 entry points on a successful hard-label problem (shards merged in any
 * grouping, bfloat16 logits) against the same call, and the 1.1 options against the long double reference.
 */
#include "xf.h"

/* ---- Oracles for the 1.1 functions: sharded statistics and bfloat16 --------------------------------------- *
 * After a successful hard-label cross-entropy call, the same problem is solved again through the 1.1 entry points
 * and compared with the call's own outputs:
 *   - shards: the columns split at random boundaries into 1-4 shards; xent_partial_stats on each, merged in order
 *     (in place), xent_finalize_stats, xent_grad_from_stats per shard. Loss, lse and gradient must agree with the
 *     unsharded call within the element type's tolerance (NaN where it is NaN, the same infinities);
 *   - bfloat16 (f32 calls): the logits rounded to bfloat16; xent_cross_entropy_bf16 must equal
 *     xent_cross_entropy_ex_f32 on the widened logits bit for bit (loss, lse, grad_f32), and its grad_bf16 must be
 *     that gradient rounded to nearest-even, also when written in place over the logits.
 * Shapes and options are the call's; buffers are fresh, exactly sized heap blocks (ASan catches any overrun).
 * The choices come from the input's random stream, so an input replays exactly. */

static XF_CHECKER int close_enough(double a, double b, double tol)
{
    if (isnan(b)) return isnan(a);
    if (isinf(b)) return a == b;
    return isfinite(a) && fabs(a - b) <= tol;
}

/* Rows the numeric comparisons skip: logits spanning more than half the type's range or within 4x of its maximum
 * (the library's element-typed differences may overflow there, see "Limitations"). */
static XF_CHECKER int row_extreme(const double *x, size_t cols)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < cols; j++) {
        if (!isfinite(x[j])) continue;
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
        if (fabs(x[j]) > 0.25 * TMAX()) return 1;
    }
    return hi > lo && hi - lo > 0.5 * TMAX();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* The call's logical logits as a fresh dense rows x cols matrix of its element type (an exactly sized block). */
XF_CHECKER void *dense_logits(const Spec *s)
{
    size_t n = s->rows * s->cols;
    void *x = xmalloc(n * s->es);
    for (size_t i = 0; i < n; i++) {
        if (s->f64) ((double *)x)[i] = s->x[i];
        else ((float *)x)[i] = (float)s->x[i];
    }
    return x;
}

XF_CHECKER void oracle_shards(const Spec *s, const xent_options *o, const Outs *base)
{
    size_t rows = s->rows, cols = s->cols, es = s->es;
    /* shard boundaries: 0 = b[0] < b[1] < ... < b[k] = cols */
    size_t k = 1 + rnd() % 4, b[5];
    if (k > cols) k = cols;
    b[0] = 0, b[k] = cols;
    for (size_t q = 1; q < k; q++) b[q] = b[q - 1] + 1 + rnd() % (cols - b[q - 1] - (k - q));
    void *x = dense_logits(s), *g = xmalloc(rows * cols * es);
    xent_stats *acc = xmalloc(rows * sizeof *acc), *part = xmalloc(rows * sizeof *part);
    double *loss = xmalloc((rows + 1) * sizeof(double)), *lse = xmalloc((rows + 1) * sizeof(double));
    xent_status st;
    for (size_t q = 0; q < k; q++) {
        const void *xq = (const char *)x + b[q] * es;
        xent_stats *out = q == 0 ? acc : part;
        st = s->f64 ? xent_partial_stats_f64(xq, rows, b[q + 1] - b[q], cols, b[q], cols, s->labels, o, out)
                    : xent_partial_stats_f32(xq, rows, b[q + 1] - b[q], cols, b[q], cols, s->labels, o, out);
        if (st != XENT_OK)
            FAIL("shards: xent_partial_stats shard %zu/%zu: status %d (%s)", q, k, st, xent_last_error_message());
        if (q > 0 && (st = xent_merge_stats(acc, part, acc, rows)) != XENT_OK)
            FAIL("shards: xent_merge_stats: status %d (%s)", st, xent_last_error_message());
    }
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    if (s->f64) st = xent_finalize_stats_f64(acc, rows, cols, s->labels, o, loss, lse);
    else {
        float *lf = xmalloc((rows + 1) * sizeof(float)), *ef = xmalloc((rows + 1) * sizeof(float));
        st = xent_finalize_stats_f32(acc, rows, cols, s->labels, o, lf, ef);
        for (size_t i = 0; i < nl; i++) loss[i] = lf[i];
        for (size_t i = 0; i < rows; i++) lse[i] = ef[i];
        free(lf), free(ef);
    }
    if (st != XENT_OK) FAIL("shards: xent_finalize_stats: status %d (%s)", st, xent_last_error_message());
    for (size_t q = 0; q < k; q++) {
        size_t off = b[q] * es;
        st = s->f64 ? xent_grad_from_stats_f64((const double *)((const char *)x + off), rows, b[q + 1] - b[q], cols,
                                               b[q], cols, s->labels, acc, o, (double *)((char *)g + off), cols)
                    : xent_grad_from_stats_f32((const float *)((const char *)x + off), rows, b[q + 1] - b[q], cols,
                                               b[q], cols, s->labels, acc, o, (float *)((char *)g + off), cols);
        if (st != XENT_OK)
            FAIL("shards: xent_grad_from_stats shard %zu/%zu: status %d (%s)", q, k, st, xent_last_error_message());
    }
    /* tolerances: C relative to the row's scale (its largest |logit|, the loss) */
    double C = s->f64 ? 1e-12 : 2e-5;
    int64_t ignore = s->opts_null ? -100 : s->ignore;
    double eps = s->opts_null ? 0 : s->smoothing, gs = s->opts_null ? 1 : s->gscale;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++) counted += s->labels[i] != ignore;
    double sc = red == XENT_REDUCTION_MEAN ? (counted ? fabs(gs) / (double)counted : 0) : fabs(gs);
    int all_ok = 1;
    double tol_sum = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *xr = s->x + i * cols;
        if (row_extreme(xr, cols)) {
            all_ok = 0;
            continue;
        }
        double maxabs = 0;
        for (size_t j = 0; j < cols; j++)
            if (isfinite(xr[j]) && fabs(xr[j]) > maxabs) maxabs = fabs(xr[j]);
        double tol = C * (4 + 4 * maxabs + 4 * log((double)cols + 1));
        tol_sum += tol;
        if (base->v[B_LSE] && !close_enough(lse[i], base->v[B_LSE][i], tol))
            FAIL("shards (%zu): lse[%zu] %.17g vs unsharded %.17g (tol %.3g)", k, i, lse[i], base->v[B_LSE][i], tol);
        if (red == XENT_REDUCTION_NONE && !close_enough(loss[i], base->v[B_LOSS][i], tol * (1 + eps)))
            FAIL("shards (%zu): loss[%zu] %.17g vs unsharded %.17g (tol %.3g)", k, i, loss[i], base->v[B_LOSS][i], tol);
        if (base->v[B_GRAD] && sc * 4 < 0.25 * TMAX())
            for (size_t j = 0; j < cols; j++) {
                double gj = s->f64 ? ((double *)g)[i * cols + j] : ((float *)g)[i * cols + j];
                double ref = base->v[B_GRAD][i * cols + j];
                if (!close_enough(gj, ref, C * (fabs(ref) + sc) + 4 * TRUEMIN()))
                    FAIL("shards (%zu): grad[%zu,%zu] %.17g vs unsharded %.17g", k, i, j, gj, ref);
            }
    }
    if (red != XENT_REDUCTION_NONE && all_ok && !(fabs(base->v[B_LOSS][0]) > 0.25 * DBL_MAX)) {
        double tol = (red == XENT_REDUCTION_MEAN && counted ? tol_sum / (double)counted : tol_sum) * (1 + eps);
        if (!close_enough(loss[0], base->v[B_LOSS][0], tol + C * fabs(base->v[B_LOSS][0])))
            FAIL("shards (%zu): reduced loss %.17g vs unsharded %.17g (tol %.3g)", k, loss[0], base->v[B_LOSS][0], tol);
    }
    free(x), free(g), free(acc), free(part), free(loss), free(lse);
}

static XF_CHECKER void same_bits_f32(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) && !(isnan(a[i]) && isnan(b[i])))
            FAIL("bf16: %s element %zu: %.9g vs %.9g (f32 path on the widened logits)", what, i, a[i], b[i]);
}

XF_CHECKER void oracle_bf16(const Spec *s, const xent_options *o)
{
    size_t rows = s->rows, cols = s->cols, n = rows * cols;
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    uint16_t *h = xmalloc(n * 2), *gh = xmalloc(n * 2);
    float *w = xmalloc(n * 4), *g32 = xmalloc(n * 4), *gb = xmalloc(n * 4);
    float *l1 = xmalloc(nl * 4), *l2 = xmalloc(nl * 4), *e1 = xmalloc(rows * 4 + 4), *e2 = xmalloc(rows * 4 + 4);
    for (size_t i = 0; i < n; i++) {
        h[i] = xt_bf16_round((float)s->x[i]);
        w[i] = xt_bf16_widen(h[i]);
    }
    xent_status a = xent_cross_entropy_ex_f32(w, rows, cols, cols, s->labels, o, l1, g32, cols, e1, NULL);
    if (a != XENT_OK)
        FAIL("bf16: xent_cross_entropy_ex_f32 on the widened logits: status %d (%s)", a, xent_last_error_message());
    xent_status b = xent_cross_entropy_bf16(h, rows, cols, cols, s->labels, o, l2, gb, NULL, cols, e2);
    if (b != XENT_OK) FAIL("bf16: xent_cross_entropy_bf16 (grad_f32): status %d (%s)", b, xent_last_error_message());
    same_bits_f32(l2, l1, nl, "loss");
    same_bits_f32(e2, e1, rows, "lse");
    same_bits_f32(gb, g32, n, "grad_f32");
    /* grad_bf16: out of place, or in place over the logits */
    int inplace = rnd() & 1;
    uint16_t *dst = inplace ? h : gh;
    b = xent_cross_entropy_bf16(h, rows, cols, cols, s->labels, o, l2, NULL, dst, cols, NULL);
    if (b != XENT_OK)
        FAIL("bf16: xent_cross_entropy_bf16 (grad_bf16%s): status %d (%s)", inplace ? ", in place" : "", b,
             xent_last_error_message());
    same_bits_f32(l2, l1, nl, "loss (grad_bf16 call)");
    for (size_t i = 0; i < n; i++) {
        uint16_t want = xt_bf16_round(g32[i]);
        int nan_both = isnan(g32[i]) && isnan(xt_bf16_widen(dst[i]));
        if (dst[i] != want && !nan_both)
            FAIL("bf16: grad_bf16[%zu] = 0x%04x, expected 0x%04x (the f32 gradient %.9g rounded)%s", i, dst[i], want,
                 g32[i], inplace ? ", in place" : "");
    }
    free(h), free(gh), free(w), free(g32), free(gb), free(l1), free(l2), free(e1), free(e2);
}

/* The 1.1 options on the same problem (hard labels): xent_cross_entropy_ex_* again with a z-loss (lambda, its
 * z_loss_out), a soft cap c and/or class weights drawn from the input's random stream (valid values only), against
 * a long double reference of the header's formulas: logits x' = c*tanh(x/c) (-inf kept, +inf -> c), targets
 * t_j = (1 - eps)*w_y*[j == y] + eps*w_j/cols, loss_i = sum_j t_j*(lse' - x'_j), MEAN over sum of w_y; z_i =
 * lambda*lse'^2, MEAN over the counted rows; gradient (s*(p_j*sum(t) - t_j) + s_z*2*lambda*lse'*p_j) *
 * (1 - tanh^2(x_j/c)) with s = grad_scale/sum(w_y), s_z = grad_scale/counted (MEAN). */
XF_CHECKER void oracle_options11(const Spec *s)
{
    size_t rows = s->rows, cols = s->cols, es = s->es, n = rows * cols;
    static const double lambdas[] = {0, 0, 1e-4, 0.5}, caps[] = {0, 0, 0.5, 5, 30}, wv[] = {0, 0.5, 1, 2, 1e-3};
    double lambda = lambdas[rnd() % 4], cap = caps[rnd() % 5];
    int weighted = rnd() % 3 == 0;
    if (lambda == 0 && cap == 0 && !weighted) return;
    double *W = weighted ? xmalloc(cols * sizeof(double)) : NULL;
    for (size_t j = 0; weighted && j < cols; j++) W[j] = wv[rnd() % 5];
    xent_options o;
    xent_options_init(&o);
    if (!s->opts_null) {
        o.reduction = s->reduction, o.num_threads = s->threads, o.ignore_index = s->ignore;
        o.label_smoothing = s->smoothing, o.grad_scale = s->gscale;
    }
    o.z_loss = (float)lambda, o.soft_cap = (float)cap, o.class_weights = W;
    lambda = o.z_loss, cap = o.soft_cap; /* the values the library sees */
    char what[5][96];
    static const char *names[5] = {"lse", "loss", "z_loss", "grad", "reduced"};
    for (int k = 0; k < 5; k++)
        snprintf(what[k], sizeof what[k], "options 1.1 (z_loss %g, soft_cap %g, weights %s): %s", lambda, cap,
                 W ? "yes" : "no", names[k]);
    int red = o.reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    double *zout = xmalloc(nl * sizeof(double));
    o.z_loss_out = zout;
    void *x = dense_logits(s), *g = xmalloc(n * es), *loss = xmalloc(nl * es), *lse = xmalloc(rows * es);
    xent_status st = s->f64 ? xent_cross_entropy_ex_f64(x, rows, cols, cols, s->labels, &o, loss, g, cols, lse, NULL)
                            : xent_cross_entropy_ex_f32(x, rows, cols, cols, s->labels, &o, loss, g, cols, lse, NULL);
    if (st != XENT_OK)
        FAIL("options 1.1 (z_loss %g, soft_cap %g, weights %d): status %d (%s)", lambda, cap, weighted, st,
             xent_last_error_message());
#define GET(p, k) (s->f64 ? ((double *)(p))[k] : (double)((float *)(p))[k])
    LD eps = o.label_smoothing, gs = o.grad_scale, C = s->f64 ? 1e-12L : 2e-6L;
    LD captol = cap > 0 ? 8 * (LD)cap * (s->f64 ? 0x1p-52L : 0x1p-23L) : 0;
    LD wsum = 0, wall = 0;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++)
        if (s->labels[i] != o.ignore_index) counted++, wsum += W ? W[s->labels[i]] : 1;
    for (size_t j = 0; j < cols; j++) wall += W ? W[j] : 1;
    LD denom = red == XENT_REDUCTION_MEAN ? wsum : 1, zden = red == XENT_REDUCTION_MEAN ? (LD)counted : 1;
    LD sc = denom == 0 ? 0 : gs / denom, zsc = zden == 0 ? 0 : gs / zden;
    double *xr = xmalloc((cols + 1) * sizeof(double));
    LD *e = xmalloc((cols + 1) * sizeof(LD)), *t = xmalloc((cols + 1) * sizeof(LD));
    LD total = 0, ztotal = 0, tolsum = 0, ztolsum = 0;
    int reduce_ok = 1;
    for (size_t i = 0; i < rows; i++) {
        const double *xi = s->x + i * cols;
        for (size_t j = 0; j < cols; j++) xr[j] = (double)xt_ref_soft_cap(xi[j], cap);
        if (row_extreme(xr, cols)) {
            reduce_ok = 0;
            continue;
        }
        RowRef r = row_ref(xr, cols, e);
        check_val(GET(lse, i), r.lse, C * fmaxl(1, fabsl(r.lse)) + captol, what[0], i, 0);
        int64_t y = s->labels[i];
        if (y == o.ignore_index) {
            if (red == XENT_REDUCTION_NONE && (GET(loss, i) != 0 || zout[i] != 0))
                FAIL("options 1.1: ignored row %zu: loss %g, z %g", i, GET(loss, i), zout[i]);
            for (size_t j = 0; j < cols; j++)
                if (GET(g, i * cols + j) != 0)
                    FAIL("options 1.1: grad[%zu,%zu] of an ignored row is %g", i, j, GET(g, i * cols + j));
            continue;
        }
        LD tsum = 0, tabs = 0;
        for (size_t j = 0; j < cols; j++) {
            t[j] = (1 - eps) * (W ? W[y] : 1) * ((int64_t)j == y) + eps * (W ? W[j] : 1) / (LD)cols;
            tsum += t[j], tabs += fabsl(t[j]);
        }
        LD S;
        LD L = ref_row_loss(&r, xr, t, cols, tsum, &S);
        LD z = lambda == 0 ? 0 : (LD)lambda * r.lse * r.lse;
        LD ltol = C * S + captol * (1 + tabs) * 2;
        LD ztol = !isfinite(r.lse) ? 0 /* exact: inf, NaN */
                                   : C * (1 + 4 * (LD)lambda * fmaxl(1, fabsl(r.lse)) * fmaxl(1, fabsl(r.lse))) +
                                         4 * (LD)lambda * fabsl(r.lse) * captol;
        if (!isnan(L) && !isinf(L) && fabsl(L) > 0.25L * TMAX()) {
            reduce_ok = 0;
            continue;
        }
        if (isnan(L) || isinf(L) || isnan(z) || isinf(z)) reduce_ok = 0;
        else total += L, ztotal += z, tolsum += ltol, ztolsum += ztol;
        if (red == XENT_REDUCTION_NONE) {
            check_val(GET(loss, i), L, ltol, what[1], i, 0);
            check_val(zout[i], z, ztol, what[2], i, 0);
        }
        LD zterm = lambda == 0 ? 0 : zsc * 2 * (LD)lambda * r.lse;
        if (fabsl(sc) * (1 + tabs) + fabsl(zterm) > 0.25L * TMAX() || isnan(zterm)) continue;
        /* the z term's error is absolute in lse (cancellation when lse is near 0): 2*lambda*s_z*(error of lse) */
        LD zlse = lambda == 0 || !isfinite(r.lse)
                      ? 0
                      : fabsl(zsc) * 2 * (LD)lambda * (2 * C * fmaxl(1, fabsl(r.lse)) + 2 * captol);
        LD gt = 2 * C * (fabsl(sc) * (1 + tabs) + fabsl(zterm)) + (fabsl(sc) * tabs + fabsl(zterm)) * captol * 2 +
                zlse + 4 * TRUEMIN();
        for (size_t j = 0; j < cols; j++) {
            LD p = r.nan ? (LD)NAN : r.allneg ? 0 : e[j] / r.sum;
            LD d = xt_ref_soft_cap_deriv(xi[j], cap);
            LD ref = (sc * (p * tsum - t[j]) + zterm * p) * d;
            check_val(GET(g, i * cols + j), ref, gt, what[3], i, j);
        }
    }
    if (red != XENT_REDUCTION_NONE && reduce_ok) {
        LD ref = red == XENT_REDUCTION_MEAN ? (denom == 0 ? 0 : total / denom) : total;
        LD tol = red == XENT_REDUCTION_MEAN && denom != 0 ? tolsum / denom : tolsum;
        if (!(fabsl(ref) > 0.25L * DBL_MAX)) check_val(GET(loss, 0), ref, tol + C * fabsl(ref), what[4], 0, 0);
        LD zref = red == XENT_REDUCTION_MEAN ? (zden == 0 ? 0 : ztotal / zden) : ztotal;
        LD ztol = red == XENT_REDUCTION_MEAN && zden != 0 ? ztolsum / zden : ztolsum;
        if (!(fabsl(zref) > 0.25L * DBL_MAX)) check_val(zout[0], zref, ztol + C * fabsl(zref), what[4], 0, 0);
    }
#undef GET
    (void)wall;
    free(W), free(zout), free(x), free(g), free(loss), free(lse), free(xr), free(e), free(t);
}
