/*
 * fuzz/xent_fuzz.c -- libFuzzer target over the C ABI of Xent (include/xent.h).
 *
 * Every input decodes (see fuzz/README.md, "Input format", and fuzz/gen_seeds.py, which writes the same layout) into
 * one call of one xent_* computing function: element type, function, rows/cols (0, 1, SIMD tails, 65536+ column
 * split, sizes near SIZE_MAX), strides (< cols, padded, 0, huge), options (struct_size too small/larger/SIZE_MAX,
 * invalid reduction, negative threads, ignore_index, NaN/out-of-range smoothing, non-finite grad_scale), labels
 * (valid, ignored, out of range, INT64_MIN/MAX), soft targets, NULL pointers, aliasing (in place, partial overlap,
 * exact adjacency) and logits (NaN, +-inf, subnormals, +-1e30, FLT_MAX, all -inf rows).
 *
 * Invariants checked (a violation calls abort(), which libFuzzer reports as a crash with the input saved):
 *   1. the status equals an independent validation written here from the header's rules, in the library's
 *      precedence order (decodeOptions, then CrossEntropyCall/RowFunctionCall.validate());
 *   2. on error every byte of every buffer (outputs, inputs, padding, options) is unchanged and
 *      xent_last_error_message() is non-empty; on success it is "" and no byte outside the outputs' elements
 *      changed (stride padding, inputs other than the in-place gradient);
 *   3. on success the results agree with a long double reference (softmax rows sum to 1, log_softmax is
 *      log(softmax), logsumexp, loss, gradient, bias gradient; special-value rules);
 *   4. in place equals out of place, bitwise; 5. num_threads 1 vs 2 (or the given count) bitwise;
 *   6-8. on a successful hard-label problem: the 1.1 entry points (shards, bfloat16, options_init_size) against
 *      the same call, the 1.1 options against a long double reference, and one invalid 1.1 argument at a time
 *      (the one status the header names, the message, no byte changed).
 * Out-of-bounds reads/writes: with the ASan-instrumented library (make fuzz) every buffer is an exactly sized heap
 * block and the bytes between rows (stride padding) are poisoned during the call; some inputs instead use mmap
 * regions that end exactly at a PROT_NONE guard page (the only protection for an uninstrumented library).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xent.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XF_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define XF_ASAN 1
#endif
#ifdef XF_ASAN
#include <sanitizer/asan_interface.h>
#define XF_POISON(p, n) __asan_poison_memory_region((p), (n))
#define XF_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define XF_POISON(p, n) ((void)(p), (void)(n))
#define XF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef long double LD;

/* The checking code (canary scans, references, comparisons) is compiled without coverage instrumentation: its
 * branches say nothing about the library, and instrumented byte loops were most of an execution's time. noinline
 * keeps them out of LLVMFuzzerTestOneInput, whose own code is instrumented. */
#if defined(__clang__)
#define XF_CHECKER __attribute__((noinline, no_sanitize("coverage")))
#else
#define XF_CHECKER __attribute__((noinline))
#endif

/* The smallest struct_size the library accepts: the 1.0.0 struct (later headers define XENT_OPTIONS_V1_SIZE and
 * append fields, which this harness leaves at their xent_options_init defaults). */
#ifdef XENT_OPTIONS_V1_SIZE
#define XF_OPTS_V1 ((size_t)XENT_OPTIONS_V1_SIZE)
#else
#define XF_OPTS_V1 sizeof(xent_options)
#endif

/* ---- Failure reporting ------------------------------------------------------------------------------------- */

static char xf_desc[1024];
static int xf_verbose = -1;

#define FAIL(...)                                                                                                 \
    do {                                                                                                          \
        fprintf(stderr, "\nXENT FUZZ INVARIANT VIOLATED (%s:%d): ", __FILE__, __LINE__);                          \
        fprintf(stderr, __VA_ARGS__);                                                                             \
        fprintf(stderr, "\n  call: %s\n", xf_desc);                                                               \
        abort();                                                                                                  \
    } while (0)

/* ---- Input reader ---------------------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, i;
} Rd;

static uint8_t rd8(Rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static uint16_t rd16(Rd *r) { uint16_t a = rd8(r); return (uint16_t)(a | (uint16_t)rd8(r) << 8); }
static uint32_t rd32(Rd *r) { uint32_t a = rd16(r); return a | (uint32_t)rd16(r) << 16; }
static int rd_left(const Rd *r) { return r->i < r->n; }

static uint64_t xf_rng;
static uint64_t rnd(void)
{
    uint64_t z = (xf_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rndu(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }
static double rndn(void)
{
    double u = rndu() + 1e-300, v = rndu();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- The decoded call -------------------------------------------------------------------------------------- */

enum { F_CE, F_CE_EX, F_SOFT, F_SOFT_EX, F_LSE, F_SOFTMAX, F_LOGSM, F_COUNT };
static const char *fn_names[F_COUNT] = {"cross_entropy", "cross_entropy_ex", "soft_cross_entropy",
                                        "soft_cross_entropy_ex", "logsumexp", "softmax", "log_softmax"};

/* Logical buffers. */
enum { B_X, B_TGT, B_LOSS, B_GRAD, B_LSE, B_BIAS, B_OPTS, B_COUNT };
static const char *buf_names[B_COUNT] = {"logits/x", "labels/targets", "loss/out", "grad", "lse", "bias_grad",
                                         "opts"};

#define ELEM_CAP 32768u       /* rows*cols of ordinary shapes is capped to this (exec speed) */
#define EXTENT_CAP (1u << 21) /* elements of one strided matrix we are willing to allocate */

typedef struct {
    int fn, f64;
    size_t es; /* element size */
    size_t rows, cols, rstride, gstride, tstride, ostride;
    /* options */
    int opts_null;
    size_t struct_size, opts_alloc;
    int32_t reduction, threads;
    int64_t ignore;
    float smoothing, gscale;
    /* pointers */
    int has_grad, has_lse, has_bias;
    unsigned nullmask; /* bit b: buffer b passed as NULL */
    /* aliasing */
    int alias, alias_a, alias_b;
    uint64_t alias_r;    /* random draw for the overlap offset */
    int inplace;         /* grad == logits / out == x */
    int guard;           /* mmap + guard page instead of heap */
    int virt;            /* shapes too large to materialize */
    int wild_targets;    /* soft targets with negative / non-finite values: no numeric loss/grad checks */
    /* logical data (dense rows x cols) */
    size_t n; /* rows*cols when materialized */
    double *x;
    int64_t *labels;
    double *tgt;
} Spec;

/* ---- Helpers on sizes ---------------------------------------------------------------------------------- */

/* Elements spanned by a rows x cols matrix with this stride; 0 when rows == 0; returns 0 in *ok on overflow of
 * the library's rules (size_t values above INT64_MAX are negative Ints for the library). */
static int extent_ok(size_t rows, size_t cols, size_t stride, size_t es, size_t *ext)
{
    const size_t imax = (size_t)INT64_MAX;
    if (rows > imax || cols == 0 || cols > imax || stride > imax || stride < cols) return 0;
    if (rows == 0) { *ext = 0; return 1; }
    size_t a;
    if (__builtin_mul_overflow(rows - 1, stride, &a)) return 0;
    if (__builtin_add_overflow(a, cols, &a)) return 0;
    if (a > imax) return 0;
    if (a > imax / es) return 0;
    *ext = a;
    return 1;
}

/* ---- Value generation ------------------------------------------------------------------------------------- */

static double special_value(uint8_t k, int f64)
{
    switch (k % 24) {
    case 0: case 1: case 2: return -INFINITY;
    case 3: return INFINITY;
    case 4: return NAN;
    case 5: return -NAN;
    case 6: return f64 ? 4.9406564584124654e-324 : 1.401298464e-45;
    case 7: return f64 ? -2.2250738585072009e-308 : -1.1754942e-38;
    case 8: return f64 ? 1e-310 : 1e-40;
    case 9: return 1e30;
    case 10: return -1e30;
    case 11: return 0.0;
    case 12: return -0.0;
    case 13: return 88.7;
    case 14: return -103.9;
    case 15: return f64 ? 709.7 : 89.0;
    case 16: return f64 ? -745.0 : -87.3;
    case 17: return f64 ? 1e300 : 3e38;
    case 18: return f64 ? -1e300 : -3e38;
    case 19: return f64 ? DBL_MAX : FLT_MAX;
    case 20: return f64 ? -DBL_MAX : -FLT_MAX;
    case 21: return 1e-30;
    case 22: return 16777217.0;
    default: return 1.0;
    }
}

