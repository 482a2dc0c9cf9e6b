/*
 * xent_test_common.h -- the body of the C and C++ tests of the public C ABI (include/xent.h).
 *
 * Valid C99 and C++17 (compiled with -Wall -Wextra -Werror -pedantic in both). Every result is checked against a
 * plain long double reference written here (logsumexp with max subtraction, softmax, log_softmax, cross-entropy
 * with all options, soft cross-entropy, gradient, bias gradient = column sums of the reference gradient).
 *
 * The element-type-specific tests are written once, below the "typed part" marker, and this header includes
 * itself twice to instantiate them for float (suffix _f32) and double (suffix _f64).
 *
 * Tolerances: |got - ref| <= tol * max(1, |ref|), tol = 1e-6 for float, 1e-13 for double (NaN must match NaN,
 * an infinity must match exactly). Column sums (bias_grad) are held to tol * max(1, sum_i |grad_ij|).
 *
 * Usage: #include "xent_test_common.h", then `return xt_run_all("c", NULL);` (the C++ program passes a function
 * running its own extra checks).
 */
#ifndef XT_TYPED_PASS
#ifndef XENT_TEST_COMMON_H
#define XENT_TEST_COMMON_H

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xent.h>

/* ---- Reporting ---------------------------------------------------------------------------------------------- */

static long xt_passed;
static long xt_failed;
static const char *xt_lang = "?";
static char xt_case[384];

#if defined(__GNUC__) || defined(__clang__)
static void xt_set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
/* Describes the case being run; printed in front of every failure. */
static void xt_set_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(xt_case, sizeof xt_case, fmt, ap);
    va_end(ap);
}

/* Records one check: prints one line when it failed. Returns cond. */
#if defined(__GNUC__) || defined(__clang__)
static int xt_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static int xt_check(int cond, const char *fmt, ...)
{
    if (cond) {
        xt_passed++;
    } else {
        va_list ap;
        xt_failed++;
        printf("FAIL [%s] %s: ", xt_lang, xt_case);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    return cond;
}

static const char *xt_status_name(xent_status s)
{
    switch (s) {
    case XENT_OK: return "XENT_OK";
    case XENT_ERR_NULL_POINTER: return "XENT_ERR_NULL_POINTER";
    case XENT_ERR_INVALID_SHAPE: return "XENT_ERR_INVALID_SHAPE";
    case XENT_ERR_LABEL_OUT_OF_RANGE: return "XENT_ERR_LABEL_OUT_OF_RANGE";
    case XENT_ERR_INVALID_OPTION: return "XENT_ERR_INVALID_OPTION";
    case XENT_ERR_ALIASING: return "XENT_ERR_ALIASING";
    case XENT_ERR_UNSUPPORTED: return "XENT_ERR_UNSUPPORTED";
    case XENT_ERR_OUT_OF_MEMORY: return "XENT_ERR_OUT_OF_MEMORY";
    default: return "(unknown status)";
    }
}

/* Checks a status; on an unexpected one also prints the library's message. */
static int xt_check_status(xent_status got, xent_status want, const char *what)
{
    return xt_check(got == want, "%s: status %d %s, expected %d %s (message: \"%s\")", what, (int)got,
                    xt_status_name(got), (int)want, xt_status_name(want), xent_last_error_message());
}

/* ---- Small utilities ---------------------------------------------------------------------------------------- */

static uint64_t xt_rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t xt_rand_u64(void)
{
    /* xorshift64* */
    uint64_t x = xt_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    xt_rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi). */
static double xt_uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(xt_rand_u64() >> 11) * (1.0 / 9007199254740992.0));
}

static size_t xt_rand_index(size_t n)
{
    return (size_t)(xt_rand_u64() % (uint64_t)n);
}

static void *xt_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        printf("out of memory (%lu bytes)\n", (unsigned long)bytes);
        exit(2);
    }
    return p;
}

static int xt_contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* |got - ref| <= tol * max(scale, |ref|); NaN matches NaN only, infinities match exactly. */
static int xt_close_scaled(long double got, long double ref, double tol, long double scale)
{
    long double err, mag;
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == ref;
    if (isnan(got) || isinf(got)) return 0;
    err = fabsl(got - ref);
    mag = fabsl(ref) > scale ? fabsl(ref) : scale;
    return err <= (long double)tol * mag;
}

static int xt_close(long double got, long double ref, double tol)
{
    return xt_close_scaled(got, ref, tol, 1.0L);
}

/* A byte arena holding every buffer of a test, so that "nothing was written" is one memcmp. */
typedef struct xt_arena {
    unsigned char *mem;
    unsigned char *snap;
    size_t size;
} xt_arena;

static void xt_arena_init(xt_arena *a, size_t size)
{
    size_t i;
    a->mem = (unsigned char *)xt_alloc(size);
    a->snap = (unsigned char *)xt_alloc(size);
    a->size = size;
    for (i = 0; i < size; i++) a->mem[i] = (unsigned char)(0xA5u ^ (i * 37u));
}

static void xt_arena_free(xt_arena *a)
{
    free(a->mem);
    free(a->snap);
}

static void xt_arena_snap(xt_arena *a)
{
    memcpy(a->snap, a->mem, a->size);
}

static int xt_arena_unchanged(const xt_arena *a)
{
    return memcmp(a->snap, a->mem, a->size) == 0;
}

/* ---- The long double reference ------------------------------------------------------------------------------ */

#define XT_ROW_FINITE 0 /* at least one finite logit, no NaN, no +inf */
#define XT_ROW_ALL_NEG_INF 1
#define XT_ROW_NAN 2 /* a NaN or +inf logit */

typedef struct xt_row_stats {
    int kind;
    long double max;    /* max_j x_j (finite rows) */
    long double sum;    /* sum_j exp(x_j - max) */
    long double logsum; /* log(sum) */
} xt_row_stats;

static xt_row_stats xt_ref_row(const long double *x, size_t cols)
{
    xt_row_stats r;
    size_t j;
    int bad = 0;
    r.max = -INFINITY;
    r.sum = 0;
    r.logsum = 0;
    for (j = 0; j < cols; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) bad = 1;
        else if (x[j] > r.max) r.max = x[j];
    }
    if (bad) {
        r.kind = XT_ROW_NAN;
        return r;
    }
    if (r.max == -INFINITY) {
        r.kind = XT_ROW_ALL_NEG_INF;
        return r;
    }
    r.kind = XT_ROW_FINITE;
    for (j = 0; j < cols; j++) r.sum += expl(x[j] - r.max);
    r.logsum = logl(r.sum);
    return r;
}

static long double xt_ref_lse(const xt_row_stats *r)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return -INFINITY;
    return r->max + r->logsum;
}

static long double xt_ref_softmax(const xt_row_stats *r, long double xj)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return 0;
    return expl(xj - r->max) / r->sum;
}

static long double xt_ref_log_softmax(const xt_row_stats *r, long double xj)
{
    if (r->kind == XT_ROW_NAN) return NAN;
    if (r->kind == XT_ROW_ALL_NEG_INF) return -INFINITY;
    return (xj - r->max) - r->logsum;
}

typedef struct xt_ref_opts {
    int reduction;
    int64_t ignore_index;
    long double eps;    /* label smoothing, as the float the library receives */
    long double gscale; /* grad_scale, as the float the library receives */
} xt_ref_opts;

static xt_ref_opts xt_ref_opts_from(const xent_options *o)
{
    xt_ref_opts r;
    r.reduction = o->reduction;
    r.ignore_index = o->ignore_index;
    r.eps = (long double)o->label_smoothing;
    r.gscale = (long double)o->grad_scale;
    return r;
}

/* The reference results of a cross-entropy call (all arrays contiguous: row i of grad at grad[i*cols]). */
typedef struct xt_ref_ce_out {
    long double *loss_rows; /* rows */
    long double loss_red;   /* SUM or MEAN value */
    long double *grad;      /* rows * cols */
    long double *lse;       /* rows */
    long double *bias;      /* cols */
    long double *bias_abs;  /* cols: sum_i |grad_ij| (the condition of the column sum) */
} xt_ref_ce_out;

static void xt_ref_ce_alloc(xt_ref_ce_out *o, size_t rows, size_t cols)
{
    o->loss_rows = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->grad = (long double *)xt_alloc(sizeof(long double) * (rows * cols + 1));
    o->lse = (long double *)xt_alloc(sizeof(long double) * (rows + 1));
    o->bias = (long double *)xt_alloc(sizeof(long double) * (cols + 1));
    o->bias_abs = (long double *)xt_alloc(sizeof(long double) * (cols + 1));
    o->loss_red = 0;
}

static void xt_ref_ce_free(xt_ref_ce_out *o)
{
    free(o->loss_rows);
    free(o->grad);
    free(o->lse);
    free(o->bias);
    free(o->bias_abs);
}

/*
 * Cross-entropy reference. x: rows x cols contiguous. Exactly one of labels (hard) and y (soft targets,
 * rows x cols contiguous) is non-NULL.
 *   t_j = (1-eps)*onehot_j + eps/cols (hard) or (1-eps)*y_j + eps/cols (soft)
 *   loss_i = sum_{t_j != 0} t_j (lse - x_j),   grad_ij = s ((sum_j t_j) softmax_j - t_j)
 *   s = gscale/denominator; denominator = counted rows for MEAN (0 counted rows: loss 0, s = 0), else 1.
 *   Ignored rows (hard only): loss 0, gradient 0, lse still computed.
 */
static void xt_ref_ce(const long double *x, size_t rows, size_t cols, const int64_t *labels, const long double *y,
                      const xt_ref_opts *o, xt_ref_ce_out *out)
{
    size_t i, j, counted = 0;
    long double s, total = 0;
    long double *t = (long double *)xt_alloc(sizeof(long double) * cols);
    for (i = 0; i < rows; i++)
        if (!labels || labels[i] != o->ignore_index) counted++;
    if (o->reduction == XENT_REDUCTION_MEAN) s = counted ? o->gscale / (long double)counted : 0.0L;
    else s = o->gscale;
    for (j = 0; j < cols; j++) {
        out->bias[j] = 0;
        out->bias_abs[j] = 0;
    }
    for (i = 0; i < rows; i++) {
        const long double *xi = x + i * cols;
        long double *gi = out->grad + i * cols;
        xt_row_stats r = xt_ref_row(xi, cols);
        long double tsum = 0, loss = 0;
        out->lse[i] = xt_ref_lse(&r);
        if (labels && labels[i] == o->ignore_index) {
            out->loss_rows[i] = 0;
            for (j = 0; j < cols; j++) gi[j] = 0;
            continue;
        }
        for (j = 0; j < cols; j++) {
            long double base = labels ? ((int64_t)j == labels[i] ? 1.0L : 0.0L) : y[i * cols + j];
            t[j] = (1.0L - o->eps) * base + o->eps / (long double)cols;
            tsum += t[j];
        }
        if (r.kind == XT_ROW_NAN) {
            loss = NAN;
            for (j = 0; j < cols; j++) gi[j] = NAN;
        } else {
            for (j = 0; j < cols; j++) {
                if (t[j] != 0) {
                    long double nll = r.kind == XT_ROW_ALL_NEG_INF || xi[j] == -INFINITY
                                          ? (long double)INFINITY
                                          : r.logsum - (xi[j] - r.max);
                    loss += t[j] * nll;
                }
                gi[j] = s * (tsum * xt_ref_softmax(&r, xi[j]) - t[j]);
            }
        }
        out->loss_rows[i] = loss;
        total += loss;
    }
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            out->bias[j] += out->grad[i * cols + j];
            out->bias_abs[j] += fabsl(out->grad[i * cols + j]);
        }
    if (o->reduction == XENT_REDUCTION_MEAN) out->loss_red = counted ? total / (long double)counted : 0.0L;
    else out->loss_red = total;
    free(t);
}

