/* xt_ref.c -- the long double reference declared in xt_ref.h (C99). */
#include "xt_ref.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "xt_check.h"

/* ---- One row ------------------------------------------------------------------------------------------------ */

/* The shared body of xt_ref_row and xt_ref_row_d: element j of x is get(x, j). */
#define XT_ROW_BODY(get)                                                                                               \
    xt_row_stats r;                                                                                                    \
    size_t j;                                                                                                          \
    int bad = 0;                                                                                                       \
    r.max = -INFINITY;                                                                                                 \
    r.sum = 0;                                                                                                         \
    r.logsum = 0;                                                                                                      \
    for (j = 0; j < n; j++) {                                                                                          \
        long double v = get(x, j);                                                                                     \
        if (isnan(v) || v == INFINITY) bad = 1;                                                                        \
        else if (v > r.max) r.max = v;                                                                                 \
    }                                                                                                                  \
    if (bad) {                                                                                                         \
        r.kind = XT_ROW_NAN;                                                                                           \
        r.max = NAN;                                                                                                   \
        return r;                                                                                                      \
    }                                                                                                                  \
    if (r.max == -INFINITY) {                                                                                          \
        r.kind = XT_ROW_ALL_NEG_INF;                                                                                   \
        if (e)                                                                                                         \
            for (j = 0; j < n; j++) e[j] = 0;                                                                          \
        return r;                                                                                                      \
    }                                                                                                                  \
    r.kind = XT_ROW_FINITE;                                                                                            \
    for (j = 0; j < n; j++) {                                                                                          \
        long double v = get(x, j), ej;                                                                                 \
        if (v == -INFINITY) ej = 0;                                                                                    \
        else if (double_exp) ej = (long double)exp((double)(v - r.max));                                               \
        else ej = expl(v - r.max);                                                                                     \
        if (e) e[j] = ej;                                                                                              \
        r.sum += ej;                                                                                                   \
    }                                                                                                                  \
    r.logsum = logl(r.sum);                                                                                            \
    return r;

#define XT_GET_LD(p, j) (p)[j]
#define XT_GET_D(p, j) ((long double)(p)[j])

xt_row_stats xt_ref_row(const long double *x, size_t n)
{
    long double *e = NULL;
    const int double_exp = 0;
    XT_ROW_BODY(XT_GET_LD)
}

xt_row_stats xt_ref_row_d(const double *x, size_t n, long double *e, int double_exp)
{
    XT_ROW_BODY(XT_GET_D)
}

long double xt_ref_lse(const xt_row_stats *r)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return -INFINITY;
    return r->max + r->logsum;
}

long double xt_ref_softmax(const xt_row_stats *r, long double xj)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return 0;
    return expl(xj - r->max) / r->sum;
}

long double xt_ref_log_softmax(const xt_row_stats *r, long double xj)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return -INFINITY;
    return (xj - r->max) - r->logsum;
}

long double xt_ref_nll(const xt_row_stats *r, long double xj)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF || xj == -INFINITY) return INFINITY;
    return (r->max - xj) + r->logsum;
}

long double xt_ref_row_loss(const xt_row_stats *r, const double *x, const long double *t, size_t n, long double tsum,
                            long double *scale)
{
    long double loss = 0, s = 1;
    size_t j;
    if (scale) *scale = 1;
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return tsum != 0 ? (long double)INFINITY : 0;
    for (j = 0; j < n; j++) {
        long double d;
        if (t[j] == 0) continue;
        d = xt_ref_nll(r, (long double)x[j]);
        loss += t[j] * d;
        s += fabsl(t[j]) * fabsl(d);
    }
    if (scale) *scale = s;
    return loss;
}

long double xt_ref_soft_cap(long double x, long double c)
{
    if (c == 0 || isnan(x) || x == -INFINITY) return x;
    return c * tanhl(x / c);
}

long double xt_ref_soft_cap_deriv(long double x, long double c)
{
    long double th;
    if (c == 0) return 1;
    if (isnan(x)) return NAN;
    th = tanhl(x / c);
    return 1 - th * th;
}

/* ---- Whole cross-entropy calls ------------------------------------------------------------------------------ */