static double byte_value(Rd *r, int f64)
{
    uint8_t k = rd8(r);
    if (k < 150) return (double)(int8_t)rd8(r) / 8.0;
    if (k < 224) return special_value(k, f64);
    if (k < 240) return (double)(int16_t)rd16(r) * 0.37;
    if (f64) {
        uint64_t u = (uint64_t)rd32(r) | (uint64_t)rd32(r) << 32;
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    uint32_t u = rd32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double to_elem(double v, int f64) { return f64 ? v : (double)(float)v; }

/* ---- Decoding -------------------------------------------------------------------------------------------- */

static const size_t huge_table[] = {
    SIZE_MAX,
    SIZE_MAX - 1,
    (size_t)INT64_MAX,
    (size_t)INT64_MAX + 1,
    (size_t)INT64_MAX / 2,
    (size_t)INT64_MAX / 4,
    (size_t)INT64_MAX / 4 + 1,
    (size_t)INT64_MAX / 8,
    (size_t)INT64_MAX / 8 + 1,
    (size_t)INT64_MAX / 8 + 2,
    (size_t)1 << 32,
    ((size_t)1 << 32) + 1,
    (size_t)1 << 40,
    (size_t)1 << 61,
    ((size_t)1 << 61) - 1,
    ((size_t)1 << 62) - 1,
    (size_t)1 << 62,
    (size_t)1 << 63,
    3037000500u,
    (size_t)1 << 31,
};
#define HUGE_N (sizeof huge_table / sizeof huge_table[0])

static size_t pick_stride(uint8_t sel, uint8_t v, size_t cols)
{
    switch (sel % 16) {
    case 9: case 10: case 11: return cols + 1 + v % 9;
    case 12: return cols - 1 - v % 3; /* < cols (wraps to huge when cols is 0) */
    case 13: return v & 1 ? 0 : 1;
    case 14: return huge_table[v % HUGE_N];
    case 15: return cols * 2 + v % 5;
    default: return cols;
    }
}

static void decode(Rd *r, Spec *s)
{
    memset(s, 0, sizeof *s);
    uint8_t b0 = rd8(r);
    s->fn = b0 % F_COUNT;
    s->f64 = (b0 >> 3) & 1;
    s->es = s->f64 ? 8 : 4;
    uint8_t rowsel = rd8(r), colsel = rd8(r);
    uint16_t rowv = rd16(r), colv = rd16(r);
    uint8_t ssel[4], sv[4];
    for (int k = 0; k < 4; k++) ssel[k] = rd8(r);
    for (int k = 0; k < 4; k++) sv[k] = rd8(r);
    uint8_t optsel = rd8(r), red = rd8(r), thr = rd8(r), ign = rd8(r), smo = rd8(r), gsc = rd8(r);
    uint8_t nullmask = rd8(r), ptrsel = rd8(r), alias = rd8(r);
    uint16_t aliasv = rd16(r);
    uint8_t alloc = rd8(r), valmode = rd8(r), labmode = rd8(r), tgtmode = rd8(r);
    uint32_t seed = rd32(r);
    uint8_t npatch = rd8(r);

    switch (rowsel % 16) {
    case 0: s->rows = 0; break;
    case 1: s->rows = 1; break;
    case 2: case 3: case 4: case 5: case 6: s->rows = rowv % 20; break;
    case 7: case 8: case 9: s->rows = rowv % 200; break;
    case 10: s->rows = rowv % 3000; break;
    case 11: s->rows = 1 + rowv % 50000; break;
    case 12: s->rows = huge_table[rowv % HUGE_N]; break;
    default: s->rows = 2 + rowv % 9; break;
    }
    static const size_t tails[] = {7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129};
    switch (colsel % 16) {
    case 0: s->cols = 0; break;
    case 1: s->cols = 1; break;
    case 2: case 3: case 4: case 5: case 6: case 7: s->cols = 1 + colv % 24; break;
    case 8: case 9: case 10: s->cols = 1 + colv % 300; break;
    case 11: s->cols = 1 + colv % 5000; break;
    case 12: s->cols = colv % 4 == 0 ? 65532 + (colv >> 2) % 8000 : 1 + colv % 1000; break; /* column split */
    case 13: s->cols = huge_table[colv % HUGE_N]; break;
    default: s->cols = tails[colv % 15]; break;
    }
    /* Keep executions fast: cap the element count of ordinary shapes (huge ones stay virtual). */
    /* Column-split shapes (65 532+ columns) are most of an execution's cost in a mature corpus: one row, and two
     * rows (several rows' blocks in one parallel loop) for one in eight. */
    if (s->cols >= 65532 && s->cols <= 80000 && s->rows > 1 && s->rows <= 50000) s->rows = s->rows % 8 == 2 ? 2 : 1;
    else if (s->rows <= 50000 && s->cols <= 80000 && s->rows * s->cols > ELEM_CAP) s->rows = ELEM_CAP / s->cols;

    s->rstride = pick_stride(ssel[0], sv[0], s->cols);
    s->gstride = (s->fn == F_CE_EX || s->fn == F_SOFT_EX) ? pick_stride(ssel[1], sv[1], s->cols) : s->rstride;
    s->tstride = pick_stride(ssel[2], sv[2], s->cols);
    s->ostride = (s->fn == F_SOFTMAX || s->fn == F_LOGSM) ? pick_stride(ssel[3], sv[3], s->cols) : s->rows;

    /* options */
    const size_t v1 = XF_OPTS_V1, full = sizeof(xent_options);
    s->opts_null = (optsel & 0xE0) == 0xE0;
    switch (optsel & 7) {
    case 5: {
        static const size_t small[] = {0, 8, XF_OPTS_V1 - 1, 16, 1, 24, XF_OPTS_V1 - 4, 12};
        s->struct_size = small[(optsel >> 3) & 7];
        s->opts_alloc = s->struct_size < 8 ? 8 : s->struct_size;
        break;
    }
    case 6: s->struct_size = full + 8 * (1 + ((optsel >> 3) & 3)); s->opts_alloc = s->struct_size; break;
    case 7: s->struct_size = (optsel >> 3) & 1 ? SIZE_MAX : (size_t)1 << 40; s->opts_alloc = full; break;
    case 4: s->struct_size = s->opts_alloc = v1; break; /* a 1.0.0 caller */
    default: s->struct_size = full; s->opts_alloc = full; break;
    }
    switch (red % 16) {
    case 0: case 1: case 2: case 3: case 4: s->reduction = XENT_REDUCTION_MEAN; break;
    case 5: case 6: case 7: case 8: s->reduction = XENT_REDUCTION_SUM; break;
    case 9: case 10: case 11: case 12: s->reduction = XENT_REDUCTION_NONE; break;
    case 13: s->reduction = 3; break;
    case 14: s->reduction = -1; break;
    default: s->reduction = red & 16 ? INT32_MIN : INT32_MAX; break;
    }
    switch (thr % 16) {
    case 6: case 7: case 8: s->threads = 1; break;
    case 9: case 10: s->threads = 2; break;
    case 11: s->threads = 3; break;
    case 12: s->threads = 4; break;
    case 13: s->threads = -1; break;
    case 14: s->threads = INT32_MIN; break;
    case 15: s->threads = 8; break;
    default: s->threads = 0; break;
    }
    switch (ign % 16) {
    case 8: s->ignore = 0; break;
    case 9: s->ignore = -1; break;
    case 10: s->ignore = INT64_MIN; break;
    case 11: s->ignore = INT64_MAX; break;
    case 12: s->ignore = (int64_t)s->cols - 1; break;
    case 13: s->ignore = (int64_t)s->cols; break;
    case 14: s->ignore = 1; break;
    default: s->ignore = -100; break;
    }
    switch (smo % 16) {
    case 8: s->smoothing = 0.1f; break;
    case 9: s->smoothing = 1.0f; break;
    case 10: s->smoothing = 0.5f; break;
    case 11: s->smoothing = NAN; break;
    case 12: s->smoothing = -0.1f; break;
    case 13: s->smoothing = 1.5f; break;
    case 14: s->smoothing = -0.0f; break;
    case 15: {
        static const float e[] = {INFINITY, 1e-8f, 0.999f, 1e-45f, -INFINITY, 1.0000001f, 0.25f, 0.9f};
        s->smoothing = e[(smo >> 4) & 7];
        break;
    }
    default: s->smoothing = 0.0f; break;
    }
    switch (gsc % 16) {
    case 8: s->gscale = 0.0f; break;
    case 9: s->gscale = -2.0f; break;
    case 10: s->gscale = 1e30f; break;
    case 11: s->gscale = INFINITY; break;
    case 12: s->gscale = NAN; break;
    case 13: s->gscale = -INFINITY; break;
    case 14: s->gscale = 1e-30f; break;
    case 15: s->gscale = gsc & 16 ? FLT_MAX : 65536.0f; break;
    default: s->gscale = 1.0f; break;
    }

    /* pointers */
    int ce = s->fn <= F_SOFT_EX, ex = s->fn == F_CE_EX || s->fn == F_SOFT_EX;
    s->has_grad = ce && (ptrsel & 1);
    s->has_lse = ce && (ptrsel & 2);
    s->has_bias = ex && (ptrsel & 4);
    if ((ptrsel & 0x18) == 0x18) s->nullmask = nullmask & 7;
    if (!ce) s->nullmask &= ~(unsigned)(1u << B_TGT);

    /* aliasing */
    s->alias = alias % 16 < 10 ? 0 : alias % 16 < 12 ? 1 : alias % 16 < 15 ? 2 : 3;
    if (s->alias == 1) {
        if (ce && !s->has_grad) s->has_grad = 1;
        if (ex && !(aliasv & 1)) s->gstride = s->rstride;
        if ((s->fn == F_SOFTMAX || s->fn == F_LOGSM) && !(aliasv & 1)) s->ostride = s->rstride;
        s->inplace = 1;
    }
    s->alias_a = aliasv & 0xFF;
    s->alias_b = (aliasv >> 8) & 0xFF;
    s->alias_r = 0;
    s->guard = alloc % 8 == 7;
#ifndef XF_ASAN
    s->guard = 1;
#endif
    xf_rng = (uint64_t)seed * 0x2545F4914F6CDD1Dull + b0;
    s->alias_r = rnd();
    (void)rd_left;

    /* Can the buffers be materialized? */
    size_t e;
    s->virt = 0;
    if (s->rows > 50000 || s->cols > 80000) s->virt = 1;
    if (!s->virt) {
        size_t strides[4] = {s->rstride, s->gstride, s->tstride, s->ostride};
        for (int k = 0; k < 4; k++) {
            if (k == 3 && s->fn == F_LSE) continue;
            if (s->cols == 0) continue;
            if (extent_ok(s->rows, s->cols, strides[k], s->es, &e) && e > EXTENT_CAP) s->virt = 1;
        }
    }
    s->n = s->virt ? 0 : s->rows * s->cols;

    /* values, labels, targets */
    s->x = calloc(s->n + 1, sizeof(double));
    s->labels = calloc((s->virt ? 1 : s->rows) + 1, sizeof(int64_t));
    s->tgt = calloc(s->n + 1, sizeof(double));
    if (s->virt || s->cols == 0) return; /* cols == 0: rows labels stay 0, there are no values */
    size_t rows = s->rows, cols = s->cols, n = s->n;

    /* patches are read first (fixed size), then label bytes, then value bytes */
    uint8_t patches[16][4];
    int np = npatch % 16;
    if (npatch >= 128) np = 0;
    for (int k = 0; k < np; k++)
        for (int j = 0; j < 4; j++) patches[k][j] = rd8(r);

    for (size_t i = 0; i < rows; i++) {
        int64_t l = (int64_t)(rnd() % cols);
        switch (labmode % 8) {
        case 5: if (rnd() % 4 == 0) l = s->ignore; break;
        case 6: {
            uint8_t b = rd_left(r) ? rd8(r) : (uint8_t)(rnd() % 12);
            switch (b % 16) {
            case 10: l = s->ignore; break;
            case 11: l = -1; break;
            case 12: l = (int64_t)cols; break;
            case 13: l = INT64_MIN; break;
            case 14: l = INT64_MAX; break;
            case 15: l = -100; break;
            default: break;
            }
            break;
        }
        case 7: l = s->ignore; break;
        default: break;
        }
        s->labels[i] = l;
    }

    int tm = tgtmode % 8;
    for (size_t i = 0; i < rows; i++) {
        double *y = s->tgt + i * cols, sum = 0;
        size_t hot = rnd() % cols;
        for (size_t j = 0; j < cols; j++) {
            double v;
            switch (tm) {
            case 3: v = j == hot; break;
            case 4: v = 0; break;
            case 6: v = rndu() - 0.3; break;
            case 7: v = rnd() % 7 == 0 ? special_value((uint8_t)rnd(), s->f64) : rndu(); break;
            default: v = rnd() % 3 == 0 ? 0.0 : rndu(); break;
            }
            y[j] = v;
            sum += v;
        }
        if (tm <= 2 && sum > 0)
            for (size_t j = 0; j < cols; j++) y[j] /= sum;
        if (tm == 5)
            for (size_t j = 0; j < cols; j++) y[j] *= 3.0;
        for (size_t j = 0; j < cols; j++) y[j] = to_elem(y[j], s->f64);
    }
    s->wild_targets = tm >= 6;

    int vm = valmode % 8;
    static const double scales[] = {1, 10, 100, 1e-3, 1e4, 30};
    double scale = scales[(valmode >> 3) % 6];
    double constant = special_value((uint8_t)(valmode >> 3), s->f64);
    for (size_t k = 0; k < n; k++) {
        double v;
        if ((vm == 4 || vm == 5 || vm == 7) && rd_left(r)) {
            v = vm == 7 && rd8(r) < 64 ? special_value(rd8(r), s->f64) : byte_value(r, s->f64);
        } else if (vm == 6) {
            v = constant;
        } else {
            v = rndn() * scale;
        }
        s->x[k] = to_elem(v, s->f64);
    }
    for (int k = 0; k < np; k++) {
        size_t i = patches[k][1] % (rows ? rows : 1), j = (patches[k][2] | patches[k][3] << 8) % cols;
        if (rows == 0) break;
        double *row = s->x + i * cols;
        uint8_t kind = patches[k][0];
        switch (kind % 12) {
        case 0: for (size_t c = 0; c < cols; c++) row[c] = -INFINITY; break;
        case 1: for (size_t c = 0; c < cols; c++) row[c] = -INFINITY; row[j] = to_elem(rndn(), s->f64); break;
        case 2: row[j] = NAN; break;
        case 3: row[j] = INFINITY; break;
        case 4: row[j] = -INFINITY; break;
        case 5: {
            int64_t l = s->labels[i];
            if (l >= 0 && (uint64_t)l < cols) row[l] = -INFINITY;
            break;
        }
        case 6: for (size_t c = 0; c < cols; c++) row[c] = to_elem(special_value(kind >> 4, s->f64), s->f64); break;
        case 7: row[j] = to_elem(kind & 16 ? 1e30 : -1e30, s->f64); break;
        case 8: row[j] = to_elem(special_value((uint8_t)(kind >> 3), s->f64), s->f64); break;
        case 9: for (size_t c = 0; c < cols; c++) row[c] = to_elem(kind & 16 ? 1e30 : -1e30, s->f64); break;
        case 10: for (size_t c = 0; c < cols; c++) row[c] = to_elem(special_value(5 + (kind >> 4) % 4, s->f64), s->f64); break;
        default: row[j] = to_elem(s->f64 ? 5e-324 : 1e-45, s->f64); break;
        }
    }
}

/* ---- Expected status (the library's order of checks) ------------------------------------------------- */

static const char *xf_reason;
static int xf_known; /* a known library defect applies: see fuzz/regressions/README.md */

typedef struct {
    uintptr_t lo, hi;
    int buf;
} Range;

static int overlaps(Range a, Range b) { return a.lo != a.hi && b.lo != b.hi && a.lo < b.hi && b.lo < a.hi; }

/* ptr[b] are the actual pointers passed (NULL or not). */
static int expected_status(const Spec *s, void *const ptr[B_COUNT])
{
    int ce = s->fn <= F_SOFT_EX, soft = s->fn == F_SOFT || s->fn == F_SOFT_EX;
    size_t es = s->es, rows = s->rows, cols = s->cols;
    size_t ext, text = 0, gext = 0, oext = 0;
    xf_known = 0;
    if (ce) {
        if (!s->opts_null) {
            if (s->struct_size < XF_OPTS_V1) return xf_reason = "struct_size", XENT_ERR_INVALID_OPTION;
            if (s->reduction < 0 || s->reduction > 2) return xf_reason = "reduction", XENT_ERR_INVALID_OPTION;
        }
        if (!ptr[B_X]) return xf_reason = "logits NULL", XENT_ERR_NULL_POINTER;
        if (!ptr[B_TGT]) return xf_reason = "labels NULL", XENT_ERR_NULL_POINTER;
        if (!ptr[B_LOSS]) return xf_reason = "loss NULL", XENT_ERR_NULL_POINTER;
        if (!extent_ok(rows, cols, s->rstride, es, &ext)) return xf_reason = "logits shape", XENT_ERR_INVALID_SHAPE;
        if (soft) {
            if (!extent_ok(rows, cols, s->tstride, es, &text)) return xf_reason = "targets shape", XENT_ERR_INVALID_SHAPE;
        } else if (rows > (size_t)INT64_MAX / 8) {
            /* rows * 8 bytes of labels overflow: known defect A (the library traps computing the byte range). */
            xf_known = 'A';
            return xf_reason = "labels extent overflows", XENT_ERR_INVALID_SHAPE;
        }
        int32_t red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
        size_t lossn = red == XENT_REDUCTION_NONE ? rows : 1;
        if (ptr[B_GRAD] && !extent_ok(rows, cols, s->gstride, es, &gext))
            return xf_reason = "grad shape", XENT_ERR_INVALID_SHAPE;
        if (ptr[B_BIAS] && cols > (size_t)INT64_MAX / es) {
            xf_known = 'B'; /* cols * elem bytes overflow (only reachable with rows == 0): known defect B */
            return xf_reason = "bias extent overflows", XENT_ERR_INVALID_SHAPE;
        }
        if (!s->opts_null) {
            float e = s->smoothing;
            if (!(e >= 0 && e <= 1)) return xf_reason = "smoothing", XENT_ERR_INVALID_OPTION;
            if (!isfinite(s->gscale)) return xf_reason = "grad_scale", XENT_ERR_INVALID_OPTION;
            if (s->threads < 0) return xf_reason = "threads", XENT_ERR_INVALID_OPTION;
        }
        Range in[2], out[4];
        int nin = 0, nout = 0;
        in[nin++] = (Range){(uintptr_t)ptr[B_X], (uintptr_t)ptr[B_X] + ext * es, B_X};
        in[nin++] = soft ? (Range){(uintptr_t)ptr[B_TGT], (uintptr_t)ptr[B_TGT] + text * es, B_TGT}
                         : (Range){(uintptr_t)ptr[B_TGT], (uintptr_t)ptr[B_TGT] + rows * 8, B_TGT};
        out[nout++] = (Range){(uintptr_t)ptr[B_LOSS], (uintptr_t)ptr[B_LOSS] + lossn * es, B_LOSS};
        if (ptr[B_GRAD]) out[nout++] = (Range){(uintptr_t)ptr[B_GRAD], (uintptr_t)ptr[B_GRAD] + gext * es, B_GRAD};
        if (ptr[B_LSE]) out[nout++] = (Range){(uintptr_t)ptr[B_LSE], (uintptr_t)ptr[B_LSE] + rows * es, B_LSE};
        if (ptr[B_BIAS]) out[nout++] = (Range){(uintptr_t)ptr[B_BIAS], (uintptr_t)ptr[B_BIAS] + cols * es, B_BIAS};
        for (int k = 0; k < nout; k++) {
            for (int j = 0; j < nin; j++) {
                if (!overlaps(out[k], in[j])) continue;
                if (out[k].buf == B_GRAD && in[j].buf == B_X && s->gstride == s->rstride && out[k].lo == in[j].lo)
                    continue;
                return xf_reason = "output overlaps input", XENT_ERR_ALIASING;
            }
            for (int j = 0; j < k; j++)
                if (overlaps(out[k], out[j])) return xf_reason = "outputs overlap", XENT_ERR_ALIASING;
        }
        if (!soft) {
            if (s->virt) return xf_reason = "labels (virtual)", -1;
            const int64_t *lab = s->labels;
            for (size_t i = 0; i < rows; i++) {
                if (lab[i] == (s->opts_null ? -100 : s->ignore)) continue;
                if (lab[i] < 0 || (uint64_t)lab[i] >= cols) return xf_reason = "label", XENT_ERR_LABEL_OUT_OF_RANGE;
            }
        }
        return xf_reason = "ok", XENT_OK;
    }
    if (!ptr[B_X]) return xf_reason = "x NULL", XENT_ERR_NULL_POINTER;
    if (!ptr[B_LOSS]) return xf_reason = "out NULL", XENT_ERR_NULL_POINTER;
    if (!extent_ok(rows, cols, s->rstride, es, &ext)) return xf_reason = "x shape", XENT_ERR_INVALID_SHAPE;
    if (s->fn == F_LSE) {
        oext = rows;
    } else if (!extent_ok(rows, cols, s->ostride, es, &oext)) {
        return xf_reason = "out shape", XENT_ERR_INVALID_SHAPE;
    }
    Range in = {(uintptr_t)ptr[B_X], (uintptr_t)ptr[B_X] + ext * es, B_X};
    Range out = {(uintptr_t)ptr[B_LOSS], (uintptr_t)ptr[B_LOSS] + oext * es, B_LOSS};
    if (overlaps(out, in) && !(s->fn != F_LSE && s->ostride == s->rstride && out.lo == in.lo))
        return xf_reason = "out overlaps x", XENT_ERR_ALIASING;
    return xf_reason = "ok", XENT_OK;
}

/* ---- Memory placement ------------------------------------------------------------------------------------- */

typedef struct {
    size_t bytes, align;
    int region;
    int64_t off;
    uint8_t *p;
    /* accessed elements: rows x cols with stride (bytes) for matrices; a vector otherwise */
    size_t mrows, mcols, mstride;
} Buf;

typedef struct {
    uint8_t *base, *map;
    size_t size, maplen;
    uint8_t *snap; /* the bytes before the call: a slice of the shared scratch (mem_snapshot) */
} Region;

typedef struct {
    Spec *s;
    Buf b[B_COUNT];
    Region reg[B_COUNT];
    int nreg;
    void *ptr[B_COUNT];
    int have[B_COUNT];
} Mem;

static size_t page_size;

static void region_alloc(Region *g, int guard)
{
    size_t size = g->size;
    if (guard) {
        size_t data = (size + 8 + page_size - 1) / page_size * page_size;
        g->maplen = data + 2 * page_size;
        g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g->map == MAP_FAILED) { perror("mmap"); abort(); }
        if (mprotect(g->map, page_size, PROT_NONE) || mprotect(g->map + page_size + data, page_size, PROT_NONE)) {
            perror("mprotect");
            abort();
        }
        uint8_t *end = g->map + page_size + data;
        g->base = (uint8_t *)((uintptr_t)(end - size) & ~(uintptr_t)7);
    } else {
        g->map = NULL;
        g->base = malloc(size ? size : 1);
        if (!g->base) abort();
    }
    g->snap = NULL;
}

static void region_free(Region *g)
{
    if (g->map) munmap(g->map, g->maplen);
    else free(g->base);
}

static void set_matrix(Buf *b, size_t rows, size_t cols, size_t stride, size_t es)
{
    b->mrows = rows;
    b->mcols = cols * es;
    b->mstride = stride * es;
}

/* Calls fn(region, byte offset, length) for every accessed run of buffer k. */
#define FOR_RUNS(m, k, BODY)                                                                                       \
    do {                                                                                                          \
        Buf *b_ = &(m)->b[k];                                                                                     \
        for (size_t i_ = 0; i_ < b_->mrows; i_++) {                                                               \
            size_t off_ = (size_t)b_->off + i_ * b_->mstride, len_ = b_->mcols;                                   \
            BODY;                                                                                                 \
        }                                                                                                         \
    } while (0)

static const uint8_t canary[16] = {0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0xF0, 0x0F,
                                   0x81, 0x7E, 0xDB, 0x24, 0xE7, 0x18, 0xBD, 0x42};

/* Lays the buffers out according to s (alias mode) and copies the logical inputs in. */
static int mat_real(const Spec *s, size_t stride, size_t *elems)
{
    size_t e;
    if (!s->virt && extent_ok(s->rows, s->cols, stride, s->es, &e)) {
        *elems = e;
        return 1;
    }
    *elems = 16;
    return 0;
}

static XF_CHECKER void mem_build(Mem *m, Spec *s, int alias_mode, int inplace)
{
    memset(m, 0, sizeof *m);
    m->s = s;
    size_t es = s->es, rows = s->rows, cols = s->cols;
    int ce = s->fn <= F_SOFT_EX, soft = s->fn == F_SOFT || s->fn == F_SOFT_EX;
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    int vir = s->virt;
    /* sizes */
    /* A matrix is materialized only when its shape is valid and small; otherwise 16 elements stand in. */
    size_t xe, te = 0, ge = 0, oe = 0;
    int xv = mat_real(s, s->rstride, &xe);
    m->have[B_X] = 1;
    m->b[B_X] = (Buf){xe * es, es, 0, 0, NULL, 0, 0, 0};
    if (xv) set_matrix(&m->b[B_X], rows, cols, s->rstride, es);
    if (ce) {
        m->have[B_TGT] = 1;
        if (soft) {
            int tv = mat_real(s, s->tstride, &te);
            m->b[B_TGT] = (Buf){te * es, es, 0, 0, NULL, 0, 0, 0};
            if (tv) set_matrix(&m->b[B_TGT], rows, cols, s->tstride, es);
        } else {
            size_t ln = vir ? 2 : rows;
            m->b[B_TGT] = (Buf){ln * 8, 8, 0, 0, NULL, 0, 0, 0};
            set_matrix(&m->b[B_TGT], 1, ln, ln, 8);
        }
        size_t lossn = (red == XENT_REDUCTION_NONE) ? (vir ? 2 : rows) : 1;
        m->have[B_LOSS] = 1;
        m->b[B_LOSS] = (Buf){lossn * es, es, 0, 0, NULL, 0, 0, 0};
        set_matrix(&m->b[B_LOSS], 1, lossn, lossn, es);
        if (s->has_grad) {
            int gv = mat_real(s, s->gstride, &ge);
            m->have[B_GRAD] = 1;
            m->b[B_GRAD] = (Buf){ge * es, es, 0, 0, NULL, 0, 0, 0};
            if (gv) set_matrix(&m->b[B_GRAD], rows, cols, s->gstride, es);
        }
        if (s->has_lse) {
            size_t n = vir ? 2 : rows;
            m->have[B_LSE] = 1;
            m->b[B_LSE] = (Buf){n * es, es, 0, 0, NULL, 0, 0, 0};
            set_matrix(&m->b[B_LSE], 1, n, n, es);
        }
        if (s->has_bias) {
            size_t n = cols > 80000 ? 16 : cols;
            m->have[B_BIAS] = 1;
            m->b[B_BIAS] = (Buf){n * es, es, 0, 0, NULL, 0, 0, 0};
            set_matrix(&m->b[B_BIAS], 1, n, n, es);
        }
        if (!s->opts_null) {
            m->have[B_OPTS] = 1;
            m->b[B_OPTS] = (Buf){s->opts_alloc, 8, 0, 0, NULL, 0, 0, 0};
            set_matrix(&m->b[B_OPTS], 1, s->opts_alloc, s->opts_alloc, 1);
        }
    } else {
        int ov;
        if (s->fn == F_LSE) ov = !vir, oe = vir ? 16 : rows;
        else ov = mat_real(s, s->ostride, &oe);
        m->have[B_LOSS] = 1;
        m->b[B_LOSS] = (Buf){oe * es, es, 0, 0, NULL, 0, 0, 0};
        if (ov) {
            if (s->fn == F_LSE) set_matrix(&m->b[B_LOSS], 1, rows, rows, es);
            else set_matrix(&m->b[B_LOSS], rows, cols, s->ostride, es);
        }
    }
    /* placement: by default each buffer in its own region */
    int regof[B_COUNT];
    for (int k = 0; k < B_COUNT; k++) regof[k] = k, m->b[k].off = 0;
    int outs[4], nouts = 0, all[B_COUNT], nall = 0;
    for (int k = 0; k < B_COUNT; k++) {
        if (!m->have[k] || k == B_OPTS) continue;
        all[nall++] = k;
        if (k == B_LOSS || k == B_GRAD || k == B_LSE || k == B_BIAS) outs[nouts++] = k;
    }
    int inplace_buf = ce ? B_GRAD : B_LOSS;
    if (inplace && m->have[inplace_buf]) {
        regof[inplace_buf] = B_X;
        m->b[inplace_buf].off = 0;
    } else if (alias_mode == 2 && nouts > 0 && nall > 1) {
        int a = outs[s->alias_a % nouts];
        int bidx = s->alias_b % (nall - 1), bb = -1;
        for (int k = 0, c = 0; k < nall; k++)
            if (all[k] != a && c++ == bidx) bb = all[k];
        size_t unit = (m->b[a].align > m->b[bb].align ? m->b[a].align : m->b[bb].align);
        int64_t A = (int64_t)m->b[a].bytes, B = (int64_t)m->b[bb].bytes, d;
        switch ((s->alias_b >> 5) % 8) {
        case 0: d = B; break;      /* exactly adjacent after B */
        case 1: d = -A; break;     /* exactly adjacent before B */
        case 2: d = 0; break;      /* same start */
        default: {
            int64_t lo = -A + 1, hi = B - 1;
            d = hi >= lo ? lo + (int64_t)(s->alias_r % (uint64_t)(hi - lo + 1)) : 0;
            break;
        }
        }
        d = d >= 0 ? d / (int64_t)unit * (int64_t)unit : -((-d + (int64_t)unit - 1) / (int64_t)unit * (int64_t)unit);
        if (unit == 8 && (d % 8) != 0) d -= d % 8;
        regof[a] = bb;
        m->b[a].off = d;
    } else if (alias_mode == 3) {
        /* every buffer back to back in one region: labels first (8-aligned), then logits and the outputs */
        int order[] = {B_TGT, B_X, B_LOSS, B_GRAD, B_LSE, B_BIAS};
        int64_t off = 0;
        for (int k = 0; k < 6; k++) {
            int q = order[k];
            if (!m->have[q]) continue;
            regof[q] = B_X;
            m->b[q].off = off;
            off += (int64_t)m->b[q].bytes;
        }
    }
    /* region extents */
    for (int g = 0; g < B_COUNT; g++) {
        int64_t lo = 0, hi = 0, any = 0;
        for (int k = 0; k < B_COUNT; k++) {
            if (!m->have[k] || regof[k] != g) continue;
            if (!any || m->b[k].off < lo) lo = m->b[k].off;
            if (!any || m->b[k].off + (int64_t)m->b[k].bytes > hi) hi = m->b[k].off + (int64_t)m->b[k].bytes;
            any = 1;
        }
        if (!any) continue;
        /* normalize: the lowest offset becomes 0 (keep 8-byte alignment of every buffer) */
        int64_t shift = lo < 0 ? (-lo + 7) / 8 * 8 : 0;
        for (int k = 0; k < B_COUNT; k++)
            if (m->have[k] && regof[k] == g) m->b[k].off += shift;
        Region *R = &m->reg[g];
        R->size = (size_t)(hi + shift);
        region_alloc(R, s->guard);
        memset(R->base, 0, 0);
        for (size_t i = 0; i < R->size; i += 16) memcpy(R->base + i, canary, R->size - i < 16 ? R->size - i : 16);
    }
    for (int k = 0; k < B_COUNT; k++) {
        if (!m->have[k]) continue;
        m->b[k].region = regof[k];
        m->b[k].p = m->reg[regof[k]].base + m->b[k].off;
    }
    /* inputs */
    if (m->b[B_X].mrows) {
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                uint8_t *dst = m->b[B_X].p + (i * s->rstride + j) * es;
                if (s->f64) memcpy(dst, &s->x[i * cols + j], 8);
                else { float f = (float)s->x[i * cols + j]; memcpy(dst, &f, 4); }
            }
    }
    if (!vir) {
        if (ce && soft && m->b[B_TGT].mrows) {
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) {
                    uint8_t *dst = m->b[B_TGT].p + (i * s->tstride + j) * es;
                    if (s->f64) memcpy(dst, &s->tgt[i * cols + j], 8);
                    else { float f = (float)s->tgt[i * cols + j]; memcpy(dst, &f, 4); }
                }
        } else if (ce && !soft) {
            memcpy(m->b[B_TGT].p, s->labels, rows * 8);
        }
    }
    if (m->have[B_OPTS]) {
        xent_options o;
        xent_options_init(&o);
        o.struct_size = s->struct_size;
        o.reduction = s->reduction;
        o.num_threads = s->threads;
        o.ignore_index = s->ignore;
        o.label_smoothing = s->smoothing;
        o.grad_scale = s->gscale;
        size_t n = s->opts_alloc < sizeof o ? s->opts_alloc : sizeof o;
        memcpy(m->b[B_OPTS].p, &o, n);
        for (size_t i = sizeof o; i < s->opts_alloc; i++) m->b[B_OPTS].p[i] = 0xEE;
    }
    for (int k = 0; k < B_COUNT; k++) m->ptr[k] = m->have[k] && !(s->nullmask & (1u << k)) ? m->b[k].p : NULL;
    if (!m->have[B_OPTS]) m->ptr[B_OPTS] = NULL;
}

