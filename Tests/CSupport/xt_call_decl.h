/* xt_call_decl.h -- the typed declarations of xt_call.h (included through xt_instantiate.h, once for float and once
   for double). */

/* A generic cross-entropy call (hard/soft x plain/_ex). */
typedef struct XT_FN(xt_ce_call) {
    int soft, ex;
    const XT_REAL *logits;
    size_t rows, cols, row_stride;
    const int64_t *labels;
    const XT_REAL *targets;
    size_t target_stride;
    const xent_options *opts;
    XT_REAL *loss, *grad;
    size_t grad_stride; /* plain functions: the gradient uses row_stride */
    XT_REAL *lse, *bias;
} XT_FN(xt_ce_call);

/* A call of kind (soft, ex) on logits rows x cols (row stride rs) with labels or targets (target stride ts) and
   opts: every input set, every output NULL (strides 0). */
XT_CE_CALL XT_FN(xt_ce_on)(int soft, int ex, const XT_REAL *logits, size_t rows, size_t cols, size_t rs,
                           const int64_t *labels, const XT_REAL *targets, size_t ts, const xent_options *opts);
/* Sets the outputs of c (the bias gradient is read by the _ex functions only). */
void XT_FN(xt_ce_set_outputs)(XT_FN(xt_ce_call) * c, XT_REAL *loss, XT_REAL *grad, size_t grad_stride, XT_REAL *lse,
                              XT_REAL *bias);
/* "cross_entropy_f32", "soft_cross_entropy_ex_f64", ... */
const char *XT_FN(xt_ce_name)(const XT_FN(xt_ce_call) * c);
/* Calls the function c names with c's arguments. */
xent_status XT_FN(xt_ce_run)(const XT_FN(xt_ce_call) * c);
