/*
 * xent.h -- the public C interface of Xent, a fast softmax cross-entropy kernel.
 *
 * This header is the contract. It is C99 and also valid C++ (the declarations are wrapped in extern "C"), and it
 * includes only <stddef.h> and <stdint.h>. Everything below is part of the stable v1 ABI:
 *   - names, values and signatures are never changed or renumbered; new functions, status codes and options
 *     fields are only ever added (each declaration notes the version that introduced it);
 *   - status codes are plain int32_t (no C enum crosses the ABI);
 *   - xent_options begins with struct_size, so fields can be appended without breaking compiled callers;
 *   - the shared library exports exactly the functions declared here (all named xent_*).
 *
 * Conventions shared by every computing function
 * -----------------------------------------------
 * Matrices are row-major: row i of a matrix `a` with stride `s` is a[i*s + 0 .. i*s + cols-1]; the elements
 * between cols and s are never read or written. Strides are counted in elements, not bytes.
 *
 * Validation happens before anything is written: when a function returns a status other than XENT_OK, none of
 * its outputs has been touched. The checks (when several apply, one of them is reported):
 *   XENT_ERR_NULL_POINTER       a required pointer is NULL (even when rows == 0);
 *   XENT_ERR_INVALID_OPTION     opts->struct_size < sizeof the v1 xent_options, reduction not one of
 *                               XENT_REDUCTION_*, label_smoothing NaN or outside [0, 1], grad_scale not finite,
 *                               num_threads < 0;
 *   XENT_ERR_INVALID_SHAPE      cols == 0; a stride < cols (row_stride, grad_stride when grad != NULL,
 *                               target_stride, out_stride); the byte extent ((rows-1)*stride + cols)*sizeof(elem)
 *                               of any matrix overflows size_t or exceeds PTRDIFF_MAX;
 *   XENT_ERR_ALIASING           the byte extent of an output overlaps an input or another output, other than
 *                               the documented in-place cases;
 *   XENT_ERR_LABEL_OUT_OF_RANGE a label outside [0, cols) that is not opts->ignore_index.
 * After these checks one case may still fail, also before anything is written:
 *   XENT_ERR_OUT_OF_MEMORY      a call allocates at most one block: the bias gradient's scratch above 4096
 *                               classes (cols doubles, see bias_grad), or the bfloat16 call's float32 tile
 *                               scratch (<= 4 MiB) when no float32 gradient is given; failure of either is
 *                               XENT_ERR_OUT_OF_MEMORY before anything is written (1.1.2).
 *
 * rows == 0 is valid: no input element is read; a SUM or MEAN loss receives 0 (NONE writes nothing) and
 * bias_grad, when given, receives cols zeros.
 *
 * After a call that fails, xent_last_error_message() returns a detail message for the calling thread; after a
 * call that succeeds it returns "". All functions are thread-safe and may be called concurrently on disjoint
 * outputs.
 *
 * Special values (every function): a logit of -inf has probability exactly 0 (a masked vocabulary entry). A row
 * whose logits are all -inf has lse = -inf, softmax 0 everywhere, log_softmax -inf everywhere (with z-loss, z_i =
 * +inf and its gradient term 2*lambda*lse*softmax is 0, as softmax is). A NaN or +inf logit makes that row's
 * results (loss, lse, softmax, log_softmax, gradient) NaN and leaves the other rows exact.
 * Finite logits of any magnitude (e.g. 1e30) give the exact finite answer: the maximum is subtracted first.
 * Range: differences x - max are formed in the element type, so a row whose logits span more than half the
 * type's maximum (e.g. 2e38 and -2e38 in float) can give an infinite loss where the exact value is finite.
 * The label-smoothing sum of x - max is kept scaled by 2^-64 (exactly), so it does not overflow for rows up to
 * 2^60 elements (1.1.0; 1.0 overflowed once span times class count exceeded the type's maximum). The public
 * xent_stats.sum_x is that sum unscaled and may be -inf for such rows.
 *
 * Error bounds quoted below are the ones Tests/XentTests asserts against a Float80 reference; docs/numerics.md is
 * their one full statement (which test measures each, the special values). s = |grad_scale| / denominator.
 *
 * Exponential: SLEEF's 1-ulp vector exp by default; XENT_EXP=fast in the environment (read once per process)
 * selects an inline polynomial exp, checked to be within 1 ulp of the true exp over every float in [-104, 89]
 * (make test-exp). The bounds below hold for both.
 *
 * Threads: rows are split across num_threads workers in fixed chunks, and rows of 65536 classes or more into
 * fixed column blocks whose statistics merge in a fixed order, so results are bit-identical for any num_threads
 * (NaN results are NaN for every thread count; only their sign bit is not guaranteed to match).
 */
#ifndef XENT_H
#define XENT_H

#include <stddef.h>
#include <stdint.h>

/* ---- Export macro ---------------------------------------------------------------------------------------- */

#ifndef XENT_API
#  if defined(__GNUC__) || defined(__clang__)
#    define XENT_API __attribute__((visibility("default")))
#  else
#    define XENT_API
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------------------------------------------- */

#define XENT_VERSION_MAJOR 1
#define XENT_VERSION_MINOR 4
#define XENT_VERSION_PATCH 0
#define XENT_VERSION_NUMBER (XENT_VERSION_MAJOR * 10000 + XENT_VERSION_MINOR * 100 + XENT_VERSION_PATCH)
#define XENT_VERSION_STRING "1.4.0"

/* ---- Status codes (fixed values; never renumbered) ------------------------------------------------------- */

typedef int32_t xent_status;