static void mem_free(Mem *m)
{
    for (int g = 0; g < B_COUNT; g++)
        if (m->reg[g].base) region_free(&m->reg[g]);
}

/* One scratch buffer, kept between executions, holds the snapshots of all regions of the Mem being checked
 * (fresh buffers per execution cost a page fault per 4 KiB). A snapshot is used only between its mem_snapshot
 * and mem_check_untouched, and those pairs never interleave. */
static uint8_t *xf_scratch;
static size_t xf_scratch_cap;

static XF_CHECKER void mem_snapshot(Mem *m)
{
    size_t total = 0;
    for (int g = 0; g < B_COUNT; g++)
        if (m->reg[g].base) total += m->reg[g].size;
    if (total > xf_scratch_cap) {
        free(xf_scratch);
        xf_scratch_cap = total + total / 2;
        xf_scratch = malloc(xf_scratch_cap);
        if (!xf_scratch) abort();
    }
    uint8_t *p = xf_scratch;
    for (int g = 0; g < B_COUNT; g++)
        if (m->reg[g].base) {
            m->reg[g].snap = p;
            memcpy(p, m->reg[g].base, m->reg[g].size);
            p += m->reg[g].size;
        }
}

/* ASan: during the call only the accessed elements of the buffers are addressable. */
static void mem_poison(Mem *m, int on)
{
#ifdef XF_ASAN
    for (int g = 0; g < B_COUNT; g++) {
        Region *R = &m->reg[g];
        if (!R->base || R->map) continue;
        if (!on) { XF_UNPOISON(R->base, R->size); continue; }
        XF_POISON(R->base, R->size);
    }
    if (!on) return;
    for (int k = 0; k < B_COUNT; k++) {
        if (!m->have[k] || m->reg[m->b[k].region].map) continue;
        uint8_t *base = m->reg[m->b[k].region].base;
        FOR_RUNS(m, k, XF_UNPOISON(base + off_, len_));
    }
#else
    (void)m, (void)on;
#endif
}

