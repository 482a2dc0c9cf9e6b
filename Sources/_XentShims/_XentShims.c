/* The shim's only out-of-line code: a CPU feature query and one allocation. Vector-taking wrappers are all
   static inline in the header, so they are compiled with the caller's ISA flags (see the header). */
#include "_XentShims.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

int xentshim_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

int xentshim_cpu_has_avx512(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return 0;
#endif
}

float *xentshim_alloc_floats(unsigned long n) {
  if (n > (unsigned long)-1 / sizeof(float)) return NULL;
  return malloc(n ? n * sizeof(float) : 1);
}

void *xentshim_alloc_bytes(unsigned long n) {
  void *p = malloc(n ? n : 1);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  /* A hint, for blocks of 8 MiB and more: the whole 2 MiB pages inside the block may be transparent huge
     pages, so that its first touch costs a page fault per 2 MiB instead of per 4 KiB. */
  const uintptr_t huge = (uintptr_t)2 << 20;
  if (p && n >= ((unsigned long)8 << 20)) {
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
  }
#endif
  return p;
}

double *xentshim_alloc_doubles(unsigned long n) {
  if (n > (unsigned long)-1 / sizeof(double)) return NULL;
  return malloc(n ? n * sizeof(double) : 1);
}

void xentshim_free(void *p) { free(p); }
