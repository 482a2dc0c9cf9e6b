/*
 * sweep_hash.c -- one FNV-1a 64-bit hash of every output byte (and every status) of a fixed, deterministic sweep of
 * the public C ABI: the proof that a refactor changed no bit. Linked against an installed libxent (make sweep-hash,
 * mk/sweep.mk); compare the printed hashes before and after a change, on the same machine and ISA.
 *
 * The sweep: class counts 1-33, 1000, 32000 and 70001; 1, 3 and 17 rows (1 and 3 for 32000 and 70001 classes);
 * clean rows, and rows with -inf entries, a NaN, a +inf, or all -inf; padded row strides and gradient strides;
 * option sets (plain; ignored rows + label smoothing 0.1 + grad_scale 0.5; z-loss 1e-4 + soft cap 30; class weights
 * + smoothing + ignored rows; all of them) x reductions NONE/SUM/MEAN x num_threads 1 and 2. Families:
 *   ce        xent_cross_entropy_ex_f32/_f64: loss, gradient, lse, bias gradient, z-loss output
 *   soft      xent_soft_cross_entropy_ex_f32/_f64 (the same outputs; class weights give their status)
 *   bf16      xent_cross_entropy_bf16: float32 gradient, bfloat16 gradient, loss only
 *   rowwise   xent_logsumexp, xent_softmax, xent_log_softmax, f32 and f64
 *   sharded   xent_partial_stats (1, 2 and 3 shards), xent_merge_stats, xent_finalize_stats,
 *             xent_grad_from_stats, f32 and f64
 * Every output buffer is hashed whole (padding included) after being filled with a fixed byte, so a write where
 * none belongs changes the hash too. The inputs come from this file's own xorshift64* generator.
 *
 * Prints one line per family ("family NAME N calls (M refused) HASH") and "sweep-hash HASH" over all of them. C99.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xent.h>

/* ---- Hashing and inputs ------------------------------------------------------------------------------------- */

enum { FAM_CE, FAM_SOFT, FAM_BF16, FAM_ROWWISE, FAM_SHARDED, FAM_COUNT };
static const char *const fam_name[FAM_COUNT] = {"ce", "soft", "bf16", "rowwise", "sharded"};
static uint64_t fam_hash[FAM_COUNT];
static long fam_calls[FAM_COUNT];
static long fam_refused[FAM_COUNT]; /* calls whose status was not XENT_OK (part of the sweep: e.g. class weights
                                        with soft targets) */

static void hash_bytes(int fam, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = fam_hash[fam];
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    fam_hash[fam] = h;
}

static void hash_status(int fam, xent_status st)
{
    int32_t s = st;
    hash_bytes(fam, &s, sizeof s);
    fam_calls[fam]++;
    if (st != XENT_OK) fam_refused[fam]++;
}

static uint64_t rng = 0x853C49E6748FEA9Bull;
static uint64_t next_u64(void)
{
    uint64_t x = rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(next_u64() >> 11) * (1.0 / 9007199254740992.0));
}

static void *alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "sweep_hash: out of memory (%lu bytes)\n", (unsigned long)bytes);
        exit(2);
    }
    return p;
}

static uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

/* ---- One problem -------------------------------------------------------------------------------------------- */

#define FILL 0xC5 /* the byte every output buffer holds before a call */

typedef struct {
    size_t rows, cols, rs, gs; /* row stride of the inputs, stride of the gradients */
    double *x64;               /* rows x rs, padding NaN */
    float *x32;
    uint16_t *xbf;
    double *t64; /* soft targets, rows x rs */
    float *t32;
    int64_t *labels;    /* with ignore_index -100 at some rows when `ignored` */
    int64_t *labels_ok; /* no ignored rows */
    double *weights;    /* cols */
    void *block;        /* all of the above */
} problem;

