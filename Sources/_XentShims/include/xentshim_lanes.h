/* xentshim_lanes.h: lane-wise helpers that Swift's generic SIMD code would otherwise scalarize: running
   maxima, widened sums, the rows-in-lanes kernel's per-row scalars, the logit soft cap. */
#ifndef XENTSHIM_LANES_H
#define XENTSHIM_LANES_H

#include "xentshim_types.h"
#include "xentshim_sleef.h"

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#endif

/* Lane-wise helpers that Swift's generic SIMD code would otherwise scalarize (measured: the generic
   `replacing(with:where:)` became a per-lane compare through the stack). Any ISA. */

/* A running maximum: v where v > m, else m, lane-wise. A NaN lane of v is ignored; m must never be NaN
   (it starts at -inf and only takes values of v). One vmaxps/vmaxpd with the data as first operand
   (x86 max returns its second operand when either is NaN), instead of maxNum's three instructions. */
static inline xentshim_f32x8 xentshim_max_f32x8(xentshim_f32x8 m, xentshim_f32x8 v) {
  xentshim_i32x8 take = (xentshim_i32x8)(v > m);
  return (xentshim_f32x8)((take & (xentshim_i32x8)v) | (~take & (xentshim_i32x8)m));
}
static inline xentshim_f64x4 xentshim_max_f64x4(xentshim_f64x4 m, xentshim_f64x4 v) {
  xentshim_i64x4 take = (xentshim_i64x4)(v > m);
  return (xentshim_f64x4)((take & (xentshim_i64x4)v) | (~take & (xentshim_i64x4)m));
}
/* The 8 lanes added into 4 doubles: lane k + lane k + 4, each widened first (one rounding, in double). */
static inline xentshim_f64x4 xentshim_widened_sum_f32x8(xentshim_f32x8 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), xentshim_f64x4) +
         __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), xentshim_f64x4);
}
/* p[k] += v[k] for the 8 lanes, each widened to double first (the Float bias gradient's accumulator:
   no rounding in float). p need not be aligned. */
static inline void xentshim_accumulate_f32x8(double *p, xentshim_f32x8 v) {
#if defined(__AVX512F__)
  typedef double f64x8 __attribute__((__vector_size__(64)));
  f64x8 acc;  /* one vcvtps2pd zmm, one 512-bit load, add and store */
  __builtin_memcpy(&acc, p, sizeof acc);
  acc += __builtin_convertvector(v, f64x8);
  __builtin_memcpy(p, &acc, sizeof acc);
#else
  xentshim_f64x4 lo, hi;
  __builtin_memcpy(&lo, p, sizeof lo);
  __builtin_memcpy(&hi, p + 4, sizeof hi);
  lo += __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), xentshim_f64x4);
  hi += __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), xentshim_f64x4);
  __builtin_memcpy(p, &lo, sizeof lo);
  __builtin_memcpy(p + 4, &hi, sizeof hi);
#endif
}
/* t·d lane-wise, but exactly 0 where t == 0 (so 0·(−inf) is 0, not NaN). */
static inline xentshim_f32x8 xentshim_weighted_f32x8(xentshim_f32x8 t, xentshim_f32x8 d) {
  return (xentshim_f32x8)((xentshim_i32x8)(t * d) & (xentshim_i32x8)(t != 0));
}
static inline xentshim_f64x4 xentshim_weighted_f64x4(xentshim_f64x4 t, xentshim_f64x4 d) {
  return (xentshim_f64x4)((xentshim_i64x4)(t * d) & (xentshim_i64x4)(t != 0));
}

/* Rows-in-lanes helpers (small class counts: one row per lane). Gathers and scatters are written as
   element loads/stores that Clang turns into insert/extract chains (no stack round trip). */