/* ---- Type-independent tests --------------------------------------------------------------------------------- */

/* The declarations have exactly the documented types (a drift would not compile). */
typedef xent_status (*xt_ce_f32_fn)(const float *, size_t, size_t, size_t, const int64_t *, const xent_options *,
                                    float *, float *, float *);
typedef xent_status (*xt_ce_f64_fn)(const double *, size_t, size_t, size_t, const int64_t *,
                                    const xent_options *, double *, double *, double *);
typedef xent_status (*xt_ce_ex_f32_fn)(const float *, size_t, size_t, size_t, const int64_t *,
                                       const xent_options *, float *, float *, size_t, float *, float *);
typedef xent_status (*xt_ce_ex_f64_fn)(const double *, size_t, size_t, size_t, const int64_t *,
                                       const xent_options *, double *, double *, size_t, double *, double *);
typedef xent_status (*xt_sce_f32_fn)(const float *, size_t, size_t, size_t, const float *, size_t,
                                     const xent_options *, float *, float *, float *);
typedef xent_status (*xt_sce_f64_fn)(const double *, size_t, size_t, size_t, const double *, size_t,
                                     const xent_options *, double *, double *, double *);
typedef xent_status (*xt_sce_ex_f32_fn)(const float *, size_t, size_t, size_t, const float *, size_t,
                                        const xent_options *, float *, float *, size_t, float *, float *);
typedef xent_status (*xt_sce_ex_f64_fn)(const double *, size_t, size_t, size_t, const double *, size_t,
                                        const xent_options *, double *, double *, size_t, double *, double *);
typedef xent_status (*xt_lse_f32_fn)(const float *, size_t, size_t, size_t, float *);
typedef xent_status (*xt_lse_f64_fn)(const double *, size_t, size_t, size_t, double *);
typedef xent_status (*xt_sm_f32_fn)(const float *, size_t, size_t, size_t, float *, size_t);
typedef xent_status (*xt_sm_f64_fn)(const double *, size_t, size_t, size_t, double *, size_t);
typedef void (*xt_init_fn)(xent_options *);
typedef uint32_t (*xt_vnum_fn)(void);
typedef const char *(*xt_str_fn)(void);
typedef const char *(*xt_status_str_fn)(xent_status);

static void xt_test_signatures(void)
{
    xt_ce_f32_fn a = xent_cross_entropy_f32;
    xt_ce_f64_fn b = xent_cross_entropy_f64;
    xt_ce_ex_f32_fn c = xent_cross_entropy_ex_f32;
    xt_ce_ex_f64_fn d = xent_cross_entropy_ex_f64;
    xt_sce_f32_fn e = xent_soft_cross_entropy_f32;
    xt_sce_f64_fn f = xent_soft_cross_entropy_f64;
    xt_sce_ex_f32_fn g = xent_soft_cross_entropy_ex_f32;
    xt_sce_ex_f64_fn h = xent_soft_cross_entropy_ex_f64;
    xt_lse_f32_fn i = xent_logsumexp_f32;
    xt_lse_f64_fn j = xent_logsumexp_f64;
    xt_sm_f32_fn k = xent_softmax_f32;
    xt_sm_f64_fn l = xent_softmax_f64;
    xt_sm_f32_fn m = xent_log_softmax_f32;
    xt_sm_f64_fn n = xent_log_softmax_f64;
    xt_init_fn o = xent_options_init;
    xt_vnum_fn p = xent_version_number;
    xt_str_fn q = xent_version_string;
    xt_status_str_fn r = xent_status_string;
    xt_str_fn s = xent_last_error_message;
    xt_str_fn t = xent_isa_name;
    xt_set_case("signatures");
    xt_check(a && b && c && d && e && f && g && h && i && j && k && l && m && n && o && p && q && r && s && t,
             "a function pointer is NULL");
    xt_check(sizeof(xent_status) == 4 && (xent_status)-1 < 0, "xent_status is not a signed 32-bit integer");
    xt_check(XENT_OK == 0 && XENT_ERR_NULL_POINTER == 1 && XENT_ERR_INVALID_SHAPE == 2 &&
                 XENT_ERR_LABEL_OUT_OF_RANGE == 3 && XENT_ERR_INVALID_OPTION == 4 && XENT_ERR_ALIASING == 5 &&
                 XENT_ERR_UNSUPPORTED == 6 && XENT_ERR_OUT_OF_MEMORY == 7,
             "status code values differ from the v1 contract");
    xt_check(XENT_REDUCTION_NONE == 0 && XENT_REDUCTION_SUM == 1 && XENT_REDUCTION_MEAN == 2,
             "reduction values differ from the v1 contract");
    xt_check(offsetof(xent_options, struct_size) == 0 && offsetof(xent_options, reduction) == sizeof(size_t) &&
                 offsetof(xent_options, num_threads) == sizeof(size_t) + 4 &&
                 offsetof(xent_options, ignore_index) == sizeof(size_t) + 8 &&
                 offsetof(xent_options, label_smoothing) == sizeof(size_t) + 16 &&
                 offsetof(xent_options, grad_scale) == sizeof(size_t) + 20 &&
                 XENT_OPTIONS_V1_SIZE == sizeof(size_t) + 24,
             "xent_options' 1.0.0 prefix differs from the v1 contract (v1 size %lu)",
             (unsigned long)XENT_OPTIONS_V1_SIZE);
    xt_check(offsetof(xent_options, z_loss) == XENT_OPTIONS_V1_SIZE &&
                 offsetof(xent_options, soft_cap) == XENT_OPTIONS_V1_SIZE + 4 &&
                 offsetof(xent_options, class_weights) == XENT_OPTIONS_V1_SIZE + 8 &&
                 offsetof(xent_options, z_loss_out) == XENT_OPTIONS_V1_SIZE + 8 + sizeof(void *) &&
                 sizeof(xent_options) == XENT_OPTIONS_V1_SIZE + 8 + 2 * sizeof(void *),
             "xent_options' 1.1.0 fields are not appended after the 1.0.0 ones (size %lu)",
             (unsigned long)sizeof(xent_options));
}

static void xt_test_info(void)
{
    static const xent_status codes[8] = {XENT_OK, XENT_ERR_NULL_POINTER, XENT_ERR_INVALID_SHAPE,
                                         XENT_ERR_LABEL_OUT_OF_RANGE, XENT_ERR_INVALID_OPTION, XENT_ERR_ALIASING,
                                         XENT_ERR_UNSUPPORTED, XENT_ERR_OUT_OF_MEMORY};
    static const xent_status unknown[5] = {8, -1, 100, INT32_MAX, INT32_MIN};
    const char *strings[8];
    char expect[32];
    const char *isa;
    int i, k;

    xt_set_case("version");
    xt_check(XENT_VERSION_NUMBER == XENT_VERSION_MAJOR * 10000 + XENT_VERSION_MINOR * 100 + XENT_VERSION_PATCH,
             "XENT_VERSION_NUMBER is not MAJOR*10000+MINOR*100+PATCH");
    xt_check(XENT_VERSION_MAJOR == 1 && XENT_VERSION_MINOR == 1 && XENT_VERSION_PATCH == 2,
             "header version is not 1.1.2");
    xt_check(xent_version_number() == (uint32_t)XENT_VERSION_NUMBER,
             "xent_version_number() = %lu, XENT_VERSION_NUMBER = %lu", (unsigned long)xent_version_number(),
             (unsigned long)XENT_VERSION_NUMBER);
    xt_check(xent_version_string() != NULL && strcmp(xent_version_string(), XENT_VERSION_STRING) == 0,
             "xent_version_string() = \"%s\", XENT_VERSION_STRING = \"%s\"",
             xent_version_string() ? xent_version_string() : "(null)", XENT_VERSION_STRING);
    snprintf(expect, sizeof expect, "%d.%d.%d", XENT_VERSION_MAJOR, XENT_VERSION_MINOR, XENT_VERSION_PATCH);
    xt_check(strcmp(expect, XENT_VERSION_STRING) == 0, "XENT_VERSION_STRING \"%s\" is not \"%s\"",
             XENT_VERSION_STRING, expect);

    xt_set_case("xent_status_string");
    for (i = 0; i < 8; i++) {
        strings[i] = xent_status_string(codes[i]);
        if (!xt_check(strings[i] != NULL && strings[i][0] != '\0', "code %d gives NULL or \"\"", (int)codes[i]))
            strings[i] = "";
        else
            xt_check(strcmp(strings[i], "unknown status") != 0, "code %d gives \"unknown status\"",
                     (int)codes[i]);
    }
    for (i = 0; i < 8; i++)
        for (k = i + 1; k < 8; k++)
            xt_check(strcmp(strings[i], strings[k]) != 0, "codes %d and %d share the string \"%s\"", i, k,
                     strings[i]);
    for (i = 0; i < 5; i++) {
        const char *u = xent_status_string(unknown[i]);
        xt_check(u != NULL && strcmp(u, "unknown status") == 0, "unknown code %ld gives \"%s\"",
                 (long)unknown[i], u ? u : "(null)");
    }

    xt_set_case("xent_isa_name");
    isa = xent_isa_name();
    xt_check(isa != NULL && isa[0] != '\0', "NULL or empty");
    if (isa) {
        xt_check(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "sse2") == 0 ||
                     strcmp(isa, "neon") == 0,
                 "\"%s\" is not one of avx512, avx2, sse2, neon", isa);
#if defined(__x86_64__) || defined(_M_X64)
        xt_check(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "sse2") == 0,
                 "\"%s\" on x86-64", isa);
#elif defined(__aarch64__)
        xt_check(strcmp(isa, "neon") == 0, "\"%s\" on aarch64", isa);
