/*
 * xt_ref.h -- the one long double reference of the C tests and the fuzz harness (fuzz/): log-sum-exp, softmax,
 * log_softmax, and the cross-entropy loss and gradient of include/xent.h with every option (reduction,
 * ignore_index, label smoothing, grad_scale, z-loss, soft cap, class weights, soft targets, bias gradient), and the
 * bfloat16 rounding. Valid C99 and C++17.
 *
 * The formulas (include/xent.h):
 *   x'_j   = c*tanh(x_j/c) with a soft cap c > 0 (-inf and NaN kept), else x_j
 *   lse    = m + log(sum_j exp(x'_j - m)), m = max_j x'_j; -inf for an all -inf row; NaN for a NaN or +inf logit
 *   t_j    = (1-eps)*w_y*[j == y] + eps*w_j/C (hard labels, w = class weights or 1), (1-eps)*y_j + eps/C (soft)
 *   loss_i = sum_{t_j != 0} t_j*(lse - x'_j), the difference formed as (m - x'_j) + log(sum) so that it stays
 *            exact for huge logits (1e30, where m + log(sum) rounds to m); +inf when a t_j != 0 meets a -inf
 *   z_i    = lambda*lse^2 (a separate output)
 *   g_ij   = (s*(sum(t)*p_j - t_j) + s_z*2*lambda*lse*p_j) * (1 - tanh^2(x_j/c)),  p_j = exp(x'_j - m)/sum
 *            (the z term is 0 where p_j = 0: an all -inf row, lse = -inf, gets -s*t_j*(1 - tanh^2), not NaN)
 *   s = grad_scale/D, s_z = grad_scale/N for MEAN (D = sum of w_y over the counted rows, N = counted rows; a zero
 *   denominator gives 0), else grad_scale. Ignored rows (hard labels == ignore_index): loss 0, z 0, gradient 0,
 *   lse still computed. bias_grad_j = sum_i g_ij.
 */
#ifndef XT_REF_H
#define XT_REF_H

#include <stddef.h>
#include <stdint.h>

#include <xent.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- One row ------------------------------------------------------------------------------------------------ */

#define XT_ROW_FINITE 0 /* at least one finite logit, no NaN, no +inf */
#define XT_ROW_ALL_NEG_INF 1
#define XT_ROW_NAN 2 /* a NaN or +inf logit */

typedef struct xt_row_stats {
    int kind;
    long double max;    /* max_j x_j (finite rows); -inf for an all -inf row */
    long double sum;    /* sum_j exp(x_j - max) */
    long double logsum; /* log(sum) */
} xt_row_stats;

/* The statistics of one row of long double logits. */
xt_row_stats xt_ref_row(const long double *x, size_t n);
/* The same for double logits; when e is not NULL, e[j] = exp(x_j - max) (0 for -inf). double_exp: form the
   exponentials with exp() in double (for float rows: its error, about |v|*2^-53 relative, is far below float
   tolerances and it is several times faster than expl), else expl(). */
xt_row_stats xt_ref_row_d(const double *x, size_t n, long double *e, int double_exp);

long double xt_ref_lse(const xt_row_stats *r);
long double xt_ref_softmax(const xt_row_stats *r, long double xj);
long double xt_ref_log_softmax(const xt_row_stats *r, long double xj);
/* lse - x_j formed as (max - x_j) + logsum; +inf for x_j = -inf or an all -inf row; NaN for a NaN row. */
long double xt_ref_nll(const xt_row_stats *r, long double xj);
/* sum_j t_j*(lse - x_j) over t_j != 0 (x as double); NaN for a NaN row; for an all -inf row +inf when tsum != 0,
   else 0. *scale (may be NULL) receives 1 + sum_j |t_j|*|lse - x_j|, the scale of its rounding. */
long double xt_ref_row_loss(const xt_row_stats *r, const double *x, const long double *t, size_t n, long double tsum,
                            long double *scale);

/* The soft cap c*tanh(x/c) (c > 0; -inf and NaN kept, +inf -> c) and its derivative 1 - tanh^2(x/c); identity and
   1 for c == 0. */