/* ---- Calling ------------------------------------------------------------------------------------------------ */

static xent_status mem_call(Mem *m)
{
    Spec *s = m->s;
    void **p = m->ptr;
    const xent_options *o = (const xent_options *)p[B_OPTS];
    size_t r = s->rows, c = s->cols, rs = s->rstride;
    xent_status st;
    mem_poison(m, 1);
    if (s->f64) {
        double *x = p[B_X], *y = p[B_TGT], *l = p[B_LOSS], *g = p[B_GRAD], *e = p[B_LSE], *b = p[B_BIAS];
        const int64_t *lab = p[B_TGT];
        switch (s->fn) {
        case F_CE: st = xent_cross_entropy_f64(x, r, c, rs, lab, o, l, g, e); break;
        case F_CE_EX: st = xent_cross_entropy_ex_f64(x, r, c, rs, lab, o, l, g, s->gstride, e, b); break;
        case F_SOFT: st = xent_soft_cross_entropy_f64(x, r, c, rs, y, s->tstride, o, l, g, e); break;
        case F_SOFT_EX: st = xent_soft_cross_entropy_ex_f64(x, r, c, rs, y, s->tstride, o, l, g, s->gstride, e, b); break;
        case F_LSE: st = xent_logsumexp_f64(x, r, c, rs, l); break;
        case F_SOFTMAX: st = xent_softmax_f64(x, r, c, rs, l, s->ostride); break;
        default: st = xent_log_softmax_f64(x, r, c, rs, l, s->ostride); break;
        }
    } else {
        float *x = p[B_X], *y = p[B_TGT], *l = p[B_LOSS], *g = p[B_GRAD], *e = p[B_LSE], *b = p[B_BIAS];
        const int64_t *lab = p[B_TGT];
        switch (s->fn) {
        case F_CE: st = xent_cross_entropy_f32(x, r, c, rs, lab, o, l, g, e); break;
        case F_CE_EX: st = xent_cross_entropy_ex_f32(x, r, c, rs, lab, o, l, g, s->gstride, e, b); break;
        case F_SOFT: st = xent_soft_cross_entropy_f32(x, r, c, rs, y, s->tstride, o, l, g, e); break;
        case F_SOFT_EX: st = xent_soft_cross_entropy_ex_f32(x, r, c, rs, y, s->tstride, o, l, g, s->gstride, e, b); break;
        case F_LSE: st = xent_logsumexp_f32(x, r, c, rs, l); break;
        case F_SOFTMAX: st = xent_softmax_f32(x, r, c, rs, l, s->ostride); break;
        default: st = xent_log_softmax_f32(x, r, c, rs, l, s->ostride); break;
        }
    }
    mem_poison(m, 0);
    const char *msg = xent_last_error_message();
    if (!msg) FAIL("xent_last_error_message() returned NULL");
    if (st == XENT_OK && msg[0]) FAIL("status OK but last error message is \"%s\"", msg);
    if (st != XENT_OK && !msg[0]) FAIL("status %d but last error message is empty", st);
    const char *ss = xent_status_string(st);
    if (!ss || !strcmp(ss, "unknown status")) FAIL("status %d has no status string", st);
    return st;
}

/* Checks that nothing changed (error) or that only output elements changed (success): the output runs are
 * copied from the region into its snapshot, then the whole region must equal the snapshot. */
static XF_CHECKER void mem_check_untouched(Mem *m, int ok)
{
    if (ok) {
        int outs[] = {B_LOSS, B_GRAD, B_LSE, B_BIAS};
        for (int q = 0; q < 4; q++) {
            int k = outs[q];
            if (!m->have[k] || !m->ptr[k]) continue;
            Region *R = &m->reg[m->b[k].region];
            FOR_RUNS(m, k, memcpy(R->snap + off_, R->base + off_, len_));
        }
    }
    for (int g = 0; g < B_COUNT; g++) {
        Region *R = &m->reg[g];
        if (!R->base || !memcmp(R->base, R->snap, R->size)) continue;
        size_t i = 0;
        while (R->base[i] == R->snap[i]) i++;
        const char *who = "padding";
        for (int k = 0; k < B_COUNT; k++)
            if (m->have[k] && m->b[k].region == g && (int64_t)i >= m->b[k].off &&
                (int64_t)i < m->b[k].off + (int64_t)m->b[k].bytes)
                who = buf_names[k];
        FAIL("%s: byte %zu of region %d (in %s) changed from 0x%02x to 0x%02x", ok ? "success" : "error", i, g, who,
             R->snap[i], R->base[i]);
    }
}

/* Reads output k as dense doubles (rows x cols or a vector). */
static XF_CHECKER double *mem_get(Mem *m, int k, size_t *count)
{
    Buf *b = &m->b[k];
    size_t es = m->s->es, per = b->mcols / (k == B_TGT ? 8 : es);
    double *v = malloc((b->mrows * per + 1) * sizeof(double));
    size_t n = 0;
    for (size_t i = 0; i < b->mrows; i++)
        for (size_t j = 0; j < per; j++) {
            const uint8_t *src = b->p + i * b->mstride + j * es;
            if (es == 8) memcpy(&v[n++], src, 8);
            else { float f; memcpy(&f, src, 4); v[n++] = f; }
        }
    *count = n;
    return v;
}

/* ---- Reference checks ----------------------------------------------------------------------------------- */

typedef struct {
    int nan, allneg;
    LD m, lse, logsum, sum; /* lse = m + logsum; differences to lse are formed as (x - m) - logsum */
} RowRef;

static int f64g;
/* The element type's smallest subnormal: values below half of it round to 0 (a floor for absolute tolerances). */
static double TRUEMIN(void) { return f64g ? DBL_TRUE_MIN : FLT_TRUE_MIN; }

/* e^v for the references: long double for double rows; double for float rows (its error, about |v| * 2^-53
 * relative, is far below the float tolerances and it is several times faster than expl). */
static XF_CHECKER LD ref_exp(LD v) { return f64g ? expl(v) : (LD)exp((double)v); }

/* The row's max, log-sum-exp and, when e is not NULL, e[j] = e^(x_j - max) (0 for -inf), so that
 * softmax_j = e[j] / sum without a second exp per element. */
static XF_CHECKER RowRef row_ref(const double *x, size_t cols, LD *e)
{
    RowRef r = {0, 1, -INFINITY, -INFINITY, 0, 0};
    for (size_t j = 0; j < cols; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) r.nan = 1;
        if (x[j] != -INFINITY) r.allneg = 0;
        if (x[j] > r.m) r.m = x[j];
    }
    if (r.nan) { r.lse = NAN; return r; }
    if (r.allneg) return r;
    LD sum = 0;
    for (size_t j = 0; j < cols; j++) {
        LD v = x[j] == -INFINITY ? 0 : ref_exp((LD)x[j] - r.m);
        if (e) e[j] = v;
        sum += v;
    }
    r.sum = sum;
    r.logsum = logl(sum);
    r.lse = r.m + r.logsum;
    return r;
}

/* The reference loss of one row, sum_j t_j*(lse - x_j) with the difference formed as (max - x_j) + log sum exp;
 * NaN for a NaN row; for an all -inf row +inf when the targets sum to nonzero, else 0. *S receives the scale of
 * its rounding, 1 + sum_j |t_j|*|lse - x_j|. */
static XF_CHECKER LD ref_row_loss(const RowRef *r, const double *x, const LD *t, size_t cols, LD tsum, LD *S)
{
    *S = 1;
    if (r->nan) return NAN;
    if (r->allneg) return tsum != 0 ? (LD)INFINITY : 0;
    LD L = 0;
    for (size_t j = 0; j < cols; j++) {
        if (t[j] == 0) continue;
        LD d = (r->m - (LD)x[j]) + r->logsum; /* lse - x_j */
        L += t[j] * d;
        *S += fabsl(t[j]) * fabsl(d);
    }
    return L;
}