#endif
        printf("note [%s]: xent %s, isa %s\n", xt_lang, xent_version_string(), isa);
    }

    xt_set_case("xent_options_init");
    {
        struct {
            xent_options o;
            unsigned char after[32];
        } box;
        memset(&box, 0xCD, sizeof box);
        xent_options_init(&box.o);
        xt_check(box.o.struct_size == sizeof(xent_options), "struct_size %lu", (unsigned long)box.o.struct_size);
        xt_check(box.o.reduction == XENT_REDUCTION_MEAN, "reduction %d", (int)box.o.reduction);
        xt_check(box.o.num_threads == 0, "num_threads %d", (int)box.o.num_threads);
        xt_check(box.o.ignore_index == -100, "ignore_index %lld", (long long)box.o.ignore_index);
        xt_check(box.o.label_smoothing == 0.0f, "label_smoothing %g", (double)box.o.label_smoothing);
        xt_check(box.o.grad_scale == 1.0f, "grad_scale %g", (double)box.o.grad_scale);
        xt_check(box.o.z_loss == 0.0f && box.o.soft_cap == 0.0f && box.o.class_weights == NULL &&
                     box.o.z_loss_out == NULL, "1.1.0 fields not at their defaults");
        for (i = 0; i < 32; i++)
            if (box.after[i] != 0xCD) break;
        xt_check(i == 32, "wrote past sizeof(xent_options)");
    }

    xt_set_case("xent_last_error_message");
    {
        float x[2] = {0.0f, 1.0f}, out = 0.0f;
        xt_check_status(xent_logsumexp_f32(x, 1, 2, 2, &out), XENT_OK, "valid call");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
                 "after success: \"%s\"", xent_last_error_message() ? xent_last_error_message() : "(null)");
        xt_check_status(xent_logsumexp_f32(x, 1, 0, 2, &out), XENT_ERR_INVALID_SHAPE, "cols 0");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] != '\0',
                 "after failure: empty message");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] != '\0',
                 "reading the message cleared it");
        xt_check_status(xent_logsumexp_f32(x, 1, 2, 2, &out), XENT_OK, "valid call");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
                 "success after a failure did not clear the message: \"%s\"",
                 xent_last_error_message() ? xent_last_error_message() : "(null)");
    }
}

/* ---- Instantiate the typed tests ---------------------------------------------------------------------------- */

#define XT_CAT2(a, b) a##b
#define XT_CAT(a, b) XT_CAT2(a, b)
#define XT_FN(name) XT_CAT(name, XT_SUFFIX)

#define XT_TYPED_PASS 1
#define XT_REAL float
#define XT_SUFFIX _f32
#define XT_TOL 1e-6
#define XT_TYPE_NAME "f32"
#include "xent_test_common.h"
#undef XT_REAL
#undef XT_SUFFIX
#undef XT_TOL
#undef XT_TYPE_NAME

#define XT_REAL double
#define XT_SUFFIX _f64
#define XT_TOL 1e-13
#define XT_TYPE_NAME "f64"
#include "xent_test_common.h"
#undef XT_REAL
#undef XT_SUFFIX
#undef XT_TOL
#undef XT_TYPE_NAME
#undef XT_TYPED_PASS

/* ---- Driver ------------------------------------------------------------------------------------------------- */

static void xt_begin(const char *lang)
{
    xt_lang = lang;
    xt_passed = 0;
    xt_failed = 0;
}

/* Prints "N passed, N failed"; returns the process exit status. */
static int xt_finish(void)
{
    printf("%ld passed, %ld failed\n", xt_passed, xt_failed);
    fflush(stdout);
    return xt_failed == 0 ? 0 : 1;
}

static void xt_run_common(void)
{
    xt_test_signatures();
    xt_test_info();
    xt_run_typed_f32();
    xt_run_typed_f64();
    xt_set_case("xent_options_init(NULL)");
    xent_options_init(NULL); /* documented as a no-op; run last, a crash here is a failure too */
    xt_check(1, "unreachable");
}

/* Runs every shared check, then extra() (language-specific checks, may be NULL); returns the exit status. */
static int xt_run_all(const char *lang, void (*extra)(void))
{
    xt_begin(lang);
    xt_run_common();
    if (extra) extra();
    return xt_finish();
}

#endif /* XENT_TEST_COMMON_H */

#else /* XT_TYPED_PASS: ---- typed part, instantiated for XT_REAL ------------------------------------------- */

/* Copies a strided XT_REAL matrix to a contiguous long double one. */
static void XT_FN(xt_widen)(const XT_REAL *a, size_t rows, size_t cols, size_t stride, long double *out)
{
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) out[i * cols + j] = (long double)a[i * stride + j];
}

/* Fills rows x stride with NaN in the padding (so a read past cols shows up) and random values in the rows. */
static void XT_FN(xt_fill_random)(XT_REAL *a, size_t rows, size_t cols, size_t stride, double lo, double hi)
{
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < stride; j++) a[i * stride + j] = j < cols ? (XT_REAL)xt_uniform(lo, hi) : (XT_REAL)NAN;
}

static void XT_FN(xt_fill_const)(XT_REAL *a, size_t n, XT_REAL v)
{
    size_t i;
    for (i = 0; i < n; i++) a[i] = v;
}

#define XT_CANARY ((XT_REAL)777.25)

/* All n values still hold the canary. */
static int XT_FN(xt_untouched)(const XT_REAL *a, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!(a[i] == XT_CANARY)) return 0;
    return 1;
}

/* Checks a strided matrix against a contiguous reference; the padding of each row must still hold the canary
   when check_pad is set. One check per call; prints the first mismatch. */
static void XT_FN(xt_check_matrix)(const char *what, const XT_REAL *got, size_t rows, size_t cols, size_t stride,
                                   const long double *ref, const long double *scale, int check_pad)
{
    size_t i, j, bad = 0, bi = 0, bj = 0;
    for (i = 0; i < rows; i++) {
        for (j = 0; j < cols; j++) {
            long double sc = scale && scale[j] > 1.0L ? scale[j] : 1.0L;
            if (!xt_close_scaled((long double)got[i * stride + j], ref[i * cols + j], XT_TOL, sc)) {
                if (!bad) {
                    bi = i;
                    bj = j;
                }
                bad++;
            }
        }
        if (check_pad && i + 1 < rows)
            for (j = cols; j < stride; j++)
                if (!(got[i * stride + j] == XT_CANARY)) {
                    xt_check(0, "%s: padding at row %lu col %lu was written", what, (unsigned long)i,
                             (unsigned long)j);
                    return;
                }
    }
    if (bad)
        xt_check(0, "%s: %lu of %lu values wrong; first at row %lu col %lu: got %.17Lg, expected %.17Lg", what,
                 (unsigned long)bad, (unsigned long)(rows * cols), (unsigned long)bi, (unsigned long)bj,
                 (long double)got[bi * stride + bj], ref[bi * cols + bj]);
    else
        xt_check(1, "ok");
}

static void XT_FN(xt_check_vector)(const char *what, const XT_REAL *got, size_t n, const long double *ref)
{
    XT_FN(xt_check_matrix)(what, got, n, 1, 1, ref, NULL, 0);
}

static void XT_FN(xt_check_value)(const char *what, XT_REAL got, long double ref)
{
    xt_check(xt_close((long double)got, ref, XT_TOL), "%s: got %.17Lg, expected %.17Lg", what, (long double)got,
             ref);
}

/* ---- A generic cross-entropy call (hard/soft x plain/_ex) ---- */

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

static const char *XT_FN(xt_ce_name)(const XT_FN(xt_ce_call) * c)
{
    if (c->soft) return c->ex ? "soft_cross_entropy_ex_" XT_TYPE_NAME : "soft_cross_entropy_" XT_TYPE_NAME;
    return c->ex ? "cross_entropy_ex_" XT_TYPE_NAME : "cross_entropy_" XT_TYPE_NAME;
}

static xent_status XT_FN(xt_ce_run)(const XT_FN(xt_ce_call) * c)
{
    if (c->soft) {
        if (c->ex)
            return XT_FN(xent_soft_cross_entropy_ex)(c->logits, c->rows, c->cols, c->row_stride, c->targets,
                                                     c->target_stride, c->opts, c->loss, c->grad, c->grad_stride,
                                                     c->lse, c->bias);
        return XT_FN(xent_soft_cross_entropy)(c->logits, c->rows, c->cols, c->row_stride, c->targets,
                                              c->target_stride, c->opts, c->loss, c->grad, c->lse);
    }
    if (c->ex)
        return XT_FN(xent_cross_entropy_ex)(c->logits, c->rows, c->cols, c->row_stride, c->labels, c->opts, c->loss,
                                            c->grad, c->grad_stride, c->lse, c->bias);
    return XT_FN(xent_cross_entropy)(c->logits, c->rows, c->cols, c->row_stride, c->labels, c->opts, c->loss,
                                     c->grad, c->lse);
}

/* Runs c, compares every requested output with the reference, and checks that nothing else was written.
   The caller has filled all outputs (and their padding) with XT_CANARY. in_place: c->grad == c->logits. */
static void XT_FN(xt_ce_verify)(const XT_FN(xt_ce_call) * c, const xt_ref_ce_out *ref, int in_place,
                                size_t loss_cap, size_t lse_cap, size_t bias_cap)
{
    char what[160];
    int red = c->opts ? c->opts->reduction : XENT_REDUCTION_MEAN;
    size_t gstride = c->ex ? c->grad_stride : c->row_stride;
    xent_status st = XT_FN(xt_ce_run)(c);
    snprintf(what, sizeof what, "%s", XT_FN(xt_ce_name)(c));
    if (!xt_check_status(st, XENT_OK, what)) return;
    xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
             "%s: message after success is \"%s\"", what, xent_last_error_message());
    if (red == XENT_REDUCTION_NONE) {
        snprintf(what, sizeof what, "%s loss (NONE)", XT_FN(xt_ce_name)(c));
        XT_FN(xt_check_vector)(what, c->loss, c->rows, ref->loss_rows);
        xt_check(XT_FN(xt_untouched)(c->loss + c->rows, loss_cap - c->rows), "%s: wrote past rows values", what);
    } else {
        snprintf(what, sizeof what, "%s loss (%s)", XT_FN(xt_ce_name)(c),
                 red == XENT_REDUCTION_SUM ? "SUM" : "MEAN");
        XT_FN(xt_check_value)(what, c->loss[0], ref->loss_red);
        xt_check(XT_FN(xt_untouched)(c->loss + 1, loss_cap - 1), "%s: wrote past loss[0]", what);
    }
    if (c->grad) {
        snprintf(what, sizeof what, "%s grad%s", XT_FN(xt_ce_name)(c), in_place ? " (in place)" : "");
        XT_FN(xt_check_matrix)(what, c->grad, c->rows, c->cols, gstride, ref->grad, NULL, !in_place);
    }
    if (c->lse) {
        snprintf(what, sizeof what, "%s lse", XT_FN(xt_ce_name)(c));
        XT_FN(xt_check_vector)(what, c->lse, c->rows, ref->lse);
        xt_check(XT_FN(xt_untouched)(c->lse + c->rows, lse_cap - c->rows), "%s: wrote past rows values", what);
    }
    if (c->ex && c->bias) {
        snprintf(what, sizeof what, "%s bias_grad%s", XT_FN(xt_ce_name)(c), c->grad ? "" : " (grad NULL)");
        XT_FN(xt_check_matrix)(what, c->bias, 1, c->cols, c->cols, ref->bias, ref->bias_abs, 0);
        xt_check(XT_FN(xt_untouched)(c->bias + c->cols, bias_cap - c->cols), "%s: wrote past cols values", what);
    }
}

