/* adversarial_decl.h -- the typed declarations of the adversarial suite (included by adversarial.h through
   xt_instantiate.h, once for float and once for double). */

/* One entry point for the four cross-entropy functions: the generic call of Tests/CSupport/xt_call.h, the kind
   (CE, CE_EX, SOFT, SOFT_EX) choosing soft and ex. */
typedef XT_FN(xt_ce_call) XT_FN(ce_args);

xent_status XT_FN(ce_call)(int kind, XT_FN(ce_args) a);
xent_status XT_FN(row_call)(int kind, const XT_REAL *x, size_t rows, size_t cols, size_t stride, XT_REAL *out,
                            size_t out_stride);
/* A CE result (reduction NONE, scale 1) row by row against the reference: loss, lse, gradient. */
void XT_FN(check_ce_rows)(const XT_REAL *x, size_t rows, size_t cols, size_t stride, const int64_t *labels,
                          const XT_REAL *targets, double eps, int64_t ignore, const XT_REAL *loss, const XT_REAL *grad,
                          size_t grad_stride, const XT_REAL *lse, double bound);
/* logsumexp, softmax, log_softmax of x against the reference. */
void XT_FN(check_rowwise)(const XT_REAL *x, size_t rows, size_t cols, size_t stride, double bound);

void XT_FN(test_invalid_cross_entropy)(void);
void XT_FN(test_invalid_rowwise)(void);
void XT_FN(test_huge_shapes)(void);
void XT_FN(test_huge_labels)(void);
void XT_FN(test_one_class)(void);
void XT_FN(test_special_values)(void);
void XT_FN(test_smoothing_edges)(void);
void XT_FN(test_all_ignored)(void);
void XT_FN(test_in_place)(void);
void XT_FN(test_unaligned)(void);
void XT_FN(test_million_classes)(void);
void XT_FN(run_all)(void);