#define XENT_OK                     0 /* success */
#define XENT_ERR_NULL_POINTER       1 /* a required pointer is NULL */
#define XENT_ERR_INVALID_SHAPE      2 /* cols == 0, a stride < cols, size overflow */
#define XENT_ERR_LABEL_OUT_OF_RANGE 3 /* label outside [0, cols) and not the ignore index */
#define XENT_ERR_INVALID_OPTION     4 /* unknown reduction, smoothing outside [0,1], struct_size too small, ... */
#define XENT_ERR_ALIASING           5 /* an output overlaps an input other than the documented in-place case */
#define XENT_ERR_UNSUPPORTED        6 /* the request is valid but not supported by this build */
#define XENT_ERR_OUT_OF_MEMORY      7 /* a call's one scratch block could not be allocated (since 1.1.2) */

/* ---- Options ------------------------------------------------------------------------------------------------ */

#define XENT_REDUCTION_NONE 0 /* loss receives one value per row */
#define XENT_REDUCTION_SUM  1 /* loss receives the sum over rows */
#define XENT_REDUCTION_MEAN 2 /* loss receives the sum divided by the number of counted rows */

/*
 * Options of the cross-entropy functions. Always initialize with xent_options_init() and then set fields; a
 * caller compiled against a later header passes a larger struct_size, and the library reads only the fields
 * it knows (the first min(struct_size, sizeof(xent_options)) bytes). struct_size below XENT_OPTIONS_V1_SIZE is
 * XENT_ERR_INVALID_OPTION; any larger value (it is unsigned, up to SIZE_MAX) is accepted. Passing opts == NULL
 * means all defaults.
 *
 * Since 1.0.0.
 */
typedef struct xent_options {
    size_t  struct_size;      /* sizeof(xent_options) as the caller compiled it */
    int32_t reduction;        /* XENT_REDUCTION_*; default XENT_REDUCTION_MEAN */
    int32_t num_threads;      /* >= 0; 0 = automatic (default); 1 = the calling thread only */
    int64_t ignore_index;     /* rows whose label equals this are ignored; default -100 */
    float   label_smoothing;  /* epsilon in [0, 1]; default 0 */
    float   grad_scale;       /* finite factor applied to the gradient (e.g. a loss scale); default 1 */
    /* Since 1.1.0; read only when struct_size covers them (a 1.0.0 caller gets the defaults): */
    float   z_loss;           /* lambda >= 0, finite: the objective gains z_i = lambda*lse_i^2 per counted row
                                 (PaLM), its gradient 2*lambda*lse_i*softmax; default 0 (off) */
    float   soft_cap;         /* c >= 0, finite: logits become c*tanh(x/c) (Gemma 2) everywhere (loss, lse,
                                 smoothing, gradient via the chain rule 1 - tanh^2(x/c)); -inf stays -inf (masked);
                                 adds ~2 ulp of c of rounding per logit; default 0 (off) */
    const double *class_weights; /* NULL, or cols finite weights >= 0 with PyTorch's semantics: row i counts
                                    w[label_i] (MEAN divides by their sum), smoothing spreads eps*w_j/cols;
                                    a zero weight adds 0, also at a -inf logit (PyTorch: 0*inf = NaN);
                                    hard labels only (XENT_ERR_UNSUPPORTED with soft targets); default NULL */
    double *z_loss_out;       /* NULL, or receives the z-loss, reduced like the loss (rows values for NONE, one
                                 otherwise); it is never added to loss; default NULL */
    /* Since 1.2.0, read only by xent_linear_cross_entropy_* (other functions ignore them): */
    size_t  workspace_bytes;  /* upper bound of the one block a linear cross-entropy call uses (kept for the next
                                 call, see xent_release_workspace); 0 = the default,
                                 XENT_LINEAR_WORKSPACE_DEFAULT. With t = ceil(classes / 2048), a row
                                 block of R rows takes R * (classes * sizeof(T) + 64 * (t + 1) + (min(t, 4) - 1)
                                 * dim * sizeof(T)) bytes (classes * sizeof(T) twice with soft cap, class
                                 weights and smoothing together), plus 8 * classes (f32) or 16 * classes (f64)
                                 for the bias gradient's sums, plus 192; it must hold R = 1 (else
                                 XENT_ERR_INVALID_OPTION). R does not depend on which gradients are asked for.
                                 A call without gradients keeps no logits where it can: it forms them in one
                                 tile per thread of about 16 MiB (up to 2048 rows f32, 1024 f64, x min(classes,
                                 2048), rows padded by 64 bytes where they would be a multiple of 4 KiB apart)
                                 over spans of several row blocks whose statistics take up to 16 MiB (one
                                 span: 2048 rows at 128256 classes), within the same bound; its loss and
                                 lse may then differ in the last bits from a call with gradients (a BLAS may
                                 round a logit differently in a GEMM of another height; Debian's OpenBLAS gave
                                 the same bits on the four benchmark shapes). Results may differ in the last bits
                                 between bounds. */
    int32_t accumulate;       /* nonzero: grad_weight and grad_bias are added to (+=) instead of overwritten
                                 (gradient accumulation over micro-batches); default 0 */
} xent_options;

/* The default workspace of a linear cross-entropy call: 256 MiB. */
#define XENT_LINEAR_WORKSPACE_DEFAULT ((size_t)256 << 20)

/* The size of the 1.0.0 struct (the fields up to grad_scale): the smallest struct_size accepted. */
#define XENT_OPTIONS_V1_SIZE offsetof(xent_options, z_loss)

/*
 * Fills the first min(struct_size, sizeof(xent_options)) bytes of *opts with the defaults and sets
 * opts->struct_size to that size: reduction = XENT_REDUCTION_MEAN, num_threads = 0, ignore_index = -100,
 * label_smoothing = 0, grad_scale = 1, z_loss = 0, soft_cap = 0, class_weights = NULL, z_loss_out = NULL,
 * workspace_bytes = 0, accumulate = 0.
 * Never writes past struct_size bytes. Does nothing when opts is NULL or struct_size < sizeof(size_t).
 *
 * Since 1.1.0.
 */