/* ---- Sweep: hard and soft cross-entropy against the reference ---- */

static void XT_FN(xt_test_ce_sweep)(void)
{
    static const size_t col_list[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
                                      14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 1000};
    static const size_t row_list[] = {1, 4, 7, 3, 2};
    static const float eps_list[] = {0.0f, 0.1f, 1.0f};
    static const float gs_list[] = {1.0f, 2.5f};
    static const int red_list[] = {XENT_REDUCTION_NONE, XENT_REDUCTION_SUM, XENT_REDUCTION_MEAN};
    size_t ci, ri, ei, gi, ii, counter = 0;
    int soft;

    for (soft = 0; soft <= 1; soft++)
        for (ci = 0; ci < sizeof col_list / sizeof col_list[0]; ci++)
            for (ri = 0; ri < 3; ri++)
                for (ei = 0; ei < 3; ei++)
                    for (gi = 0; gi < 2; gi++)
                        for (ii = 0; ii < (soft ? 1u : 3u); ii++) {
                            size_t cols = col_list[ci];
                            size_t rows = row_list[counter % 5];
                            size_t rs = cols + (counter % 3 == 0 ? 0 : counter % 3 == 1 ? 3 : 8);
                            size_t ts = cols + (counter % 2 ? 5 : 0);
                            size_t gs_ex = cols + (counter % 2 ? 1 : 6);
                            size_t off = counter % 4; /* misaligned starts */
                            size_t i, j, variant;
                            int red = red_list[ri];
                            xent_options opts;
                            xt_ref_opts ro;
                            xt_ref_ce_out ref;
                            XT_REAL *xbuf, *tbuf, *gbuf, *lossbuf, *lsebuf, *biasbuf, *x;
                            long double *xl, *yl = NULL;
                            int64_t *labels;
                            double target_mass = counter % 3 == 0 ? 1.0 : counter % 3 == 1 ? 0.7 : 1.3;
                            size_t xsize = off + rows * rs, gsize = off + rows * (gs_ex > rs ? gs_ex : rs) + 8;
                            counter++;

                            xent_options_init(&opts);
                            opts.reduction = red;
                            opts.label_smoothing = eps_list[ei];
                            opts.grad_scale = gs_list[gi];
                            opts.num_threads = (int32_t)(counter % 3);
                            if (!soft && counter % 2) opts.ignore_index = -1;
                            ro = xt_ref_opts_from(&opts);
                            xt_set_case("%s %s rows %lu cols %lu row_stride %lu off %lu %s eps %g gs %g ignore-mode %lu "
                                        "threads %d",
                                        soft ? "soft_ce" : "ce", XT_TYPE_NAME, (unsigned long)rows,
                                        (unsigned long)cols, (unsigned long)rs, (unsigned long)off,
                                        red == 0 ? "NONE" : red == 1 ? "SUM" : "MEAN", (double)opts.label_smoothing,
                                        (double)opts.grad_scale, (unsigned long)ii, (int)opts.num_threads);

                            xbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * xsize);
                            tbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * ts + 1));
                            gbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * gsize);
                            lossbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
                            lsebuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
                            biasbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
                            xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
                            labels = (int64_t *)xt_alloc(sizeof(int64_t) * rows);
                            xt_ref_ce_alloc(&ref, rows, cols);

                            x = xbuf + off;
                            XT_FN(xt_fill_const)(xbuf, xsize, (XT_REAL)NAN);
                            XT_FN(xt_fill_random)(x, rows, cols, rs, -8.0, 8.0);
                            XT_FN(xt_widen)(x, rows, cols, rs, xl);
                            for (i = 0; i < rows; i++) {
                                labels[i] = (int64_t)xt_rand_index(cols);
                                /* ignore-mode 1: some rows ignored; 2: all rows ignored */
                                if ((ii == 1 && i % 3 == 1) || ii == 2) labels[i] = opts.ignore_index;
                            }
                            if (soft) {
                                yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
                                for (i = 0; i < rows; i++) {
                                    double total = 0;
                                    for (j = 0; j < ts; j++) tbuf[i * ts + j] = (XT_REAL)NAN;
                                    for (j = 0; j < cols; j++) {
                                        double v = (j % 4 == 3) ? 0.0 : xt_uniform(0.0, 1.0);
                                        tbuf[i * ts + j] = (XT_REAL)v;
                                        total += (double)tbuf[i * ts + j];
                                    }
                                    for (j = 0; j < cols; j++)
                                        tbuf[i * ts + j] =
                                            (XT_REAL)(total > 0 ? (double)tbuf[i * ts + j] * target_mass / total : 0);
                                }
                                XT_FN(xt_widen)(tbuf, rows, cols, ts, yl);
                            }
                            xt_ref_ce(xl, rows, cols, soft ? NULL : labels, yl, &ro, &ref);

                            for (variant = 0; variant < 5; variant++) {
                                XT_FN(xt_ce_call) c;
                                int in_place = 0;
                                memset(&c, 0, sizeof c);
                                c.soft = soft;
                                c.logits = x;
                                c.rows = rows;
                                c.cols = cols;
                                c.row_stride = rs;
                                c.labels = labels;
                                c.targets = tbuf;
                                c.target_stride = ts;
                                c.opts = &opts;
                                c.loss = lossbuf;
                                c.lse = lsebuf;
                                XT_FN(xt_fill_const)(gbuf, gsize, XT_CANARY);
                                XT_FN(xt_fill_const)(lossbuf, rows + 4, XT_CANARY);
                                XT_FN(xt_fill_const)(lsebuf, rows + 4, XT_CANARY);
                                XT_FN(xt_fill_const)(biasbuf, cols + 4, XT_CANARY);
                                switch (variant) {
                                case 0: /* plain, all outputs */
                                    c.grad = gbuf;
                                    break;
                                case 1: /* plain, gradient not requested, lse not requested */
                                    c.grad = NULL;
                                    c.lse = (counter % 2) ? lsebuf : NULL;
                                    break;
                                case 2: /* _ex with its own gradient stride and the bias gradient */
                                    c.ex = 1;
                                    c.grad = gbuf + 1;
                                    c.grad_stride = gs_ex;
                                    c.bias = biasbuf;
                                    break;
                                case 3: /* _ex, bias gradient only */
                                    c.ex = 1;
                                    c.grad = NULL;
                                    c.grad_stride = counter % 2 ? 0 : 3 * cols;
                                    c.bias = biasbuf;
                                    c.lse = NULL;
                                    break;
                                case 4: /* in place: grad == logits (plain or _ex) */
                                    memcpy(gbuf, xbuf, sizeof(XT_REAL) * xsize);
                                    c.logits = gbuf + off;
                                    c.grad = gbuf + off;
                                    c.ex = (int)(counter % 2);
                                    c.grad_stride = rs;
                                    c.bias = c.ex ? biasbuf : NULL;
                                    in_place = 1;
                                    break;
                                }
                                if (variant == 4 && opts.reduction == XENT_REDUCTION_MEAN &&
                                    opts.label_smoothing == 0.0f && opts.grad_scale == 1.0f &&
                                    opts.ignore_index == -100 && opts.num_threads == 0)
                                    c.opts = NULL; /* NULL options = the defaults */
                                XT_FN(xt_ce_verify)(&c, &ref, in_place, rows + 4, rows + 4, cols + 4);
                                if (in_place)
                                    for (i = 0; i + 1 < rows; i++)
                                        for (j = cols; j < rs; j++)
                                            if (!isnan(gbuf[off + i * rs + j])) {
                                                xt_check(0, "in-place: padding of logits was written");
                                                i = rows;
                                                break;
                                            }
                            }

                            xt_ref_ce_free(&ref);
                            free(xbuf);
                            free(tbuf);
                            free(gbuf);
                            free(lossbuf);
                            free(lsebuf);
                            free(biasbuf);
                            free(xl);
                            free(yl);
                            free(labels);
                        }
}

/* ---- Sweep: logsumexp, softmax, log_softmax ---- */