xt_ref_opts xt_ref_opts_from(const xent_options *o)
{
    xt_ref_opts r;
    xent_options d;
    xent_options_init(&d);
    if (!o) o = &d;
    r.reduction = o->reduction;
    r.ignore_index = o->ignore_index;
    r.eps = (long double)o->label_smoothing;
    r.gscale = (long double)o->grad_scale;
    r.z_loss = 0;
    r.soft_cap = 0;
    r.weights = NULL;
    if (o->struct_size >= offsetof(xent_options, z_loss_out) + sizeof(o->z_loss_out)) { /* the 1.1.0 fields */
        r.z_loss = (long double)o->z_loss;
        r.soft_cap = (long double)o->soft_cap;
        r.weights = o->class_weights;
    }
    return r;
}

void xt_ref_ce_alloc(xt_ref_ce_out *o, size_t rows, size_t cols)
{
    o->loss_rows = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->z_rows = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->grad = (long double *)xt_alloc(sizeof(long double) * (rows * cols + 1));
    o->lse = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->bias = (long double *)xt_alloc(sizeof(long double) * (cols + 1));
    o->bias_abs = (long double *)xt_alloc(sizeof(long double) * (cols + 1));
    o->loss_red = 0;
    o->z_red = 0;
}

void xt_ref_ce_free(xt_ref_ce_out *o)
{
    free(o->loss_rows);
    free(o->z_rows);
    free(o->grad);
    free(o->lse);
    free(o->bias);
    free(o->bias_abs);
}

void xt_ref_ce(const long double *x, size_t rows, size_t cols, const int64_t *labels, const long double *y,
               const xt_ref_opts *o, xt_ref_ce_out *out)
{
    size_t i, j, counted = 0;
    long double s, sz, wsum = 0, total = 0, ztotal = 0;
    long double *t = (long double *)xt_alloc(sizeof(long double) * cols);
    long double *xc = (long double *)xt_alloc(sizeof(long double) * cols);
    const double *w = labels ? o->weights : NULL;
    for (i = 0; i < rows; i++)
        if (!labels || labels[i] != o->ignore_index) {
            counted++;
            wsum += w ? (long double)w[labels[i]] : 1.0L;
        }
    if (o->reduction == XENT_REDUCTION_MEAN) {
        s = wsum != 0 ? o->gscale / wsum : 0.0L;
        sz = counted ? o->gscale / (long double)counted : 0.0L;
    } else {
        s = o->gscale;
        sz = o->gscale;
    }
    for (j = 0; j < cols; j++) {
        out->bias[j] = 0;
        out->bias_abs[j] = 0;
    }
    for (i = 0; i < rows; i++) {
        const long double *xi = x + i * cols;
        long double *gi = out->grad + i * cols;
        xt_row_stats r;
        long double tsum = 0, loss = 0, lse, zterm;
        for (j = 0; j < cols; j++) xc[j] = xt_ref_soft_cap(xi[j], o->soft_cap);
        r = xt_ref_row(xc, cols);
        lse = xt_ref_lse(&r);
        out->lse[i] = lse;
        out->z_rows[i] = 0;
        if (labels && labels[i] == o->ignore_index) {
            out->loss_rows[i] = 0;
            for (j = 0; j < cols; j++) gi[j] = 0;
            continue;
        }
        for (j = 0; j < cols; j++) {
            long double base, wj = w ? (long double)w[j] : 1.0L;
            if (labels) base = (int64_t)j == labels[i] ? (w ? (long double)w[labels[i]] : 1.0L) : 0.0L;
            else base = y[i * cols + j];
            t[j] = (1.0L - o->eps) * base + o->eps * wj / (long double)cols;
            tsum += t[j];
        }
        out->z_rows[i] = o->z_loss == 0 ? 0.0L : o->z_loss * lse * lse;
        zterm = o->z_loss == 0 ? 0.0L : sz * 2 * o->z_loss * lse;
        if (r.kind == XT_ROW_NAN) {
            loss = NAN;
            for (j = 0; j < cols; j++) gi[j] = NAN;
        } else {
            for (j = 0; j < cols; j++) {
                long double p = xt_ref_softmax(&r, xc[j]);
                if (t[j] != 0) loss += t[j] * xt_ref_nll(&r, xc[j]);
                gi[j] = (s * (tsum * p - t[j]) + (zterm != 0 && p != 0 ? zterm * p : 0.0L)) *
                        xt_ref_soft_cap_deriv(xi[j], o->soft_cap);
            }
        }
        out->loss_rows[i] = loss;
        total += loss;
        ztotal += out->z_rows[i];
    }
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            out->bias[j] += out->grad[i * cols + j];
            out->bias_abs[j] += fabsl(out->grad[i * cols + j]);
        }
    if (o->reduction == XENT_REDUCTION_MEAN) {
        out->loss_red = wsum != 0 ? total / wsum : 0.0L;
        out->z_red = counted ? ztotal / (long double)counted : 0.0L;
    } else {
        out->loss_red = total;
        out->z_red = ztotal;
    }
    free(t);
    free(xc);
}

