/*
 * _XentShims.h: the only door between Xent and SLEEF.
 *
 * Static inline, one-line forwarders over SLEEF's vectorized exp and log (1.0-ulp variants, "u10"),
 * for the two vector shapes Xent's kernels use: 8 x float and 4 x double. Nothing of <sleef.h> is
 * included or re-exported: the handful of SLEEF prototypes needed are declared here with our own
 * vector typedefs (same LLVM vector types, so the same calling convention as __m256/__m128).
 *
 * Vector ABI rule (see FACTS.md): a 256-bit vector passed by value is only correct between code
 * compiled for the same ISA. These wrappers are compiled by the same compiler invocation that compiles
 * the Swift caller (the Clang importer), so the ISA always matches:
 *   - built with AVX2+FMA (-Xcc -march=x86-64-v3): SLEEF's fixed-ISA 256-bit entry points;
 *   - built with AVX-512 (-Xcc -march=x86-64-v4): the same, and one 512-bit exp for two vectors
 *     (xentshim_exp2_*: inline, so no 512-bit vector crosses into Swift);
 *   - x86-64 otherwise: SLEEF's any-CPU 128-bit dispatchers on the two halves;
 *   - aarch64: SLEEF's Advanced SIMD (NEON) 128-bit entry points on the two halves.
 */
#ifndef XENT_SHIMS_H
#define XENT_SHIMS_H

/* Every function below that passes a 256-bit vector by value is static inline, compiled with its
   caller's flags in the same translation unit: the "changes the ABI" warning of a build without AVX
   does not apply (the one real boundary, SLEEF's 256-bit functions, is only used under AVX2). */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#endif

typedef float  xentshim_f32x8 __attribute__((__vector_size__(32)));
typedef double xentshim_f64x4 __attribute__((__vector_size__(32)));
typedef float  xentshim_f32x4 __attribute__((__vector_size__(16)));
typedef double xentshim_f64x2 __attribute__((__vector_size__(16)));

/* A vector stored to memory of any alignment (Swift's SIMD8<Float>/SIMD4<Double> are only 16-byte aligned). */
static inline void xentshim_put_f32x8(void *p, xentshim_f32x8 v) { __builtin_memcpy(p, &v, sizeof v); }
static inline void xentshim_put_f64x4(void *p, xentshim_f64x4 v) { __builtin_memcpy(p, &v, sizeof v); }

/* Hints that the cache line holding p will be read (or written) soon: into L2 (prefetcht1), where the
   next row waits while this one is computed. Never faults; no effect on results. */
static inline void xentshim_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 2); }
static inline void xentshim_prefetch_write(void *p) { __builtin_prefetch(p, 1, 2); }

typedef int   xentshim_i32x8 __attribute__((__vector_size__(32)));
typedef long long xentshim_i64x4 __attribute__((__vector_size__(32)));

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

/* ---- The inline exponential (opt-in: XENT_EXP=fast) ----------------------------------------------
 * exp(x) = 2^q · e^s with q = nearest(x / ln 2), s = x − q·ln 2, |s| ≤ ln2/2: Cody–Waite with ln 2 split
 * in two constants (ln2_hi has trailing zero bits, so q·ln2_hi is exact and x − q·ln2_hi is exact by
 * Sterbenz; with or without FMA), s rounded with its error s_lo kept (Fast2Sum), then
 * e^s = 1 + (s + (s²·P(s) + s_lo)) with P the Taylor series of (e^s − 1 − s)/s² to degree 5 (float:
 * truncation ≤ s^8/8! < 6e-9 relative) or 11 (double: < 5e-18), by Estrin's scheme (short dependency
 * chains), and 2^q applied as two exact power-of-two factors so that subnormal results round once and
 * 2^128 / 2^1024 overflow to inf. Error: ½ ulp (last rounding) + the polynomial's truncation and
 * rounding; measured ≤ 1 ulp over every float in [−104, 89] (Tests/ExpTests, make test-exp). Without s_lo
 * the rounding of s adds up to ¼ ulp and the worst case measured 1.06 ulp (x = −5.888854).
 * Special values without extra code: x is clamped to [−104, 89] (double [−746, 710]) by compares whose
 * unordered case keeps x, so NaN propagates through the arithmetic; −inf → 0, +inf → inf.
 * Any ISA: plain vector arithmetic the compiler inlines into the caller (no library call); a·b + c is
 * contracted to FMA when the target has it. */