static void XT_FN(xt_test_primitives_sweep)(void)
{
    static const size_t extra_cols[] = {31, 32, 33, 64, 1000, 4099};
    size_t ncols, rows, k, counter = 0;
    for (ncols = 1; ncols <= 25 + sizeof extra_cols / sizeof extra_cols[0]; ncols++)
        for (k = 0; k < 4; k++) {
            size_t cols = ncols <= 25 ? ncols : extra_cols[ncols - 26];
            size_t rs = cols + (k % 2 ? 3 : 0);
            size_t os = cols + (k / 2 ? 2 : 0);
            size_t off = counter % 3;
            size_t i, j;
            XT_REAL *xbuf, *x, *out, *lse, *inpl;
            long double *xl, *ref, *ref_lse, *ref_log;
            counter++;
            rows = 1 + counter % 5;
            xt_set_case("primitives %s rows %lu cols %lu row_stride %lu out_stride %lu off %lu", XT_TYPE_NAME,
                        (unsigned long)rows, (unsigned long)cols, (unsigned long)rs, (unsigned long)os,
                        (unsigned long)off);
            xbuf = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (off + rows * rs));
            out = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * os + 2));
            inpl = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (off + rows * rs));
            lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 2));
            xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref_log = (long double *)xt_alloc(sizeof(long double) * rows * cols);
            ref_lse = (long double *)xt_alloc(sizeof(long double) * rows);
            XT_FN(xt_fill_const)(xbuf, off + rows * rs, (XT_REAL)NAN);
            x = xbuf + off;
            XT_FN(xt_fill_random)(x, rows, cols, rs, counter % 2 ? -8.0 : -80.0, counter % 2 ? 8.0 : 3.0);
            XT_FN(xt_widen)(x, rows, cols, rs, xl);
            for (i = 0; i < rows; i++) {
                xt_row_stats r = xt_ref_row(xl + i * cols, cols);
                ref_lse[i] = xt_ref_lse(&r);
                for (j = 0; j < cols; j++) {
                    ref[i * cols + j] = xt_ref_softmax(&r, xl[i * cols + j]);
                    ref_log[i * cols + j] = xt_ref_log_softmax(&r, xl[i * cols + j]);
                }
            }

            XT_FN(xt_fill_const)(lse, rows + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_logsumexp)(x, rows, cols, rs, lse), XENT_OK, "logsumexp")) {
                XT_FN(xt_check_vector)("logsumexp", lse, rows, ref_lse);
                xt_check(XT_FN(xt_untouched)(lse + rows, 2), "logsumexp wrote past rows values");
            }

            XT_FN(xt_fill_const)(out, rows * os + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_softmax)(x, rows, cols, rs, out, os), XENT_OK, "softmax")) {
                XT_FN(xt_check_matrix)("softmax", out, rows, cols, os, ref, NULL, 1);
                xt_check(XT_FN(xt_untouched)(out + (rows - 1) * os + cols, 2), "softmax wrote past the end");
            }

            XT_FN(xt_fill_const)(out, rows * os + 2, XT_CANARY);
            if (xt_check_status(XT_FN(xent_log_softmax)(x, rows, cols, rs, out, os), XENT_OK, "log_softmax")) {
                XT_FN(xt_check_matrix)("log_softmax", out, rows, cols, os, ref_log, NULL, 1);
                xt_check(XT_FN(xt_untouched)(out + (rows - 1) * os + cols, 2), "log_softmax wrote past the end");
            }

            /* in place: out == x, out_stride == row_stride */
            memcpy(inpl, xbuf, sizeof(XT_REAL) * (off + rows * rs));
            if (xt_check_status(XT_FN(xent_softmax)(inpl + off, rows, cols, rs, inpl + off, rs), XENT_OK,
                                "softmax in place"))
                XT_FN(xt_check_matrix)("softmax in place", inpl + off, rows, cols, rs, ref, NULL, 0);
            memcpy(inpl, xbuf, sizeof(XT_REAL) * (off + rows * rs));
            if (xt_check_status(XT_FN(xent_log_softmax)(inpl + off, rows, cols, rs, inpl + off, rs), XENT_OK,
                                "log_softmax in place"))
                XT_FN(xt_check_matrix)("log_softmax in place", inpl + off, rows, cols, rs, ref_log, NULL, 0);
            for (i = 0; i + 1 < rows; i++)
                for (j = cols; j < rs; j++)
                    if (!isnan(inpl[off + i * rs + j])) {
                        xt_check(0, "in-place log_softmax wrote the padding");
                        i = rows;
                        break;
                    }

            free(xbuf);
            free(out);
            free(inpl);
            free(lse);
            free(xl);
            free(ref);
            free(ref_log);
            free(ref_lse);
        }
}

/* ---- Special values ---- */

/* Runs every function on one rows x cols matrix (contiguous) with given labels/targets and options and compares
   with the reference; used for the special-value cases. */
static void XT_FN(xt_check_all_functions)(const char *name, const XT_REAL *x, size_t rows, size_t cols,
                                          const int64_t *labels, const XT_REAL *targets, const xent_options *opts)
{
    xt_ref_opts ro = xt_ref_opts_from(opts);
    xt_ref_ce_out ref, sref;
    long double *xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *ref_sm = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *ref_lsm = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    XT_REAL *loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *grad = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows * cols + 4));
    XT_REAL *lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *bias = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
    size_t i, j;
    int soft, ex;

    xt_set_case("special %s: %s (%s, eps %g, gs %g)", XT_TYPE_NAME, name,
                opts->reduction == 0 ? "NONE" : opts->reduction == 1 ? "SUM" : "MEAN",
                (double)opts->label_smoothing, (double)opts->grad_scale);
    XT_FN(xt_widen)(x, rows, cols, cols, xl);
    XT_FN(xt_widen)(targets, rows, cols, cols, yl);
    xt_ref_ce_alloc(&ref, rows, cols);
    xt_ref_ce_alloc(&sref, rows, cols);
    xt_ref_ce(xl, rows, cols, labels, NULL, &ro, &ref);
    xt_ref_ce(xl, rows, cols, NULL, yl, &ro, &sref);
    for (i = 0; i < rows; i++) {
        xt_row_stats r = xt_ref_row(xl + i * cols, cols);
        for (j = 0; j < cols; j++) {
            ref_sm[i * cols + j] = xt_ref_softmax(&r, xl[i * cols + j]);
            ref_lsm[i * cols + j] = xt_ref_log_softmax(&r, xl[i * cols + j]);
        }
    }

    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++) {
            XT_FN(xt_ce_call) c;
            memset(&c, 0, sizeof c);
            c.soft = soft;
            c.ex = ex;
            c.logits = x;
            c.rows = rows;
            c.cols = cols;
            c.row_stride = cols;
            c.labels = labels;
            c.targets = targets;
            c.target_stride = cols;
            c.opts = opts;
            c.loss = loss;
            c.grad = grad;
            c.grad_stride = cols;
            c.lse = lse;
            c.bias = bias;
            XT_FN(xt_fill_const)(loss, rows + 4, XT_CANARY);
            XT_FN(xt_fill_const)(grad, rows * cols + 4, XT_CANARY);
            XT_FN(xt_fill_const)(lse, rows + 4, XT_CANARY);
            XT_FN(xt_fill_const)(bias, cols + 4, XT_CANARY);
            XT_FN(xt_ce_verify)(&c, soft ? &sref : &ref, 0, rows + 4, rows + 4, cols + 4);
        }

    XT_FN(xt_fill_const)(lse, rows + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_logsumexp)(x, rows, cols, cols, lse), XENT_OK, "logsumexp"))
        XT_FN(xt_check_vector)("logsumexp", lse, rows, ref.lse);
    XT_FN(xt_fill_const)(grad, rows * cols + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_softmax)(x, rows, cols, cols, grad, cols), XENT_OK, "softmax"))
        XT_FN(xt_check_matrix)("softmax", grad, rows, cols, cols, ref_sm, NULL, 0);
    XT_FN(xt_fill_const)(grad, rows * cols + 4, XT_CANARY);
    if (xt_check_status(XT_FN(xent_log_softmax)(x, rows, cols, cols, grad, cols), XENT_OK, "log_softmax"))
        XT_FN(xt_check_matrix)("log_softmax", grad, rows, cols, cols, ref_lsm, NULL, 0);

    xt_ref_ce_free(&ref);
    xt_ref_ce_free(&sref);
    free(xl);
    free(yl);
    free(ref_sm);
    free(ref_lsm);
    free(loss);
    free(grad);
    free(lse);
    free(bias);
}

static void XT_FN(xt_test_special)(void)
{
    enum { R = 4, C = 7 };
    const XT_REAL NI = (XT_REAL)-INFINITY;
    const XT_REAL big = (XT_REAL)1e30;
    XT_REAL x[R * C], y[R * C];
    int64_t labels[R];
    xent_options opts;
    size_t i, j, k;
    static const int reds[3] = {XENT_REDUCTION_NONE, XENT_REDUCTION_SUM, XENT_REDUCTION_MEAN};
    static const float epss[3] = {0.0f, 0.1f, 1.0f};
    static const float gss[2] = {1.0f, 2.5f};

    for (k = 0; k < 18; k++) {
        xent_options_init(&opts);
        opts.reduction = reds[k % 3];
        opts.label_smoothing = epss[(k / 3) % 3];
        opts.grad_scale = gss[(k / 9) % 2];

        /* base: random finite rows and soft targets (some zero) */
#define XT_BASE()                                                                                                 \
    do {                                                                                                          \
        for (i = 0; i < R * C; i++) {                                                                             \
            x[i] = (XT_REAL)xt_uniform(-4.0, 4.0);                                                                \
            y[i] = (XT_REAL)(i % 3 == 0 ? 0.0 : xt_uniform(0.0, 0.4));                                            \
        }                                                                                                         \
        for (i = 0; i < R; i++) labels[i] = (int64_t)((i * 3 + 1) % C);                                           \
    } while (0)

        /* masked vocabulary: -inf logits away from the label, zero targets there */
        XT_BASE();
        for (i = 0; i < R; i++)
            for (j = 0; j < C; j++)
                if ((int64_t)j != labels[i] && (i + j) % 3 == 0) {
                    x[i * C + j] = NI;
                    y[i * C + j] = 0;
                }
        XT_FN(xt_check_all_functions)("masked -inf logits", x, R, C, labels, y, &opts);

        /* a row that is all -inf */
        XT_BASE();
        for (j = 0; j < C; j++) x[1 * C + j] = NI;
        XT_FN(xt_check_all_functions)("all -inf row 1", x, R, C, labels, y, &opts);

        /* the label's logit is -inf, the others finite */
        XT_BASE();
        x[2 * C + (size_t)labels[2]] = NI;
        y[2 * C + (size_t)labels[2]] = (XT_REAL)0.25;
        XT_FN(xt_check_all_functions)("label logit -inf at row 2", x, R, C, labels, y, &opts);

        /* NaN and +inf logits poison only their row */
        XT_BASE();
        x[1 * C + 3] = (XT_REAL)NAN;
        XT_FN(xt_check_all_functions)("NaN logit at row 1", x, R, C, labels, y, &opts);
        XT_BASE();
        x[3 * C + 0] = (XT_REAL)INFINITY;
        XT_FN(xt_check_all_functions)("+inf logit at row 3", x, R, C, labels, y, &opts);

        /* soft targets all zero in row 0 (loss 0 and gradient 0 when eps == 0) */
        XT_BASE();
        for (j = 0; j < C; j++) y[j] = 0;
        XT_FN(xt_check_all_functions)("all-zero targets in row 0", x, R, C, labels, y, &opts);

        /* an ignored row containing NaN: loss 0, gradient 0, lse NaN, other rows unaffected */
        XT_BASE();
        x[2 * C + 5] = (XT_REAL)NAN;
        labels[2] = opts.ignore_index;
        XT_FN(xt_check_all_functions)("ignored row 2 with a NaN logit", x, R, C, labels, y, &opts);

        /* huge magnitudes: the exact finite answer */
        XT_BASE();
        x[0 * C + 0] = big;
        x[0 * C + 1] = big;
        x[0 * C + 2] = -big;
        x[1 * C + 4] = big;
        x[1 * C + 5] = (XT_REAL)(-1e30);
        x[2 * C + 0] = (XT_REAL)(-1e30);
        x[2 * C + (size_t)labels[2]] = (XT_REAL)5e29;
        for (j = 0; j < C; j++) x[3 * C + j] = (XT_REAL)(1e30 - (double)j * 1e23);
        labels[0] = 0;
        XT_FN(xt_check_all_functions)("logits of magnitude 1e30", x, R, C, labels, y, &opts);
#undef XT_BASE
    }

    /* cols == 1: loss 0, gradient 0, lse = x */
    {
        XT_REAL x1[3] = {(XT_REAL)-3.5, (XT_REAL)1e30, (XT_REAL)0}, y1[3] = {1, 1, 1};
        int64_t l1[3] = {0, 0, 0};
        xent_options_init(&opts);
        opts.reduction = XENT_REDUCTION_NONE;
        opts.label_smoothing = 0.1f;
        XT_FN(xt_check_all_functions)("cols 1", x1, 3, 1, l1, y1, &opts);
    }

    /* custom ignore_index that is a valid class, negative and zero grad_scale */
    for (k = 0; k < 3; k++) {
        for (i = 0; i < R * C; i++) {
            x[i] = (XT_REAL)xt_uniform(-4.0, 4.0);
            y[i] = (XT_REAL)xt_uniform(0.0, 0.3);
        }
        for (i = 0; i < R; i++) labels[i] = (int64_t)(i % 3);
        xent_options_init(&opts);
        opts.ignore_index = 2; /* rows with label 2 are ignored */
        opts.reduction = reds[k];
        opts.grad_scale = k == 0 ? -1.0f : k == 1 ? 0.0f : 1e-3f;
        opts.label_smoothing = 0.05f;
        XT_FN(xt_check_all_functions)("ignore_index = 2 (a valid class)", x, R, C, labels, y, &opts);
        opts.num_threads = 1;
        XT_FN(xt_check_all_functions)("ignore_index = 2, num_threads 1", x, R, C, labels, y, &opts);
    }
}