/* special: row i gets kind (i + cols) % 5: 0 clean, 1 -inf entries, 2 a NaN, 3 a +inf, 4 all -inf. */
static void make_problem(problem *p, size_t rows, size_t cols, size_t pad, size_t gpad, int special)
{
    size_t i, j;
    p->rows = rows;
    p->cols = cols;
    p->rs = cols + pad;
    p->gs = cols + gpad;
    {
        /* one block: the 8-byte arrays first, then the 4- and 2-byte ones */
        size_t n = rows * p->rs;
        unsigned char *m = (unsigned char *)alloc(n * (8 + 8 + 4 + 4 + 2) + rows * 16 + cols * 8);
        p->block = m;
        p->x64 = (double *)(void *)m;
        p->t64 = p->x64 + n;
        p->weights = p->t64 + n;
        p->labels = (int64_t *)(void *)(p->weights + cols);
        p->labels_ok = p->labels + rows;
        p->x32 = (float *)(void *)(p->labels_ok + rows);
        p->t32 = p->x32 + n;
        p->xbf = (uint16_t *)(void *)(p->t32 + n);
    }
    for (i = 0; i < rows; i++) {
        int kind = special ? (int)((i + cols) % 5) : 0;
        double mass = 0;
        for (j = 0; j < p->rs; j++) {
            double v = j < cols ? uniform(-8, 8) : NAN, t = j < cols ? uniform(0, 1) : NAN;
            if (j < cols && kind == 1 && j % 4 == 1) v = -INFINITY;
            if (kind == 4 && j < cols) v = -INFINITY;
            p->x64[i * p->rs + j] = v;
            p->t64[i * p->rs + j] = t;
            if (j < cols) mass += t;
        }
        if (kind == 2) p->x64[i * p->rs + (cols - 1) / 2] = NAN;
        if (kind == 3) p->x64[i * p->rs + cols / 3] = INFINITY;
        for (j = 0; j < cols; j++) p->t64[i * p->rs + j] /= mass;
        p->labels_ok[i] = (int64_t)(next_u64() % cols);
        p->labels[i] = i % 4 == 2 ? -100 : p->labels_ok[i];
    }
    for (i = 0; i < rows * p->rs; i++) {
        p->x32[i] = (float)p->x64[i];
        p->t32[i] = (float)p->t64[i];
        p->xbf[i] = bf16_round(p->x32[i]);
    }
    for (j = 0; j < cols; j++) p->weights[j] = 0.25 * (double)(1 + next_u64() % 8);
}

static void free_problem(problem *p)
{
    free(p->block);
}

enum { OPT_PLAIN, OPT_IGNORE_SMOOTH_SCALE, OPT_ZLOSS_CAP, OPT_WEIGHTS, OPT_ALL, OPT_COUNT };

/* The options of set `set`; labels_out: the labels that go with them (ignored rows or not). */
static void make_options(const problem *p, int set, int reduction, int threads, xent_options *o, double *z_out,
                         const int64_t **labels_out)
{
    xent_options_init(o);
    o->reduction = reduction;
    o->num_threads = threads;
    *labels_out = p->labels_ok;
    if (set == OPT_IGNORE_SMOOTH_SCALE || set == OPT_WEIGHTS || set == OPT_ALL) {
        o->label_smoothing = 0.1f;
        *labels_out = p->labels;
    }
    if (set == OPT_IGNORE_SMOOTH_SCALE || set == OPT_ALL) o->grad_scale = 0.5f;
    if (set == OPT_ZLOSS_CAP || set == OPT_ALL) {
        o->z_loss = 1e-4f;
        o->soft_cap = 30.0f;
        o->z_loss_out = z_out;
    }
    if (set == OPT_WEIGHTS || set == OPT_ALL) o->class_weights = p->weights;
}

/* ---- The families ------------------------------------------------------------------------------------------- */

/* Output buffers, large enough for every call on p (rows x gs gradients, rows-long vectors, cols-long bias), each
   hashed whole. */
enum { O_LOSS, O_LOSS2, O_LOSS3, O_GRAD, O_GRAD2, O_LSE, O_BIAS, O_Z, O_COUNT };
typedef struct {
    unsigned char *loss, *loss2, *loss3, *grad, *grad2, *lse, *bias, *z;
    unsigned char *buf[O_COUNT];
    size_t n[O_COUNT];
} outs;