static inline xentshim_f32x8 xentshim_splat_f32x8(float a) {
  return (xentshim_f32x8){a, a, a, a, a, a, a, a};
}
static inline xentshim_f64x4 xentshim_splat_f64x4(double a) {
  return (xentshim_f64x4){a, a, a, a};
}
/* lo where x < lo, hi where x > hi, else x (also for NaN x): vmaxps/vminps operand order. */
static inline xentshim_f32x8 xentshim_clamp_keep_nan_f32x8(xentshim_f32x8 x, float lo, float hi) {
  xentshim_f32x8 l = xentshim_splat_f32x8(lo), h = xentshim_splat_f32x8(hi);
  xentshim_i32x8 below = (xentshim_i32x8)(x < l);
  x = (xentshim_f32x8)((below & (xentshim_i32x8)l) | (~below & (xentshim_i32x8)x));
  xentshim_i32x8 above = (xentshim_i32x8)(x > h);
  return (xentshim_f32x8)((above & (xentshim_i32x8)h) | (~above & (xentshim_i32x8)x));
}
static inline xentshim_f64x4 xentshim_clamp_keep_nan_f64x4(xentshim_f64x4 x, double lo, double hi) {
  xentshim_f64x4 l = xentshim_splat_f64x4(lo), h = xentshim_splat_f64x4(hi);
  xentshim_i64x4 below = (xentshim_i64x4)(x < l);
  x = (xentshim_f64x4)((below & (xentshim_i64x4)l) | (~below & (xentshim_i64x4)x));
  xentshim_i64x4 above = (xentshim_i64x4)(x > h);
  return (xentshim_f64x4)((above & (xentshim_i64x4)h) | (~above & (xentshim_i64x4)x));
}
static inline xentshim_f32x8 xentshim_fast_exp_f32x8(xentshim_f32x8 x) {
  const xentshim_f32x8 shifter = xentshim_splat_f32x8(0x1.8p23f); /* adding it rounds to an integer */
  xentshim_f32x8 xc = xentshim_clamp_keep_nan_f32x8(x, -104.0f, 89.0f);
  xentshim_f32x8 t = xc * xentshim_splat_f32x8(0x1.715476p+0f) + shifter; /* x·(1/ln 2) + 1.5·2^23 */
  xentshim_f32x8 q = t - shifter;
  xentshim_i32x8 qi = (xentshim_i32x8)t - (xentshim_i32x8)shifter;
  /* ln 2 = 0x1.62e4p-1 (16 bits: q·ln2_hi exact for |q| ≤ 2^8) + 0x1.7f7d1cp-20. */
  xentshim_f32x8 a = xc - q * xentshim_splat_f32x8(0x1.62e4p-1f); /* exact */
  xentshim_f32x8 b = q * xentshim_splat_f32x8(0x1.7f7d1cp-20f);
  xentshim_f32x8 s = a - b;
  xentshim_f32x8 s_lo = (a - s) - b; /* the rounding error of s (|a| ≥ |b|: Fast2Sum), added below */
  /* P(s) = 1/2 + s/6 + … + s^5/7! by Estrin's scheme (pairs, then s², s⁴): a dependency chain of 3
     FMAs after s² instead of Horner's 6, so more exps overlap in the out-of-order window. */
  xentshim_f32x8 s2 = s * s;
  xentshim_f32x8 p01 = s * xentshim_splat_f32x8(1.0f / 6.0f) + xentshim_splat_f32x8(0.5f);
  xentshim_f32x8 p23 = s * xentshim_splat_f32x8(1.0f / 120.0f) + xentshim_splat_f32x8(1.0f / 24.0f);
  xentshim_f32x8 p45 = s * xentshim_splat_f32x8(1.0f / 5040.0f) + xentshim_splat_f32x8(1.0f / 720.0f);
  xentshim_f32x8 u = (s2 * p45 + p23) * s2 + p01;
  u = (s + (s2 * u + s_lo)) + xentshim_splat_f32x8(1.0f); /* small parts first, one rounding at 1 + p */
  xentshim_i32x8 q1 = qi >> 1, q2 = qi - q1;
  xentshim_f32x8 p1 = (xentshim_f32x8)((q1 + 127) << 23), p2 = (xentshim_f32x8)((q2 + 127) << 23);
  return (u * p1) * p2;
}
static inline xentshim_f64x4 xentshim_fast_exp_f64x4(xentshim_f64x4 x) {
  const xentshim_f64x4 shifter = xentshim_splat_f64x4(0x1.8p52);
  xentshim_f64x4 xc = xentshim_clamp_keep_nan_f64x4(x, -746.0, 710.0);
  xentshim_f64x4 t = xc * xentshim_splat_f64x4(0x1.71547652b82fep+0) + shifter;
  xentshim_f64x4 q = t - shifter;
  xentshim_i64x4 qi = (xentshim_i64x4)t - (xentshim_i64x4)shifter;
  /* ln 2 = 0x1.62e42fefa38p-1 (q·ln2_hi exact for |q| ≤ 2^11) + 0x1.ef35793c7673p-45. */
  xentshim_f64x4 a = xc - q * xentshim_splat_f64x4(0x1.62e42fefa38p-1);
  xentshim_f64x4 b = q * xentshim_splat_f64x4(0x1.ef35793c7673p-45);
  xentshim_f64x4 s = a - b;
  xentshim_f64x4 s_lo = (a - s) - b;
  /* P(s) = 1/2 + s/6 + … + s^11/13!, Estrin's scheme: pairs, then s², s⁴, s⁸. */
  xentshim_f64x4 s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
  xentshim_f64x4 p01 = s * xentshim_splat_f64x4(1.0 / 6.0) + xentshim_splat_f64x4(0.5);
  xentshim_f64x4 p23 = s * xentshim_splat_f64x4(1.0 / 120.0) + xentshim_splat_f64x4(1.0 / 24.0);
  xentshim_f64x4 p45 = s * xentshim_splat_f64x4(1.0 / 5040.0) + xentshim_splat_f64x4(1.0 / 720.0);
  xentshim_f64x4 p67 = s * xentshim_splat_f64x4(1.0 / 362880.0) + xentshim_splat_f64x4(1.0 / 40320.0);
  xentshim_f64x4 p89 = s * xentshim_splat_f64x4(1.0 / 39916800.0) + xentshim_splat_f64x4(1.0 / 3628800.0);
  xentshim_f64x4 pab = s * xentshim_splat_f64x4(1.0 / 6227020800.0) + xentshim_splat_f64x4(1.0 / 479001600.0);
  xentshim_f64x4 e0 = s2 * p23 + p01, e1 = s2 * p67 + p45, e2 = s2 * pab + p89;
  xentshim_f64x4 u = s8 * e2 + (s4 * e1 + e0);
  u = (s + (s2 * u + s_lo)) + xentshim_splat_f64x4(1.0);
  xentshim_i64x4 q1 = qi >> 1, q2 = qi - q1;
  xentshim_f64x4 p1 = (xentshim_f64x4)((q1 + 1023) << 52), p2 = (xentshim_f64x4)((q2 + 1023) << 52);
  return (u * p1) * p2;
}

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#  define XENTSHIM_ISA_AVX2 1
#else
#  define XENTSHIM_ISA_AVX2 0
#endif