XENT_API void xent_options_init_size(xent_options *opts, size_t struct_size);

/*
 * The function: fills the 1.0.0 fields only (the first XENT_OPTIONS_V1_SIZE bytes, struct_size =
 * XENT_OPTIONS_V1_SIZE), which is all a caller compiled against the 1.0.0 header has room for. Does nothing
 * when opts is NULL.
 *
 * The macro (since 1.1.0): code compiled against this header fills its whole struct, struct_size =
 * sizeof(xent_options) as it knows it. (Call (xent_options_init)(opts) to reach the function itself.)
 *
 * Since 1.0.0.
 */
XENT_API void xent_options_init(xent_options *opts);
#define xent_options_init(opts) xent_options_init_size((opts), sizeof(xent_options))

/* ---- Library information ------------------------------------------------------------------------------------ */

/*
 * The version of the library actually loaded, as MAJOR*10000 + MINOR*100 + PATCH. Compare with
 * XENT_VERSION_NUMBER to detect a header/library mismatch.
 *
 * Since 1.0.0.
 */
XENT_API uint32_t xent_version_number(void);

/*
 * The version of the library actually loaded, as "MAJOR.MINOR.PATCH" (static storage, never NULL).
 *
 * Since 1.0.0.
 */
XENT_API const char *xent_version_string(void);

/*
 * A short, static, English description of a status code. Never NULL: unknown codes give "unknown status".
 *
 * Since 1.0.0.
 */
XENT_API const char *xent_status_string(xent_status status);

/*
 * The detail message of the calling thread's most recent computing call: "" if it succeeded, otherwise a
 * description of what was wrong (for XENT_ERR_LABEL_OUT_OF_RANGE it names the row and the label, e.g.
 * "label 10 at row 3 is outside [0, 10)"). Thread-local; never NULL. The pointer stays valid until the calling
 * thread makes its next Xent call.
 *
 * Since 1.0.0.
 */
XENT_API const char *xent_last_error_message(void);

/*
 * The name of the vector instruction set the kernels use: "avx512" (x86-64 built for x86-64-v4), "avx2"
 * (built for x86-64-v3), "sse2" (portable x86-64 build) or "neon" (aarch64). Static storage, never NULL.
 * The avx512 and avx2 builds return the same bits.
 *
 * Since 1.0.0 ("avx512" since 1.1.1).
 */
XENT_API const char *xent_isa_name(void);

/* ---- Cross-entropy with integer labels --------------------------------------------------------------------- */

/*
 * Softmax cross-entropy with integer class labels (float).
 *
 * For each row i, with x = logits row i (cols values) and lse = log(sum_j exp(x_j)) (computed as
 * m + log(sum_j exp(x_j - m)), m = max_j x_j), eps = label_smoothing and the target distribution
 *     t_j = (1 - eps) * [j == labels[i]] + eps / cols,
 *     loss_i = sum_j t_j * (lse - x_j) = (1 - eps) * (lse - x_label) + eps * (lse - mean_j x_j),
 *     grad row i = s * (softmax(x) - t),   softmax(x)_j = exp(x_j - lse),
 * with s = grad_scale / denominator. The reduction gives loss[0] = sum_i loss_i (SUM, denominator 1),
 * loss[0] = sum_i loss_i / n (MEAN, denominator n = number of rows whose label != ignore_index; when n == 0
 * the loss is 0 and the gradient all zeros), or loss[i] = loss_i (NONE, denominator 1). SUM and MEAN are
 * accumulated in double. Rows whose label equals ignore_index have loss 0 and an all-zero gradient row, are not
 * counted in n, and still get their lse written.
 *
 * Shapes: logits: rows x cols, row stride row_stride >= cols; labels: rows values; loss: rows values (NONE) or
 * one value (SUM, MEAN); grad: rows x cols with row stride row_stride; lse: rows values.
 * Required: logits, labels, loss. May be NULL: opts (defaults), grad, lse.
 * Aliasing: grad may be exactly logits (in-place gradient: the logits are overwritten). No other overlap of the
 * byte extents of loss, grad, lse with each other or with logits/labels is allowed (XENT_ERR_ALIASING).
 *
 * Errors: XENT_ERR_NULL_POINTER, XENT_ERR_INVALID_SHAPE, XENT_ERR_INVALID_OPTION, XENT_ERR_ALIASING,
 * XENT_ERR_LABEL_OUT_OF_RANGE (see the top of this file); nothing is written on error.
 *
 * Error bound: f32: loss relative error <= 2e-7 (per row: relative to max(1, |loss_i|)), lse absolute error
 * <= 2e-7*max(1, |lse|), gradient absolute error <= 2e-7*s per element; see docs/numerics.md.
 *
 * Special values: an all -inf row has lse = -inf, loss +inf and gradient -s*t (softmax taken as 0); a label
 * whose logit is -inf (others finite) gives loss +inf and a finite gradient; a NaN or +inf logit makes that
 * row's loss, lse and gradient NaN (and hence a SUM/MEAN loss NaN) and leaves other rows exact.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_cross_entropy_f32(const float *logits, size_t rows, size_t cols, size_t row_stride,
                                            const int64_t *labels, const xent_options *opts,
                                            float *loss, float *grad, float *lse);

/*
 * As xent_cross_entropy_f32, for double.
 * Error bound: f64: loss relative error <= 1e-14 (per row: relative to max(1, |loss_i|)), lse absolute error
 * <= 1e-15*max(1, |lse|), gradient absolute error <= 1e-15*s per element; see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_cross_entropy_f64(const double *logits, size_t rows, size_t cols, size_t row_stride,
                                            const int64_t *labels, const xent_options *opts,
                                            double *loss, double *grad, double *lse);

/*
 * Extended xent_cross_entropy_f32: the gradient has its own row stride, and the batch-summed gradient (eq. 8)
 * can be produced in the same pass.
 *
 * Everything is as in xent_cross_entropy_f32, plus:
 *   grad:      NULL, or rows x cols with row stride grad_stride (grad_stride >= cols when grad != NULL;
 *              ignored when grad == NULL). In-place use: grad == logits with grad_stride == row_stride.
 *   bias_grad: NULL, or cols values receiving bias_grad_j = sum_i grad_ij, i.e. d loss / d b_j for a bias b
 *              added to every row (same scaling s as grad; ignored rows contribute 0; rows == 0 gives zeros).
 *              It may be requested with grad == NULL; then the rows x cols gradient is never materialized.
 *              Its extent must not overlap any input or other output. The rows are summed in double and
 *              rounded once (for double logits with the rounding error of every addition kept and added back),
 *              so the error does not grow with the row count beyond the rows' own gradient errors (1.1.2). The
 *              running sum lives on the stack up to 4096 classes (32 KiB); above that, each call with bias_grad
 *              allocates one block of cols doubles (XENT_ERR_OUT_OF_MEMORY if it cannot).
 *
 * Error bound: as xent_cross_entropy_f32; bias_grad_j absolute error <= 2e-7*s*rows; see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_cross_entropy_ex_f32(const float *logits, size_t rows, size_t cols, size_t row_stride,
                                               const int64_t *labels, const xent_options *opts,
                                               float *loss, float *grad, size_t grad_stride, float *lse,
                                               float *bias_grad);

/*
 * As xent_cross_entropy_ex_f32, for double.
 * Error bound: as xent_cross_entropy_f64; bias_grad_j absolute error <= 1e-14*s*rows; see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_cross_entropy_ex_f64(const double *logits, size_t rows, size_t cols, size_t row_stride,
                                               const int64_t *labels, const xent_options *opts,
                                               double *loss, double *grad, size_t grad_stride, double *lse,
                                               double *bias_grad);

/* ---- Cross-entropy with soft targets ----------------------------------------------------------------------- */