static void outs_init(outs *b, const problem *p)
{
    int k;
    b->n[O_LOSS] = b->n[O_LOSS2] = b->n[O_LOSS3] = b->n[O_Z] = (p->rows + 1) * 8;
    b->n[O_GRAD] = b->n[O_GRAD2] = p->rows * (p->gs > p->rs ? p->gs : p->rs) * 8;
    b->n[O_LSE] = p->rows * 8;
    b->n[O_BIAS] = p->cols * 8;
    for (k = 0; k < O_COUNT; k++) b->buf[k] = (unsigned char *)alloc(b->n[k]);
    b->loss = b->buf[O_LOSS];
    b->loss2 = b->buf[O_LOSS2];
    b->loss3 = b->buf[O_LOSS3];
    b->grad = b->buf[O_GRAD];
    b->grad2 = b->buf[O_GRAD2];
    b->lse = b->buf[O_LSE];
    b->bias = b->buf[O_BIAS];
    b->z = b->buf[O_Z];
}

static void outs_fill(outs *b)
{
    int k;
    for (k = 0; k < O_COUNT; k++) memset(b->buf[k], FILL, b->n[k]);
}

static void outs_hash(int fam, const outs *b)
{
    int k;
    for (k = 0; k < O_COUNT; k++) hash_bytes(fam, b->buf[k], b->n[k]);
}

static void outs_free(outs *b)
{
    int k;
    for (k = 0; k < O_COUNT; k++) free(b->buf[k]);
}

/* xent_cross_entropy_ex_* (hard labels lab) or xent_soft_cross_entropy_ex_* (the soft targets) on p into b. */
static xent_status call_ex(const problem *p, outs *b, const xent_options *o, const int64_t *lab, int soft, int f64)
{
    const size_t r = p->rows, c = p->cols, s = p->rs, gs = p->gs;
    double *l64 = (double *)(void *)b->loss, *g64 = (double *)(void *)b->grad, *e64 = (double *)(void *)b->lse;
    float *l32 = (float *)(void *)b->loss, *g32 = (float *)(void *)b->grad, *e32 = (float *)(void *)b->lse;
    double *b64 = (double *)(void *)b->bias;
    float *b32 = (float *)(void *)b->bias;
    if (soft)
        return f64 ? xent_soft_cross_entropy_ex_f64(p->x64, r, c, s, p->t64, s, o, l64, g64, gs, e64, b64)
                   : xent_soft_cross_entropy_ex_f32(p->x32, r, c, s, p->t32, s, o, l32, g32, gs, e32, b32);
    return f64 ? xent_cross_entropy_ex_f64(p->x64, r, c, s, lab, o, l64, g64, gs, e64, b64)
               : xent_cross_entropy_ex_f32(p->x32, r, c, s, lab, o, l32, g32, gs, e32, b32);
}