long double xt_ref_soft_cap(long double x, long double c);
long double xt_ref_soft_cap_deriv(long double x, long double c);

/* ---- Whole cross-entropy calls ------------------------------------------------------------------------------ */

typedef struct xt_ref_opts {
    int reduction;
    int64_t ignore_index;
    long double eps;       /* label smoothing, as the float the library receives */
    long double gscale;    /* grad_scale, as the float the library receives */
    long double z_loss;    /* lambda */
    long double soft_cap;  /* c; 0 = none */
    const double *weights; /* class weights (hard labels), NULL = all 1 */
} xt_ref_opts;

/* The options a call with o sees (NULL: the defaults; the 1.1.0 fields only when struct_size covers them). */
xt_ref_opts xt_ref_opts_from(const xent_options *o);

/* The reference results of a cross-entropy call (all arrays contiguous: row i of grad at grad[i*cols]). */
typedef struct xt_ref_ce_out {
    long double *loss_rows; /* rows */
    long double loss_red;   /* the SUM or MEAN value */
    long double *z_rows;    /* rows: lambda*lse^2 (0 for ignored rows) */
    long double z_red;      /* the SUM or MEAN value of z */
    long double *grad;      /* rows * cols */
    long double *lse;       /* rows */
    long double *bias;      /* cols */
    long double *bias_abs;  /* cols: sum_i |grad_ij| (the condition of the column sum) */
} xt_ref_ce_out;

void xt_ref_ce_alloc(xt_ref_ce_out *o, size_t rows, size_t cols);
void xt_ref_ce_free(xt_ref_ce_out *o);

/* Cross-entropy reference. x: rows x cols contiguous. Exactly one of labels (hard) and y (soft targets, rows x
   cols contiguous) is non-NULL. */
void xt_ref_ce(const long double *x, size_t rows, size_t cols, const int64_t *labels, const long double *y,
               const xt_ref_opts *o, xt_ref_ce_out *out);

/* ---- Linear cross-entropy (xent_linear_cross_entropy_*) ----------------------------------------------------- */

/* The reference of a linear cross-entropy call: o = h*w^T + b with long double products and sums, then xt_ref_ce
   on o, then grad_hidden = G*w, grad_weight = G^T*h, grad_bias = column sums of G (ce.bias), each with the sum of
   the magnitudes of its terms (the condition of the sum: a float computation of it errs by about u*n*abs). */
typedef struct xt_ref_linear_out {
    xt_ref_ce_out ce;      /* loss, z, lse, G (rows x classes), grad_bias (ce.bias) and its ce.bias_abs */
    long double *logits;   /* rows x classes */
    long double *o_abs;    /* rows: max_j (sum_k |h_ik*w_jk| + |b_j|), the scale of the logits' rounding */
    long double *gh;       /* rows x dim */
    long double *gh_abs;   /* rows x dim: sum_j |G_ij*w_jk| */
    long double *gw;       /* classes x dim */
    long double *gw_abs;   /* classes x dim: sum_i |G_ij*h_ik| */
} xt_ref_linear_out;

void xt_ref_linear_alloc(xt_ref_linear_out *o, size_t rows, size_t dim, size_t classes);
void xt_ref_linear_free(xt_ref_linear_out *o);
/* h: rows x dim, w: classes x dim, b: classes values or NULL, all contiguous long double. A -inf bias masks its
   class (logit -inf); a NaN in h makes that row's logits NaN. */
void xt_ref_linear(const long double *h, size_t rows, size_t dim, const long double *w, size_t classes,
                   const long double *b, const int64_t *labels, const xt_ref_opts *o, xt_ref_linear_out *out);

/* ---- Conversions -------------------------------------------------------------------------------------------- */

/* A strided float/double matrix as contiguous long double. */
void xt_widen_f32(const float *a, size_t rows, size_t cols, size_t stride, long double *out);
void xt_widen_f64(const double *a, size_t rows, size_t cols, size_t stride, long double *out);

/* float -> bfloat16, round to nearest even (NaN stays NaN); bfloat16 -> float. */
uint16_t xt_bf16_round(float f);
float xt_bf16_widen(uint16_t h);

#ifdef __cplusplus
}
#endif

#endif /* XT_REF_H */