static double TMAX(void) { return f64g ? DBL_MAX : FLT_MAX; }

/* got vs ref within tol (absolute); NaN must be NaN, infinities exact; refs beyond the type's range skipped. */
static XF_CHECKER void check_val(double got, LD ref, LD tol, const char *what, size_t i, size_t j)
{
    if (isnan(ref)) {
        if (!isnan(got)) FAIL("%s[%zu,%zu] = %.9g, expected NaN", what, i, j, got);
        return;
    }
    if (isinf(ref)) {
        if (got != (double)ref) FAIL("%s[%zu,%zu] = %.9g, expected %Lg", what, i, j, got, ref);
        return;
    }
    if (fabsl(ref) > 0.5L * TMAX()) return;
    if (!(fabsl((LD)got - ref) <= tol))
        FAIL("%s[%zu,%zu] = %.17g, reference %.17Lg, |diff| %.3Lg > tol %.3Lg", what, i, j, got, ref,
             fabsl((LD)got - ref), tol);
}

static XF_CHECKER void check_rowfn(Spec *s, Mem *m)
{
    size_t rows = s->rows, cols = s->cols, n;
    double *out = mem_get(m, B_LOSS, &n);
    LD C = s->f64 ? 1e-12L : 2e-6L;
    LD *e = malloc((cols + 1) * sizeof(LD));
    for (size_t i = 0; i < rows; i++) {
        const double *x = s->x + i * cols;
        RowRef r = row_ref(x, cols, e);
        if (s->fn == F_LSE) {
            check_val(out[i], r.lse, C * fmaxl(1, fabsl(r.lse)), "lse", i, 0);
            continue;
        }
        double *o = out + i * cols;
        if (s->fn == F_SOFTMAX) {
            LD sum = 0;
            for (size_t j = 0; j < cols; j++) {
                LD ref = r.nan ? (LD)NAN : r.allneg ? 0 : e[j] / r.sum;
                check_val(o[j], ref, s->f64 ? 1e-13L : 1e-6L, "softmax", i, j);
                if (!r.nan && x[j] == -INFINITY && o[j] != 0) FAIL("softmax[%zu,%zu] of -inf is %g", i, j, o[j]);
                sum += o[j];
            }
            if (!r.nan && !r.allneg && !(fabsl(sum - 1) <= (s->f64 ? 1e-12L : 1e-5L)))
                FAIL("softmax row %zu sums to %.17Lg", i, sum);
        } else {
            for (size_t j = 0; j < cols; j++) {
                LD ref = r.nan ? (LD)NAN : (r.allneg || x[j] == -INFINITY) ? (LD)-INFINITY : ((LD)x[j] - r.m) - r.logsum;
                check_val(o[j], ref, C * fmaxl(1, fabsl(ref)), "log_softmax", i, j);
            }
        }
    }
    free(out), free(e);
}

/* Cross-entropy reference: loss (per row and reduced), lse, gradient, bias gradient. */
static XF_CHECKER void check_ce(Spec *s, Mem *m)
{
    size_t rows = s->rows, cols = s->cols, n;
    int soft = s->fn == F_SOFT || s->fn == F_SOFT_EX;
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    int64_t ignore = s->opts_null ? -100 : s->ignore;
    LD eps = s->opts_null ? 0 : (LD)s->smoothing, gs = s->opts_null ? 1 : (LD)s->gscale;
    LD C = s->f64 ? 1e-12L : 2e-6L;
    int numeric = !(soft && s->wild_targets), numeric_red = 1;
    double *loss = mem_get(m, B_LOSS, &n);
    double *grad = m->ptr[B_GRAD] ? mem_get(m, B_GRAD, &n) : NULL;
    double *lse = m->ptr[B_LSE] ? mem_get(m, B_LSE, &n) : NULL;
    double *bias = m->ptr[B_BIAS] ? mem_get(m, B_BIAS, &n) : NULL;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++)
        if (soft || s->labels[i] != ignore) counted++;
    LD denom = red == XENT_REDUCTION_MEAN ? (LD)counted : 1;
    LD sc = denom == 0 ? 0 : gs / denom;
    LD *t = malloc((cols + 1) * sizeof(LD)), *e = malloc((cols + 1) * sizeof(LD));
    LD *bref = calloc(cols + 1, sizeof(LD)), *btol = calloc(cols + 1, sizeof(LD));
    int *bnan = calloc(cols + 1, sizeof(int));
    LD total = 0, totscale = 0;
    int totnan = 0, totinf = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *x = s->x + i * cols;
        RowRef r = row_ref(x, cols, e);
        if (lse) check_val(lse[i], r.lse, C * fmaxl(1, fabsl(r.lse)), "lse", i, 0);
        int ignored = !soft && s->labels[i] == ignore;
        if (ignored) {
            if (red == XENT_REDUCTION_NONE && loss[i] != 0) FAIL("loss[%zu] of an ignored row is %g", i, loss[i]);
            if (grad)
                for (size_t j = 0; j < cols; j++)
                    if (grad[i * cols + j] != 0) FAIL("grad[%zu,%zu] of an ignored row is %g", i, j, grad[i * cols + j]);
            continue;
        }
        LD tsum = 0, tabs = 0;
        for (size_t j = 0; j < cols; j++) {
            LD y = soft ? (LD)s->tgt[i * cols + j] : (LD)((int64_t)j == s->labels[i]);
            t[j] = (1 - eps) * y + eps / (LD)cols;
            tsum += t[j];
            tabs += fabsl(t[j]);
        }
        /* loss */
        LD S;
        LD L = ref_row_loss(&r, x, t, cols, tsum, &S);
        /* Rows spanning more than half the type's range (x_j - max overflows in the element type, or the row's
         * loss itself is beyond it): the library's element-typed partial sums may overflow to inf. Not checked
         * numerically (see fuzz/README.md, "Limitations"); the reduced loss is then not checked either. */
        int extreme = 0;
        for (size_t j = 0; j < cols && !r.nan && !r.allneg; j++) {
            if (x[j] != -INFINITY && (r.m - (LD)x[j] > 0.5L * TMAX())) extreme = 1;
        }
        if (!isnan(L) && !isinf(L) && fabsl(L) > 0.5L * TMAX()) extreme = 1;
        if (extreme) { numeric_red = 0; continue; }
        if (isnan(L)) totnan = 1;
        else if (isinf(L)) totinf = 1;
        else total += L, totscale += S;
        if (numeric && red == XENT_REDUCTION_NONE) check_val(loss[i], L, C * S, "loss", i, 0);
        /* gradient: when s * sum(t) / sum(exp) overflows the element type the library's factor is inf and
         * entries with probability 0 become inf * 0 = NaN (see fuzz/README.md, "Limitations"): not checked. */
        if (fabsl(sc) * (1 + tabs) > 0.25L * TMAX()) { numeric_red = 0; continue; }
        LD gt = C * fabsl(sc) * (1 + tabs) * 2;
        for (size_t j = 0; j < cols; j++) {
            LD g;
            if (r.nan) g = NAN;
            else if (r.allneg) g = -sc * t[j];
            else g = sc * (e[j] / r.sum * tsum - t[j]);
            if (numeric && grad) check_val(grad[i * cols + j], g, gt, "grad", i, j);
            if (isnan(g)) bnan[j] = 1;
            else bref[j] += g, btol[j] += gt;
        }
    }
    /* SUM and MEAN accumulate in double (header): a sum beyond DBL_MAX legitimately becomes inf. */
    if (numeric && numeric_red && red != XENT_REDUCTION_NONE && !(fabsl(total) > 0.5L * DBL_MAX)) {
        LD ref = totnan ? (LD)NAN : totinf ? (LD)INFINITY : total;
        if (red == XENT_REDUCTION_MEAN) ref = counted == 0 ? 0 : ref / (LD)counted;
        LD tol = C * (1 + totscale) / (red == XENT_REDUCTION_MEAN && counted ? (LD)counted : 1);
        check_val(loss[0], ref, tol, "reduced loss", 0, 0);
    }
    if (numeric && numeric_red && bias)
        for (size_t j = 0; j < cols; j++)
            check_val(bias[j], bnan[j] ? (LD)NAN : bref[j], btol[j] + C * fabsl(sc), "bias_grad", 0, j);
    free(t), free(e), free(bref), free(btol), free(bnan);
    free(loss), free(grad), free(lse), free(bias);
}

/* ---- Variants: compare outputs bitwise ---------------------------------------------------------------- */

typedef struct {
    double *v[B_COUNT];
    size_t n[B_COUNT];
} Outs;

static void outs_get(Mem *m, Outs *o)
{
    memset(o, 0, sizeof *o);
    int ks[] = {B_LOSS, B_GRAD, B_LSE, B_BIAS};
    for (int q = 0; q < 4; q++)
        if (m->have[ks[q]] && m->ptr[ks[q]]) o->v[ks[q]] = mem_get(m, ks[q], &o->n[ks[q]]);
}

static void outs_free(Outs *o)
{
    for (int k = 0; k < B_COUNT; k++) free(o->v[k]);
}

static XF_CHECKER void outs_same(const Outs *a, const Outs *b, const char *what)
{
    for (int k = 0; k < B_COUNT; k++) {
        if (!a->v[k] || !b->v[k]) continue;
        if (a->n[k] != b->n[k]) FAIL("%s: %s sizes differ", what, buf_names[k]);
        for (size_t i = 0; i < a->n[k]; i++)
            /* bitwise, except that the sign and payload of a NaN are not compared (see fuzz/README.md) */
            if (memcmp(&a->v[k][i], &b->v[k][i], sizeof(double)) && !(isnan(a->v[k][i]) && isnan(b->v[k][i])))
                FAIL("%s: %s element %zu differs: %.17g vs %.17g", what, buf_names[k], i, a->v[k][i], b->v[k][i]);
    }
}

/* Runs a fresh call of s with the given placement; it must succeed; returns its outputs. */
static void run_variant(Spec *s, int alias_mode, int inplace, Outs *o, const char *what)
{
    Mem m;
    mem_build(&m, s, alias_mode, inplace);
    mem_snapshot(&m);
    xent_status st = mem_call(&m);
    if (st != XENT_OK) FAIL("%s: status %d (%s)", what, st, xent_last_error_message());
    mem_check_untouched(&m, 1);
    outs_get(&m, o);
    mem_free(&m);
}

/* ---- Oracles for the 1.1 functions: sharded statistics and bfloat16 --------------------------------------- *
 * After a successful hard-label cross-entropy call, the same problem is solved again through the 1.1 entry points
 * and compared with the call's own outputs:
 *   - shards: the columns split at random boundaries into 1-4 shards; xent_partial_stats on each, merged in order
 *     (in place), xent_finalize_stats, xent_grad_from_stats per shard. Loss, lse and gradient must agree with the
 *     unsharded call within the element type's tolerance (NaN where it is NaN, the same infinities);
 *   - bfloat16 (f32 calls): the logits rounded to bfloat16; xent_cross_entropy_bf16 must equal
 *     xent_cross_entropy_ex_f32 on the widened logits bit for bit (loss, lse, grad_f32), and its grad_bf16 must be
 *     that gradient rounded to nearest-even, also when written in place over the logits.
 * Shapes and options are the call's; buffers are fresh, exactly sized heap blocks (ASan catches any overrun).
 * The choices come from the input's random stream, so an input replays exactly. */

static XF_CHECKER int close_enough(double a, double b, double tol)
{
    if (isnan(b)) return isnan(a);
    if (isinf(b)) return a == b;
    return isfinite(a) && fabs(a - b) <= tol;
}

/* Rows the numeric comparisons skip: logits spanning more than half the type's range or within 4x of its maximum
 * (the library's element-typed differences may overflow there, see "Limitations"). */
static XF_CHECKER int row_extreme(const double *x, size_t cols)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < cols; j++) {
        if (!isfinite(x[j])) continue;
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
        if (fabs(x[j]) > 0.25 * TMAX()) return 1;
    }
    return hi > lo && hi - lo > 0.5 * TMAX();
}

static void *xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) abort(); return p; }

/* The call's logical logits as a fresh dense rows x cols matrix of its element type (an exactly sized block). */
static XF_CHECKER void *dense_logits(const Spec *s)
{
    size_t n = s->rows * s->cols;
    void *x = xmalloc(n * s->es);
    for (size_t i = 0; i < n; i++) {
        if (s->f64) ((double *)x)[i] = s->x[i];
        else ((float *)x)[i] = (float)s->x[i];
    }
    return x;
}