#if XENTSHIM_ISA_AVX2

extern xentshim_f32x8 Sleef_expf8_u10avx2(xentshim_f32x8);
extern xentshim_f32x8 Sleef_logf8_u10avx2(xentshim_f32x8);
extern xentshim_f64x4 Sleef_expd4_u10avx2(xentshim_f64x4);
extern xentshim_f64x4 Sleef_logd4_u10avx2(xentshim_f64x4);
extern xentshim_f32x8 Sleef_tanhf8_u10avx2(xentshim_f32x8);
extern xentshim_f64x4 Sleef_tanhd4_u10avx2(xentshim_f64x4);

static inline xentshim_f32x8 xentshim_exp_f32x8(xentshim_f32x8 x) { return Sleef_expf8_u10avx2(x); }
static inline xentshim_f32x8 xentshim_log_f32x8(xentshim_f32x8 x) { return Sleef_logf8_u10avx2(x); }
static inline xentshim_f64x4 xentshim_exp_f64x4(xentshim_f64x4 x) { return Sleef_expd4_u10avx2(x); }
static inline xentshim_f64x4 xentshim_log_f64x4(xentshim_f64x4 x) { return Sleef_logd4_u10avx2(x); }
static inline xentshim_f32x8 xentshim_tanh_f32x8(xentshim_f32x8 x) { return Sleef_tanhf8_u10avx2(x); }
static inline xentshim_f64x4 xentshim_tanh_f64x4(xentshim_f64x4 x) { return Sleef_tanhd4_u10avx2(x); }