/*
 * Softmax cross-entropy with soft (probability) targets (float).
 *
 * For each row i, with x = logits row i, y = targets row i (cols values), eps = label_smoothing,
 *     t_j = (1 - eps) * y_j + eps / cols,
 *     loss_i = sum_j t_j * (lse - x_j)        (terms with t_j == 0 count as 0, so a -inf logit with a zero
 *                                               target is fine),
 *     grad row i = s * ((sum_j t_j) * softmax(x) - t),
 * which is the exact gradient of loss_i for any target sum (targets need not sum to 1 and are not validated).
 * s = grad_scale / denominator, denominator = rows for MEAN (no row is ever ignored; rows == 0 gives loss 0),
 * 1 for SUM and NONE. ignore_index is not used.
 *
 * Shapes: logits rows x cols (row_stride >= cols); targets rows x cols (target_stride >= cols); loss rows values
 * (NONE) or one value; grad rows x cols with row stride row_stride; lse rows values.
 * Required: logits, targets, loss. May be NULL: opts, grad, lse.
 * Aliasing: grad may be exactly logits (in place). No other overlap is allowed (XENT_ERR_ALIASING).
 *
 * Errors: XENT_ERR_NULL_POINTER, XENT_ERR_INVALID_SHAPE, XENT_ERR_INVALID_OPTION, XENT_ERR_ALIASING; nothing is
 * written on error.
 *
 * Error bound: f32: loss relative error <= 2e-7 (relative to max(1, sum_j |t_j (lse - x_j)|)), lse as
 * xent_cross_entropy_f32, gradient absolute error <= 2e-7*s*max(1, sum_j |t_j|); see docs/numerics.md.
 *
 * Special values: as xent_cross_entropy_f32; a -inf logit with a nonzero target gives loss +inf.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_soft_cross_entropy_f32(const float *logits, size_t rows, size_t cols, size_t row_stride,
                                                 const float *targets, size_t target_stride,
                                                 const xent_options *opts,
                                                 float *loss, float *grad, float *lse);

/*
 * As xent_soft_cross_entropy_f32, for double.
 * Error bound: f64: loss relative error <= 1e-14 (relative to max(1, sum_j |t_j (lse - x_j)|)), lse as
 * xent_cross_entropy_f64, gradient absolute error <= 1e-15*s*max(1, sum_j |t_j|); see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_soft_cross_entropy_f64(const double *logits, size_t rows, size_t cols,
                                                 size_t row_stride,
                                                 const double *targets, size_t target_stride,
                                                 const xent_options *opts,
                                                 double *loss, double *grad, double *lse);

/*
 * Extended xent_soft_cross_entropy_f32: a separate gradient row stride and the batch-summed gradient.
 *   grad:      NULL, or rows x cols with row stride grad_stride (>= cols when grad != NULL); in place when
 *              grad == logits and grad_stride == row_stride.
 *   bias_grad: NULL, or cols values receiving sum_i grad_ij (same scaling as grad), computed in the same pass;
 *              may be requested with grad == NULL (the full gradient is then never materialized). Summed and
 *              allocated as in xent_cross_entropy_ex_f32 (its bias_grad error bound applies).
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_soft_cross_entropy_ex_f32(const float *logits, size_t rows, size_t cols,
                                                    size_t row_stride,
                                                    const float *targets, size_t target_stride,
                                                    const xent_options *opts,
                                                    float *loss, float *grad, size_t grad_stride, float *lse,
                                                    float *bias_grad);

/*
 * As xent_soft_cross_entropy_ex_f32, for double.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_soft_cross_entropy_ex_f64(const double *logits, size_t rows, size_t cols,
                                                    size_t row_stride,
                                                    const double *targets, size_t target_stride,
                                                    const xent_options *opts,
                                                    double *loss, double *grad, size_t grad_stride, double *lse,
                                                    double *bias_grad);

/* ---- Row-wise primitives ------------------------------------------------------------------------------------ */

