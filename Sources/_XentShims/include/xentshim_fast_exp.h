/* xentshim_fast_exp.h: the inline polynomial exp (XENT_EXP=fast), for 8 x float and 4 x double. */
#ifndef XENTSHIM_FAST_EXP_H
#define XENTSHIM_FAST_EXP_H

#include "xentshim_types.h"

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#endif

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

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_FAST_EXP_H */
