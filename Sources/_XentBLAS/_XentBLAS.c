/* The BLAS forwarders and the thread-count region of _XentBLAS.h. */
#define _GNU_SOURCE
#include "_XentBLAS.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>

void xentblas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

void xentblas_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

/* The BLAS's thread-count functions, looked up once (NULL where the BLAS has none). */
typedef void (*set_int_fn)(int);
typedef int (*get_int_fn)(void);
typedef void (*set_long_fn)(long);
typedef long (*get_long_fn)(void);
static struct {
  set_int_fn openblas_set;
  get_int_fn openblas_get;
  set_long_fn blis_set;
  get_long_fn blis_get;
} blas_threads;
static pthread_once_t lookup_once = PTHREAD_ONCE_INIT;

static void lookup(void) {
  blas_threads.openblas_set = (set_int_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  blas_threads.openblas_get = (get_int_fn)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  blas_threads.blis_set = (set_long_fn)dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads");
  blas_threads.blis_get = (get_long_fn)dlsym(RTLD_DEFAULT, "bli_thread_get_num_threads");
}

/* Calls inside the region, and the thread count to restore when the last one leaves. */
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static long region_depth;
static long saved_threads;

void xentblas_enter_single_threaded(void) {
  pthread_once(&lookup_once, lookup);
  pthread_mutex_lock(&region_lock);
  if (region_depth++ == 0) {
    if (blas_threads.openblas_set && blas_threads.openblas_get) {
      saved_threads = blas_threads.openblas_get();
      if (saved_threads != 1) blas_threads.openblas_set(1);
    } else if (blas_threads.blis_set && blas_threads.blis_get) {
      saved_threads = blas_threads.blis_get();
      if (saved_threads != 1) blas_threads.blis_set(1);
    }
  }
  pthread_mutex_unlock(&region_lock);
}

void xentblas_leave_single_threaded(void) {
  pthread_mutex_lock(&region_lock);
  if (--region_depth == 0 && saved_threads > 1) {
    if (blas_threads.openblas_set && blas_threads.openblas_get) blas_threads.openblas_set((int)saved_threads);
    else if (blas_threads.blis_set && blas_threads.blis_get) blas_threads.blis_set(saved_threads);
  }
  pthread_mutex_unlock(&region_lock);
}