/*
 * Row-wise log-sum-exp: out[i] = log(sum_j exp(x_ij)), computed as m + log(sum_j exp(x_ij - m)), m = max_j x_ij.
 *
 * Shapes: x rows x cols (row_stride >= cols); out rows values. Required: x, out. out must not overlap x.
 * Error bound: f32: absolute error <= 2e-7*max(1, |out_i|); see docs/numerics.md.
 * Special values: an all -inf row gives -inf; a NaN or +inf element gives NaN for that row.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_logsumexp_f32(const float *x, size_t rows, size_t cols, size_t row_stride, float *out);

/*
 * As xent_logsumexp_f32, for double.
 * Error bound: f64: absolute error <= 1e-15*max(1, |out_i|); see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_logsumexp_f64(const double *x, size_t rows, size_t cols, size_t row_stride,
                                        double *out);

/*
 * Row-wise softmax: out_ij = exp(x_ij - lse_i), lse_i = log(sum_j exp(x_ij)).
 *
 * Shapes: x rows x cols (row_stride >= cols); out rows x cols (out_stride >= cols). Required: x, out.
 * Aliasing: out may be exactly x with out_stride == row_stride (in place); no other overlap.
 * Error bound: f32: absolute error <= 4*(1 + |log p|) ulp(p) + 4*FLT_MIN per element p (rounding x - max costs
 * |log p|/2 ulp in any floating-point softmax); see docs/numerics.md.
 * Special values: -inf gives 0; an all -inf row gives all 0; a NaN or +inf element gives a NaN row.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_softmax_f32(const float *x, size_t rows, size_t cols, size_t row_stride,
                                      float *out, size_t out_stride);

/*
 * As xent_softmax_f32, for double.
 * Error bound: f64: absolute error <= 4*(1 + |log p|) ulp(p) + 4*DBL_MIN per element p; see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_softmax_f64(const double *x, size_t rows, size_t cols, size_t row_stride,
                                      double *out, size_t out_stride);

/*
 * Row-wise log-softmax: out_ij = x_ij - lse_i, evaluated in the order (x_ij - m) - log(sum_j exp(x_ij - m)).
 *
 * Shapes, aliasing and in-place use as xent_softmax_f32.
 * Error bound: f32: absolute error <= 2e-7*(1 + |out_ij|); see docs/numerics.md.
 * Special values: -inf gives -inf; an all -inf row gives all -inf; a NaN or +inf element gives a NaN row.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_log_softmax_f32(const float *x, size_t rows, size_t cols, size_t row_stride,
                                          float *out, size_t out_stride);

/*
 * As xent_log_softmax_f32, for double.
 * Error bound: f64: absolute error <= 1e-15*(1 + |out_ij|); see docs/numerics.md.
 *
 * Since 1.0.0.
 */
XENT_API xent_status xent_log_softmax_f64(const double *x, size_t rows, size_t cols, size_t row_stride,
                                          double *out, size_t out_stride);

/* ---- Sharded vocabulary (tensor-parallel cross-entropy) ------------------------------------------------------ */

/*
 * When the class dimension is split across processes (each holds columns [col_offset, col_offset + cols) of every
 * row of total_cols classes), the loss and the gradient need only these per-row statistics of each shard, merged
 * across shards (for instance with MPI_Allreduce and a user operation that calls xent_merge_stats, or by hand):
 *
 *   1. xent_partial_stats_*   on every shard: the statistics of its columns;
 *   2. xent_merge_stats       combine shards' statistics (any grouping; the same order gives identical results);
 *   3. xent_finalize_stats_*  the loss (and lse) from the merged statistics of all total_cols columns;
 *   4. xent_grad_from_stats_* on every shard: its columns of the gradient, from the merged statistics.
 *
 * Label smoothing uses the global class count (count, which must reach total_cols) and the global sum of logits.
 * All fields are double, so a statistics array is an array of 6*rows doubles for a message-passing library.
 *
 * Since 1.1.0.
 */
typedef struct xent_stats {
    double max;          /* largest logit seen (NaN ignored); -inf when none is above -inf */
    double sum_exp;      /* sum of exp(x - ref) over the columns seen, ref = max (0 when max is -inf); NaN when a
                            NaN or +inf logit was seen */
    double sum_x;        /* sum of (x - ref) over the columns seen (label smoothing); -inf when it exceeds the
                            double range (span x columns > DBL_MAX: double rows only) */
    double count;        /* number of columns seen */
    double label_logit;  /* the row's label logit, when the label was among the columns seen; else 0 */
    double label_seen;   /* number of shards that held the label: 1 once all shards are merged (0: ignored row) */
} xent_stats;

/*
 * The statistics of one shard: stats[i] describes columns [col_offset, col_offset + cols) of row i.
 *
 * Shapes: logits rows x cols (row_stride >= cols); col_offset + cols <= total_cols; labels: rows global class
 * indices in [0, total_cols) or opts->ignore_index (ignored rows: label_seen = 0); stats: rows entries.
 * Required: logits, labels, stats; opts may be NULL (ignore_index and soft_cap are read; class_weights is
 * XENT_ERR_UNSUPPORTED in every sharded function: xent_stats carries no class-weighted sums; z_loss was
 * XENT_ERR_UNSUPPORTED before 1.3.0 and is ignored here since). stats may not overlap the inputs.
 * Errors: XENT_ERR_NULL_POINTER, XENT_ERR_INVALID_SHAPE, XENT_ERR_LABEL_OUT_OF_RANGE, XENT_ERR_INVALID_OPTION,
 * XENT_ERR_ALIASING; nothing is written on error.
 * Error bound: sum_exp relative error <= 4e-7 (f32 logits) / 1e-15 (f64) per shard; see docs/numerics.md.
 *
 * Since 1.1.0.
 */
XENT_API xent_status xent_partial_stats_f32(const float *logits, size_t rows, size_t cols, size_t row_stride,
                                            size_t col_offset, size_t total_cols, const int64_t *labels,
                                            const xent_options *opts, xent_stats *stats);
