/* xentshim_types.h: the vector types of the shim (8 x float, 4 x double and their integer and 128-bit
   companions), stores to memory of any alignment, prefetch hints, splats and the ISA the caller is built
   for. Every function that passes a 256-bit vector by value is static inline, compiled with its caller's
   flags in the same translation unit (see _XentShims.h for the vector ABI rule). */
#ifndef XENTSHIM_TYPES_H
#define XENTSHIM_TYPES_H


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

/* A vector with every lane a. */
static inline xentshim_f32x8 xentshim_splat_f32x8(float a) {
  return (xentshim_f32x8){a, a, a, a, a, a, a, a};
}
static inline xentshim_f64x4 xentshim_splat_f64x4(double a) {
  return (xentshim_f64x4){a, a, a, a};
}

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#  define XENTSHIM_ISA_AVX2 1
#else
#  define XENTSHIM_ISA_AVX2 0
#endif

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_TYPES_H */