/* ---- rows == 0 ---- */

static void XT_FN(xt_test_rows0)(void)
{
    XT_REAL x[4] = {1, 2, 3, 4}, t[4] = {0, 0, 1, 0};
    XT_REAL loss[2], grad[4], lse[2], bias[8], out[4];
    int64_t labels[1] = {0};
    xent_options opts;
    int red, soft, ex;
    size_t j;
    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++)
            for (red = 0; red < 3; red++) {
                XT_FN(xt_ce_call) c;
                memset(&c, 0, sizeof c);
                xent_options_init(&opts);
                opts.reduction = red;
                c.soft = soft;
                c.ex = ex;
                c.logits = x;
                c.rows = 0;
                c.cols = 6;
                c.row_stride = 6;
                c.labels = labels;
                c.targets = t;
                c.target_stride = 6;
                c.opts = &opts;
                c.loss = loss;
                c.grad = grad;
                c.grad_stride = 6;
                c.lse = lse;
                c.bias = bias;
                XT_FN(xt_fill_const)(loss, 2, XT_CANARY);
                XT_FN(xt_fill_const)(grad, 4, XT_CANARY);
                XT_FN(xt_fill_const)(lse, 2, XT_CANARY);
                XT_FN(xt_fill_const)(bias, 8, XT_CANARY);
                xt_set_case("rows 0 %s %s", XT_FN(xt_ce_name)(&c), red == 0 ? "NONE" : red == 1 ? "SUM" : "MEAN");
                if (!xt_check_status(XT_FN(xt_ce_run)(&c), XENT_OK, "rows 0")) continue;
                if (red == XENT_REDUCTION_NONE)
                    xt_check(XT_FN(xt_untouched)(loss, 2), "NONE wrote a loss");
                else
                    xt_check(loss[0] == 0 && XT_FN(xt_untouched)(loss + 1, 1), "loss %g, expected 0",
                             (double)loss[0]);
                xt_check(XT_FN(xt_untouched)(grad, 4) && XT_FN(xt_untouched)(lse, 2), "grad or lse written");
                if (ex) {
                    for (j = 0; j < 6; j++)
                        if (bias[j] != 0) break;
                    xt_check(j == 6, "bias_grad[%lu] = %g, expected zeros", (unsigned long)j,
                             j < 6 ? (double)bias[j] : 0.0);
                    xt_check(XT_FN(xt_untouched)(bias + 6, 2), "bias_grad written past cols values");
                }
            }
    xt_set_case("rows 0 primitives %s", XT_TYPE_NAME);
    XT_FN(xt_fill_const)(out, 4, XT_CANARY);
    xt_check_status(XT_FN(xent_logsumexp)(x, 0, 3, 3, out), XENT_OK, "logsumexp");
    xt_check_status(XT_FN(xent_softmax)(x, 0, 3, 3, out, 3), XENT_OK, "softmax");
    xt_check_status(XT_FN(xent_log_softmax)(x, 0, 3, 3, out, 3), XENT_OK, "log_softmax");
    xt_check(XT_FN(xt_untouched)(out, 4), "an output was written with rows == 0");
}

/* ---- Invalid arguments: status, nothing written, a message ---- */

typedef struct XT_FN(xt_err_env) {
    xt_arena arena;
    XT_REAL *logits;  /* ROWS x STRIDE */
    XT_REAL *targets; /* ROWS x STRIDE */
    int64_t *labels;  /* ROWS */
    XT_REAL *loss, *grad, *lse, *bias;
} XT_FN(xt_err_env);

#define XT_E_ROWS 5
#define XT_E_COLS 6
#define XT_E_STRIDE 8

/* Byte layout: each region 1 KiB apart, 64-byte aligned, the first 512 bytes into the arena (so that a pointer
   just before a region stays inside the arena). */
static void XT_FN(xt_err_env_init)(XT_FN(xt_err_env) * e)
{
    size_t i;
    xt_arena_init(&e->arena, 8 * 1024);
    e->logits = (XT_REAL *)(void *)(e->arena.mem + 512 + 0 * 1024);
    e->targets = (XT_REAL *)(void *)(e->arena.mem + 512 + 1 * 1024);
    e->labels = (int64_t *)(void *)(e->arena.mem + 512 + 2 * 1024);
    e->loss = (XT_REAL *)(void *)(e->arena.mem + 512 + 3 * 1024);
    e->grad = (XT_REAL *)(void *)(e->arena.mem + 512 + 4 * 1024);
    e->lse = (XT_REAL *)(void *)(e->arena.mem + 512 + 5 * 1024);
    e->bias = (XT_REAL *)(void *)(e->arena.mem + 512 + 6 * 1024);
    for (i = 0; i < XT_E_ROWS * XT_E_STRIDE; i++) {
        e->logits[i] = (XT_REAL)xt_uniform(-3.0, 3.0);
        e->targets[i] = (XT_REAL)xt_uniform(0.0, 0.3);
    }
    for (i = 0; i < XT_E_ROWS; i++) e->labels[i] = (int64_t)(i % XT_E_COLS);
}

static XT_FN(xt_ce_call) XT_FN(xt_err_base)(XT_FN(xt_err_env) * e, int soft, int ex, const xent_options *opts)
{
    XT_FN(xt_ce_call) c;
    memset(&c, 0, sizeof c);
    c.soft = soft;
    c.ex = ex;
    c.logits = e->logits;
    c.rows = XT_E_ROWS;
    c.cols = XT_E_COLS;
    c.row_stride = XT_E_STRIDE;
    c.labels = e->labels;
    c.targets = e->targets;
    c.target_stride = XT_E_STRIDE;
    c.opts = opts;
    c.loss = e->loss;
    c.grad = e->grad;
    c.grad_stride = XT_E_STRIDE;
    c.lse = e->lse;
    c.bias = ex ? e->bias : NULL;
    return c;
}

/* Expects the call to fail with `want`, to leave every byte of the arena as it was, and to set a message.
   Returns the message (for further checks). */
static const char *XT_FN(xt_expect_fail)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * c, xent_status want,
                                         const char *what)
{
    xent_status st;
    char label[200];
    const char *msg;
    snprintf(label, sizeof label, "%s: %s", XT_FN(xt_ce_name)(c), what);
    xt_arena_snap(&e->arena);
    st = XT_FN(xt_ce_run)(c);
    msg = xent_last_error_message();
    xt_check_status(st, want, label);
    xt_check(xt_arena_unchanged(&e->arena), "%s: memory was written by a failing call", label);
    xt_check(msg != NULL && msg[0] != '\0', "%s: empty xent_last_error_message()", label);
    return msg ? msg : "";
}

static void XT_FN(xt_expect_ok)(XT_FN(xt_err_env) * e, const XT_FN(xt_ce_call) * c, const char *what)
{
    char label[200];
    snprintf(label, sizeof label, "%s: %s", XT_FN(xt_ce_name)(c), what);
    (void)e;
    if (xt_check_status(XT_FN(xt_ce_run)(c), XENT_OK, label))
        xt_check(xent_last_error_message()[0] == '\0', "%s: message after success \"%s\"", label,
                 xent_last_error_message());
}

