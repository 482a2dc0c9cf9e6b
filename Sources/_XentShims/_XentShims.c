/* The shim's only out-of-line code: a CPU feature query and one allocation. Vector-taking wrappers are all
   static inline in the header, so they are compiled with the caller's ISA flags (see the header). */
#include "_XentShims.h"

#include <stdlib.h>

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

void *xentshim_alloc_bytes(unsigned long n) { return malloc(n ? n : 1); }

double *xentshim_alloc_doubles(unsigned long n) {
  if (n > (unsigned long)-1 / sizeof(double)) return NULL;
  return malloc(n ? n * sizeof(double) : 1);
}

void xentshim_free(void *p) { free(p); }
