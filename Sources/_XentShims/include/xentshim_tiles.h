/* xentshim_tiles.h: the rows-in-lanes kernel's tiles: 8 rows loaded as column vectors and stored back. */
#ifndef XENTSHIM_TILES_H
#define XENTSHIM_TILES_H

#include "xentshim_types.h"

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#endif

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

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_TILES_H */
