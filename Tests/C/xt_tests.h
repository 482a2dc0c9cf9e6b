/*
 * xt_tests.h -- the tests of the public C ABI (include/xent.h) shared by the C99 program (test_xent.c) and the
 * C++17 one (test_xent.cpp, which compiles the same test files as C++): one file a feature, each checked against
 * the long double reference of Tests/CSupport/xt_ref.h through the harness of Tests/CSupport/xt_check.h.
 *
 *   test_info.c        declarations, version, status strings, ISA name, options defaults, the thread's message
 *   test_primitives.c  logsumexp, softmax, log_softmax: sweep of shapes, strides, offsets, in place
 *   test_ce_sweep.c    hard and soft cross-entropy (plain and _ex): every reduction, smoothing, scale, ignore mode
 *   test_special.c     NaN, +-inf, all -inf rows, 1e30, cols 1, rows 0, long rows (chunked kernels)
 *   test_validation.c  every invalid argument: status, nothing written, the message
 *   test_options.c     a larger struct_size, the 1.1.0 options (z-loss, class weights, soft cap), xent_options_init
 *   test_threads.c     num_threads 0/1/2/3/16 on 301 x 1000
 *   test_sharded.c     the sharded-vocabulary API (partial, merge, finalize, grad_from_stats)
 *   test_bf16.c        bfloat16 logits
 *   test_linear.c      the linear cross-entropy (1.2.0) against the long double reference and the unfused pipeline
 *   test_linear_refusals.c  its refusals: status, message, nothing written
 *   test_linear_sharded.c  the linear cross-entropy over a sharded vocabulary (1.3.0): shards against the
 *                      unsharded call and the reference, its refusals
 *   test_suite.c       the order they run in (one random stream: the order fixes the inputs)
 *   xt_typed.c         typed helpers: fills, comparisons, the generic cross-entropy call and its verification
 */
#ifndef XT_TESTS_H
#define XT_TESTS_H

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xent.h>

#include "xt_call.h"
#include "xt_check.h"
#include "xt_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every shared check, then extra() (language-specific checks, may be NULL), then the 1.1.0 checks; prints
   "N passed, N failed" and returns the exit status. */
int xt_run_all(const char *lang, void (*extra)(void));

void xt_test_signatures(void);
void xt_test_info(void);
void xt_test_options_v11(void);
void xt_test_options_init(void);
void xt_test_sharded(void);
void xt_test_bf16(void);
void xt_test_linear(void);
void xt_test_linear_refusals(void);
void xt_test_linear_sharded(void);
void xt_linear_growth_table(void);

/* Shared by test_linear.c and test_linear_sharded.c: C = op(A) * op(B) by the BLAS, row-major (ta, tb: transposed);
   the measured outputs and their names; option case cfg 0..5 of their sweeps (the reduction, ignore_index 3 with
   its labels, smoothing, grad_scale) applied to o and labels, its name returned (NULL for another cfg). */
void xt_lin_gemm_f32(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                     size_t ldb, float *c, size_t ldc);
void xt_lin_gemm_f64(int ta, int tb, size_t m, size_t n, size_t k, const double *a, size_t lda, const double *b,
                     size_t ldb, double *c, size_t ldc);
enum { XT_LIN_LOSS, XT_LIN_LSE, XT_LIN_GH, XT_LIN_GW, XT_LIN_GB, XT_LIN_Z, XT_LIN_NOUT };
extern const char *const xt_lin_out_name[XT_LIN_NOUT];
const char *xt_lin_basic_case(int cfg, xent_options *o, int64_t *labels, size_t rows);

/* The canary of the typed tests: outputs are filled with it, and what must stay unwritten still holds it. */
#define XT_CANARY ((XT_REAL)777.25)

#define XT_TYPED_FILE "xt_typed_decl.h"
#include "xt_instantiate.h"

#ifdef __cplusplus
}
#endif

#endif /* XT_TESTS_H */
