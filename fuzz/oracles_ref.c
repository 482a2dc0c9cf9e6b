/*
 * fuzz/oracles_ref.c -- invariant 3: the results against the long double reference of Tests/CSupport/xt_ref.h
 * (softmax rows sum to 1, log_softmax is log(softmax), logsumexp, loss, gradient, bias gradient, special
 * values); invariants 4-5: variants compared bitwise.
 */
#include "xf.h"

int f64g;

/* ---- Reference checks ----------------------------------------------------------------------------------- */

/* The element type's smallest subnormal: values below half of it round to 0 (a floor for absolute tolerances). */
double TRUEMIN(void)
{
    return f64g ? DBL_TRUE_MIN : FLT_TRUE_MIN;
}

/* The row's max, log-sum-exp and, when e is not NULL, e[j] = e^(x_j - max) (0 for -inf), so that
 * softmax_j = e[j] / sum without a second exp per element: xt_ref_row_d of the shared reference, its exponentials
 * in long double for double rows and in double for float rows (error about |v| * 2^-53 relative, far below the
 * float tolerances, and several times faster than expl). */
XF_CHECKER RowRef row_ref(const double *x, size_t cols, LD *e)
{
    RowRef r;
    r.st = xt_ref_row_d(x, cols, e, !f64g);
    r.nan = r.st.kind == XT_ROW_NAN;
    r.allneg = r.st.kind == XT_ROW_ALL_NEG_INF;
    r.m = r.st.max;
    r.lse = xt_ref_lse(&r.st);
    r.logsum = r.st.logsum;
    r.sum = r.st.sum;
    return r;
}

/* The reference loss of one row (xt_ref_row_loss): sum_j t_j*(lse - x_j) with the difference formed as
 * (max - x_j) + log sum exp; NaN for a NaN row; for an all -inf row +inf when the targets sum to nonzero, else 0.
 * *S receives the scale of its rounding, 1 + sum_j |t_j|*|lse - x_j|. */
XF_CHECKER LD ref_row_loss(const RowRef *r, const double *x, const LD *t, size_t cols, LD tsum, LD *S)
{
    return xt_ref_row_loss(&r->st, x, t, cols, tsum, S);
}

double TMAX(void)
{
    return f64g ? DBL_MAX : FLT_MAX;
}

/* got vs ref within tol (absolute); NaN must be NaN, infinities exact; refs beyond the type's range skipped. */
XF_CHECKER void check_val(double got, LD ref, LD tol, const char *what, size_t i, size_t j)
{
    if (isnan(ref)) {
        if (!isnan(got)) FAIL("%s[%zu,%zu] = %.9g, expected NaN", what, i, j, got);
        return;
    }
    if (isinf(ref)) {
        if (got != (double)ref) FAIL("%s[%zu,%zu] = %.9g, expected %Lg", what, i, j, got, ref);
        return;
    }
    if (fabsl(ref) > 0.5L * TMAX()) return;
    if (!(fabsl((LD)got - ref) <= tol))
        FAIL("%s[%zu,%zu] = %.17g, reference %.17Lg, |diff| %.3Lg > tol %.3Lg", what, i, j, got, ref,
             fabsl((LD)got - ref), tol);
}

XF_CHECKER void check_rowfn(Spec *s, Mem *m)
{
    size_t rows = s->rows, cols = s->cols, n;
    double *out = mem_get(m, B_LOSS, &n);
    LD C = s->f64 ? 1e-12L : 2e-6L;
    LD *e = malloc((cols + 1) * sizeof(LD));
    for (size_t i = 0; i < rows; i++) {
        const double *x = s->x + i * cols;
        RowRef r = row_ref(x, cols, e);
        if (s->fn == F_LSE) {
            check_val(out[i], r.lse, C * fmaxl(1, fabsl(r.lse)), "lse", i, 0);
            continue;
        }
        double *o = out + i * cols;
        if (s->fn == F_SOFTMAX) {
            LD sum = 0;
            for (size_t j = 0; j < cols; j++) {
                LD ref = r.nan ? (LD)NAN : r.allneg ? 0 : e[j] / r.sum;
                check_val(o[j], ref, s->f64 ? 1e-13L : 1e-6L, "softmax", i, j);
                if (!r.nan && x[j] == -INFINITY && o[j] != 0) FAIL("softmax[%zu,%zu] of -inf is %g", i, j, o[j]);
                sum += o[j];
            }
            if (!r.nan && !r.allneg && !(fabsl(sum - 1) <= (s->f64 ? 1e-12L : 1e-5L)))
                FAIL("softmax row %zu sums to %.17Lg", i, sum);
        } else {
            for (size_t j = 0; j < cols; j++) {
                LD ref = r.nan                             ? (LD)NAN
                         : (r.allneg || x[j] == -INFINITY) ? (LD)-INFINITY
                                                           : ((LD)x[j] - r.m) - r.logsum;
                check_val(o[j], ref, C * fmaxl(1, fabsl(ref)), "log_softmax", i, j);
            }
        }
    }
    free(out), free(e);
}

