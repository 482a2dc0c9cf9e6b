/* xentshim_sleef.h: the forwarders to SLEEF's 1.0-ulp ("u10") vector exp, log and tanh for the ISA the
   caller is built for, and the scalar exp and log of the once-per-row terms. SLEEF's header is never
   included: the few prototypes needed are declared with the shim's own vector types (the same LLVM
   vector types, so the same calling convention as __m256/__m128). */
#ifndef XENTSHIM_SLEEF_H
#define XENTSHIM_SLEEF_H

#include "xentshim_types.h"

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
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
   less per element than two 256-bit calls (docs/performance.md) and returns the same bits (it is the same
   algorithm; checked over every float and 2^27 sampled doubles by the exp-widths test), so an AVX-512 build computes exactly what the
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
/* The same for log (two row groups of the rows-in-lanes kernel): one logf16 call costs what one logf8 call
   costs, and it returns the same bits wherever the result is a number; where it is NaN (a NaN or negative
   input) the 512-bit log returns a NaN made from the input, the 256-bit one always +NaN (0x7fc00000 /
   0x7ff8000000000000), which is what these return too. Checked bit for bit,
   NaNs included, over every float and 2^26 doubles by the exp-widths test. */
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
 * cheaper than a SLEEF vector call on a splat. */
static inline double xentshim_exp_f64(double x) { return __builtin_exp(x); }
static inline double xentshim_log_f64(double x) { return __builtin_log(x); }

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_SLEEF_H */
