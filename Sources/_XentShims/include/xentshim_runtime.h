/* xentshim_runtime.h: what is not arithmetic: the workers' atomic counter, the CPU feature query and the
   one heap allocation of a call (defined in _XentShims.c; no vectors cross these). */
#ifndef XENTSHIM_RUNTIME_H
#define XENTSHIM_RUNTIME_H


#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#endif

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
/* n floats from malloc (NULL when n * 4 overflows or malloc fails): the bfloat16 call's float32 tile. */
float *xentshim_alloc_floats(unsigned long n);
void xentshim_free(void *p);
/* The linear cross-entropy's workspace of at least n bytes: the kept block when it is as large, else a new one
   (the kept one freed); NULL when malloc fails. Given back after the call, it becomes the kept block (one, for
   the process; a block kept before is freed). Release frees the kept block and returns its size (0: none). */
void *xentshim_workspace_take(unsigned long n);
void xentshim_workspace_give(void *block);
unsigned long xentshim_workspace_release(void);

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* XENTSHIM_RUNTIME_H */