static void XT_FN(xt_test_errors_ce)(void)
{
    XT_FN(xt_err_env) e;
    xent_options opts;
    int soft, ex, k;
    const size_t esz = sizeof(XT_REAL);
    const size_t huge_stride = (size_t)PTRDIFF_MAX / esz; /* (huge_stride + cols) * esz > PTRDIFF_MAX */
    XT_FN(xt_err_env_init)(&e);

    for (soft = 0; soft <= 1; soft++)
        for (ex = 0; ex <= 1; ex++) {
            XT_FN(xt_ce_call) c, base;
            xent_options_init(&opts);
            base = XT_FN(xt_err_base)(&e, soft, ex, &opts);
            xt_set_case("invalid arguments %s", XT_FN(xt_ce_name)(&base));

            /* the base call is valid */
            c = base;
            XT_FN(xt_expect_ok)(&e, &c, "valid base call");
            c.opts = NULL;
            XT_FN(xt_expect_ok)(&e, &c, "opts NULL");

            /* NULL pointers, also with rows == 0 */
            for (k = 0; k < 2; k++) {
                size_t rows = k ? 0 : XT_E_ROWS;
                c = base;
                c.rows = rows;
                c.logits = NULL;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER, k ? "logits NULL, rows 0" : "logits NULL");
                c = base;
                c.rows = rows;
                if (soft) c.targets = NULL;
                else c.labels = NULL;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER,
                                      k ? "labels/targets NULL, rows 0" : "labels/targets NULL");
                c = base;
                c.rows = rows;
                c.loss = NULL;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER, k ? "loss NULL, rows 0" : "loss NULL");
            }
            /* optional outputs */
            c = base;
            c.grad = NULL;
            c.lse = NULL;
            c.bias = NULL;
            XT_FN(xt_expect_ok)(&e, &c, "grad, lse, bias_grad NULL");

            /* shapes */
            c = base;
            c.cols = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0");
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0, rows 0");
            c = base;
            c.row_stride = XT_E_COLS - 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride < cols");
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride < cols, rows 0");
            c = base;
            c.row_stride = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "row_stride 0");
            if (soft) {
                c = base;
                c.target_stride = XT_E_COLS - 1;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "target_stride < cols");
                c = base;
                c.rows = 2;
                c.target_stride = huge_stride;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "target extent > PTRDIFF_MAX");
                c = base;
                c.target_stride = SIZE_MAX / 2;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "target extent overflows size_t");
            }
            if (ex) {
                c = base;
                c.grad_stride = XT_E_COLS - 1;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "grad_stride < cols");
                c.grad = NULL;
                XT_FN(xt_expect_ok)(&e, &c, "grad_stride < cols with grad NULL");
                c = base;
                c.rows = 2;
                c.grad_stride = huge_stride;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "grad extent > PTRDIFF_MAX");
                c = base;
                c.grad_stride = SIZE_MAX / 3;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "grad extent overflows size_t");
            }
            c = base;
            c.rows = 2;
            c.row_stride = huge_stride;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "logits extent > PTRDIFF_MAX");
            c = base;
            c.rows = 2;
            c.row_stride = SIZE_MAX / esz;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "logits extent overflows size_t");
            c = base;
            c.rows = SIZE_MAX;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "rows SIZE_MAX");
            c = base;
            c.rows = SIZE_MAX / XT_E_STRIDE + 2;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "rows * row_stride overflows");
            c = base;
            c.cols = SIZE_MAX;
            c.row_stride = SIZE_MAX;
            c.rows = 1;
            c.target_stride = SIZE_MAX;
            c.grad_stride = SIZE_MAX;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols SIZE_MAX");

            /* options */
            c = base;
            opts.struct_size = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size 0");
            opts.struct_size = XENT_OPTIONS_V1_SIZE - 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size v1 size - 1");
            opts.struct_size = offsetof(xent_options, grad_scale);
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "struct_size without grad_scale");
            xent_options_init(&opts);
            opts.reduction = 3;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction 3");
            opts.reduction = -1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction -1");
            xent_options_init(&opts);
            opts.label_smoothing = (float)NAN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing NaN");
            opts.label_smoothing = -0.01f;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing -0.01");
            opts.label_smoothing = 1.01f;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing 1.01");
            opts.label_smoothing = (float)INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "label_smoothing inf");
            opts.label_smoothing = 1.0f;
            XT_FN(xt_expect_ok)(&e, &c, "label_smoothing 1");
            opts.label_smoothing = -0.0f;
            XT_FN(xt_expect_ok)(&e, &c, "label_smoothing -0.0");
            xent_options_init(&opts);
            opts.struct_size = SIZE_MAX; /* read min(struct_size, sizeof) */
            XT_FN(xt_expect_ok)(&e, &c, "struct_size SIZE_MAX");
            opts.struct_size = sizeof(xent_options) + 1;
            XT_FN(xt_expect_ok)(&e, &c, "struct_size sizeof + 1");
            xent_options_init(&opts);
            opts.grad_scale = (float)INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale inf");
            opts.grad_scale = (float)-INFINITY;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale -inf");
            opts.grad_scale = (float)NAN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "grad_scale NaN");
            opts.grad_scale = -2.0f;
            XT_FN(xt_expect_ok)(&e, &c, "grad_scale -2");
            xent_options_init(&opts);
            opts.num_threads = -1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "num_threads -1");
            opts.num_threads = INT32_MIN;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "num_threads INT32_MIN");
            opts.num_threads = 64;
            XT_FN(xt_expect_ok)(&e, &c, "num_threads 64");
            xent_options_init(&opts);
            opts.reduction = 7;
            c.rows = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_OPTION, "reduction 7, rows 0");
            xent_options_init(&opts);

            /* aliasing */
            c = base;
            c.grad = e.logits + 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad = logits + 1");
            c = base;
            c.grad = e.logits + XT_E_COLS; /* interleaved with the logits' rows: the extents overlap */
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad = logits + cols (interleaved rows)");
            if (ex) {
                c = base;
                c.grad = e.logits;
                c.grad_stride = XT_E_STRIDE + 1;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad == logits, grad_stride != row_stride");
                c = base;
                c.bias = e.logits + 2;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps logits");
                c = base;
                c.bias = e.grad + (XT_E_ROWS - 1) * XT_E_STRIDE + 2;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps grad");
                c = base;
                c.bias = e.lse + 1;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps lse");
                c = base;
                c.bias = e.loss;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps loss");
                c = base;
                c.grad = NULL;
                c.bias = e.logits + 2;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "bias_grad overlaps logits (grad NULL)");
                c = base;
                c.bias = e.grad + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS; /* just past grad's extent */
                XT_FN(xt_expect_ok)(&e, &c, "bias_grad adjacent to grad");
            }
            c = base;
            c.lse = e.logits + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS - 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps the last logit");
            c = base;
            c.lse = e.grad + 3;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps grad");
            c = base;
            c.lse = e.loss;
            opts.reduction = XENT_REDUCTION_SUM;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse == loss");
            c = base;
            c.loss = e.logits + 4;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps logits (SUM)");
            c.loss = e.grad + XT_E_STRIDE + 1;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps grad (SUM)");
            c.loss = e.logits - 1; /* one value just before the logits: no overlap */
            XT_FN(xt_expect_ok)(&e, &c, "loss adjacent to logits (SUM)");
            opts.reduction = XENT_REDUCTION_NONE;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss of rows values overlaps logits (NONE)");
            c = base;
            c.lse = e.logits + (XT_E_ROWS - 1) * XT_E_STRIDE + XT_E_COLS; /* just past the logits' extent */
            XT_FN(xt_expect_ok)(&e, &c, "lse adjacent to logits (NONE)");
            xent_options_init(&opts);
            c = base;
            if (soft) {
                c.grad = e.targets;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad == targets");
                c = base;
                c.lse = e.targets + XT_E_STRIDE;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps targets");
                c = base;
                c.targets = e.logits; /* two inputs may overlap */
                XT_FN(xt_expect_ok)(&e, &c, "targets == logits (inputs only)");
            } else {
                c.loss = (XT_REAL *)(void *)(e.labels + 1);
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "loss overlaps labels");
                c = base;
                c.grad = (XT_REAL *)(void *)e.labels;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "grad overlaps labels");
                c = base;
                c.lse = (XT_REAL *)(void *)(e.labels + XT_E_ROWS - 1);
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_ALIASING, "lse overlaps labels");
            }
            /* in place on error: logits untouched */
            c = base;
            c.grad = e.logits;
            c.grad_stride = XT_E_STRIDE;
            c.loss = NULL;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_NULL_POINTER, "in place with loss NULL");

            /* labels */
            if (!soft) {
                static const int64_t bad[6] = {XT_E_COLS, -1, -101, INT64_MAX, INT64_MIN, 1234567};
                char row[32], lab[32];
                int b;
                for (b = 0; b < 6; b++) {
                    const char *msg;
                    size_t r = (size_t)(b % XT_E_ROWS);
                    int64_t saved = e.labels[r];
                    c = base;
                    e.labels[r] = bad[b];
                    msg = XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label out of range");
                    snprintf(row, sizeof row, "%lu", (unsigned long)r);
                    snprintf(lab, sizeof lab, "%lld", (long long)bad[b]);
                    xt_check(xt_contains(msg, row) && xt_contains(msg, lab),
                             "label %s at row %s: message \"%s\" does not name the row and the label", lab, row, msg);
                    /* also with grad == logits: the logits must stay intact */
                    c.grad = e.logits;
                    XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label out of range, in place");
                    e.labels[r] = saved;
                }
                /* a bad label in the last row of a bigger batch; message names row 4 and label 987654 */
                {
                    const char *msg;
                    int64_t saved = e.labels[XT_E_ROWS - 1];
                    e.labels[XT_E_ROWS - 1] = 987654;
                    c = base;
                    msg = XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label 987654 at the last row");
                    xt_check(xt_contains(msg, "987654") && xt_contains(msg, "4"),
                             "message \"%s\" does not name row 4 and label 987654", msg);
                    e.labels[XT_E_ROWS - 1] = saved;
                }
                /* ignore_index -1 makes label -1 valid; -100 then is out of range */
                c = base;
                opts.ignore_index = -1;
                e.labels[2] = -1;
                XT_FN(xt_expect_ok)(&e, &c, "label -1 with ignore_index -1");
                e.labels[2] = -100;
                XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_LABEL_OUT_OF_RANGE, "label -100 with ignore_index -1");
                e.labels[2] = 2;
                xent_options_init(&opts);
            }
            /* a failing call followed by a valid one clears the message */
            c = base;
            c.cols = 0;
            XT_FN(xt_expect_fail)(&e, &c, XENT_ERR_INVALID_SHAPE, "cols 0 (again)");
            c = base;
            XT_FN(xt_expect_ok)(&e, &c, "valid call after a failure");
        }
    xt_arena_free(&e.arena);
}

/* Options with a larger struct_size (a caller compiled against a future header). */
static void XT_FN(xt_test_options_future)(void)
{
    struct {
        xent_options v1;
        int64_t future_a;
        double future_b;
        unsigned char future_c[40];
    } big;
    enum { R = 5, C = 9 };
    XT_REAL x[R * C], t[R * C], loss1[R], loss2[R], g1[R * C], g2[R * C];
    int64_t labels[R];
    size_t i;
    xent_options small;
    xent_status s1, s2;
    for (i = 0; i < R * C; i++) {
        x[i] = (XT_REAL)xt_uniform(-3, 3);
        t[i] = (XT_REAL)xt_uniform(0, 0.2);
    }
    for (i = 0; i < R; i++) labels[i] = (int64_t)(i * 2 % C);
    labels[1] = 4;
    xent_options_init(&small);
    small.reduction = XENT_REDUCTION_NONE;
    small.label_smoothing = 0.2f;
    small.grad_scale = 3.0f;
    small.ignore_index = 4;
    memset(&big, 0xEE, sizeof big); /* garbage in the unknown fields must be ignored */
    big.v1 = small;
    big.v1.struct_size = sizeof big;
    xt_set_case("options with a larger struct_size %s", XT_TYPE_NAME);
    s1 = XT_FN(xent_cross_entropy)(x, R, C, C, labels, &small, loss1, g1, NULL);
    s2 = XT_FN(xent_cross_entropy)(x, R, C, C, labels, &big.v1, loss2, g2, NULL);
    xt_check_status(s1, XENT_OK, "cross_entropy, v1 struct");
    xt_check_status(s2, XENT_OK, "cross_entropy, larger struct");
    xt_check(memcmp(loss1, loss2, sizeof loss1) == 0 && memcmp(g1, g2, sizeof g1) == 0,
             "cross_entropy: results differ between the v1 and the larger struct");
    xt_check(loss2[1] == 0, "ignore_index not read from the larger struct: loss[1] = %g", (double)loss2[1]);
    s1 = XT_FN(xent_soft_cross_entropy)(x, R, C, C, t, C, &small, loss1, g1, NULL);
    s2 = XT_FN(xent_soft_cross_entropy)(x, R, C, C, t, C, &big.v1, loss2, g2, NULL);
    xt_check_status(s1, XENT_OK, "soft_cross_entropy, v1 struct");
    xt_check_status(s2, XENT_OK, "soft_cross_entropy, larger struct");
    xt_check(memcmp(loss1, loss2, sizeof loss1) == 0 && memcmp(g1, g2, sizeof g1) == 0,
             "soft_cross_entropy: results differ between the v1 and the larger struct");
}