static inline xentshim_f32x8 xentshim_gather_f32x8(const float *p, long s) {
  return (xentshim_f32x8){p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]};
}
static inline xentshim_f64x4 xentshim_gather_f64x4(const double *p, long s) {
  return (xentshim_f64x4){p[0], p[s], p[2 * s], p[3 * s]};
}
static inline void xentshim_scatter_f32x8(float *p, long s, xentshim_f32x8 v) {
  p[0] = v[0]; p[s] = v[1]; p[2 * s] = v[2]; p[3 * s] = v[3];
  p[4 * s] = v[4]; p[5 * s] = v[5]; p[6 * s] = v[6]; p[7 * s] = v[7];
}
static inline void xentshim_scatter_f64x4(double *p, long s, xentshim_f64x4 v) {
  p[0] = v[0]; p[s] = v[1]; p[2 * s] = v[2]; p[3 * s] = v[3];
}
/* The reference of a row: its maximum, or 0 where the maximum is −inf (all −inf / NaN). */
static inline xentshim_f32x8 xentshim_reference_f32x8(xentshim_f32x8 m) {
  return (xentshim_f32x8)((xentshim_i32x8)m & (xentshim_i32x8)(m != -__builtin_inff()));
}
static inline xentshim_f64x4 xentshim_reference_f64x4(xentshim_f64x4 m) {
  return (xentshim_f64x4)((xentshim_i64x4)m & (xentshim_i64x4)(m != -__builtin_inf()));
}
/* n / d, and exactly 0 where d == 0. */
static inline xentshim_f32x8 xentshim_divide_or_zero_f32x8(xentshim_f32x8 n, xentshim_f32x8 d) {
  return (xentshim_f32x8)((xentshim_i32x8)(n / d) & (xentshim_i32x8)(d != 0));
}
static inline xentshim_f64x4 xentshim_divide_or_zero_f64x4(xentshim_f64x4 n, xentshim_f64x4 d) {
  return (xentshim_f64x4)((xentshim_i64x4)(n / d) & (xentshim_i64x4)(d != 0));
}
/* a where labels == j, else 0. */
static inline xentshim_f32x8 xentshim_onehot_f32x8(xentshim_i32x8 labels, int j, float a) {
  xentshim_f32x8 av = {a, a, a, a, a, a, a, a};
  return (xentshim_f32x8)((xentshim_i32x8)av & (labels == j));
}
static inline xentshim_f64x4 xentshim_onehot_f64x4(xentshim_i64x4 labels, long long j, double a) {
  xentshim_f64x4 av = {a, a, a, a};
  return (xentshim_f64x4)((xentshim_i64x4)av & (labels == j));
}

/* ---- The rows-in-lanes kernel's per-row scalars, lane-wise --------------------------------------- */

/* The class of each of the group's rows: lane k is labels[k] (validated: in [0, cols) or `ignore`), or
   -1 where it is `ignore`; `live` (any alignment) gets 1 in the lanes of counted rows, 0 in ignored. */
static inline xentshim_i32x8 xentshim_classes_f32x8(const long long *labels, long long ignore, void *live) {
  typedef long long i64x8 __attribute__((__vector_size__(64)));
  i64x8 v;
  __builtin_memcpy(&v, labels, sizeof v); /* labels need not be 8-byte aligned */
  xentshim_i32x8 ignored = __builtin_convertvector(v == ignore, xentshim_i32x8);
  xentshim_i32x8 c = __builtin_convertvector(v, xentshim_i32x8) | ignored;
  xentshim_f32x8 one = {1, 1, 1, 1, 1, 1, 1, 1};
  xentshim_f32x8 l = (xentshim_f32x8)((xentshim_i32x8)one & ~ignored);
  __builtin_memcpy(live, &l, sizeof l);
  return c;
}
static inline xentshim_i64x4 xentshim_classes_f64x4(const long long *labels, long long ignore, void *live) {
  xentshim_i64x4 v;
  __builtin_memcpy(&v, labels, sizeof v);
  xentshim_i64x4 ignored = v == ignore;
  xentshim_f64x4 one = {1, 1, 1, 1};
  xentshim_f64x4 l = (xentshim_f64x4)((xentshim_i64x4)one & ~ignored);
  __builtin_memcpy(live, &l, sizeof l);
  return v | ignored;
}
/* column where classes == j, else acc: the label's logit of each row, picked from the column tile. */
static inline xentshim_f32x8 xentshim_pick_f32x8(xentshim_i32x8 classes, int j, xentshim_f32x8 column, xentshim_f32x8 acc) {
  xentshim_i32x8 m = classes == j;
  return (xentshim_f32x8)((m & (xentshim_i32x8)column) | (~m & (xentshim_i32x8)acc));
}
static inline xentshim_f64x4 xentshim_pick_f64x4(xentshim_i64x4 classes, long long j, xentshim_f64x4 column, xentshim_f64x4 acc) {
  xentshim_i64x4 m = classes == j;
  return (xentshim_f64x4)((m & (xentshim_i64x4)column) | (~m & (xentshim_i64x4)acc));
}
/* The group's row losses, in Double, lane by lane exactly as the scalar formula
       loss = (1 − ε)·((r − x_label) + log Σexp) + ε·(log Σexp − (Σ(x − r)·2^-5 / cols)·2^5)
   (the first term when ε < 1, the second when smoothing), +inf where Σexp = 0, 0 in ignored lanes; each
   written (rounded to float) to rowLoss[k] when rowLoss is not NULL; returns their sum, added in lane
   order. No FMA contraction: every product and sum rounds as written. */