#  if defined(__AVX512F__)
/* Built for x86-64-v4 (AVX-512): two vectors' exps in one 512-bit SLEEF call. SLEEF's 512-bit exp costs
   half as much per element as its 256-bit one here (0.30 vs 0.56 ns for float, 1.01 vs 1.41 for double,
   Benchmarks/yardstick/exp_bench.c) and returns the same bits (it is the same algorithm; checked over every
   float and 2^27 sampled doubles by tests/exp/test_exp_widths.c), so an AVX-512 build computes exactly what the
   AVX2 build does. The 512-bit vectors never cross a Swift boundary: these wrappers are inlined. */
#    define XENTSHIM_ISA_AVX512 1
typedef float  xentshim_f32x16 __attribute__((__vector_size__(64)));
typedef double xentshim_f64x8 __attribute__((__vector_size__(64)));
extern xentshim_f32x16 Sleef_expf16_u10avx512f(xentshim_f32x16);
extern xentshim_f64x8 Sleef_expd8_u10avx512f(xentshim_f64x8);
extern xentshim_f32x16 Sleef_logf16_u10avx512f(xentshim_f32x16);
extern xentshim_f64x8 Sleef_logd8_u10avx512f(xentshim_f64x8);
static inline void xentshim_exp2_f32x8(xentshim_f32x8 a, xentshim_f32x8 b, void *ea, void *eb) {
  xentshim_f32x16 e = Sleef_expf16_u10avx512f(__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                                       13, 14, 15));
  xentshim_put_f32x8(ea, __builtin_shufflevector(e, e, 0, 1, 2, 3, 4, 5, 6, 7));
  xentshim_put_f32x8(eb, __builtin_shufflevector(e, e, 8, 9, 10, 11, 12, 13, 14, 15));
}
static inline void xentshim_exp2_f64x4(xentshim_f64x4 a, xentshim_f64x4 b, void *ea, void *eb) {
  xentshim_f64x8 e = Sleef_expd8_u10avx512f(__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7));
  xentshim_put_f64x4(ea, __builtin_shufflevector(e, e, 0, 1, 2, 3));
  xentshim_put_f64x4(eb, __builtin_shufflevector(e, e, 4, 5, 6, 7));
}
/* The same for log (two row groups of the rows-in-lanes kernel): logf16 costs what logf8 costs per call here
   (8.4 vs 8.3 ns) and returns the same bits wherever the result is a number; where it is NaN (a NaN or negative
   input) the 512-bit log returns a NaN made from the input, the 256-bit one always +NaN (0x7fc00000 /
   0x7ff8000000000000), which is what these return too. Checked bit for bit,
   NaNs included, over every float and 2^26 doubles by tests/exp/test_exp_widths.c. */