XENT_API xent_status xent_partial_stats_f64(const double *logits, size_t rows, size_t cols, size_t row_stride,
                                            size_t col_offset, size_t total_cols, const int64_t *labels,
                                            const xent_options *opts, xent_stats *stats);

/*
 * out[i] = the statistics of the columns of a[i] and b[i] together:
 *   max = max(a.max, b.max), ref = max (0 when -inf), sum_exp = a.sum_exp*e^(a.ref - ref) + b.sum_exp*e^(b.ref - ref),
 *   sum_x = a.sum_x + a.count*(a.ref - ref) + b.sum_x + b.count*(b.ref - ref), count = a.count + b.count,
 *   label_logit = a.label_logit + b.label_logit, label_seen = a.label_seen + b.label_seen.
 * Associative and commutative up to rounding (one rounding per term); a fixed order gives identical results.
 * Aliasing: out may be exactly a or b (in place); no other overlap. Required: a, b, out.
 *
 * Since 1.1.0.
 */
XENT_API xent_status xent_merge_stats(const xent_stats *a, const xent_stats *b, xent_stats *out, size_t rows);

/*
 * The cross-entropy loss (and lse_i = ref + log sum_exp) from the merged statistics of all total_cols columns:
 * loss_i = (1 - eps)*(lse_i - label_logit_i) + eps*(lse_i - sum_x_i/total_cols - ref_i), reduced as
 * xent_cross_entropy_f32 does (MEAN over the rows not ignored). Every row's count must equal total_cols and every
 * row not ignored must have label_seen == 1 (else XENT_ERR_INVALID_SHAPE, naming the row). loss: rows values for
 * NONE, one otherwise (required); lse: NULL or rows values. Special values as xent_cross_entropy_f32.
 * Since 1.3.0 the z-loss (opts->z_loss = lambda; XENT_ERR_UNSUPPORTED before): opts->z_loss_out, when not NULL,
 * receives lambda*lse_i^2 reduced as the loss over the rows not ignored, as xent_cross_entropy_f32 reports it.
 * Error bound: as xent_cross_entropy_f32 (f32) / _f64, plus the difference from the unsharded call: loss and lse
 * <= 2e-7*max(1, |value|) (f32) / loss 1e-14*max(1, |loss_i|) (f64); see docs/numerics.md.
 *
 * Since 1.1.0.
 */
XENT_API xent_status xent_finalize_stats_f32(const xent_stats *stats, size_t rows, size_t total_cols,
                                             const int64_t *labels, const xent_options *opts,
                                             float *loss, float *lse);
XENT_API xent_status xent_finalize_stats_f64(const xent_stats *stats, size_t rows, size_t total_cols,
                                             const int64_t *labels, const xent_options *opts,
                                             double *loss, double *lse);

/*
 * One shard's columns of the gradient from the merged statistics:
 * grad_ij = s * (exp(x_ij - lse_i) - t_ij), t = (1 - eps)*onehot(label) + eps/total_cols, s = grad_scale /
 * denominator as in xent_cross_entropy_f32 (MEAN: the rows not ignored); ignored rows get zeros. Since 1.3.0 with
 * the z-loss (lambda = opts->z_loss) its gradient s*2*lambda*lse_i*exp(x_ij - lse_i) is added, as there.
 * Shapes as xent_partial_stats_f32; grad rows x cols with grad_stride >= cols. grad may be exactly logits with
 * grad_stride == row_stride (in place); no other overlap. stats must be merged over all total_cols columns.
 * Error bound: as xent_cross_entropy_f32 (f32) / _f64, plus the difference from the unsharded call: <= 2e-7 (f32)
 * / 1e-15 (f64) absolute for s <= 1; see docs/numerics.md.
 *
 * Since 1.1.0.
 */
XENT_API xent_status xent_grad_from_stats_f32(const float *logits, size_t rows, size_t cols, size_t row_stride,
                                              size_t col_offset, size_t total_cols, const int64_t *labels,
                                              const xent_stats *stats, const xent_options *opts,
                                              float *grad, size_t grad_stride);
XENT_API xent_status xent_grad_from_stats_f64(const double *logits, size_t rows, size_t cols, size_t row_stride,
                                              size_t col_offset, size_t total_cols, const int64_t *labels,
                                              const xent_stats *stats, const xent_options *opts,
                                              double *grad, size_t grad_stride);

/* ---- bfloat16 logits ------------------------------------------------------------------------------------------ */

/*
 * Cross-entropy of bfloat16 logits (the raw bits, uint16_t: the upper 16 bits of a float) with float32
 * accumulation: exactly xent_cross_entropy_ex_f32 on the widened logits (widening is exact), all options included;
 * the one exception: without grad_f32, a SUM/MEAN loss over more than 2^20 elements is summed per tile of rows
 * (it may differ from the float32 call's in the last bit).
 *
 * Shapes: logits rows x cols (row_stride >= cols, in elements); labels, loss, lse as xent_cross_entropy_f32.
 * Gradient: at most one of grad_f32 (float, rows x grad_stride) and grad_bf16 (bfloat16 bits, rows x grad_stride,
 * the float32 gradient rounded to nearest-even: the -1 of the target is folded in float32 before rounding);
 * both NULL = no gradient. grad_bf16 may be exactly logits with grad_stride == row_stride (in place); no other
 * overlap. Without grad_f32 the call allocates one float32 scratch of at most 4 MiB (a tile of rows;
 * XENT_ERR_OUT_OF_MEMORY if it cannot); with it, the logits are widened into grad_f32 and nothing is allocated.
 * Errors: as xent_cross_entropy_ex_f32; both gradients given is XENT_ERR_INVALID_OPTION.
 * Error bound: as xent_cross_entropy_f32, against the float64 result on the widened logits (the same bits as the
 * float32 call); a tiled SUM/MEAN loss within 4e-7 relative of the float32 call's; grad_bf16 adds the bfloat16
 * rounding (<= 2^-9 relative); see docs/numerics.md.
 *
 * Since 1.1.0.
 */