static XF_CHECKER void oracle_shards(const Spec *s, const xent_options *o, const Outs *base)
{
    size_t rows = s->rows, cols = s->cols, es = s->es;
    /* shard boundaries: 0 = b[0] < b[1] < ... < b[k] = cols */
    size_t k = 1 + rnd() % 4, b[5];
    if (k > cols) k = cols;
    b[0] = 0, b[k] = cols;
    for (size_t q = 1; q < k; q++) b[q] = b[q - 1] + 1 + rnd() % (cols - b[q - 1] - (k - q));
    void *x = dense_logits(s), *g = xmalloc(rows * cols * es);
    xent_stats *acc = xmalloc(rows * sizeof *acc), *part = xmalloc(rows * sizeof *part);
    double *loss = xmalloc((rows + 1) * sizeof(double)), *lse = xmalloc((rows + 1) * sizeof(double));
    xent_status st;
    for (size_t q = 0; q < k; q++) {
        const void *xq = (const char *)x + b[q] * es;
        xent_stats *out = q == 0 ? acc : part;
        st = s->f64 ? xent_partial_stats_f64(xq, rows, b[q + 1] - b[q], cols, b[q], cols, s->labels, o, out)
                    : xent_partial_stats_f32(xq, rows, b[q + 1] - b[q], cols, b[q], cols, s->labels, o, out);
        if (st != XENT_OK) FAIL("shards: xent_partial_stats shard %zu/%zu: status %d (%s)", q, k, st, xent_last_error_message());
        if (q > 0 && (st = xent_merge_stats(acc, part, acc, rows)) != XENT_OK)
            FAIL("shards: xent_merge_stats: status %d (%s)", st, xent_last_error_message());
    }
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    if (s->f64) st = xent_finalize_stats_f64(acc, rows, cols, s->labels, o, loss, lse);
    else {
        float *lf = xmalloc((rows + 1) * sizeof(float)), *ef = xmalloc((rows + 1) * sizeof(float));
        st = xent_finalize_stats_f32(acc, rows, cols, s->labels, o, lf, ef);
        for (size_t i = 0; i < nl; i++) loss[i] = lf[i];
        for (size_t i = 0; i < rows; i++) lse[i] = ef[i];
        free(lf), free(ef);
    }
    if (st != XENT_OK) FAIL("shards: xent_finalize_stats: status %d (%s)", st, xent_last_error_message());
    for (size_t q = 0; q < k; q++) {
        size_t off = b[q] * es;
        st = s->f64 ? xent_grad_from_stats_f64((const double *)((const char *)x + off), rows, b[q + 1] - b[q], cols, b[q],
                                               cols, s->labels, acc, o, (double *)((char *)g + off), cols)
                    : xent_grad_from_stats_f32((const float *)((const char *)x + off), rows, b[q + 1] - b[q], cols, b[q],
                                               cols, s->labels, acc, o, (float *)((char *)g + off), cols);
        if (st != XENT_OK) FAIL("shards: xent_grad_from_stats shard %zu/%zu: status %d (%s)", q, k, st, xent_last_error_message());
    }
    /* tolerances: C relative to the row's scale (its largest |logit|, the loss) */
    double C = s->f64 ? 1e-12 : 2e-5;
    int64_t ignore = s->opts_null ? -100 : s->ignore;
    double eps = s->opts_null ? 0 : s->smoothing, gs = s->opts_null ? 1 : s->gscale;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++) counted += s->labels[i] != ignore;
    double sc = red == XENT_REDUCTION_MEAN ? (counted ? fabs(gs) / (double)counted : 0) : fabs(gs);
    int all_ok = 1;
    double tol_sum = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *xr = s->x + i * cols;
        if (row_extreme(xr, cols)) { all_ok = 0; continue; }
        double maxabs = 0;
        for (size_t j = 0; j < cols; j++)
            if (isfinite(xr[j]) && fabs(xr[j]) > maxabs) maxabs = fabs(xr[j]);
        double tol = C * (4 + 4 * maxabs + 4 * log((double)cols + 1));
        tol_sum += tol;
        if (base->v[B_LSE] && !close_enough(lse[i], base->v[B_LSE][i], tol))
            FAIL("shards (%zu): lse[%zu] %.17g vs unsharded %.17g (tol %.3g)", k, i, lse[i], base->v[B_LSE][i], tol);
        if (red == XENT_REDUCTION_NONE && !close_enough(loss[i], base->v[B_LOSS][i], tol * (1 + eps)))
            FAIL("shards (%zu): loss[%zu] %.17g vs unsharded %.17g (tol %.3g)", k, i, loss[i], base->v[B_LOSS][i], tol);
        if (base->v[B_GRAD] && sc * 4 < 0.25 * TMAX())
            for (size_t j = 0; j < cols; j++) {
                double gj = s->f64 ? ((double *)g)[i * cols + j] : ((float *)g)[i * cols + j];
                double ref = base->v[B_GRAD][i * cols + j];
                if (!close_enough(gj, ref, C * (fabs(ref) + sc) + 4 * TRUEMIN()))
                    FAIL("shards (%zu): grad[%zu,%zu] %.17g vs unsharded %.17g", k, i, j, gj, ref);
            }
    }
    if (red != XENT_REDUCTION_NONE && all_ok && !(fabs(base->v[B_LOSS][0]) > 0.25 * DBL_MAX)) {
        double tol = (red == XENT_REDUCTION_MEAN && counted ? tol_sum / (double)counted : tol_sum) * (1 + eps);
        if (!close_enough(loss[0], base->v[B_LOSS][0], tol + C * fabs(base->v[B_LOSS][0])))
            FAIL("shards (%zu): reduced loss %.17g vs unsharded %.17g (tol %.3g)", k, loss[0], base->v[B_LOSS][0], tol);
    }
    free(x), free(g), free(acc), free(part), free(loss), free(lse);
}

static uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}
static float bf16_widen(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

static XF_CHECKER void same_bits_f32(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) && !(isnan(a[i]) && isnan(b[i])))
            FAIL("bf16: %s element %zu: %.9g vs %.9g (f32 path on the widened logits)", what, i, a[i], b[i]);
}

static XF_CHECKER void oracle_bf16(const Spec *s, const xent_options *o)
{
    size_t rows = s->rows, cols = s->cols, n = rows * cols;
    int red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    uint16_t *h = xmalloc(n * 2), *gh = xmalloc(n * 2);
    float *w = xmalloc(n * 4), *g32 = xmalloc(n * 4), *gb = xmalloc(n * 4);
    float *l1 = xmalloc(nl * 4), *l2 = xmalloc(nl * 4), *e1 = xmalloc(rows * 4 + 4), *e2 = xmalloc(rows * 4 + 4);
    for (size_t i = 0; i < n; i++) {
        h[i] = bf16_round((float)s->x[i]);
        w[i] = bf16_widen(h[i]);
    }
    xent_status a = xent_cross_entropy_ex_f32(w, rows, cols, cols, s->labels, o, l1, g32, cols, e1, NULL);
    if (a != XENT_OK) FAIL("bf16: xent_cross_entropy_ex_f32 on the widened logits: status %d (%s)", a, xent_last_error_message());
    xent_status b = xent_cross_entropy_bf16(h, rows, cols, cols, s->labels, o, l2, gb, NULL, cols, e2);
    if (b != XENT_OK) FAIL("bf16: xent_cross_entropy_bf16 (grad_f32): status %d (%s)", b, xent_last_error_message());
    same_bits_f32(l2, l1, nl, "loss");
    same_bits_f32(e2, e1, rows, "lse");
    same_bits_f32(gb, g32, n, "grad_f32");
    /* grad_bf16: out of place, or in place over the logits */
    int inplace = rnd() & 1;
    uint16_t *dst = inplace ? h : gh;
    b = xent_cross_entropy_bf16(h, rows, cols, cols, s->labels, o, l2, NULL, dst, cols, NULL);
    if (b != XENT_OK) FAIL("bf16: xent_cross_entropy_bf16 (grad_bf16%s): status %d (%s)", inplace ? ", in place" : "", b,
                           xent_last_error_message());
    same_bits_f32(l2, l1, nl, "loss (grad_bf16 call)");
    for (size_t i = 0; i < n; i++) {
        uint16_t want = bf16_round(g32[i]);
        int nan_both = isnan(g32[i]) && isnan(bf16_widen(dst[i]));
        if (dst[i] != want && !nan_both)
            FAIL("bf16: grad_bf16[%zu] = 0x%04x, expected 0x%04x (the f32 gradient %.9g rounded)%s", i, dst[i], want, g32[i],
                 inplace ? ", in place" : "");
    }
    free(h), free(gh), free(w), free(g32), free(gb), free(l1), free(l2), free(e1), free(e2);
}

/* The 1.1 options on the same problem (hard labels): xent_cross_entropy_ex_* again with a z-loss (lambda, its
 * z_loss_out), a soft cap c and/or class weights drawn from the input's random stream (valid values only), against
 * a long double reference of the header's formulas: logits x' = c*tanh(x/c) (-inf kept, +inf -> c), targets
 * t_j = (1 - eps)*w_y*[j == y] + eps*w_j/cols, loss_i = sum_j t_j*(lse' - x'_j), MEAN over sum of w_y; z_i =
 * lambda*lse'^2, MEAN over the counted rows; gradient (s*(p_j*sum(t) - t_j) + s_z*2*lambda*lse'*p_j) *
 * (1 - tanh^2(x_j/c)) with s = grad_scale/sum(w_y), s_z = grad_scale/counted (MEAN). */