static inline void xentshim_log2_f32x8(xentshim_f32x8 a, xentshim_f32x8 b, void *la, void *lb) {
  typedef int xentshim_i32x16 __attribute__((__vector_size__(64)));
  xentshim_f32x16 x = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  xentshim_f32x16 v = Sleef_logf16_u10avx512f(x);
  xentshim_i32x16 nan = v != v, l = (xentshim_i32x16)v;
  l = (nan & 0x7fc00000) | (~nan & l);
  xentshim_put_f32x8(la, (xentshim_f32x8)__builtin_shufflevector(l, l, 0, 1, 2, 3, 4, 5, 6, 7));
  xentshim_put_f32x8(lb, (xentshim_f32x8)__builtin_shufflevector(l, l, 8, 9, 10, 11, 12, 13, 14, 15));
}
static inline void xentshim_log2_f64x4(xentshim_f64x4 a, xentshim_f64x4 b, void *la, void *lb) {
  typedef long long xentshim_i64x8 __attribute__((__vector_size__(64)));
  xentshim_f64x8 x = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
  xentshim_f64x8 v = Sleef_logd8_u10avx512f(x);
  xentshim_i64x8 nan = v != v, l = (xentshim_i64x8)v;
  l = (nan & 0x7ff8000000000000LL) | (~nan & l);
  xentshim_put_f64x4(la, (xentshim_f64x4)__builtin_shufflevector(l, l, 0, 1, 2, 3));
  xentshim_put_f64x4(lb, (xentshim_f64x4)__builtin_shufflevector(l, l, 4, 5, 6, 7));
}
static inline const char *xentshim_isa_name(void) { return "avx512"; }
#  else
#    define XENTSHIM_ISA_AVX512 0
static inline const char *xentshim_isa_name(void) { return "avx2"; }
#  endif

#else /* two 128-bit halves */

#  if defined(__aarch64__)
extern xentshim_f32x4 Sleef_expf4_u10advsimd(xentshim_f32x4);
extern xentshim_f32x4 Sleef_logf4_u10advsimd(xentshim_f32x4);
extern xentshim_f64x2 Sleef_expd2_u10advsimd(xentshim_f64x2);
extern xentshim_f64x2 Sleef_logd2_u10advsimd(xentshim_f64x2);
extern xentshim_f32x4 Sleef_tanhf4_u10advsimd(xentshim_f32x4);
extern xentshim_f64x2 Sleef_tanhd2_u10advsimd(xentshim_f64x2);
#    define XENTSHIM_EXPF4 Sleef_expf4_u10advsimd
#    define XENTSHIM_LOGF4 Sleef_logf4_u10advsimd
#    define XENTSHIM_EXPD2 Sleef_expd2_u10advsimd
#    define XENTSHIM_LOGD2 Sleef_logd2_u10advsimd
#    define XENTSHIM_TANHF4 Sleef_tanhf4_u10advsimd
#    define XENTSHIM_TANHD2 Sleef_tanhd2_u10advsimd
#    define XENTSHIM_ISA_NAME "neon"
#  elif defined(__x86_64__)
extern xentshim_f32x4 Sleef_expf4_u10(xentshim_f32x4);
extern xentshim_f32x4 Sleef_logf4_u10(xentshim_f32x4);
extern xentshim_f64x2 Sleef_expd2_u10(xentshim_f64x2);
extern xentshim_f64x2 Sleef_logd2_u10(xentshim_f64x2);
extern xentshim_f32x4 Sleef_tanhf4_u10(xentshim_f32x4);
extern xentshim_f64x2 Sleef_tanhd2_u10(xentshim_f64x2);
#    define XENTSHIM_EXPF4 Sleef_expf4_u10
#    define XENTSHIM_LOGF4 Sleef_logf4_u10
#    define XENTSHIM_EXPD2 Sleef_expd2_u10
#    define XENTSHIM_LOGD2 Sleef_logd2_u10
#    define XENTSHIM_TANHF4 Sleef_tanhf4_u10
#    define XENTSHIM_TANHD2 Sleef_tanhd2_u10
#    define XENTSHIM_ISA_NAME "sse2"
#  else
#    error "Xent supports x86-64 and aarch64"
#  endif

