/* xt_typed_decl.h -- the declarations of the typed helpers and tests (included by xt_tests.h through
   xt_instantiate.h, once for float and once for double). */

/* Fills nloss, ngrad, nlse and nbias values of the four outputs with the canary. */
void XT_FN(xt_canary_outputs)(XT_REAL *loss, size_t nloss, XT_REAL *grad, size_t ngrad, XT_REAL *lse, size_t nlse,
                              XT_REAL *bias, size_t nbias);
/* The stride padding of rows 0 .. rows-2 of a is still NaN (nothing wrote it). */
int XT_FN(xt_padding_is_nan)(const XT_REAL *a, size_t rows, size_t cols, size_t stride);
void XT_FN(xt_fill_random)(XT_REAL *a, size_t rows, size_t cols, size_t stride, double lo, double hi);
void XT_FN(xt_fill_const)(XT_REAL *a, size_t n, XT_REAL v);
int XT_FN(xt_untouched)(const XT_REAL *a, size_t n);
void XT_FN(xt_check_matrix)(const char *what, const XT_REAL *got, size_t rows, size_t cols, size_t stride,
                            const long double *ref, const long double *scale, int check_pad);
void XT_FN(xt_check_vector)(const char *what, const XT_REAL *got, size_t n, const long double *ref);
void XT_FN(xt_check_value)(const char *what, XT_REAL got, long double ref);
void XT_FN(xt_ce_verify)(const XT_FN(xt_ce_call) * c, const xt_ref_ce_out *ref, int in_place, size_t loss_cap,
                         size_t lse_cap, size_t bias_cap);
void XT_FN(xt_check_all_functions)(const char *name, const XT_REAL *x, size_t rows, size_t cols, const int64_t *labels,
                                   const XT_REAL *targets, const xent_options *opts);

void XT_FN(xt_test_primitives_sweep)(void);
void XT_FN(xt_test_errors_primitives)(void);
void XT_FN(xt_test_ce_sweep)(void);
void XT_FN(xt_test_special)(void);
void XT_FN(xt_test_rows0)(void);
void XT_FN(xt_test_long_rows)(void);
void XT_FN(xt_test_errors_ce)(void);
void XT_FN(xt_test_options_future)(void);
void XT_FN(xt_test_threads)(void);
void XT_FN(xt_test_linear)(void);
void XT_FN(xt_test_linear_refusals)(void);
/* The f32 grad_weight growth measurement of test_linear.c: rows x 64 by 1000 classes, a workspace of blocks_of
   rows; the fused and unfused errors, componentwise and normwise. */
void XT_FN(xt_linear_growth_rows)(size_t rows, size_t blocks_of, double *fused, double *unfused, double *fused_norm,
                                  double *unfused_norm);
void XT_FN(xt_run_typed)(void);
