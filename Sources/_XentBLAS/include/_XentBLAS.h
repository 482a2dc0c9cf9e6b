/*
 * _XentBLAS.h: the only door between Xent and the system BLAS.
 *
 * Row-major GEMM forwarders over the standard CBLAS interface (cblas_sgemm / cblas_dgemm of whatever BLAS
 * libblas.so.3 is: OpenBLAS, BLIS or the reference BLAS), and the BLAS's own thread count held at 1 while a
 * Xent call runs its GEMMs on Xent's workers (so that no BLAS thread runs beside them). <cblas.h> is included
 * by the .c file only: nothing of it reaches Swift or include/xent.h.
 */
#ifndef XENT_BLAS_H
#define XENT_BLAS_H

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X^T where trans_x is nonzero. Sizes below 2^31. */
void xentblas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);
void xentblas_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc);

/* Enters / leaves a region in which the BLAS runs on the calling thread only. The first caller to enter sets
   the BLAS's thread count to 1 (OpenBLAS: openblas_set_num_threads, BLIS: bli_thread_set_num_threads, found at
   run time; a BLAS without either is taken to be single-threaded) and the last to leave restores it. */
void xentblas_enter_single_threaded(void);
void xentblas_leave_single_threaded(void);

#endif /* XENT_BLAS_H */