static inline xentshim_f32x8 xentshim_exp_f32x8(xentshim_f32x8 x) {
  xentshim_f32x4 lo = XENTSHIM_EXPF4(__builtin_shufflevector(x, x, 0, 1, 2, 3));
  xentshim_f32x4 hi = XENTSHIM_EXPF4(__builtin_shufflevector(x, x, 4, 5, 6, 7));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
}
static inline xentshim_f32x8 xentshim_log_f32x8(xentshim_f32x8 x) {
  xentshim_f32x4 lo = XENTSHIM_LOGF4(__builtin_shufflevector(x, x, 0, 1, 2, 3));
  xentshim_f32x4 hi = XENTSHIM_LOGF4(__builtin_shufflevector(x, x, 4, 5, 6, 7));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
}
static inline xentshim_f64x4 xentshim_exp_f64x4(xentshim_f64x4 x) {
  xentshim_f64x2 lo = XENTSHIM_EXPD2(__builtin_shufflevector(x, x, 0, 1));
  xentshim_f64x2 hi = XENTSHIM_EXPD2(__builtin_shufflevector(x, x, 2, 3));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3);
}
static inline xentshim_f64x4 xentshim_log_f64x4(xentshim_f64x4 x) {
  xentshim_f64x2 lo = XENTSHIM_LOGD2(__builtin_shufflevector(x, x, 0, 1));
  xentshim_f64x2 hi = XENTSHIM_LOGD2(__builtin_shufflevector(x, x, 2, 3));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3);
}
static inline xentshim_f32x8 xentshim_tanh_f32x8(xentshim_f32x8 x) {
  xentshim_f32x4 lo = XENTSHIM_TANHF4(__builtin_shufflevector(x, x, 0, 1, 2, 3));
  xentshim_f32x4 hi = XENTSHIM_TANHF4(__builtin_shufflevector(x, x, 4, 5, 6, 7));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
}
static inline xentshim_f64x4 xentshim_tanh_f64x4(xentshim_f64x4 x) {
  xentshim_f64x2 lo = XENTSHIM_TANHD2(__builtin_shufflevector(x, x, 0, 1));
  xentshim_f64x2 hi = XENTSHIM_TANHD2(__builtin_shufflevector(x, x, 2, 3));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3);
}
static inline const char *xentshim_isa_name(void) { return XENTSHIM_ISA_NAME; }
#  define XENTSHIM_ISA_AVX512 0

#endif

#if !XENTSHIM_ISA_AVX512
/* exp and log of two vectors, to ra and rb (void *, any alignment: Swift imports vector pointers as opaque, and
   its vectors are 16-byte aligned): two calls below AVX-512. */
#define XENTSHIM_PAIRED(fn, T)                                                                   \
  static inline void xentshim_##fn##2_##T(xentshim_##T a, xentshim_##T b, void *ra, void *rb) { \
    xentshim_put_##T(ra, xentshim_##fn##_##T(a));                                                \
    xentshim_put_##T(rb, xentshim_##fn##_##T(b));                                                \
  }
XENTSHIM_PAIRED(exp, f32x8)
XENTSHIM_PAIRED(exp, f64x4)
XENTSHIM_PAIRED(log, f32x8)
XENTSHIM_PAIRED(log, f64x4)
#undef XENTSHIM_PAIRED
#endif

/* Scalar exp and log for the once-per-row and once-per-block terms: the C library's (glibc: < 0.52 ulp),
 * about half the cost of a SLEEF vector call on a splat (measured: 8192×1000 loss only spent 1.6% of its
 * time in Sleef_logd4 for one log per row, against 0.75% for libm's log in the C yardstick). */
static inline double xentshim_exp_f64(double x) { return __builtin_exp(x); }
static inline double xentshim_log_f64(double x) { return __builtin_log(x); }

/* ---- Rows-in-lanes tiles (small class counts) ----------------------------------------------------
 * 8 rows of n floats, 8 ≤ n ≤ 16, row stride s, as n column vectors col[j] = (x[0][j], …, x[7][j]), and
 * back. Each row is read as two overlapping vectors, its first 8 and its last 8 elements (the second
 * moved down by 16 − n lanes), then two 8×8 in-register transposes: 16 loads and ~50 shuffles for the
 * tile instead of 8 scalar loads per column. The store is the mirror image: the last 8 elements of a row
 * first, then its first 8 over the overlap. No element outside the rows is read or written (padding
 * between rows stays untouched). The loads all happen before the stores of a tile, and tiles are
 * disjoint, so the gradient may be the logits (in place). */

/* lane k of v gets lane (idx[k] mod 8) of v */
static inline xentshim_f32x8 xentshim_permute_f32x8(xentshim_f32x8 v, xentshim_i32x8 idx) {
#if XENTSHIM_ISA_AVX2
  return __builtin_ia32_permvarsf256(v, idx); /* vpermps */
#else
  xentshim_f32x8 r;
  for (int k = 0; k < 8; k++) r[k] = v[idx[k] & 7];
  return r;
#endif
}