/* Hard and soft cross-entropy (_ex), f32 and f64, and the bfloat16 entry point, under every option set. */
static void sweep_cross_entropy(const problem *p, outs *b)
{
    int set, red, thr, f64, soft;
    for (set = 0; set < OPT_COUNT; set++)
        for (red = XENT_REDUCTION_NONE; red <= XENT_REDUCTION_MEAN; red++)
            for (thr = 1; thr <= 2; thr++) {
                xent_options o;
                const int64_t *lab;
                xent_status st;
                for (f64 = 0; f64 <= 1; f64++)
                    for (soft = 0; soft <= 1; soft++) {
                        outs_fill(b);
                        make_options(p, set, red, thr, &o, (double *)(void *)b->z, &lab);
                        st = call_ex(p, b, &o, lab, soft, f64);
                        hash_status(soft ? FAM_SOFT : FAM_CE, st);
                        outs_hash(soft ? FAM_SOFT : FAM_CE, b);
                    }
                /* bfloat16: a float32 gradient, a bfloat16 gradient, the loss only */
                outs_fill(b);
                make_options(p, set, red, thr, &o, (double *)(void *)b->z, &lab);
                st = xent_cross_entropy_bf16(p->xbf, p->rows, p->cols, p->rs, lab, &o, (float *)(void *)b->loss,
                                             (float *)(void *)b->grad, NULL, p->gs, (float *)(void *)b->lse);
                hash_status(FAM_BF16, st);
                st = xent_cross_entropy_bf16(p->xbf, p->rows, p->cols, p->rs, lab, &o, (float *)(void *)b->loss2, NULL,
                                             (uint16_t *)(void *)b->grad2, p->gs, NULL);
                hash_status(FAM_BF16, st);
                st = xent_cross_entropy_bf16(p->xbf, p->rows, p->cols, p->rs, lab, &o, (float *)(void *)b->loss3, NULL,
                                             NULL, p->gs, NULL);
                hash_status(FAM_BF16, st);
                outs_hash(FAM_BF16, b);
            }
}

/* logsumexp, softmax and log_softmax, f32 and f64, into a gradient-strided output. */
static void sweep_rowwise(const problem *p, outs *b)
{
    int f64;
    for (f64 = 0; f64 <= 1; f64++) {
        const size_t r = p->rows, c = p->cols, s = p->rs, gs = p->gs;
        xent_status st[3];
        outs_fill(b);
        if (f64) {
            st[0] = xent_logsumexp_f64(p->x64, r, c, s, (double *)(void *)b->lse);
            st[1] = xent_softmax_f64(p->x64, r, c, s, (double *)(void *)b->grad, gs);
            st[2] = xent_log_softmax_f64(p->x64, r, c, s, (double *)(void *)b->grad2, gs);
        } else {
            st[0] = xent_logsumexp_f32(p->x32, r, c, s, (float *)(void *)b->lse);
            st[1] = xent_softmax_f32(p->x32, r, c, s, (float *)(void *)b->grad, gs);
            st[2] = xent_log_softmax_f32(p->x32, r, c, s, (float *)(void *)b->grad2, gs);
        }
        hash_status(FAM_ROWWISE, st[0]);
        hash_status(FAM_ROWWISE, st[1]);
        hash_status(FAM_ROWWISE, st[2]);
        outs_hash(FAM_ROWWISE, b);
    }
}