/* Cross-entropy reference: loss (per row and reduced), lse, gradient, bias gradient. */
XF_CHECKER void check_ce(Spec *s, Mem *m)
{
    size_t rows = s->rows, cols = s->cols, n;
    int soft = s->fn == F_SOFT || s->fn == F_SOFT_EX;
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    int64_t ignore = s->opts_null ? -100 : s->ignore;
    LD eps = s->opts_null ? 0 : (LD)s->smoothing, gs = s->opts_null ? 1 : (LD)s->gscale;
    LD C = s->f64 ? 1e-12L : 2e-6L;
    int numeric = !(soft && s->wild_targets), numeric_red = 1;
    double *loss = mem_get(m, B_LOSS, &n);
    double *grad = m->ptr[B_GRAD] ? mem_get(m, B_GRAD, &n) : NULL;
    double *lse = m->ptr[B_LSE] ? mem_get(m, B_LSE, &n) : NULL;
    double *bias = m->ptr[B_BIAS] ? mem_get(m, B_BIAS, &n) : NULL;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++)
        if (soft || s->labels[i] != ignore) counted++;
    LD denom = red == XENT_REDUCTION_MEAN ? (LD)counted : 1;
    LD sc = denom == 0 ? 0 : gs / denom;
    LD *t = malloc((cols + 1) * sizeof(LD)), *e = malloc((cols + 1) * sizeof(LD));
    LD *bref = calloc(cols + 1, sizeof(LD)), *btol = calloc(cols + 1, sizeof(LD));
    int *bnan = calloc(cols + 1, sizeof(int));
    LD total = 0, totscale = 0;
    int totnan = 0, totinf = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *x = s->x + i * cols;
        RowRef r = row_ref(x, cols, e);
        if (lse) check_val(lse[i], r.lse, C * fmaxl(1, fabsl(r.lse)), "lse", i, 0);
        int ignored = !soft && s->labels[i] == ignore;
        if (ignored) {
            if (red == XENT_REDUCTION_NONE && loss[i] != 0) FAIL("loss[%zu] of an ignored row is %g", i, loss[i]);
            if (grad)
                for (size_t j = 0; j < cols; j++)
                    if (grad[i * cols + j] != 0)
                        FAIL("grad[%zu,%zu] of an ignored row is %g", i, j, grad[i * cols + j]);
            continue;
        }
        LD tsum = 0, tabs = 0;
        for (size_t j = 0; j < cols; j++) {
            LD y = soft ? (LD)s->tgt[i * cols + j] : (LD)((int64_t)j == s->labels[i]);
            t[j] = (1 - eps) * y + eps / (LD)cols;
            tsum += t[j];
            tabs += fabsl(t[j]);
        }
        /* loss */
        LD S;
        LD L = ref_row_loss(&r, x, t, cols, tsum, &S);
        /* Rows spanning more than half the type's range (x_j - max overflows in the element type, or the row's
         * loss itself is beyond it): the library's element-typed partial sums may overflow to inf. Not checked
         * numerically (see fuzz/README.md, "Limitations"); the reduced loss is then not checked either. */
        int extreme = 0;
        for (size_t j = 0; j < cols && !r.nan && !r.allneg; j++) {
            if (x[j] != -INFINITY && (r.m - (LD)x[j] > 0.5L * TMAX())) extreme = 1;
        }
        if (!isnan(L) && !isinf(L) && fabsl(L) > 0.5L * TMAX()) extreme = 1;
        if (extreme) {
            numeric_red = 0;
            continue;
        }
        if (isnan(L)) totnan = 1;
        else if (isinf(L)) totinf = 1;
        else total += L, totscale += S;
        if (numeric && red == XENT_REDUCTION_NONE) check_val(loss[i], L, C * S, "loss", i, 0);
        /* gradient: when s * sum(t) / sum(exp) overflows the element type the library's factor is inf and
         * entries with probability 0 become inf * 0 = NaN (see fuzz/README.md, "Limitations"): not checked. */
        if (fabsl(sc) * (1 + tabs) > 0.25L * TMAX()) {
            numeric_red = 0;
            continue;
        }
        LD gt = C * fabsl(sc) * (1 + tabs) * 2;
        for (size_t j = 0; j < cols; j++) {
            LD g;
            if (r.nan) g = NAN;
            else if (r.allneg) g = -sc * t[j];
            else g = sc * (e[j] / r.sum * tsum - t[j]);
            if (numeric && grad) check_val(grad[i * cols + j], g, gt, "grad", i, j);
            if (isnan(g)) bnan[j] = 1;
            else bref[j] += g, btol[j] += gt;
        }
    }
    /* SUM and MEAN accumulate in double (header): a sum beyond DBL_MAX legitimately becomes inf. */
    if (numeric && numeric_red && red != XENT_REDUCTION_NONE && !(fabsl(total) > 0.5L * DBL_MAX)) {
        LD ref = totnan ? (LD)NAN : totinf ? (LD)INFINITY : total;
        if (red == XENT_REDUCTION_MEAN) ref = counted == 0 ? 0 : ref / (LD)counted;
        LD tol = C * (1 + totscale) / (red == XENT_REDUCTION_MEAN && counted ? (LD)counted : 1);
        check_val(loss[0], ref, tol, "reduced loss", 0, 0);
    }
    if (numeric && numeric_red && bias)
        for (size_t j = 0; j < cols; j++)
            check_val(bias[j], bnan[j] ? (LD)NAN : bref[j], btol[j] + C * fabsl(sc), "bias_grad", 0, j);
    free(t), free(e), free(bref), free(btol), free(bnan);
    free(loss), free(grad), free(lse), free(bias);
}