XENT_API xent_status xent_cross_entropy_bf16(const uint16_t *logits, size_t rows, size_t cols, size_t row_stride,
                                             const int64_t *labels, const xent_options *opts, float *loss,
                                             float *grad_f32, uint16_t *grad_bf16, size_t grad_stride, float *lse);

/* ---- Linear cross-entropy (the LM head, fused) ---------------------------------------------------------------- */

/*
 * The cross-entropy of the logits of a linear layer, o = hidden * weight^T + bias, with its gradients, without
 * the rows x classes logits ever existing whole: row blocks of the logits are formed in the workspace by the
 * system BLAS (cblas_sgemm / cblas_dgemm) with their statistics taken tile by tile, the loss and each row's
 * gradient coefficients computed by the kernel of xent_cross_entropy_ex_*, then the gradient G = dl/do formed
 * in place column by column of the block (2048 classes) and multiplied out while each column is in cache:
 *
 *   grad_hidden = G * weight          (rows x dim)
 *   grad_weight = G^T * hidden        (classes x dim; += with opts->accumulate)
 *   grad_bias   = sum over rows of G  (eq. 8; summed in double, rounded once; += with opts->accumulate)
 *
 * Every option means what it means for xent_cross_entropy_ex_* (reduction, ignore_index, label smoothing,
 * grad_scale, z-loss, soft cap, class weights); workspace_bytes bounds the one block the call uses (row blocks of
 * the logits; rows x classes never exists; the block is kept for the next call, see xent_release_workspace) and
 * accumulate makes grad_weight / grad_bias sums.
 *
 * Shapes (strides in elements): hidden rows x dim (hidden_stride >= dim), weight classes x dim (weight_stride >=
 * dim), bias classes values or NULL (then o = hidden * weight^T), labels rows values in [0, classes) or
 * ignore_index. Outputs: loss (rows values for XENT_REDUCTION_NONE, else 1; required); grad_hidden rows x
 * grad_hidden_stride, grad_weight classes x grad_weight_stride, grad_bias classes values, lse rows values: each
 * NULL when not wanted, and a gradient not asked for costs nothing (a loss-only call is one GEMM and one pass).
 * dim >= 1, classes >= 1, rows >= 0. The BLAS takes 32-bit sizes: dim, classes and every stride must be below
 * 2^31. No output may overlap an input or another output (no in-place form). rows == 0: loss 0 (NONE: nothing),
 * grad_weight and grad_bias zero (unchanged with accumulate).
 * Threads: opts->num_threads bounds every thread the call runs, the BLAS's included; results are bit-identical
 * for any thread count.
 * Errors: as xent_cross_entropy_ex_f32; a workspace too small for one row of logits is XENT_ERR_INVALID_OPTION;
 * a size the BLAS cannot take is XENT_ERR_INVALID_SHAPE; XENT_ERR_OUT_OF_MEMORY if the workspace cannot be
 * allocated (when the kept block is too small for it). Nothing is written before every check has passed and the
 * workspace is held.
 * Special values: a -inf bias masks its class (probability 0; without label smoothing its grad_weight row and
 * grad_bias entry are exactly 0); a NaN in a row of hidden makes that row's loss, lse and grad_hidden row NaN and
 * leaves the other rows exact (grad_weight and grad_bias, sums over rows, become NaN).
 * Error bound: f64: <= 1e-12 relative to a float64 reference; f32: loss, lse and each gradient's error <= 2x the
 * unfused float32 pipeline's (sgemm logits, xent_cross_entropy_ex_f32, sgemm gradients) + FLT_EPSILON, measured
 * against a long double reference by Tests/C/test_linear.c; see docs/numerics.md.
 *
 * Since 1.2.0.
 */
XENT_API xent_status xent_linear_cross_entropy_f32(const float *hidden, size_t rows, size_t dim, size_t hidden_stride,
                                                   const float *weight, size_t classes, size_t weight_stride,
                                                   const float *bias, const int64_t *labels, const xent_options *opts,
                                                   float *loss, float *grad_hidden, size_t grad_hidden_stride,
                                                   float *grad_weight, size_t grad_weight_stride, float *grad_bias,
                                                   float *lse);
XENT_API xent_status xent_linear_cross_entropy_f64(const double *hidden, size_t rows, size_t dim,
                                                   size_t hidden_stride, const double *weight, size_t classes,
                                                   size_t weight_stride, const double *bias, const int64_t *labels,
                                                   const xent_options *opts, double *loss, double *grad_hidden,
                                                   size_t grad_hidden_stride, double *grad_weight,
                                                   size_t grad_weight_stride, double *grad_bias, double *lse);

/*
 * The workspace a linear cross-entropy call (xent_linear_cross_entropy_*, xent_linear_shard_*) takes is kept for
 * the next call when it returns: one block for the process, reused by every later call it is large enough for
 * (a larger need replaces it), so that only the first call pays for touching fresh pages (a page fault and the
 * kernel's zeroing for every page: for the default 256 MiB, a sizable part of a call). Its size is the largest
 * workspace a call has needed since the last release (within that call's workspace_bytes).
 * Concurrent calls each hold their own block; the last one returned is kept and the others are freed.
 *
 * xent_release_workspace frees the kept block (memory goes back to the system; the next call allocates again)
 * and returns its size in bytes, 0 when none was kept. Safe to call from any thread at any time (a call in
 * progress keeps its block until it returns).
 *
 * Since 1.4.0.
 */
XENT_API size_t xent_release_workspace(void);

/* ---- Linear cross-entropy over a sharded vocabulary (tensor parallelism) ---------------------------------------- */