/* 1, 2 and 3 shards: partial statistics, merged left to right, finalized; each shard's gradient. */
static void sweep_sharded(const problem *p, outs *b)
{
    xent_stats *acc = (xent_stats *)alloc(p->rows * sizeof(xent_stats));
    xent_stats *part = (xent_stats *)alloc(p->rows * sizeof(xent_stats));
    int shards, set, red, f64;
    for (shards = 1; shards <= 3; shards++)
        for (set = 0; set < OPT_COUNT; set++)
            for (red = XENT_REDUCTION_NONE; red <= XENT_REDUCTION_MEAN; red++)
                for (f64 = 0; f64 <= 1; f64++) {
                    size_t cut[4], k;
                    xent_options o;
                    const int64_t *lab;
                    xent_status st;
                    if (set == OPT_WEIGHTS || set == OPT_ALL) continue; /* unsupported by partial statistics */
                    if ((size_t)shards > p->cols) continue;             /* no empty shard */
                    cut[0] = 0;
                    cut[shards] = p->cols;
                    for (k = 1; k < (size_t)shards; k++) cut[k] = p->cols * k / (size_t)shards;
                    outs_fill(b);
                    make_options(p, set, red, 1, &o, (double *)(void *)b->z, &lab);
                    if (set == OPT_ZLOSS_CAP) {
                        o.z_loss = 0; /* unsupported by partial statistics; the soft cap is read */
                        o.z_loss_out = NULL;
                    }
                    memset(acc, FILL, p->rows * sizeof(xent_stats));
                    for (k = 0; k < (size_t)shards; k++) {
                        xent_stats *dst = k == 0 ? acc : part;
                        memset(part, FILL, p->rows * sizeof(xent_stats));
                        st = f64 ? xent_partial_stats_f64(p->x64 + cut[k], p->rows, cut[k + 1] - cut[k], p->rs, cut[k],
                                                          p->cols, lab, &o, dst)
                                 : xent_partial_stats_f32(p->x32 + cut[k], p->rows, cut[k + 1] - cut[k], p->rs, cut[k],
                                                          p->cols, lab, &o, dst);
                        hash_status(FAM_SHARDED, st);
                        hash_bytes(FAM_SHARDED, dst, p->rows * sizeof(xent_stats));
                        if (k > 0) hash_status(FAM_SHARDED, xent_merge_stats(acc, part, acc, p->rows));
                    }
                    hash_bytes(FAM_SHARDED, acc, p->rows * sizeof(xent_stats));
                    st = f64 ? xent_finalize_stats_f64(acc, p->rows, p->cols, lab, &o, (double *)(void *)b->loss,
                                                       (double *)(void *)b->lse)
                             : xent_finalize_stats_f32(acc, p->rows, p->cols, lab, &o, (float *)(void *)b->loss,
                                                       (float *)(void *)b->lse);
                    hash_status(FAM_SHARDED, st);
                    for (k = 0; k < (size_t)shards; k++) {
                        st = f64 ? xent_grad_from_stats_f64(p->x64 + cut[k], p->rows, cut[k + 1] - cut[k], p->rs,
                                                            cut[k], p->cols, lab, acc, &o,
                                                            (double *)(void *)b->grad + cut[k], p->gs)
                                 : xent_grad_from_stats_f32(p->x32 + cut[k], p->rows, cut[k + 1] - cut[k], p->rs,
                                                            cut[k], p->cols, lab, acc, &o,
                                                            (float *)(void *)b->grad + cut[k], p->gs);
                        hash_status(FAM_SHARDED, st);
                    }
                    outs_hash(FAM_SHARDED, b);
                }
    free(acc);
    free(part);
}

/* ---- The sweep ---------------------------------------------------------------------------------------------- */

int main(void)
{
    static const size_t big_cols[3] = {1000, 32000, 70001};
    static const size_t row_counts[3] = {1, 3, 17};
    uint64_t all = 0xCBF29CE484222325ull;
    size_t shape = 0, ci, ri;
    int fam, special;
    for (fam = 0; fam < FAM_COUNT; fam++) fam_hash[fam] = 0xCBF29CE484222325ull;
    for (ci = 0; ci < 36; ci++)
        for (ri = 0; ri < 3; ri++)
            for (special = 0; special <= 1; special++) {
                size_t cols = ci < 33 ? ci + 1 : big_cols[ci - 33];
                size_t rows = row_counts[ri];
                problem p;
                outs b;
                if (cols > 1000 && ri == 2) continue; /* 1 and 3 rows for the big class counts */
                make_problem(&p, rows, cols, shape % 3 == 0 ? 0 : shape % 3 == 1 ? 1 : 5, shape % 2 ? 3 : 0, special);
                outs_init(&b, &p);
                sweep_cross_entropy(&p, &b);
                sweep_rowwise(&p, &b);
                sweep_sharded(&p, &b);
                outs_free(&b);
                free_problem(&p);
                shape++;
            }
    printf("sweep-hash: libxent %s (%s), %lu problems\n", xent_version_string(), xent_isa_name(), (unsigned long)shape);
    for (fam = 0; fam < FAM_COUNT; fam++) {
        size_t k;
        printf("family %-8s %6ld calls (%5ld refused)  %016llx\n", fam_name[fam], fam_calls[fam], fam_refused[fam],
               (unsigned long long)fam_hash[fam]);
        for (k = 0; k < 8; k++) {
            all ^= (fam_hash[fam] >> (8 * k)) & 0xFF;
            all *= 0x100000001B3ull;
        }
    }
    printf("sweep-hash %016llx\n", (unsigned long long)all);
    return 0;
}