/* ---- Linear cross-entropy ----------------------------------------------------------------------------------- */

void xt_ref_linear_alloc(xt_ref_linear_out *o, size_t rows, size_t dim, size_t classes)
{
    xt_ref_ce_alloc(&o->ce, rows, classes);
    o->logits = (long double *)xt_alloc(sizeof(long double) * (rows * classes + 1));
    o->o_abs = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->gh = (long double *)xt_alloc(sizeof(long double) * (rows * dim + 1));
    o->gh_abs = (long double *)xt_alloc(sizeof(long double) * (rows * dim + 1));
    o->gw = (long double *)xt_alloc(sizeof(long double) * (classes * dim + 1));
    o->gw_abs = (long double *)xt_alloc(sizeof(long double) * (classes * dim + 1));
}

void xt_ref_linear_free(xt_ref_linear_out *o)
{
    xt_ref_ce_free(&o->ce);
    free(o->logits);
    free(o->o_abs);
    free(o->gh);
    free(o->gh_abs);
    free(o->gw);
    free(o->gw_abs);
}

void xt_ref_linear(const long double *h, size_t rows, size_t dim, const long double *w, size_t classes,
                   const long double *b, const int64_t *labels, const xt_ref_opts *o, xt_ref_linear_out *out)
{
    size_t i, j, k;
    for (i = 0; i < rows; i++) {
        long double amax = 0;
        for (j = 0; j < classes; j++) {
            long double acc = 0, aabs = 0;
            for (k = 0; k < dim; k++) {
                long double t = h[i * dim + k] * w[j * dim + k];
                acc += t;
                aabs += fabsl(t);
            }
            if (b) {
                acc += b[j];
                if (isfinite(b[j])) aabs += fabsl(b[j]);
            }
            out->logits[i * classes + j] = acc;
            if (aabs > amax) amax = aabs;
        }
        out->o_abs[i] = amax;
    }
    xt_ref_ce(out->logits, rows, classes, labels, NULL, o, &out->ce);
    for (i = 0; i < rows * dim; i++) out->gh[i] = out->gh_abs[i] = 0;
    for (i = 0; i < classes * dim; i++) out->gw[i] = out->gw_abs[i] = 0;
    for (i = 0; i < rows; i++)
        for (j = 0; j < classes; j++) {
            long double g = out->ce.grad[i * classes + j];
            for (k = 0; k < dim; k++) {
                long double a = g * w[j * dim + k], c = g * h[i * dim + k];
                out->gh[i * dim + k] += a;
                out->gh_abs[i * dim + k] += fabsl(a);
                out->gw[j * dim + k] += c;
                out->gw_abs[j * dim + k] += fabsl(c);
            }
        }
}

/* ---- Conversions -------------------------------------------------------------------------------------------- */

void xt_widen_f32(const float *a, size_t rows, size_t cols, size_t stride, long double *out)
{
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) out[i * cols + j] = (long double)a[i * stride + j];
}

void xt_widen_f64(const double *a, size_t rows, size_t cols, size_t stride, long double *out)
{
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) out[i * cols + j] = (long double)a[i * stride + j];
}

uint16_t xt_bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return (uint16_t)((u >> 16) | 0x40); /* NaN */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

float xt_bf16_widen(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