/*
 * When the LM head's weight is split by classes across processes (this one holds rows [col_offset, col_offset +
 * cols) of weight and of bias, of total_cols classes in all), the fused linear cross-entropy needs only the
 * per-row statistics of each shard: the sharded-vocabulary steps above, with each shard's logits
 * o = hidden * weight^T + bias formed blockwise in one workspace (as xent_linear_cross_entropy_* does) and never
 * stored whole:
 *
 *   1. xent_linear_partial_stats_*     on every shard: the statistics of its classes;
 *   2. xent_merge_stats                across shards (e.g. one MPI_Allreduce with a user operation);
 *   3. xent_finalize_stats_*           the loss (and lse), identical on every shard;
 *   4. xent_linear_grad_from_stats_*   on every shard: its contribution to grad_hidden (sum it over the shards),
 *                                      its rows of grad_weight and its grad_bias entries.
 *
 * Shapes (strides in elements): hidden rows x dim (hidden_stride >= dim, the whole batch, the same on every
 * shard); weight cols x dim (weight_stride >= dim): this shard's classes; bias: cols values or NULL; labels: rows
 * global class indices in [0, total_cols) or ignore_index; col_offset + cols <= total_cols; dim >= 1, cols >= 1,
 * rows >= 0; dim, cols and every stride below 2^31 (the BLAS's sizes). No output may overlap an input or another
 * output.
 * Options: ignore_index, soft_cap, num_threads and workspace_bytes (as xent_linear_cross_entropy_*: with t =
 * ceil(cols / 2048), a row block of R rows takes R * (cols * sizeof(T) + 64 * (t + 1) + (min(t, 4) - 1) * dim *
 * sizeof(T)) bytes, plus 8 * cols (f32) or 16 * cols (f64) for the bias gradient's sums, reserved by both
 * functions, plus 192; give both the same workspace_bytes: they then
 * form the same row blocks, and the BLAS the same logits); xent_linear_grad_from_stats_* also reads reduction, label_smoothing (with the global class
 * count total_cols), grad_scale and accumulate (grad_weight and grad_bias are added to; grad_hidden is always
 * overwritten) and z_loss (its gradient, as xent_grad_from_stats_*; the z-loss value comes from
 * xent_finalize_stats_*). class_weights is XENT_ERR_UNSUPPORTED, as for the sharded functions above: xent_stats
 * carries no class-weighted sums.
 * Threads: as xent_linear_cross_entropy_* (num_threads bounds every thread, the BLAS's included; the same bits for
 * any thread count). Errors and special values as xent_linear_cross_entropy_* and the sharded functions; nothing is
 * written on error (XENT_ERR_OUT_OF_MEMORY when the workspace cannot be allocated).
 * Error bound: statistics as xent_partial_stats_* of the shard's logits formed by the BLAS; loss, lse and the
 * gradients (each shard's grad_weight and grad_bias rows, grad_hidden summed over the shards) within the bounds of
 * xent_linear_cross_entropy_* on the unsharded weight. Against that call itself: a reduced loss within 1 ulp (f32)
 * / 1e-14 relative (f64) when the BLAS forms the same logits for a shard as for the whole weight (a BLAS may pick
 * another kernel for another shape: then lse moves by the logits' last-bit differences); see docs/numerics.md.
 *
 * Since 1.3.0.
 */
XENT_API xent_status xent_linear_partial_stats_f32(const float *hidden, size_t rows, size_t dim, size_t hidden_stride,
                                                   const float *weight, size_t cols, size_t weight_stride,
                                                   size_t col_offset, size_t total_cols, const float *bias,
                                                   const int64_t *labels, const xent_options *opts, xent_stats *stats);
XENT_API xent_status xent_linear_partial_stats_f64(const double *hidden, size_t rows, size_t dim,
                                                   size_t hidden_stride, const double *weight, size_t cols,
                                                   size_t weight_stride, size_t col_offset, size_t total_cols,
                                                   const double *bias, const int64_t *labels, const xent_options *opts,
                                                   xent_stats *stats);

/*
 * One shard's gradients from statistics merged over all total_cols classes (arguments as
 * xent_linear_partial_stats_*): with G the shard's columns of dl/do (as xent_grad_from_stats_* forms them),
 *   grad_hidden = G * weight        (rows x grad_hidden_stride: this shard's contribution; sum over the shards)
 *   grad_weight = G^T * hidden      (cols x grad_weight_stride: this shard's rows; += with opts->accumulate)
 *   grad_bias   = sum over rows of G (cols values, summed in double; += with opts->accumulate)
 * each NULL when not wanted (at least one of the three is required: else XENT_ERR_NULL_POINTER). rows == 0:
 * grad_weight and grad_bias zero (unchanged with accumulate).
 *
 * Since 1.3.0.
 */
XENT_API xent_status xent_linear_grad_from_stats_f32(const float *hidden, size_t rows, size_t dim,
                                                     size_t hidden_stride, const float *weight, size_t cols,
                                                     size_t weight_stride, size_t col_offset, size_t total_cols,
                                                     const float *bias, const int64_t *labels,
                                                     const xent_stats *stats, const xent_options *opts,
                                                     float *grad_hidden, size_t grad_hidden_stride,
                                                     float *grad_weight, size_t grad_weight_stride,
                                                     float *grad_bias);
XENT_API xent_status xent_linear_grad_from_stats_f64(const double *hidden, size_t rows, size_t dim,
                                                     size_t hidden_stride, const double *weight, size_t cols,
                                                     size_t weight_stride, size_t col_offset, size_t total_cols,
                                                     const double *bias, const int64_t *labels,
                                                     const xent_stats *stats, const xent_options *opts,
                                                     double *grad_hidden, size_t grad_hidden_stride,
                                                     double *grad_weight, size_t grad_weight_stride,
                                                     double *grad_bias);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XENT_H */