/* Large problems with every num_threads setting (parallel paths). */
/* Long rows (chunked kernels): every function on 3 rows of 4097, 65537 and 100003 columns. */
static void XT_FN(xt_test_long_rows)(void)
{
    static const size_t col_list[3] = {4097, 65537, 100003};
    size_t ci, j;
    for (ci = 0; ci < 3; ci++) {
        const size_t rows = 3, cols = col_list[ci];
        XT_REAL *x = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
        XT_REAL *t = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
        int64_t labels[3];
        xent_options opts;
        char name[64];
        XT_FN(xt_fill_random)(x, rows, cols, cols, -10, 10);
        XT_FN(xt_fill_random)(t, rows, cols, cols, 0, 2.0 / (double)cols);
        /* row 1: a dominant logit in the middle and scattered -inf (zero targets there); row 2: its maximum in the
           last element */
        for (j = 0; j < cols; j += 97) {
            x[cols + j] = (XT_REAL)-INFINITY;
            t[cols + j] = 0;
        }
        x[cols + cols / 2 + 1] = (XT_REAL)40;
        x[2 * cols + cols - 1] = (XT_REAL)30;
        labels[0] = (int64_t)(cols - 1);
        labels[1] = (int64_t)(cols / 2 + 1);
        labels[2] = 0;
        xent_options_init(&opts);
        opts.reduction = ci == 2 ? XENT_REDUCTION_MEAN : XENT_REDUCTION_NONE;
        opts.label_smoothing = ci == 1 ? 0.1f : 0.0f;
        snprintf(name, sizeof name, "long rows, cols %lu", (unsigned long)cols);
        XT_FN(xt_check_all_functions)(name, x, rows, cols, labels, t, &opts);
        free(x);
        free(t);
    }
}

static void XT_FN(xt_test_threads)(void)
{
    static const int32_t threads[5] = {1, 2, 3, 0, 16};
    const size_t rows = 301, cols = 1000, rs = 1003;
    XT_REAL *x = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * rs);
    XT_REAL *t = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * cols);
    XT_REAL *loss = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *grad = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * rows * rs);
    XT_REAL *lse = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (rows + 4));
    XT_REAL *bias = (XT_REAL *)xt_alloc(sizeof(XT_REAL) * (cols + 4));
    long double *xl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    long double *yl = (long double *)xt_alloc(sizeof(long double) * rows * cols);
    int64_t *labels = (int64_t *)xt_alloc(sizeof(int64_t) * rows);
    xt_ref_ce_out ref, sref;
    xt_ref_opts ro;
    xent_options opts;
    size_t i, k;
    int red;
    XT_FN(xt_fill_const)(x, rows * rs, (XT_REAL)NAN);
    XT_FN(xt_fill_random)(x, rows, cols, rs, -6, 6);
    XT_FN(xt_fill_random)(t, rows, cols, cols, 0, 0.002);
    XT_FN(xt_widen)(x, rows, cols, rs, xl);
    XT_FN(xt_widen)(t, rows, cols, cols, yl);
    for (i = 0; i < rows; i++) labels[i] = i % 10 == 3 ? -100 : (int64_t)xt_rand_index(cols);
    xt_ref_ce_alloc(&ref, rows, cols);
    xt_ref_ce_alloc(&sref, rows, cols);
    for (red = 0; red < 3; red++) {
        xent_options_init(&opts);
        opts.reduction = red;
        opts.label_smoothing = 0.1f;
        opts.grad_scale = 2.5f;
        ro = xt_ref_opts_from(&opts);
        xt_ref_ce(xl, rows, cols, labels, NULL, &ro, &ref);
        xt_ref_ce(xl, rows, cols, NULL, yl, &ro, &sref);
        for (k = 0; k < 5; k++) {
            int soft;
            opts.num_threads = threads[k];
            for (soft = 0; soft <= 1; soft++) {
                XT_FN(xt_ce_call) c;
                memset(&c, 0, sizeof c);
                xt_set_case("large %s rows %lu cols %lu %s num_threads %d", XT_TYPE_NAME, (unsigned long)rows,
                            (unsigned long)cols, red == 0 ? "NONE" : red == 1 ? "SUM" : "MEAN", (int)threads[k]);
                c.soft = soft;
                c.ex = 1;
                c.logits = x;
                c.rows = rows;
                c.cols = cols;
                c.row_stride = rs;
                c.labels = labels;
                c.targets = t;
                c.target_stride = cols;
                c.opts = &opts;
                c.loss = loss;
                c.grad = (k % 2) ? grad : NULL;
                c.grad_stride = rs;
                c.lse = lse;
                c.bias = bias;
                XT_FN(xt_fill_const)(loss, rows + 4, XT_CANARY);
                XT_FN(xt_fill_const)(grad, rows * rs, XT_CANARY);
                XT_FN(xt_fill_const)(lse, rows + 4, XT_CANARY);
                XT_FN(xt_fill_const)(bias, cols + 4, XT_CANARY);
                XT_FN(xt_ce_verify)(&c, soft ? &sref : &ref, 0, rows + 4, rows + 4, cols + 4);
            }
        }
    }
    xt_ref_ce_free(&ref);
    xt_ref_ce_free(&sref);
    free(x);
    free(t);
    free(loss);
    free(grad);
    free(lse);
    free(bias);
    free(xl);
    free(yl);
    free(labels);
}

/* Invalid arguments of logsumexp / softmax / log_softmax. */
static void XT_FN(xt_test_errors_primitives)(void)
{
    xt_arena a;
    XT_REAL *x, *out;
    int f;
    const size_t R = 4, C = 5, S = 7;
    size_t i;
    xt_arena_init(&a, 4096);
    x = (XT_REAL *)(void *)(a.mem + 512);
    out = (XT_REAL *)(void *)(a.mem + 2560);
    for (i = 0; i < R * S; i++) x[i] = (XT_REAL)xt_uniform(-2, 2);
    for (f = 0; f < 3; f++) {
        const char *name = f == 0 ? "logsumexp" : f == 1 ? "softmax" : "log_softmax";
#define XT_PRIM(X, ROWS, COLS, RS, OUT, OS)                                                                      \
    (f == 0 ? XT_FN(xent_logsumexp)(X, ROWS, COLS, RS, OUT)                                                       \
            : f == 1 ? XT_FN(xent_softmax)(X, ROWS, COLS, RS, OUT, OS)                                            \
                     : XT_FN(xent_log_softmax)(X, ROWS, COLS, RS, OUT, OS))
#define XT_PRIM_FAIL(want, what, X, ROWS, COLS, RS, OUT, OS)                                                     \
    do {                                                                                                          \
        xent_status st_;                                                                                          \
        xt_arena_snap(&a);                                                                                        \
        st_ = XT_PRIM(X, ROWS, COLS, RS, OUT, OS);                                                                \
        xt_check_status(st_, want, what);                                                                         \
        xt_check(xt_arena_unchanged(&a), "%s: memory written by a failing call", what);                           \
        xt_check(xent_last_error_message()[0] != '\0', "%s: empty message", what);                                \
    } while (0)
        xt_set_case("invalid arguments %s_%s", name, XT_TYPE_NAME);
        xt_check_status(XT_PRIM(x, R, C, S, out, S), XENT_OK, "valid call");
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "x NULL", NULL, R, C, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "out NULL", x, R, C, S, NULL, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "x NULL, rows 0", NULL, 0, C, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_NULL_POINTER, "out NULL, rows 0", x, 0, C, S, NULL, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "cols 0", x, R, 0, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "cols 0, rows 0", x, 0, 0, S, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "row_stride < cols", x, R, C, C - 1, out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "row_stride > PTRDIFF_MAX/size", x, 2, C,
                     (size_t)PTRDIFF_MAX / sizeof(XT_REAL), out, S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "x extent overflows size_t", x, 2, C, SIZE_MAX / sizeof(XT_REAL), out,
                     S);
        XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "rows SIZE_MAX", x, SIZE_MAX, C, S, out, S);
        if (f) {
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out_stride < cols", x, R, C, S, out, C - 1);
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out_stride 0", x, R, C, S, out, 0);
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out extent > PTRDIFF_MAX", x, 2, C, S, out,
                         (size_t)PTRDIFF_MAX / sizeof(XT_REAL));
            XT_PRIM_FAIL(XENT_ERR_INVALID_SHAPE, "out extent overflows size_t", x, 2, C, S, out,
                         SIZE_MAX / sizeof(XT_REAL));
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out = x + 1", x, R, C, S, x + 1, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x, out_stride != row_stride", x, R, C, S, x, S + 1);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x + cols (interleaved rows)", x, R, C, S, x + C, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out ends inside x", x, R, C, S, x - S + 1, S);
            xt_check_status(XT_PRIM(x, R, C, S, x + (R - 1) * S + C, S), XENT_OK, "out adjacent to x (after)");
        } else {
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out == x", x, R, C, S, x, S);
            XT_PRIM_FAIL(XENT_ERR_ALIASING, "out inside x's last row", x, R, C, S, x + (R - 1) * S + C - 1, S);
            xt_check_status(XT_PRIM(x, R, C, S, x + (R - 1) * S + C, S), XENT_OK, "out adjacent to x (after)");
            xt_check_status(XT_PRIM(x + R, R, C, S, x, S), XENT_OK, "out adjacent to x (before)");
        }
        xt_check(xent_last_error_message()[0] == '\0', "message not cleared by a valid call");
#undef XT_PRIM_FAIL
#undef XT_PRIM
    }
    xt_arena_free(&a);
}

static void XT_FN(xt_run_typed)(void)
{
    XT_FN(xt_test_primitives_sweep)();
    XT_FN(xt_test_ce_sweep)();
    XT_FN(xt_test_special)();
    XT_FN(xt_test_rows0)();
    XT_FN(xt_test_errors_ce)();
    XT_FN(xt_test_errors_primitives)();
    XT_FN(xt_test_options_future)();
    XT_FN(xt_test_threads)();
    XT_FN(xt_test_long_rows)();
}

#undef XT_CANARY
#undef XT_E_ROWS
#undef XT_E_COLS
#undef XT_E_STRIDE

#endif /* XT_TYPED_PASS */