static XF_CHECKER void oracle_options11(const Spec *s)
{
    size_t rows = s->rows, cols = s->cols, es = s->es, n = rows * cols;
    static const double lambdas[] = {0, 0, 1e-4, 0.5}, caps[] = {0, 0, 0.5, 5, 30}, wv[] = {0, 0.5, 1, 2, 1e-3};
    double lambda = lambdas[rnd() % 4], cap = caps[rnd() % 5];
    int weighted = rnd() % 3 == 0;
    if (lambda == 0 && cap == 0 && !weighted) return;
    double *W = weighted ? xmalloc(cols * sizeof(double)) : NULL;
    for (size_t j = 0; weighted && j < cols; j++) W[j] = wv[rnd() % 5];
    xent_options o;
    xent_options_init(&o);
    if (!s->opts_null) {
        o.reduction = s->reduction, o.num_threads = s->threads, o.ignore_index = s->ignore;
        o.label_smoothing = s->smoothing, o.grad_scale = s->gscale;
    }
    o.z_loss = (float)lambda, o.soft_cap = (float)cap, o.class_weights = W;
    lambda = o.z_loss, cap = o.soft_cap; /* the values the library sees */
    char what[5][96];
    static const char *names[5] = {"lse", "loss", "z_loss", "grad", "reduced"};
    for (int k = 0; k < 5; k++)
        snprintf(what[k], sizeof what[k], "options 1.1 (z_loss %g, soft_cap %g, weights %s): %s", lambda, cap,
                 W ? "yes" : "no", names[k]);
    int red = o.reduction;
    size_t nl = red == XENT_REDUCTION_NONE ? rows : 1;
    double *zout = xmalloc(nl * sizeof(double));
    o.z_loss_out = zout;
    void *x = dense_logits(s), *g = xmalloc(n * es), *loss = xmalloc(nl * es), *lse = xmalloc(rows * es);
    xent_status st = s->f64 ? xent_cross_entropy_ex_f64(x, rows, cols, cols, s->labels, &o, loss, g, cols, lse, NULL)
                            : xent_cross_entropy_ex_f32(x, rows, cols, cols, s->labels, &o, loss, g, cols, lse, NULL);
    if (st != XENT_OK)
        FAIL("options 1.1 (z_loss %g, soft_cap %g, weights %d): status %d (%s)", lambda, cap, weighted, st,
             xent_last_error_message());
#define GET(p, k) (s->f64 ? ((double *)(p))[k] : (double)((float *)(p))[k])
    LD eps = o.label_smoothing, gs = o.grad_scale, C = s->f64 ? 1e-12L : 2e-6L;
    LD captol = cap > 0 ? 8 * (LD)cap * (s->f64 ? 0x1p-52L : 0x1p-23L) : 0;
    LD wsum = 0, wall = 0;
    size_t counted = 0;
    for (size_t i = 0; i < rows; i++)
        if (s->labels[i] != o.ignore_index) counted++, wsum += W ? W[s->labels[i]] : 1;
    for (size_t j = 0; j < cols; j++) wall += W ? W[j] : 1;
    LD denom = red == XENT_REDUCTION_MEAN ? wsum : 1, zden = red == XENT_REDUCTION_MEAN ? (LD)counted : 1;
    LD sc = denom == 0 ? 0 : gs / denom, zsc = zden == 0 ? 0 : gs / zden;
    double *xr = xmalloc((cols + 1) * sizeof(double));
    LD *e = xmalloc((cols + 1) * sizeof(LD)), *t = xmalloc((cols + 1) * sizeof(LD));
    LD total = 0, ztotal = 0, tolsum = 0, ztolsum = 0;
    int reduce_ok = 1;
    for (size_t i = 0; i < rows; i++) {
        const double *xi = s->x + i * cols;
        for (size_t j = 0; j < cols; j++)
            xr[j] = cap > 0 && !isnan(xi[j]) && xi[j] != -INFINITY ? (double)(cap * tanhl((LD)xi[j] / cap)) : xi[j];
        if (row_extreme(xr, cols)) { reduce_ok = 0; continue; }
        RowRef r = row_ref(xr, cols, e);
        check_val(GET(lse, i), r.lse, C * fmaxl(1, fabsl(r.lse)) + captol, what[0], i, 0);
        int64_t y = s->labels[i];
        if (y == o.ignore_index) {
            if (red == XENT_REDUCTION_NONE && (GET(loss, i) != 0 || zout[i] != 0))
                FAIL("options 1.1: ignored row %zu: loss %g, z %g", i, GET(loss, i), zout[i]);
            for (size_t j = 0; j < cols; j++)
                if (GET(g, i * cols + j) != 0) FAIL("options 1.1: grad[%zu,%zu] of an ignored row is %g", i, j, GET(g, i * cols + j));
            continue;
        }
        LD tsum = 0, tabs = 0;
        for (size_t j = 0; j < cols; j++) {
            t[j] = (1 - eps) * (W ? W[y] : 1) * ((int64_t)j == y) + eps * (W ? W[j] : 1) / (LD)cols;
            tsum += t[j], tabs += fabsl(t[j]);
        }
        LD S;
        LD L = ref_row_loss(&r, xr, t, cols, tsum, &S);
        LD z = lambda == 0 ? 0 : (LD)lambda * r.lse * r.lse;
        LD ltol = C * S + captol * (1 + tabs) * 2;
        LD ztol = !isfinite(r.lse) ? 0 /* exact: inf, NaN */
                  : C * (1 + 4 * (LD)lambda * fmaxl(1, fabsl(r.lse)) * fmaxl(1, fabsl(r.lse))) + 4 * (LD)lambda * fabsl(r.lse) * captol;
        if (!isnan(L) && !isinf(L) && fabsl(L) > 0.25L * TMAX()) { reduce_ok = 0; continue; }
        if (isnan(L) || isinf(L) || isnan(z) || isinf(z)) reduce_ok = 0;
        else total += L, ztotal += z, tolsum += ltol, ztolsum += ztol;
        if (red == XENT_REDUCTION_NONE) {
            check_val(GET(loss, i), L, ltol, what[1], i, 0);
            check_val(zout[i], z, ztol, what[2], i, 0);
        }
        LD zterm = lambda == 0 ? 0 : zsc * 2 * (LD)lambda * r.lse;
        if (fabsl(sc) * (1 + tabs) + fabsl(zterm) > 0.25L * TMAX() || isnan(zterm)) continue;
        /* the z term's error is absolute in lse (cancellation when lse is near 0): 2*lambda*s_z*(error of lse) */
        LD zlse = lambda == 0 || !isfinite(r.lse) ? 0 : fabsl(zsc) * 2 * (LD)lambda * (2 * C * fmaxl(1, fabsl(r.lse)) + 2 * captol);
        LD gt = 2 * C * (fabsl(sc) * (1 + tabs) + fabsl(zterm)) + (fabsl(sc) * tabs + fabsl(zterm)) * captol * 2 + zlse +
                4 * TRUEMIN();
        for (size_t j = 0; j < cols; j++) {
            LD p = r.nan ? (LD)NAN : r.allneg ? 0 : e[j] / r.sum;
            LD d = cap > 0 ? (isnan(xi[j]) ? (LD)NAN : 1 - tanhl((LD)xi[j] / cap) * tanhl((LD)xi[j] / cap)) : 1;
            LD ref = (sc * (p * tsum - t[j]) + zterm * p) * d;
            check_val(GET(g, i * cols + j), ref, gt, what[3], i, j);
        }
    }
    if (red != XENT_REDUCTION_NONE && reduce_ok) {
        LD ref = red == XENT_REDUCTION_MEAN ? (denom == 0 ? 0 : total / denom) : total;
        LD tol = red == XENT_REDUCTION_MEAN && denom != 0 ? tolsum / denom : tolsum;
        if (!(fabsl(ref) > 0.25L * DBL_MAX)) check_val(GET(loss, 0), ref, tol + C * fabsl(ref), what[4], 0, 0);
        LD zref = red == XENT_REDUCTION_MEAN ? (zden == 0 ? 0 : ztotal / zden) : ztotal;
        LD ztol = red == XENT_REDUCTION_MEAN && zden != 0 ? ztolsum / zden : ztolsum;
        if (!(fabsl(zref) > 0.25L * DBL_MAX)) check_val(zout[0], zref, ztol + C * fabsl(zref), what[4], 0, 0);
    }
#undef GET
    (void)wall;
    free(W), free(zout), free(x), free(g), free(loss), free(lse), free(xr), free(e), free(t);
}

/* xent_options_init_size writes exactly min(size, sizeof) bytes: the defaults and struct_size. */
/* Check 8: one invalid argument of a 1.1 entry point or option, on an otherwise valid problem (the successful
 * hard-label call's shape, labels and options), so that the header's rules name exactly one status: that status
 * is returned, the message is non-empty, and no byte of any buffer (outputs, inputs, statistics) changed. */
enum { I_ZLOSS, I_CAP, I_WEIGHT, I_SOFT_WEIGHTS, I_PS_SHAPE, I_PS_LABEL, I_PS_UNSUP, I_PS_NULL, I_PS_ALIAS, I_MERGE_ALIAS,
       I_MERGE_NULL, I_FIN_COUNT, I_FIN_SEEN, I_FIN_NULL, I_GS_STRIDE, I_GS_ALIAS, I_BF16_BOTH, I_COUNT };
static const char *inv_names[I_COUNT] = {"z_loss", "soft_cap", "class weight", "class_weights with soft targets",
    "partial_stats col_offset + cols > total_cols", "partial_stats label >= total_cols", "partial_stats z_loss/class_weights",
    "partial_stats NULL", "partial_stats stats over the logits", "merge_stats partial overlap", "merge_stats NULL",
    "finalize_stats count != total_cols", "finalize_stats label_seen != 1", "finalize_stats loss NULL",
    "grad_from_stats grad_stride < cols", "grad_from_stats grad over the logits + 1", "bf16 both gradients"};

/* A heap block and its snapshot, compared after the call. */
typedef struct { void *p; size_t n; void *copy; } Canary;
static void canary_take(Canary *c, void *p, size_t n)
{
    c->p = p, c->n = n, c->copy = xmalloc(n);
    memcpy(c->copy, p, n);
}
static XF_CHECKER void canary_check(Canary *c, int k, const char *what)
{
    if (c->p && memcmp(c->p, c->copy, c->n))
        for (size_t i = 0; i < c->n; i++)
            if (((uint8_t *)c->p)[i] != ((uint8_t *)c->copy)[i])
                FAIL("invalid 1.1 argument (%s): %s byte %zu changed on error", inv_names[k], what, i);
    free(c->copy);
}
static void fill_pattern(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)(0xA5 ^ (i * 7));
}

static XF_CHECKER void oracle_invalid11(const Spec *s)
{
    size_t rows = s->rows, cols = s->cols, es = s->es, n = rows * cols;
    int k = (int)(rnd() % I_COUNT);
    xent_options o;
    xent_options_init_size(&o, sizeof o);
    if (!s->opts_null) {
        o.reduction = s->reduction, o.num_threads = s->threads, o.ignore_index = s->ignore;
        o.label_smoothing = s->smoothing, o.grad_scale = s->gscale;
    }
    static const float bad_f[] = {-1.0f, -0.0001f, NAN, INFINITY, -INFINITY};
    static const double bad_d[] = {-1.0, -1e-300, NAN, INFINITY, -INFINITY};
    /* one block for the logits (+ room: some cases point other arguments into it), the labels, the outputs */
    size_t xbytes = (n + 8) * es + (rows + 2) * sizeof(xent_stats);
    char *x = xmalloc(xbytes);
    fill_pattern(x, xbytes);
    void *xd = dense_logits(s);
    memcpy(x, xd, n * es);
    free(xd);
    int64_t *lab = xmalloc(rows * sizeof *lab);
    memcpy(lab, s->labels, rows * sizeof *lab);
    size_t nl = (s->opts_null ? XENT_REDUCTION_MEAN : s->reduction) == XENT_REDUCTION_NONE ? rows : 1;
    char *loss = xmalloc(nl * 8 + 8), *lse = xmalloc(rows * 8 + 8), *g = xmalloc(n * es + 8);
    double *w = xmalloc(cols * sizeof *w), *zout = xmalloc(rows * 8 + 8);
    xent_stats *st = xmalloc(rows * sizeof *st), *st2 = xmalloc(rows * sizeof *st2), *stm = xmalloc((rows + 1) * sizeof *stm);
    fill_pattern(loss, nl * 8 + 8), fill_pattern(lse, rows * 8 + 8), fill_pattern(g, n * es + 8);
    fill_pattern(zout, rows * 8 + 8);
    for (size_t j = 0; j < cols; j++) w[j] = 1.0 + (double)(rnd() % 4);
    /* valid merged statistics of the whole rows (one shard), for the finalize / gradient cases */
    xent_status vst = s->f64 ? xent_partial_stats_f64((const double *)x, rows, cols, cols, 0, cols, lab, &o, st)
                             : xent_partial_stats_f32((const float *)x, rows, cols, cols, 0, cols, lab, &o, st);
    if (vst != XENT_OK) FAIL("invalid 1.1 argument: the valid partial_stats call failed: %d (%s)", vst, xent_last_error_message());
    memcpy(st2, st, rows * sizeof *st);
    size_t live = rows;
    for (size_t i = 0; i < rows; i++)
        if (lab[i] != o.ignore_index) { live = i; break; }
    if (k == I_FIN_SEEN && live == rows) k = I_FIN_COUNT; /* every row ignored: label_seen is not checked */
    if (k == I_GS_ALIAS && n < 2) k = I_GS_STRIDE; /* one element: no partial overlap exists */

    Canary c[10];
    int nc = 0;
    canary_take(&c[nc++], x, xbytes);
    canary_take(&c[nc++], lab, rows * sizeof *lab);
    canary_take(&c[nc++], loss, nl * 8 + 8);
    canary_take(&c[nc++], lse, rows * 8 + 8);
    canary_take(&c[nc++], g, n * es + 8);
    canary_take(&c[nc++], zout, rows * 8 + 8);
    canary_take(&c[nc++], st, rows * sizeof *st);
    canary_take(&c[nc++], w, cols * sizeof *w);

    xent_status want = XENT_OK, got = XENT_OK;
    const float *xf = (const float *)x;
    const double *xdd = (const double *)x;
    switch (k) {
    case I_ZLOSS: case I_CAP: case I_WEIGHT: {
        if (k == I_ZLOSS) o.z_loss = bad_f[rnd() % 5];
        if (k == I_CAP) o.soft_cap = bad_f[rnd() % 5];
        if (k == I_WEIGHT) {
            double *w2 = xmalloc(cols * sizeof *w2);
            memcpy(w2, w, cols * sizeof *w2);
            w2[rnd() % cols] = bad_d[rnd() % 5];
            free(c[nc - 1].copy); /* w2 replaces w's canary (w is not passed) */
            canary_take(&c[nc - 1], w2, cols * sizeof *w2);
            o.class_weights = w2;
        }
        o.z_loss_out = rnd() & 1 ? zout : NULL;
        want = XENT_ERR_INVALID_OPTION;
        got = s->f64 ? xent_cross_entropy_ex_f64(xdd, rows, cols, cols, lab, &o, (double *)loss, (double *)g, cols, (double *)lse, NULL)
                     : xent_cross_entropy_ex_f32(xf, rows, cols, cols, lab, &o, (float *)loss, (float *)g, cols, (float *)lse, NULL);
        break;
    }
    case I_SOFT_WEIGHTS: {
        void *t = xmalloc(n * es);
        for (size_t i = 0; i < n; i++) {
            if (s->f64) ((double *)t)[i] = 1.0 / (double)cols;
            else ((float *)t)[i] = 1.0f / (float)cols;
        }
        o.class_weights = w;
        want = XENT_ERR_UNSUPPORTED;
        got = s->f64 ? xent_soft_cross_entropy_ex_f64(xdd, rows, cols, cols, (const double *)t, cols, &o, (double *)loss,
                                                     (double *)g, cols, (double *)lse, NULL)
                     : xent_soft_cross_entropy_ex_f32(xf, rows, cols, cols, (const float *)t, cols, &o, (float *)loss,
                                                     (float *)g, cols, (float *)lse, NULL);
        free(t);
        break;
    }
    case I_PS_SHAPE: case I_PS_LABEL: case I_PS_UNSUP: case I_PS_NULL: case I_PS_ALIAS: {
        size_t off = 0, total = cols;
        const int64_t *lp = lab;
        xent_stats *out = st;
        const void *xp = x;
        int64_t *lab2 = NULL;
        if (k == I_PS_SHAPE) off = 1 + rnd() % 3, want = XENT_ERR_INVALID_SHAPE;
        if (k == I_PS_LABEL) {
            lab2 = xmalloc(rows * sizeof *lab2);
            memcpy(lab2, lab, rows * sizeof *lab2);
            size_t r = rnd() % rows;
            lab2[r] = lab2[r] == o.ignore_index ? lab2[r] : (rnd() & 1 ? (int64_t)total : -1 - (int64_t)(rnd() % 3));
            if (lab2[r] == o.ignore_index) lab2[r] = (int64_t)total + 1; /* ignore_index may be -1 or -2 */
            if (lab2[r] == o.ignore_index) lab2[r] = (int64_t)total + 2;
            lp = lab2;
            want = XENT_ERR_LABEL_OUT_OF_RANGE;
        }
        if (k == I_PS_UNSUP) {
            if (rnd() & 1) o.z_loss = 0.25f;
            else o.class_weights = w;
            want = XENT_ERR_UNSUPPORTED;
        }
        if (k == I_PS_NULL) {
            int which = (int)(rnd() % 3);
            if (which == 0) xp = NULL;
            if (which == 1) lp = NULL;
            if (which == 2) out = NULL;
            want = XENT_ERR_NULL_POINTER;
        }
        if (k == I_PS_ALIAS) { /* stats starting inside the logits (8-byte aligned) */
            out = (xent_stats *)(x + 8 * (rnd() % ((n * es + 7) / 8)));
            want = XENT_ERR_ALIASING;
        }
        got = s->f64 ? xent_partial_stats_f64((const double *)xp, rows, cols, cols, off, total, lp, &o, out)
                     : xent_partial_stats_f32((const float *)xp, rows, cols, cols, off, total, lp, &o, out);
        free(lab2);
        break;
    }
    case I_MERGE_ALIAS: {
        memcpy(stm, st, rows * sizeof *st);
        canary_take(&c[nc++], stm, (rows + 1) * sizeof *stm);
        xent_stats *out = (xent_stats *)((char *)stm + 8 * (1 + rnd() % 5)); /* partial overlap with a */
        want = XENT_ERR_ALIASING;
        got = xent_merge_stats(stm, st2, out, rows);
        break;
    }
    case I_MERGE_NULL: {
        int which = (int)(rnd() % 3);
        want = XENT_ERR_NULL_POINTER;
        got = xent_merge_stats(which == 0 ? NULL : st, which == 1 ? NULL : st2, which == 2 ? NULL : stm, rows);
        break;
    }
    case I_FIN_COUNT: case I_FIN_SEEN: case I_FIN_NULL: {
        xent_stats *bad = st;
        if (k == I_FIN_COUNT) {
            memcpy(stm, st, rows * sizeof *st);
            stm[rnd() % rows].count = (double)cols - 1 - (double)(rnd() % 2);
            bad = stm;
            want = XENT_ERR_INVALID_SHAPE;
        }
        if (k == I_FIN_SEEN) {
            memcpy(stm, st, rows * sizeof *st);
            stm[live].label_seen = rnd() & 1 ? 0 : 2;
            bad = stm;
            want = XENT_ERR_INVALID_SHAPE;
        }
        if (k == I_FIN_NULL) want = XENT_ERR_NULL_POINTER;
        if (bad == stm) canary_take(&c[nc++], stm, rows * sizeof *stm);
        void *lo = k == I_FIN_NULL ? NULL : loss;
        got = s->f64 ? xent_finalize_stats_f64(bad, rows, cols, lab, &o, (double *)lo, (double *)lse)
                     : xent_finalize_stats_f32(bad, rows, cols, lab, &o, (float *)lo, (float *)lse);
        break;
    }
    case I_GS_STRIDE: case I_GS_ALIAS: {
        size_t gs = cols;
        void *gp = g;
        if (k == I_GS_STRIDE) { gs = cols - 1 - (size_t)(rnd() % (cols < 3 ? cols : 3)); want = XENT_ERR_INVALID_SHAPE; }
        if (k == I_GS_ALIAS) { gp = x + es * (1 + rnd() % (n - 1)); want = XENT_ERR_ALIASING; } /* inside, not at x */
        got = s->f64 ? xent_grad_from_stats_f64(xdd, rows, cols, cols, 0, cols, lab, st, &o, (double *)gp, gs)
                     : xent_grad_from_stats_f32(xf, rows, cols, cols, 0, cols, lab, st, &o, (float *)gp, gs);
        break;
    }
    case I_BF16_BOTH: {
        uint16_t *h = xmalloc(n * 2 + 2), *gh = xmalloc(n * 2 + 2);
        for (size_t i = 0; i < n; i++) h[i] = bf16_round((float)s->x[i]);
        fill_pattern(gh, n * 2 + 2);
        canary_take(&c[nc++], h, n * 2 + 2);
        canary_take(&c[nc++], gh, n * 2 + 2);
        want = XENT_ERR_INVALID_OPTION;
        got = xent_cross_entropy_bf16(h, rows, cols, cols, lab, &o, (float *)loss, (float *)g, gh, cols, (float *)lse);
        canary_check(&c[--nc], k, "grad_bf16");
        canary_check(&c[--nc], k, "bf16 logits");
        free(h), free(gh);
        break;
    }
    }
    if (got != want)
        FAIL("invalid 1.1 argument (%s): status %d (\"%s\"), expected %d", inv_names[k], got, xent_last_error_message(), want);
    const char *msg = xent_last_error_message();
    if (!msg || !*msg) FAIL("invalid 1.1 argument (%s): status %d with an empty message", inv_names[k], got);
    static const char *what[] = {"logits", "labels", "loss", "lse", "grad", "z_loss_out", "stats", "class weights",
                                 "stats (2)", "stats (3)"};
    while (nc > 0) {
        nc--;
        canary_check(&c[nc], k, what[nc]);
    }
    if (k == I_WEIGHT) free((void *)o.class_weights);
    free(x), free(lab), free(loss), free(lse), free(g), free(w), free(zout), free(st), free(st2), free(stm);
}