/* ---- Variants: compare outputs bitwise ---------------------------------------------------------------- */

void outs_get(Mem *m, Outs *o)
{
    memset(o, 0, sizeof *o);
    int ks[] = {B_LOSS, B_GRAD, B_LSE, B_BIAS};
    for (int q = 0; q < 4; q++)
        if (m->have[ks[q]] && m->ptr[ks[q]]) o->v[ks[q]] = mem_get(m, ks[q], &o->n[ks[q]]);
}

void outs_free(Outs *o)
{
    for (int k = 0; k < B_COUNT; k++) free(o->v[k]);
}

XF_CHECKER void outs_same(const Outs *a, const Outs *b, const char *what)
{
    for (int k = 0; k < B_COUNT; k++) {
        if (!a->v[k] || !b->v[k]) continue;
        if (a->n[k] != b->n[k]) FAIL("%s: %s sizes differ", what, buf_names[k]);
        for (size_t i = 0; i < a->n[k]; i++)
            /* bitwise, except that the sign and payload of a NaN are not compared (see fuzz/README.md) */
            if (memcmp(&a->v[k][i], &b->v[k][i], sizeof(double)) && !(isnan(a->v[k][i]) && isnan(b->v[k][i])))
                FAIL("%s: %s element %zu differs: %.17g vs %.17g", what, buf_names[k], i, a->v[k][i], b->v[k][i]);
    }
}

/* Runs a fresh call of s with the given placement; it must succeed; returns its outputs. */
void run_variant(Spec *s, int alias_mode, int inplace, Outs *o, const char *what)
{
    Mem m;
    mem_build(&m, s, alias_mode, inplace);
    mem_snapshot(&m);
    xent_status st = mem_call(&m);
    if (st != XENT_OK) FAIL("%s: status %d (%s)", what, st, xent_last_error_message());
    mem_check_untouched(&m, 1);
    outs_get(&m, o);
    mem_free(&m);
}