static inline double xentshim_group_loss_f32x8(xentshim_f32x8 r, xentshim_f32x8 xl, xentshim_f32x8 logs,
                                               xentshim_f32x8 s, xentshim_f32x8 live, xentshim_f32x8 sx,
                                               double eps, int smoothing, double cols, float *row_loss) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  typedef double f64x8 __attribute__((__vector_size__(64)));
  typedef long long i64x8 __attribute__((__vector_size__(64)));
  f64x8 l = __builtin_convertvector(logs, f64x8);
  f64x8 loss = {0, 0, 0, 0, 0, 0, 0, 0};
  if (eps < 1) loss += (1 - eps) * ((__builtin_convertvector(r, f64x8) - __builtin_convertvector(xl, f64x8)) + l);
  if (smoothing) loss += eps * (l - (__builtin_convertvector(sx, f64x8) / cols) * 0x1p5);
  i64x8 empty = __builtin_convertvector(s == 0, i64x8), dead = __builtin_convertvector(live == 0, i64x8);
  f64x8 inf = {__builtin_inf(), __builtin_inf(), __builtin_inf(), __builtin_inf(),
               __builtin_inf(), __builtin_inf(), __builtin_inf(), __builtin_inf()};
  loss = (f64x8)((empty & (i64x8)inf) | (~empty & (i64x8)loss));
  loss = (f64x8)(~dead & (i64x8)loss);
  if (row_loss) {
    xentshim_f32x8 f = __builtin_convertvector(loss, xentshim_f32x8);
    __builtin_memcpy(row_loss, &f, sizeof f);
  }
  double total = 0;
  for (int k = 0; k < 8; k++) total += loss[k];
  return total;
}
static inline double xentshim_group_loss_f64x4(xentshim_f64x4 r, xentshim_f64x4 xl, xentshim_f64x4 logs,
                                               xentshim_f64x4 s, xentshim_f64x4 live, xentshim_f64x4 sx,
                                               double eps, int smoothing, double cols, double *row_loss) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  xentshim_f64x4 loss = {0, 0, 0, 0};
  if (eps < 1) loss += (1 - eps) * ((r - xl) + logs);
  if (smoothing) loss += eps * (logs - (sx / cols) * 0x1p5);
  xentshim_i64x4 empty = s == 0, dead = live == 0;
  xentshim_f64x4 inf = {__builtin_inf(), __builtin_inf(), __builtin_inf(), __builtin_inf()};
  loss = (xentshim_f64x4)((empty & (xentshim_i64x4)inf) | (~empty & (xentshim_i64x4)loss));
  loss = (xentshim_f64x4)(~dead & (xentshim_i64x4)loss);
  if (row_loss) __builtin_memcpy(row_loss, &loss, sizeof loss);
  double total = 0;
  for (int k = 0; k < 4; k++) total += loss[k];
  return total;
}

/* The logit soft cap (Gemma 2): c*tanh(x/c), with -inf kept as -inf (a masked entry stays masked), and
   its derivative 1 - tanh(x/c)^2 (0 at -inf) written to the vector at `derivative` (any alignment). */
static inline xentshim_f32x8 xentshim_soft_cap_f32x8(xentshim_f32x8 x, float c, void *derivative) {
  xentshim_f32x8 cv = xentshim_splat_f32x8(c);
  xentshim_f32x8 t = xentshim_tanh_f32x8(x / cv);
  xentshim_f32x8 d = xentshim_splat_f32x8(1.0f) - t * t;
  __builtin_memcpy(derivative, &d, sizeof d); /* the caller's vector may be only 16-byte aligned */
  xentshim_i32x8 masked = (xentshim_i32x8)(x == -__builtin_inff());
  return (xentshim_f32x8)((masked & (xentshim_i32x8)x) | (~masked & (xentshim_i32x8)(cv * t)));
}
static inline xentshim_f64x4 xentshim_soft_cap_f64x4(xentshim_f64x4 x, double c, void *derivative) {
  xentshim_f64x4 cv = xentshim_splat_f64x4(c);
  xentshim_f64x4 t = xentshim_tanh_f64x4(x / cv);
  xentshim_f64x4 d = xentshim_splat_f64x4(1.0) - t * t;
  __builtin_memcpy(derivative, &d, sizeof d);
  xentshim_i64x4 masked = (xentshim_i64x4)(x == -__builtin_inf());
  return (xentshim_f64x4)((masked & (xentshim_i64x4)x) | (~masked & (xentshim_i64x4)(cv * t)));
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_LANES_H */