static XF_CHECKER void oracle_options_init(void)
{
    size_t size = rnd() % (sizeof(xent_options) + 24);
    uint8_t buf[sizeof(xent_options) + 32];
    memset(buf, 0xA7, sizeof buf);
    if (size >= sizeof(size_t)) memcpy(buf, &size, sizeof(size_t));
    xent_options_init_size((xent_options *)(void *)buf, size);
    size_t wrote = size < sizeof(size_t) ? 0 : size < sizeof(xent_options) ? size : sizeof(xent_options);
    for (size_t i = wrote; i < sizeof buf; i++)
        if (buf[i] != 0xA7) FAIL("xent_options_init_size(%zu) wrote byte %zu", size, i);
    if (wrote) {
        xent_options d;
        memset(&d, 0, sizeof d);
        d.struct_size = wrote;
        d.reduction = XENT_REDUCTION_MEAN, d.ignore_index = -100, d.grad_scale = 1;
        for (size_t i = 0; i < wrote; i++)
            if (buf[i] != ((uint8_t *)&d)[i])
                FAIL("xent_options_init_size(%zu): byte %zu is 0x%02x, expected 0x%02x", size, i, buf[i], ((uint8_t *)&d)[i]);
    }
}

/* ---- Entry point ------------------------------------------------------------------------------------------- */

static void describe(const Spec *s, const void *const ptr[B_COUNT])
{
    snprintf(xf_desc, sizeof xf_desc,
             "xent_%s_%s rows=%zu cols=%zu row_stride=%zu grad_stride=%zu target_stride=%zu out_stride=%zu "
             "opts=%s struct_size=%zu reduction=%d threads=%d ignore=%lld smoothing=%g grad_scale=%g "
             "grad=%d lse=%d bias=%d null=0x%x alias=%d inplace=%d guard=%d virtual=%d ptrs=[%p %p %p %p %p %p]",
             fn_names[s->fn], s->f64 ? "f64" : "f32", s->rows, s->cols, s->rstride, s->gstride, s->tstride,
             s->ostride, s->opts_null ? "NULL" : "set", s->struct_size, s->reduction, s->threads,
             (long long)s->ignore, (double)s->smoothing, (double)s->gscale, s->has_grad, s->has_lse, s->has_bias,
             s->nullmask, s->alias, s->inplace, s->guard, s->virt, ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], ptr[5]);
}

static int known_enabled = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    const char *k = getenv("XENT_FUZZ_KNOWN");
    known_enabled = !(k && *k == '0'); /* A and B are fixed (1.1.0): replayed by default */
    const char *v = getenv("XENT_FUZZ_VERBOSE");
    xf_verbose = v ? atoi(v) : 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!page_size) LLVMFuzzerInitialize(NULL, NULL);
    Rd r = {data, size, 0};
    Spec s;
    decode(&r, &s);
    f64g = s.f64;
    Mem m;
    mem_build(&m, &s, s.alias, s.inplace);
    int expect = expected_status(&s, m.ptr);
    describe(&s, (const void *const *)m.ptr);
    if (xf_verbose) fprintf(stderr, "%s\n  expected %d (%s)%s\n", xf_desc, expect, xf_reason, xf_known ? " [known]" : "");
    if (xf_verbose > 1 && !s.virt && s.cols)
        for (size_t i = 0; i < s.rows && i < 64; i++) {
            fprintf(stderr, "  row %zu label %lld:", i, (long long)s.labels[i]);
            for (size_t j = 0; j < s.cols && j < 64; j++) fprintf(stderr, " %.9g", s.x[i * s.cols + j]);
            if (s.fn == F_SOFT || s.fn == F_SOFT_EX) {
                fprintf(stderr, "\n    targets:");
                for (size_t j = 0; j < s.cols && j < 64; j++) fprintf(stderr, " %.9g", s.tgt[i * s.cols + j]);
            }
            fprintf(stderr, "\n");
        }
    /* Virtual shapes: buffers are not really that large; call only when an error is certain before any read. */
    int callable = expect != -1 && !(s.virt && (expect == XENT_OK || expect == XENT_ERR_LABEL_OUT_OF_RANGE));
    if (xf_known && !known_enabled) callable = 0;
    if (callable) {
        mem_snapshot(&m);
        xent_status st = mem_call(&m);
        if (xf_verbose) fprintf(stderr, "  got %d: \"%s\"\n", st, xent_last_error_message());
        if (st != expect)
            FAIL("status %d (\"%s\"), expected %d (%s)", st, xent_last_error_message(), expect, xf_reason);
        mem_check_untouched(&m, st == XENT_OK);
        if (st == XENT_OK) {
            int ce = s.fn <= F_SOFT_EX;
            if (ce) check_ce(&s, &m);
            else check_rowfn(&s, &m);
            Outs base;
            outs_get(&m, &base);
            if (getenv("XENT_FUZZ_NO_VARIANTS")) goto done;
            /* log_softmax against softmax of the same input */
            if (s.fn == F_LOGSM) {
                Spec t = s;
                t.fn = F_SOFTMAX;
                t.ostride = t.cols;
                Outs sm;
                run_variant(&t, 0, 0, &sm, "softmax for log_softmax");
                for (size_t k = 0; k < sm.n[B_LOSS]; k++) {
                    double p = sm.v[B_LOSS][k], l = base.v[B_LOSS][k];
                    if (isnan(p) != isnan(l) || (!isnan(p) && fabs(exp(l) - p) > (s.f64 ? 1e-12 : 2e-6)))
                        FAIL("exp(log_softmax) %.17g vs softmax %.17g at %zu", exp(l), p, k);
                }
                outs_free(&sm);
            }
            /* in place vs out of place */
            int can_inplace = ce ? m.ptr[B_GRAD] != NULL && s.gstride == s.rstride
                                 : s.fn != F_LSE && s.ostride == s.rstride;
            if (can_inplace && s.rows > 0) {
                Outs o;
                run_variant(&s, 0, !s.inplace, &o, s.inplace ? "out of place" : "in place");
                outs_same(&base, &o, "in place vs out of place");
                outs_free(&o);
            }
            /* thread counts */
            if (ce && s.rows > 0) {
                Spec t = s;
                if (t.opts_null) {
                    t.opts_null = 0, t.struct_size = t.opts_alloc = sizeof(xent_options);
                    t.reduction = XENT_REDUCTION_MEAN, t.ignore = -100, t.smoothing = 0, t.gscale = 1;
                }
                t.threads = s.threads == 1 ? 2 : 1;
                Outs o;
                run_variant(&t, s.alias, s.inplace, &o, "thread variant");
                outs_same(&base, &o, "num_threads variant");
                outs_free(&o);
            }
            /* the 1.1 entry points on the same problem (hard labels) */
            if ((s.fn == F_CE || s.fn == F_CE_EX) && s.rows > 0 && s.cols > 0 && !s.virt) {
                const xent_options *o = (const xent_options *)m.ptr[B_OPTS];
                oracle_shards(&s, o, &base);
                if (!s.f64) oracle_bf16(&s, o);
                oracle_options11(&s);
                oracle_invalid11(&s);
            }
            oracle_options_init();
        done:
            outs_free(&base);
        }
    }
    mem_free(&m);
    free(s.x), free(s.labels), free(s.tgt);
    return 0;
}
