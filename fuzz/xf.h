/*
 * fuzz/xf.h -- the shared declarations of the libFuzzer target over the C ABI (fuzz/xent_fuzz.c and the files it
 * is split into):
 *
 *   xent_fuzz.c          the entry points (LLVMFuzzerInitialize, LLVMFuzzerTestOneInput) and the call description
 *   inputs.c             the input reader, value generation and decoding of an input into one call (Spec)
 *   status.c             the expected status, from the header's rules in the library's order of checks
 *   memory.c             memory placement (heap blocks or guard pages, aliasing, canaries, ASan poisoning), the call
 *   oracles_ref.c        results against the long double reference (Tests/CSupport/xt_ref.h), bitwise variants
 *   oracles_11.c         the 1.1 entry points on the same problem: shards, bfloat16, the 1.1 options
 *   oracles_invalid.c    one invalid 1.1 argument at a time; xent_options_init_size
 *   oracles_linear.c     xent_linear_cross_entropy_* (1.2.0): inputs whose first byte is >= XF_LINEAR_TAG
 *   oracles_linear_sharded.c  the same inputs again as a sharded-vocabulary problem (1.3.0): the shards' entry
 *                        points against the unsharded call, one invalid argument
 */
#ifndef XENT_FUZZ_XF_H
#define XENT_FUZZ_XF_H

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

#include "xt_ref.h"

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

extern char xf_desc[1024]; /* the call being checked, printed by FAIL */
extern int xf_verbose;

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        fprintf(stderr, "\nXENT FUZZ INVARIANT VIOLATED (%s:%d): ", __FILE__, __LINE__);                               \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fprintf(stderr, "\n  call: %s\n", xf_desc);                                                                    \
        abort();                                                                                                       \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n, i;
} Rd;

/* ---- The decoded call -------------------------------------------------------------------------------------- */

enum { F_CE, F_CE_EX, F_SOFT, F_SOFT_EX, F_LSE, F_SOFTMAX, F_LOGSM, F_COUNT };
extern const char *const fn_names[F_COUNT];

/* Logical buffers. */
enum { B_X, B_TGT, B_LOSS, B_GRAD, B_LSE, B_BIAS, B_OPTS, B_COUNT };
extern const char *const buf_names[B_COUNT];

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
    uint64_t alias_r; /* random draw for the overlap offset */
    int inplace;      /* grad == logits / out == x */
    int guard;        /* mmap + guard page instead of heap */
    int virt;         /* shapes too large to materialize */
    int wild_targets; /* soft targets with negative / non-finite values: no numeric loss/grad checks */
    /* logical data (dense rows x cols) */
    size_t n; /* rows*cols when materialized */
    double *x;
    int64_t *labels;
    double *tgt;
} Spec;

extern const char *xf_reason; /* why expected_status expects what it does */
extern int xf_known;          /* a known library defect applies: see fuzz/regressions/README.md */

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

extern size_t page_size;

typedef struct {
    int nan, allneg;
    LD m, lse, logsum, sum; /* lse = m + logsum; differences to lse are formed as (x - m) - logsum */
    xt_row_stats st;        /* the same, as the shared reference's statistics */
} RowRef;

extern int f64g; /* the element type of the current call is double */

typedef struct {
    double *v[B_COUNT];
    size_t n[B_COUNT];
} Outs;

/* ---- inputs.c --------------------------------------------------------------------------------------------- */

uint64_t rnd(void);
int extent_ok(size_t rows, size_t cols, size_t stride, size_t es, size_t *ext);
void decode(Rd *r, Spec *s);

/* ---- status.c --------------------------------------------------------------------------------------------- */

int expected_status(const Spec *s, void *const ptr[B_COUNT]);

/* ---- memory.c --------------------------------------------------------------------------------------------- */

void mem_build(Mem *m, Spec *s, int alias_mode, int inplace);
void mem_free(Mem *m);
void mem_snapshot(Mem *m);
xent_status mem_call(Mem *m);
void mem_check_untouched(Mem *m, int ok);
double *mem_get(Mem *m, int k, size_t *count);

/* ---- oracles_ref.c ---------------------------------------------------------------------------------------- */

double TRUEMIN(void);
RowRef row_ref(const double *x, size_t cols, LD *e);
LD ref_row_loss(const RowRef *r, const double *x, const LD *t, size_t cols, LD tsum, LD *S);
double TMAX(void);
void check_val(double got, LD ref, LD tol, const char *what, size_t i, size_t j);
void check_rowfn(Spec *s, Mem *m);
void check_ce(Spec *s, Mem *m);
void outs_get(Mem *m, Outs *o);
void outs_free(Outs *o);
void outs_same(const Outs *a, const Outs *b, const char *what);
void run_variant(Spec *s, int alias_mode, int inplace, Outs *o, const char *what);

/* ---- oracles_11.c ----------------------------------------------------------------------------------------- */

void *xmalloc(size_t n);
void *dense_logits(const Spec *s);
void oracle_shards(const Spec *s, const xent_options *o, const Outs *base);
void oracle_bf16(const Spec *s, const xent_options *o);
void oracle_options11(const Spec *s);

/* ---- oracles_invalid.c ------------------------------------------------------------------------------------ */

void oracle_invalid11(const Spec *s);
void oracle_options_init(void);

/* ---- oracles_linear.c ------------------------------------------------------------------------------------- */

/* A first byte at or above this decodes into one linear cross-entropy call (bit 0: f64); below, into inputs.c's. */
#define XF_LINEAR_TAG 0xE0
int xf_linear(const uint8_t *data, size_t size);

/* ---- oracles_linear_sharded.c ----------------------------------------------------------------------------- */

/* The same input decoded into one sharded linear problem (xent_linear_partial_stats_*, xent_merge_stats,
   xent_finalize_stats_*, xent_linear_grad_from_stats_*) checked against the unsharded call. */
int xf_linear_sharded(const uint8_t *data, size_t size);

#endif /* XENT_FUZZ_XF_H */
