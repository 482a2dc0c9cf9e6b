/* The shim's only out-of-line code: CPU feature queries, allocations and the kept workspace. Vector-taking
   wrappers are all static inline in the header, so they are compiled with the caller's ISA flags (see the
   header). */
#include "_XentShims.h"

#include <stdatomic.h>
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

/* The workspace kept between linear cross-entropy calls: one block, its usable size in the 64 bytes before it.
   Taken by a call (the slot left empty, so that a concurrent call allocates its own) and given back after it,
   so that calls after the first touch no fresh page: the first touch of a fresh page costs a page fault and
   its zeroing by the kernel, which a block above glibc's mmap threshold (returned to the system by free)
   would pay on every call. No huge-page hint: the kernel's compaction for it made the first touch slower
   (CHANGELOG 1.4.0). */
static _Atomic(unsigned char *) kept_workspace;
enum { WORKSPACE_HEADER = 64 };

static void workspace_free(unsigned char *block) {
  if (block) free(block - WORKSPACE_HEADER);
}

void *xentshim_workspace_take(unsigned long n) {
  unsigned char *block = atomic_exchange(&kept_workspace, NULL);
  if (block && *(unsigned long *)(block - WORKSPACE_HEADER) >= n) return block;
  workspace_free(block);
  if (n > (unsigned long)-1 - WORKSPACE_HEADER) return NULL;
  unsigned char *p = malloc(n + WORKSPACE_HEADER);
  if (!p) return NULL;
  *(unsigned long *)p = n;
  return p + WORKSPACE_HEADER;
}

void xentshim_workspace_give(void *block) {
  workspace_free(atomic_exchange(&kept_workspace, (unsigned char *)block));
}

unsigned long xentshim_workspace_release(void) {
  unsigned char *block = atomic_exchange(&kept_workspace, NULL);
  unsigned long n = block ? *(unsigned long *)(block - WORKSPACE_HEADER) : 0;
  workspace_free(block);
  return n;
}

double *xentshim_alloc_doubles(unsigned long n) {
  if (n > (unsigned long)-1 / sizeof(double)) return NULL;
  return malloc(n ? n * sizeof(double) : 1);
}

void xentshim_free(void *p) { free(p); }