/* r[i][j] <- r[j][i] for the 8×8 block r[0..8) (unpack, shuffle, 128-bit lane swap: 24 shuffles). */
static inline void xentshim_transpose8_f32(xentshim_f32x8 *r) {
  xentshim_f32x8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
  xentshim_f32x8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
  xentshim_f32x8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
  xentshim_f32x8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
  xentshim_f32x8 t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
  xentshim_f32x8 t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
  xentshim_f32x8 t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
  xentshim_f32x8 t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
  xentshim_f32x8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
  xentshim_f32x8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  xentshim_f32x8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
  xentshim_f32x8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
  xentshim_f32x8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
  xentshim_f32x8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
  xentshim_f32x8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
  xentshim_f32x8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
  r[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
  r[1] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
  r[2] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
  r[3] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
  r[4] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
  r[5] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
  r[6] = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
  r[7] = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
}

/* columns: n vectors of 8 floats, any alignment (Swift's SIMD8<Float> is only 16-byte aligned; void *:
   Swift sees a pointer to a vector type as opaque) */
static inline void xentshim_load_columns_f32x8(const float *x, long s, long n, void *columns) {
  char *col = (char *)columns;
  xentshim_f32x8 a[8], b[8];
  const xentshim_i32x8 down = (xentshim_i32x8){0, 1, 2, 3, 4, 5, 6, 7} + (int)(16 - n);
  for (int r = 0; r < 8; r++) {
    __builtin_memcpy(&a[r], x + r * s, sizeof a[r]);
    xentshim_f32x8 last;
    __builtin_memcpy(&last, x + r * s + n - 8, sizeof last);
    b[r] = xentshim_permute_f32x8(last, down); /* lane k: column 8 + k (k < n − 8) */
  }
  xentshim_transpose8_f32(a);
  for (int j = 0; j < 8; j++) __builtin_memcpy(col + 32 * j, &a[j], 32);
  if (n > 8) {
    xentshim_transpose8_f32(b);
    for (int j = 0; j < n - 8; j++) __builtin_memcpy(col + 32 * (8 + j), &b[j], 32);
  }
}

static inline void xentshim_store_columns_f32x8(float *g, long s, long n, const void *columns) {
  const char *col = (const char *)columns;
  xentshim_f32x8 a[8], b[8];
  for (int j = 0; j < 8; j++) {
    __builtin_memcpy(&a[j], col + 32 * j, 32);
    __builtin_memcpy(&b[j], col + 32 * (8 + j < n ? 8 + j : 0), 32); /* lanes past column n − 1: never stored */
  }
  xentshim_transpose8_f32(a);
  if (n > 8) {
    xentshim_transpose8_f32(b);
    const xentshim_i32x8 up = (xentshim_i32x8){0, 1, 2, 3, 4, 5, 6, 7} - (int)(16 - n);
    for (int r = 0; r < 8; r++) {
      xentshim_f32x8 last = xentshim_permute_f32x8(b[r], up); /* lanes 16 − n … 7: columns 8 … n − 1 */
      __builtin_memcpy(g + r * s + n - 8, &last, sizeof last);
      __builtin_memcpy(g + r * s, &a[r], sizeof a[r]);
    }
  } else {
    for (int r = 0; r < 8; r++) __builtin_memcpy(g + r * s, &a[r], sizeof a[r]);
  }
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

/* The next work item for a worker: *counter, then counter + 1, atomically (relaxed: the results are
   published by the dispatch's own completion). No vectors. */
static inline long xentshim_next_index(long *counter) {
  return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Run-time CPU check (defined in _XentShims.c; no vectors cross it): 1 when this CPU can run the
   AVX2+FMA build, 0 otherwise (always 0 off x86-64). Used by tests to decide which builds to run. */
int xentshim_cpu_has_avx2_fma(void);
/* 1 when this CPU can run the AVX-512 (x86-64-v4) build: AVX-512 F, CD, BW, DQ and VL, 0 otherwise. */
int xentshim_cpu_has_avx512(void);
/* n doubles from malloc (NULL when n * 8 overflows or malloc fails), and their release: the bias gradient's
   scratch above the stack limit (once per call, never per row). */
double *xentshim_alloc_doubles(unsigned long n);
void xentshim_free(void *p);

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENT_SHIMS_H */
