/*
 * fuzz/oracles_linear_sharded.c -- the linear cross-entropy over a sharded vocabulary (1.3.0): every input whose
 * first byte is >= XF_LINEAR_TAG, after its linear call (oracles_linear.c), is decoded again here into one valid
 * sharded problem, from the same bytes read the same way where they mean the same (rows, dim, classes selectors,
 * strides, options, outputs, labels and values modes, seed, patches: gen_seeds.py's linear_* seeds are its seeds
 * too), always valid: a stride never below dim, dim and classes at least 1, no class weights, valid option values
 * (the z-loss included, with z_loss_out in the one options struct every call receives). The problem's classes are split at random boundaries (the seed's stream) into 1-4 shards; each shard's
 * weight rows and bias entries are copied into their own exactly sized blocks (NaN in the stride padding; with bit 7
 * of the values byte every block ends at a PROT_NONE page instead, the protection of an uninstrumented library).
 *
 * Invariants (abort on violation):
 *   1. xent_linear_partial_stats_* on every shard, xent_merge_stats left to right, xent_finalize_stats_* and
 *      xent_linear_grad_from_stats_* on every shard succeed with "" as message, change no input byte and no
 *      padding byte of an output, and give the unsharded xent_linear_cross_entropy_* call's results (oracle):
 *      loss, lse and z_loss_out within tol * max(1, |u|, the row's logit magnitude (times 2*lambda*|lse| for z));
 *      grad_hidden summed over the shards, each
 *      shard's grad_weight rows and grad_bias entries (accumulate: onto the same starting values as the unsharded
 *      call's) within tol x the magnitude of each sum (xt_ref_linear's *_abs, floored by the resolution of G as in
 *      oracles_linear.c); NaN where NaN, infinities exactly. tol: 1e-11 (f64) / 1e-4 (f32);
 *   2. another num_threads gives the same bytes (one shard's statistics and gradients);
 *   3. one invalid argument of either entry point (of 12 kinds drawn from the stream: NULL pointers, no gradient,
 *      dim or cols 0, col_offset + cols > total_cols, a stride below dim, a label outside [0, total_cols), class
 *      weights, an invalid option value, a workspace below the header's least, an output over an input
 *      or another output, unmerged statistics) gives the one status the header names, a non-empty message (naming
 *      the label for XENT_ERR_LABEL_OUT_OF_RANGE), and no byte changed of the arena holding every argument.
 */
#include "xf.h"

static uint64_t s_rng;
static uint64_t srnd(void)
{
    s_rng ^= s_rng >> 12, s_rng ^= s_rng << 25, s_rng ^= s_rng >> 27;
    return s_rng * 0x2545F4914F6CDD1DULL;
}
static double sunif(double lo, double hi)
{
    return lo + (hi - lo) * (double)(srnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* A block of n bytes: a heap block of exactly n bytes, or (guard) the end of a mapping whose next page is
   PROT_NONE. */
typedef struct {
    uint8_t *p, *map;
    size_t n, maplen;
} SBlk;

static void sb_alloc(SBlk *b, size_t n, int guard)
{
    b->n = n, b->map = NULL;
    if (!guard) {
        b->p = (uint8_t *)xmalloc(n);
    } else {
        size_t data = (n + page_size - 1) / page_size * page_size + page_size;
        b->maplen = data + page_size;
        b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b->map == MAP_FAILED || mprotect(b->map + data, page_size, PROT_NONE)) abort();
        b->p = b->map + data - n;
    }
    memset(b->p, 0xA7, n);
}

static void sb_free(SBlk *b)
{
    if (b->map) munmap(b->map, b->maplen);
    else free(b->p);
}

typedef struct {
    int f64, guard, opts_null, want_gh, want_gw, want_gb, want_lse, bias, k;
    size_t es, rows, dim, classes, hs, ws, ghs, gws, struct_size, workspace, cut[5];
    int32_t reduction, threads, accumulate;
    int64_t ignore;
    float smoothing, gscale, cap, zloss;
    int zout;
    /* what the library reads (NULL options: the defaults; a short struct_size: the defaults of the fields beyond) */
    int32_t e_red, e_acc;
    int64_t e_ignore;
    uint8_t opts[sizeof(xent_options) + 32];
} SSpec;

#define S_V11 offsetof(xent_options, workspace_bytes)
#define S_V12 (offsetof(xent_options, accumulate) + sizeof(int32_t))

static size_t s_extent(size_t rows, size_t cols, size_t stride)
{
    return rows ? (rows - 1) * stride + cols : 0;
}

/* The header's bytes of one row of a block for cols classes: the logits, 64 per 2048-class tile and 64 more, the
   parts of grad_hidden (min(tiles, 4) - 1 rows of dim). */
static size_t s_row(const SSpec *s, size_t cols)
{
    size_t tiles = (cols + 2047) / 2048;
    return cols * s->es + 64 * (tiles + 1) + ((tiles < 4 ? tiles : 4) - 1) * s->dim * s->es;
}

/* The header's least workspace for cols classes (the bias sums' room reserved by both functions). */
static size_t s_least(const SSpec *s, size_t cols)
{
    return s_row(s, cols) + (s->f64 ? 16 : 8) * cols + 192;
}

static void s_set(const SSpec *s, uint8_t *p, size_t i, double v)
{
    if (s->f64) memcpy(p + 8 * i, &v, 8);
    else {
        float f = (float)v;
        memcpy(p + 4 * i, &f, 4);
    }
}

static double s_get(const SSpec *s, const uint8_t *p, size_t i)
{
    if (s->f64) {
        double v;
        memcpy(&v, p + 8 * i, 8);
        return v;
    }
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

/* ---- Decoding (the byte layout of decode_linear, see the file's comment) ------------------------------------- */

static size_t s_stride(uint8_t v, size_t dim)
{
    return (v & 7) < 3 ? dim : dim + 1 + (v >> 3) % 7;
}

static void s_decode(const uint8_t *d, size_t n, SSpec *s)
{
    static const float smo[] = {0, 0, 0.1f, 0.05f, 1, 0.3f}, gsc[] = {1, 1, 2.5f, 0, -1, 1e-30f};
    static const float cap[] = {0, 0, 3, 30, 0.5f};
    static const size_t tails[] = {7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
    uint8_t b[32];
    memset(b, 0, sizeof b), memcpy(b, d, n < sizeof b ? n : sizeof b);
    memset(s, 0, sizeof *s);
    s->f64 = b[0] & 1, s->es = s->f64 ? 8 : 4;
    s->rows = b[1] < 16 ? b[1] % 3 : b[1] < 224 ? b[1] % 40 : 40 + (size_t)(b[1] - 224) * 8;
    s->dim = b[2] >> 5 < 2 ? 1 : b[2] >> 5 == 2 ? 2 + b[2] % 7 : 1 + b[2] % 48;
    switch (b[3] >> 5) {
    case 0: s->classes = 1 + (b[3] & 1); break;
    case 1: s->classes = tails[b[3] % 12]; break;
    case 5: s->classes = 100 + (size_t)b[3] * 13; break;
    case 6:
        s->classes = 70001 + b[3] % 3, s->rows = s->rows < 3 ? s->rows : 3, s->dim = s->dim < 3 ? s->dim : 3;
        break;
    case 7: s->classes = 2 + b[3] % 33; break;
    default: s->classes = 1 + b[3] % 70; break;
    }
    s->hs = s_stride(b[4], s->dim), s->ws = s_stride(b[5], s->dim);
    s->ghs = s_stride(b[6], s->dim), s->gws = s_stride(b[7], s->dim);
    s->opts_null = (b[8] & 7) == 7;
    switch ((b[8] >> 3) & 7) {
    case 1: s->struct_size = XF_OPTS_V1; break;
    case 2: s->struct_size = S_V11; break;
    case 4: s->struct_size = sizeof(xent_options) + 16; break;
    default: s->struct_size = sizeof(xent_options); break;
    }
    s->reduction = b[9] % 3, s->threads = b[10] % 4;
    s->ignore = b[11] % 4 == 0 ? 0 : b[11] % 4 == 1 ? 1 : -100;
    s->smoothing = smo[b[12] % 6], s->gscale = gsc[b[13] % 6], s->cap = cap[b[15] % 5];
    s->zloss = b[14] % 4 < 2 ? 0 : b[14] % 4 == 2 ? 1e-3f : 1e-2f, s->zout = b[17] & 1;
    s->accumulate = b[19] & 1;
    s->want_gh = b[20] & 1, s->want_gw = (b[20] >> 1) & 1, s->want_gb = (b[20] >> 2) & 1;
    s->want_lse = (b[20] >> 3) & 1, s->bias = !((b[20] >> 4) & 1);
    s->guard = b[24] >> 7;
    /* bound the work (the reference is long double) */
    while (s->rows * s->classes * s->dim > 400000 && s->rows > 1) s->rows /= 2;
    /* the effective options */
    s->e_red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    s->e_ignore = s->opts_null ? -100 : s->ignore;
    s->e_acc = !s->opts_null && s->struct_size >= S_V12 && s->accumulate;
    s->workspace = b[18]; /* the selector until the shards are known (s_workspace) */
}

/* The workspace from its selector: the default, the header's least for the widest shard, a few rows more, huge. */
static void s_workspace(SSpec *s)
{
    size_t widest = 0, sel = s->workspace, row;
    for (int q = 0; q < s->k; q++)
        if (s->cut[q + 1] - s->cut[q] > widest) widest = s->cut[q + 1] - s->cut[q];
    row = s_row(s, widest);
    switch (sel & 7) {
    case 1: s->workspace = s_least(s, widest); break;
    case 2:
    case 3: s->workspace = s_least(s, widest) + (1 + (sel >> 3) % 5) * row; break;
    case 4: s->workspace = SIZE_MAX; break;
    default: s->workspace = 0; break;
    }
}

/* The options struct the calls receive (NULL: opts_null); the bytes after struct_size are garbage. */
static const xent_options *s_options(SSpec *s, size_t workspace, int32_t threads, void *zout)
{
    xent_options o;
    xent_options_init(&o);
    o.reduction = s->reduction, o.num_threads = threads, o.ignore_index = s->ignore;
    o.label_smoothing = s->smoothing, o.grad_scale = s->gscale, o.soft_cap = s->cap;
    o.z_loss = s->zloss, o.z_loss_out = s->zout ? (double *)zout : NULL;
    o.workspace_bytes = workspace, o.accumulate = s->accumulate, o.struct_size = s->struct_size;
    memset(s->opts, 0x5C, sizeof s->opts);
    memcpy(s->opts, &o, sizeof o);
    return s->opts_null ? NULL : (const xent_options *)(const void *)s->opts;
}

/* ---- The problem ---------------------------------------------------------------------------------------------- */

enum { P_H, P_W, P_B, P_LAB, P_ULOSS, P_ULSE, P_UGH, P_UGW, P_UGB, P_SLOSS, P_SLSE, P_MERGED, P_UZ, P_SZ, P_N };

/* Each shard's blocks: weight rows, bias entries, statistics, grad_hidden, grad_weight rows, grad_bias entries. */
enum { Q_W, Q_B, Q_ST, Q_GH, Q_GW, Q_GB, Q_N };

typedef struct {
    SBlk p[P_N], q[4][Q_N];
    uint8_t *gw0;         /* the starting grad_weight and grad_bias (accumulate), classes x gws then classes */
    long double *ghsum;   /* grad_hidden summed over the shards */
} SBufs;

static void s_fill(const SSpec *s, uint8_t *p, size_t rows, size_t cols, size_t stride, double scale)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < stride && i * stride + j < s_extent(rows, cols, stride); j++)
            s_set(s, p, i * stride + j, j < cols ? sunif(-scale, scale) : NAN);
}

static void s_build(SSpec *s, SBufs *m, const uint8_t *d, size_t n)
{
    size_t R = s->rows, D = s->dim, C = s->classes, es = s->es, nl = s->e_red == XENT_REDUCTION_NONE ? R : 1;
    uint8_t labmode = n > 23 ? d[23] : 0, valmode = n > 24 ? d[24] : 0;
    double scale = (valmode & 3) == 3 ? 8 : (valmode & 3) == 2 ? 0.05 : 1.5;
    size_t sizes[P_N];
    sizes[P_H] = s_extent(R, D, s->hs) * es, sizes[P_W] = s_extent(C, D, s->ws) * es, sizes[P_B] = C * es;
    sizes[P_LAB] = R * 8, sizes[P_ULOSS] = sizes[P_SLOSS] = nl * es, sizes[P_ULSE] = sizes[P_SLSE] = R * es;
    sizes[P_UGH] = s_extent(R, D, s->ghs) * es, sizes[P_UGW] = s_extent(C, D, s->gws) * es, sizes[P_UGB] = C * es;
    sizes[P_MERGED] = R * sizeof(xent_stats), sizes[P_UZ] = sizes[P_SZ] = nl * 8;
    for (int k = 0; k < P_N; k++) sb_alloc(&m->p[k], sizes[k], s->guard);
    s_fill(s, m->p[P_H].p, R, D, s->hs, scale);
    s_fill(s, m->p[P_W].p, C, D, s->ws, scale);
    for (size_t j = 0; j < C; j++) s_set(s, m->p[P_B].p, j, sunif(-1, 1));
    for (size_t i = 0; i < R; i++) {
        int64_t lab = (int64_t)(srnd() % C);
        if (((labmode & 1) && srnd() % 8 == 0) || (labmode & 4)) lab = s->e_ignore;
        memcpy(m->p[P_LAB].p + 8 * i, &lab, 8);
    }
    /* patches: the layout of oracles_linear.c's */
    {
        size_t at = 30, np = n > 29 ? d[29] % 17 : 0;
        for (size_t q = 0; q < np && at + 3 <= n; q++, at += 3) {
            uint8_t kind = d[at];
            size_t i = R ? d[at + 1] % R : 0, j = d[at + 2] % D, c = d[at + 2] % C;
            switch (kind % 8) {
            case 0: if (R) s_set(s, m->p[P_H].p, i * s->hs + j, NAN); break;
            case 1: if (R) s_set(s, m->p[P_H].p, i * s->hs + j, kind & 8 ? INFINITY : -INFINITY); break;
            case 2: s_set(s, m->p[P_B].p, c, -INFINITY); break;
            case 3: s_set(s, m->p[P_B].p, c, kind & 8 ? 1e30 : -1e30); break;
            case 4: if (R) s_set(s, m->p[P_H].p, i * s->hs + j, kind & 8 ? 1e4 : -1e4); break;
            case 5: s_set(s, m->p[P_W].p, c * s->ws + j, 0); break;
            case 6:
                for (size_t cc = 0; cc < C; cc++)
                    if (cc != c) s_set(s, m->p[P_B].p, cc, -INFINITY);
                break;
            default:
                if (R) memcpy(m->p[P_LAB].p + 8 * i, &(int64_t){(int64_t)c}, 8);
                break;
            }
        }
    }
    /* shards: 0 = cut[0] < ... < cut[k] = classes */
    s->k = 1 + (int)(srnd() % 4);
    if ((size_t)s->k > C) s->k = (int)C;
    s->cut[0] = 0, s->cut[s->k] = C;
    for (int q = 1; q < s->k; q++) s->cut[q] = s->cut[q - 1] + 1 + srnd() % (C - s->cut[q - 1] - (size_t)(s->k - q));
    for (int q = 0; q < s->k; q++) {
        size_t lo = s->cut[q], nc = s->cut[q + 1] - lo, we = s_extent(nc, D, s->ws) * es;
        SBlk *b = m->q[q];
        sb_alloc(&b[Q_W], we, s->guard), memcpy(b[Q_W].p, m->p[P_W].p + lo * s->ws * es, we);
        sb_alloc(&b[Q_B], nc * es, s->guard), memcpy(b[Q_B].p, m->p[P_B].p + lo * es, nc * es);
        sb_alloc(&b[Q_ST], R * sizeof(xent_stats), s->guard);
        sb_alloc(&b[Q_GH], s_extent(R, D, s->ghs) * es, s->guard);
        sb_alloc(&b[Q_GW], s_extent(nc, D, s->gws) * es, s->guard);
        sb_alloc(&b[Q_GB], nc * es, s->guard);
    }
    /* accumulate: both calls start from the same grad_weight and grad_bias */
    m->gw0 = (uint8_t *)xmalloc(sizes[P_UGW] + sizes[P_UGB] + 1);
    memset(m->gw0, 0xA7, sizes[P_UGW] + sizes[P_UGB] + 1);
    if (s->e_acc) { /* the elements only: the padding keeps the canary */
        for (size_t i = 0; i < C; i++)
            for (size_t j = 0; j < D; j++) s_set(s, m->gw0, i * s->gws + j, sunif(-1, 1));
        for (size_t j = 0; j < C; j++) s_set(s, m->gw0 + sizes[P_UGW], j, sunif(-1, 1));
        memcpy(m->p[P_UGW].p, m->gw0, sizes[P_UGW]), memcpy(m->p[P_UGB].p, m->gw0 + sizes[P_UGW], sizes[P_UGB]);
    }
    for (int q = 0; q < s->k && s->e_acc; q++) {
        size_t lo = s->cut[q];
        memcpy(m->q[q][Q_GW].p, m->gw0 + lo * s->gws * es, m->q[q][Q_GW].n);
        memcpy(m->q[q][Q_GB].p, m->gw0 + sizes[P_UGW] + lo * es, m->q[q][Q_GB].n);
    }
    m->ghsum = (long double *)xmalloc(sizeof(long double) * (R * D + 1));
}

static void s_free(SSpec *s, SBufs *m)
{
    for (int k = 0; k < P_N; k++) sb_free(&m->p[k]);
    for (int q = 0; q < s->k; q++)
        for (int k = 0; k < Q_N; k++) sb_free(&m->q[q][k]);
    free(m->gw0), free(m->ghsum);
}

/* ---- The calls ---------------------------------------------------------------------------------------------------- */

static xent_status s_partial(const SSpec *s, SBufs *m, int q, const xent_options *o, void *out)
{
    size_t lo = s->cut[q], nc = s->cut[q + 1] - lo;
    const void *b = s->bias ? m->q[q][Q_B].p : NULL;
    if (s->f64)
        return xent_linear_partial_stats_f64((const double *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                             (const double *)(void *)m->q[q][Q_W].p, nc, s->ws, lo, s->classes, b,
                                             (const int64_t *)(void *)m->p[P_LAB].p, o, out);
    return xent_linear_partial_stats_f32((const float *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                         (const float *)(void *)m->q[q][Q_W].p, nc, s->ws, lo, s->classes, b,
                                         (const int64_t *)(void *)m->p[P_LAB].p, o, out);
}

static xent_status s_grad(const SSpec *s, SBufs *m, int q, const xent_options *o, void *gh, void *gw, void *gb)
{
    size_t lo = s->cut[q], nc = s->cut[q + 1] - lo;
    const void *b = s->bias ? m->q[q][Q_B].p : NULL, *st = m->p[P_MERGED].p;
    const int64_t *lab = (const int64_t *)(void *)m->p[P_LAB].p;
    gh = s->want_gh ? gh : NULL, gw = s->want_gw ? gw : NULL, gb = s->want_gb ? gb : NULL;
    if (s->f64)
        return xent_linear_grad_from_stats_f64((const double *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                               (const double *)(void *)m->q[q][Q_W].p, nc, s->ws, lo, s->classes, b,
                                               lab, st, o, gh, s->ghs, gw, s->gws, gb);
    return xent_linear_grad_from_stats_f32((const float *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                           (const float *)(void *)m->q[q][Q_W].p, nc, s->ws, lo, s->classes, b, lab,
                                           st, o, gh, s->ghs, gw, s->gws, gb);
}

static xent_status s_unsharded(SSpec *s, SBufs *m)
{
    const xent_options *o = s_options(s, 0, s->threads, m->p[P_UZ].p);
    const void *b = s->bias ? m->p[P_B].p : NULL;
    void *gh = s->want_gh ? m->p[P_UGH].p : NULL, *gw = s->want_gw ? m->p[P_UGW].p : NULL;
    void *gb = s->want_gb ? m->p[P_UGB].p : NULL, *lse = m->p[P_ULSE].p;
    const int64_t *lab = (const int64_t *)(void *)m->p[P_LAB].p;
    if (s->f64)
        return xent_linear_cross_entropy_f64((const double *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                             (const double *)(void *)m->p[P_W].p, s->classes, s->ws, b, lab, o,
                                             (double *)(void *)m->p[P_ULOSS].p, gh, s->ghs, gw, s->gws, gb, lse);
    return xent_linear_cross_entropy_f32((const float *)(void *)m->p[P_H].p, s->rows, s->dim, s->hs,
                                         (const float *)(void *)m->p[P_W].p, s->classes, s->ws, b, lab, o,
                                         (float *)(void *)m->p[P_ULOSS].p, gh, s->ghs, gw, s->gws, gb, lse);
}

/* ---- Checks ------------------------------------------------------------------------------------------------------- */

XF_CHECKER static void s_unchanged(const SBlk *b, const uint8_t *before, const char *what)
{
    if (memcmp(b->p, before, b->n) != 0) FAIL("a successful sharded call changed %s", what);
}

/* The stride padding of a rows x cols output (stride elements) still holds the 0xA7 canary. */
XF_CHECKER static void s_padding(const SSpec *s, const SBlk *b, size_t rows, size_t cols, size_t stride,
                                 const char *what)
{
    for (size_t i = 0; i + 1 < rows; i++)
        for (size_t j = cols * s->es; j < stride * s->es; j++)
            if (b->p[i * stride * s->es + j] != 0xA7) FAIL("%s: padding byte %zu of row %zu written", what, j, i);
}

/* |got - want| <= tol * max(scale, 1e-2 * smax, 1 when both are 0); NaN only for NaN, infinities exactly. */
XF_CHECKER static void s_cmp(const char *what, size_t i, LD got, LD want, LD scale, LD smax, double tol)
{
    if (isnan(want) || isnan(got) || isinf(want) || isinf(got)) {
        if (!(isnan(want) && isnan(got)) && got != want)
            FAIL("%s[%zu]: sharded %.17Lg, unsharded %.17Lg", what, i, got, want);
        return;
    }
    if (!(scale >= smax * 1e-2L)) scale = smax * 1e-2L;
    if (scale == 0) scale = 1;
    if (fabsl(got - want) > (LD)tol * scale)
        FAIL("%s[%zu]: sharded %.17Lg, unsharded %.17Lg (difference %.3Lg x scale %.3Lg, tolerance %.3g)", what, i, got,
             want, fabsl(got - want) / scale, scale, tol);
}

XF_CHECKER static LD s_max(const LD *a, size_t n)
{
    LD m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]) && a[i] > m) m = a[i];
    return m;
}

/* The sharded results against the unsharded call's, scaled by the long double reference's sums (see the file's
   comment). */
XF_CHECKER static void s_compare(SSpec *s, SBufs *m)
{
    size_t R = s->rows, D = s->dim, C = s->classes, i, j;
    double tol = s->f64 ? 1e-11 : 1e-4, u = s->f64 ? DBL_EPSILON : FLT_EPSILON;
    const xent_options *o = s_options(s, 0, s->threads, NULL);
    xt_ref_opts ro = xt_ref_opts_from(o);
    xt_ref_linear_out ref;
    LD *h = (LD *)xmalloc(sizeof(LD) * (R * D + 1)), *w = (LD *)xmalloc(sizeof(LD) * (C * D + 1));
    LD *b = (LD *)xmalloc(sizeof(LD) * (C + 1)), *hfl = (LD *)xmalloc(sizeof(LD) * (D + 1));
    LD *gfl = (LD *)xmalloc(sizeof(LD) * (R + 1)), omax = 1, osum = 0, sg, cnt = 0, gsum = 0;
    const int64_t *lab = (const int64_t *)(void *)m->p[P_LAB].p;
    for (i = 0; i < R; i++)
        for (j = 0; j < D; j++) h[i * D + j] = s_get(s, m->p[P_H].p, i * s->hs + j);
    for (i = 0; i < C; i++)
        for (j = 0; j < D; j++) w[i * D + j] = s_get(s, m->p[P_W].p, i * s->ws + j);
    for (j = 0; j < C; j++) b[j] = s_get(s, m->p[P_B].p, j);
    xt_ref_linear_alloc(&ref, R, D, C);
    xt_ref_linear(h, R, D, w, C, s->bias ? b : NULL, lab, &ro, &ref);
    for (i = 0; i < R; i++) {
        LD oa = isfinite(ref.o_abs[i]) ? ref.o_abs[i] : 0;
        osum += oa, omax = oa > omax ? oa : omax, cnt += lab[i] != ro.ignore_index;
    }
    /* loss and lse: the row's logit magnitude */
    if (s->e_red == XENT_REDUCTION_NONE)
        for (i = 0; i < R; i++) {
            LD uv = s_get(s, m->p[P_ULOSS].p, i);
            s_cmp("loss", i, s_get(s, m->p[P_SLOSS].p, i), uv, fmaxl(fmaxl(1, fabsl(uv)), ref.o_abs[i]), 0, tol);
        }
    else {
        LD uv = s_get(s, m->p[P_ULOSS].p, 0);
        s_cmp("loss", 0, s_get(s, m->p[P_SLOSS].p, 0), uv,
              fmaxl(fmaxl(1, fabsl(uv)), s->e_red == XENT_REDUCTION_SUM ? osum : omax), 0, tol);
    }
    for (i = 0; i < R && s->want_lse; i++) {
        LD uv = s_get(s, m->p[P_ULSE].p, i);
        s_cmp("lse", i, s_get(s, m->p[P_SLSE].p, i), uv, fmaxl(fmaxl(1, fabsl(uv)), ref.o_abs[i]), 0, tol);
    }
    /* z_loss_out (when the library reads the z-loss and z_loss_out): z errs by 2*lambda*|lse| x the lse's error */
    for (i = 0; s->zout && ro.z_loss != 0 && i < (s->e_red == XENT_REDUCTION_NONE ? R : 1); i++) {
        LD uv = ((const double *)(void *)m->p[P_UZ].p)[i], lmax = 1;
        for (j = 0; j < R; j++)
            if (isfinite(ref.ce.lse[j]) && fabsl(ref.ce.lse[j]) > lmax) lmax = fabsl(ref.ce.lse[j]);
        lmax *= 2 * ro.z_loss * (s->e_red == XENT_REDUCTION_NONE ? fmaxl(1, ref.o_abs[i]) : omax);
        s_cmp("z_loss_out", i, ((const double *)(void *)m->p[P_SZ].p)[i], uv, fmaxl(fmaxl(1, fabsl(uv)), lmax), 0, tol);
    }
    /* G's own resolution floors the gradients' scales (oracles_linear.c, without class weights and z-loss) */
    sg = s->e_red == XENT_REDUCTION_MEAN ? (cnt != 0 ? fabsl(ro.gscale) / cnt : 0) : fabsl(ro.gscale);
    for (j = 0; j < D; j++) hfl[j] = 0;
    for (i = 0; i < R; i++) { /* the z-loss term s*2*lambda*lse*p adds to G's resolution (oracles_linear.c) */
        LD l = isfinite(ref.ce.lse[i]) ? fabsl(ref.ce.lse[i]) : 0;
        gfl[i] = (8 * u / tol) * (2 * sg + sg * 2 * ro.z_loss * l) * (1 + 2 * (isfinite(ref.o_abs[i]) ? ref.o_abs[i] : 0));
        gsum += gfl[i];
        for (j = 0; j < D; j++)
            if (isfinite(h[i * D + j])) hfl[j] += gfl[i] * fabsl(h[i * D + j]); /* the floor of grad_weight */
    }
    if (s->want_gh) {
        LD smax = s_max(ref.gh_abs, R * D);
        for (j = 0; j < D; j++) {
            LD wmax = 0, hf = 0;
            for (size_t c = 0; c < C; c++)
                if (isfinite(w[c * D + j]) && fabsl(w[c * D + j]) > wmax) wmax = fabsl(w[c * D + j]);
            for (i = 0; i < R; i++) {
                hf = fmaxl(ref.gh_abs[i * D + j], gfl[i] * wmax);
                s_cmp("grad_hidden", i * D + j, m->ghsum[i * D + j], s_get(s, m->p[P_UGH].p, i * s->ghs + j), hf,
                      smax, tol);
            }
        }
    }
    if (s->want_gw || s->want_gb) {
        LD smax = s_max(ref.gw_abs, C * D), bmax = s_max(ref.ce.bias_abs, C);
        for (int q = 0; q < s->k; q++)
            for (size_t c = s->cut[q]; c < s->cut[q + 1]; c++) {
                size_t r = c - s->cut[q];
                for (j = 0; j < D && s->want_gw; j++) {
                    LD prev = s->e_acc ? fabsl((LD)s_get(s, m->gw0, c * s->gws + j)) : 0;
                    s_cmp("grad_weight", c * D + j, s_get(s, m->q[q][Q_GW].p, r * s->gws + j),
                          s_get(s, m->p[P_UGW].p, c * s->gws + j), prev + fmaxl(ref.gw_abs[c * D + j], hfl[j]), smax,
                          tol);
                }
                if (s->want_gb) {
                    LD prev = s->e_acc ? fabsl((LD)s_get(s, m->gw0 + m->p[P_UGW].n, c)) : 0;
                    s_cmp("grad_bias", c, s_get(s, m->q[q][Q_GB].p, r), s_get(s, m->p[P_UGB].p, c),
                          prev + fmaxl(ref.ce.bias_abs[c], gsum), bmax, tol);
                }
            }
    }
    free(h), free(w), free(b), free(hfl), free(gfl);
    xt_ref_linear_free(&ref);
}

/* ---- One invalid argument -------------------------------------------------------------------------------------------- */

enum { I_NULL, I_NOGRAD, I_ZERO, I_OFFSET, I_STRIDE, I_LABEL, I_UNSUP, I_OPTION, I_WORKSPACE, I_ALIAS, I_UNMERGED,
       I_N };
static const char *const i_names[I_N] = {"a NULL pointer", "no gradient", "dim or cols 0", "col_offset + cols > total",
                                         "a stride < dim", "a label out of range", "class weights",
                                         "an option value", "workspace below the least", "an output over another buffer",
                                         "unmerged statistics"};

/* Every argument of one shard's call in one arena: hidden, weight, bias, labels, merged statistics, class weights
   (inputs), the statistics, grad_hidden, grad_weight, grad_bias (outputs). */
enum { A_H, A_W, A_B, A_LAB, A_ST, A_CW, A_PST, A_GH, A_GW, A_GB, A_N };

XF_CHECKER static void s_invalid(SSpec *s, SBufs *m)
{
    size_t R = s->rows, D = s->dim, es = s->es, off[A_N + 1], bytes[A_N], rows = R, dim = D, cols, total = s->classes;
    size_t hs = s->hs, ws = s->ws, ghs = s->ghs, gws = s->gws, lo, slack, r0 = 0;
    int q = (int)(srnd() % (uint64_t)s->k), kind = (int)(srnd() % I_N), grad = (int)(srnd() & 1), ptr_null = -1;
    xent_status want = XENT_ERR_INVALID_OPTION, got;
    xent_options o;
    void *p[A_N];
    uint8_t *ar, *snap;
    char label_text[32] = "";
    lo = s->cut[q], cols = s->cut[q + 1] - lo;
    bytes[A_H] = m->p[P_H].n, bytes[A_W] = m->q[q][Q_W].n, bytes[A_B] = cols * es, bytes[A_LAB] = R * 8;
    bytes[A_ST] = bytes[A_PST] = R * sizeof(xent_stats), bytes[A_CW] = total * 8, bytes[A_GH] = m->q[q][Q_GH].n;
    bytes[A_GW] = m->q[q][Q_GW].n, bytes[A_GB] = cols * es;
    off[0] = 0;
    for (int k = 0; k < A_N; k++) off[k + 1] = off[k] + (bytes[k] + 63) / 64 * 64;
    slack = off[A_N] + bytes[A_PST] + bytes[A_GH] + bytes[A_GW] + bytes[A_GB] + 64; /* an output placed near the end */
    ar = (uint8_t *)xmalloc(slack), snap = (uint8_t *)xmalloc(slack);
    for (size_t i = 0; i < slack; i++) ar[i] = (uint8_t)(0xA5 ^ (i * 7));
    for (int k = 0; k < A_N; k++) p[k] = ar + off[k];
    memcpy(p[A_H], m->p[P_H].p, bytes[A_H]), memcpy(p[A_W], m->q[q][Q_W].p, bytes[A_W]);
    memcpy(p[A_B], m->q[q][Q_B].p, bytes[A_B]), memcpy(p[A_LAB], m->p[P_LAB].p, bytes[A_LAB]);
    memcpy(p[A_ST], m->p[P_MERGED].p, bytes[A_ST]);
    for (size_t j = 0; j < total; j++) ((double *)p[A_CW])[j] = 1;
    xent_options_init(&o);
    o.reduction = s->e_red, o.ignore_index = s->e_ignore, o.num_threads = s->threads;
    /* the kinds that need rows, or a gradient, fall back to one that does not; a label changed by I_LABEL is a
       counted row's (an ignored row's label_seen is 0: the statistics would be unmerged for it too) */
    for (size_t t = 0; t < R && ((const int64_t *)p[A_LAB])[r0] == o.ignore_index; t++) r0 = (r0 + 1) % R;
    if ((kind == I_LABEL || kind == I_UNMERGED) && R == 0) kind = I_OFFSET;
    if (kind == I_NOGRAD || kind == I_UNMERGED) grad = 1;
    if (kind == I_LABEL && ((const int64_t *)p[A_LAB])[r0] == o.ignore_index) grad = 0;
    switch (kind) {
    case I_NULL: ptr_null = (int)(srnd() % 4), want = XENT_ERR_NULL_POINTER; break;
    case I_NOGRAD: p[A_GH] = p[A_GW] = p[A_GB] = NULL, want = XENT_ERR_NULL_POINTER; break;
    case I_ZERO:
        if (srnd() & 1) dim = 0;
        else cols = 0;
        want = XENT_ERR_INVALID_SHAPE;
        break;
    case I_OFFSET: lo = total - cols + 1 + srnd() % 3, want = XENT_ERR_INVALID_SHAPE; break;
    case I_STRIDE:
        switch (srnd() % (grad ? 4 : 2)) {
        case 0: hs = D - 1; break;
        case 1: ws = D - 1; break;
        case 2: *(s->want_gh ? &ghs : &hs) = D - 1; break; /* a stride of an output not passed is not read */
        default: *(s->want_gw ? &gws : &ws) = D - 1; break;
        }
        want = XENT_ERR_INVALID_SHAPE;
        break;
    case I_LABEL: {
        int64_t *l = (int64_t *)p[A_LAB], v = srnd() & 1 ? (int64_t)total + (int64_t)(srnd() % 3) : -2 - (int64_t)(srnd() % 5);
        l[r0] = v == o.ignore_index ? v + 3 : v;
        v = l[r0];
        snprintf(label_text, sizeof label_text, "%lld", (long long)v);
        want = XENT_ERR_LABEL_OUT_OF_RANGE;
        break;
    }
    case I_UNSUP: /* class weights (the z-loss is supported since 1.3.0) */
        o.class_weights = (const double *)p[A_CW];
        want = XENT_ERR_UNSUPPORTED;
        break;
    case I_OPTION:
        switch (srnd() % (grad ? 6 : 4)) {
        case 0: o.num_threads = -1; break;
        case 1: o.soft_cap = srnd() & 1 ? -1.0f : NAN; break;
        case 2: o.reduction = 3; break;
        case 3: o.struct_size = XF_OPTS_V1 - 1; break;
        case 4: o.label_smoothing = srnd() & 1 ? 1.5f : NAN; break;
        default: o.grad_scale = srnd() & 1 ? INFINITY : NAN; break;
        }
        break;
    case I_WORKSPACE: break; /* below, once the outputs are known */
    case I_ALIAS: {
        /* partial: the statistics over an input; grad: one of the three outputs (all passed) over an input or another
           output. Only non-empty extents can overlap: rows 0 empties hidden, labels, the statistics, grad_hidden. */
        static const int cand[8] = {A_H, A_W, A_B, A_LAB, A_ST, A_GH, A_GW, A_GB};
        int out = grad ? A_GH + (int)(srnd() % 3) : A_PST, on;
        if (R == 0 && (out == A_PST || out == A_GH)) grad = 1, out = A_GW + (int)(srnd() % 2);
        do on = cand[srnd() % (grad ? 8 : 4)];
        while (on == out || (R == 0 && (on == A_H || on == A_LAB || on == A_ST || on == A_GH)) || (on == A_B && !s->bias));
        {
            size_t step = out == A_PST ? 8 : es; /* statistics stay 8-byte aligned */
            p[out] = (uint8_t *)p[on] + (bytes[on] >= step ? step * (srnd() % (bytes[on] / step)) : 0);
        }
        want = XENT_ERR_ALIASING;
        break;
    }
    default: { /* I_UNMERGED: a row's count, or a counted row's label_seen */
        xent_stats *st = (xent_stats *)p[A_ST];
        const int64_t *l = (const int64_t *)p[A_LAB];
        size_t r = srnd() % R;
        for (size_t t = 0; t < R && l[r] == o.ignore_index; t++) r = (r + 1) % R;
        if (l[r] != o.ignore_index && srnd() & 1) st[r].label_seen = srnd() & 1 ? 0 : 2;
        else st[r].count = (double)total - 1 - (double)(srnd() % 2);
        want = XENT_ERR_INVALID_SHAPE;
        break;
    }
    }
    if (!s->want_gh && kind != I_ALIAS) p[A_GH] = NULL;
    if (!s->want_gw && kind != I_ALIAS) p[A_GW] = NULL;
    if (!s->want_gb && kind != I_ALIAS) p[A_GB] = NULL;
    if (grad && !p[A_GH] && !p[A_GW] && !p[A_GB] && kind != I_NOGRAD) p[A_GW] = ar + off[A_GW];
    if (kind == I_WORKSPACE) o.workspace_bytes = srnd() & 1 ? 1 : s_least(s, cols) - 1;
    if (ptr_null >= 0) p[(const int[]){A_H, A_W, A_LAB, grad ? A_ST : A_PST}[ptr_null]] = NULL;
    memcpy(snap, ar, slack);
    if (xf_verbose)
        fprintf(stderr, "  sharded invalid argument: %s, %s of shard %d\n", i_names[kind], grad ? "grad" : "partial", q);
    if (!grad) {
        got = s->f64 ? xent_linear_partial_stats_f64(p[A_H], rows, dim, hs, p[A_W], cols, ws, lo, total,
                                                     s->bias ? p[A_B] : NULL, p[A_LAB], &o, p[A_PST])
                     : xent_linear_partial_stats_f32(p[A_H], rows, dim, hs, p[A_W], cols, ws, lo, total,
                                                     s->bias ? p[A_B] : NULL, p[A_LAB], &o, p[A_PST]);
    } else {
        got = s->f64 ? xent_linear_grad_from_stats_f64(p[A_H], rows, dim, hs, p[A_W], cols, ws, lo, total,
                                                       s->bias ? p[A_B] : NULL, p[A_LAB], p[A_ST], &o, p[A_GH], ghs,
                                                       p[A_GW], gws, p[A_GB])
                     : xent_linear_grad_from_stats_f32(p[A_H], rows, dim, hs, p[A_W], cols, ws, lo, total,
                                                       s->bias ? p[A_B] : NULL, p[A_LAB], p[A_ST], &o, p[A_GH], ghs,
                                                       p[A_GW], gws, p[A_GB]);
    }
    if (got != want)
        FAIL("sharded invalid argument (%s, %s of shard %d): status %d (\"%s\"), expected %d", i_names[kind],
             grad ? "xent_linear_grad_from_stats" : "xent_linear_partial_stats", q, got, xent_last_error_message(),
             want);
    if (!xent_last_error_message()[0]) FAIL("sharded invalid argument (%s): an empty message", i_names[kind]);
    if (label_text[0] && !strstr(xent_last_error_message(), label_text))
        FAIL("sharded invalid argument (%s): the message \"%s\" does not name the label %s", i_names[kind],
             xent_last_error_message(), label_text);
    for (size_t i = 0; i < slack; i++)
        if (ar[i] != snap[i]) FAIL("sharded invalid argument (%s): byte %zu of the arguments changed", i_names[kind], i);
    free(ar), free(snap);
}

/* ---- The oracle ------------------------------------------------------------------------------------------------------- */

static void s_describe(const SSpec *s)
{
    char cuts[96] = "";
    for (int q = 0; q < s->k; q++)
        snprintf(cuts + strlen(cuts), sizeof cuts - strlen(cuts), "%s%zu", q ? " | " : "", s->cut[q + 1] - s->cut[q]);
    snprintf(xf_desc, sizeof xf_desc,
             "sharded linear %s rows=%zu dim=%zu classes=%zu (%s) strides=%zu/%zu/%zu/%zu opts=%s struct_size=%zu "
             "reduction=%d threads=%d ignore=%lld smoothing=%g grad_scale=%g soft_cap=%g z_loss=%g z_out=%d workspace=%zu "
             "accumulate=%d gh/gw/gb/lse/bias=%d%d%d%d%d guard=%d",
             s->f64 ? "f64" : "f32", s->rows, s->dim, s->classes, cuts, s->hs, s->ws, s->ghs, s->gws,
             s->opts_null ? "NULL" : "set", s->struct_size, s->reduction, s->threads, (long long)s->ignore,
             (double)s->smoothing, (double)s->gscale, (double)s->cap, (double)s->zloss, s->zout, s->workspace,
             s->accumulate, s->want_gh,
             s->want_gw, s->want_gb, s->want_lse, s->bias, s->guard);
}

int xf_linear_sharded(const uint8_t *data, size_t size)
{
    SSpec s;
    SBufs m;
    xent_status st;
    uint8_t *before[P_N];
    size_t R, D, es;
    s_decode(data, size, &s);
    s_rng = 0x9E3779B97F4A7C15ULL;
    for (size_t k = 25; k < 29; k++) s_rng = (s_rng ^ (k < size ? data[k] : 0)) * 0x100000001B3ULL;
    s_rng = s_rng ? s_rng : 1;
    memset(&m, 0, sizeof m);
    s_build(&s, &m, data, size);
    s_workspace(&s);
    s_describe(&s);
    if (xf_verbose) fprintf(stderr, "%s\n", xf_desc);
    R = s.rows, D = s.dim, es = s.es;
    for (int k = 0; k < P_N; k++) {
        before[k] = (uint8_t *)xmalloc(m.p[k].n + 1);
        memcpy(before[k], m.p[k].p, m.p[k].n);
    }
    st = s_unsharded(&s, &m);
    if (st != XENT_OK) FAIL("the unsharded call: status %d (\"%s\")", st, xent_last_error_message());
    /* 1. statistics of every shard merged left to right, the loss, every shard's gradients */
    for (int q = 0; q < s.k; q++) {
        const xent_options *o = s_options(&s, s.workspace, s.threads, m.p[P_SZ].p);
        st = s_partial(&s, &m, q, o, m.q[q][Q_ST].p);
        if (st != XENT_OK) FAIL("partial stats of shard %d: status %d (\"%s\")", q, st, xent_last_error_message());
        if (q == 0) memcpy(m.p[P_MERGED].p, m.q[q][Q_ST].p, m.p[P_MERGED].n);
        else if ((st = xent_merge_stats((const xent_stats *)(void *)m.p[P_MERGED].p,
                                        (const xent_stats *)(void *)m.q[q][Q_ST].p,
                                        (xent_stats *)(void *)m.p[P_MERGED].p, R)) != XENT_OK)
            FAIL("merge of shard %d: status %d (\"%s\")", q, st, xent_last_error_message());
    }
    {
        const xent_options *o = s_options(&s, s.workspace, s.threads, m.p[P_SZ].p);
        const xent_stats *mg = (const xent_stats *)(void *)m.p[P_MERGED].p;
        const int64_t *lab = (const int64_t *)(void *)m.p[P_LAB].p;
        void *lse = s.want_lse ? m.p[P_SLSE].p : NULL;
        st = s.f64 ? xent_finalize_stats_f64(mg, R, s.classes, lab, o, (double *)(void *)m.p[P_SLOSS].p, lse)
                   : xent_finalize_stats_f32(mg, R, s.classes, lab, o, (float *)(void *)m.p[P_SLOSS].p, lse);
        if (st != XENT_OK) FAIL("finalize: status %d (\"%s\")", st, xent_last_error_message());
    }
    for (size_t i = 0; i < R * D; i++) m.ghsum[i] = 0;
    for (int q = 0; q < s.k && (s.want_gh || s.want_gw || s.want_gb); q++) {
        const xent_options *o = s_options(&s, s.workspace, s.threads, m.p[P_SZ].p);
        size_t nc = s.cut[q + 1] - s.cut[q];
        st = s_grad(&s, &m, q, o, m.q[q][Q_GH].p, m.q[q][Q_GW].p, m.q[q][Q_GB].p);
        if (st != XENT_OK) FAIL("grad from stats of shard %d: status %d (\"%s\")", q, st, xent_last_error_message());
        if (xent_last_error_message()[0]) FAIL("message \"%s\" after success", xent_last_error_message());
        s_padding(&s, &m.q[q][Q_GH], R, D, s.ghs, "grad_hidden");
        s_padding(&s, &m.q[q][Q_GW], nc, D, s.gws, "grad_weight");
        for (size_t i = 0; i < R && s.want_gh; i++)
            for (size_t j = 0; j < D; j++) m.ghsum[i * D + j] += s_get(&s, m.q[q][Q_GH].p, i * s.ghs + j);
    }
    for (int k = P_H; k <= P_LAB; k++) s_unchanged(&m.p[k], before[k], "an input");
    if (!s.want_lse)
        for (size_t i = 0; i < m.p[P_SLSE].n; i++)
            if (m.p[P_SLSE].p[i] != 0xA7) FAIL("lse (not asked for) written");
    if (!getenv("XENT_FUZZ_NO_VARIANTS")) {
        s_compare(&s, &m);
        /* 2. another thread count: the same bytes (one shard) */
        if (R > 0 && !s.opts_null) {
            int q = (int)(srnd() % (uint64_t)s.k);
            int32_t t = s.threads == 1 ? 2 : 1;
            SBlk b[Q_N];
            const xent_options *o = s_options(&s, s.workspace, t, m.p[P_SZ].p);
            for (int k = Q_ST; k < Q_N; k++) sb_alloc(&b[k], m.q[q][k].n, 0);
            if (s.e_acc) memcpy(b[Q_GW].p, m.gw0 + s.cut[q] * s.gws * es, b[Q_GW].n);
            if (s.e_acc) memcpy(b[Q_GB].p, m.gw0 + m.p[P_UGW].n + s.cut[q] * es, b[Q_GB].n);
            if ((st = s_partial(&s, &m, q, o, b[Q_ST].p)) != XENT_OK) FAIL("num_threads %d: partial stats %d", t, st);
            if (s.want_gh || s.want_gw || s.want_gb)
                if ((st = s_grad(&s, &m, q, o, b[Q_GH].p, b[Q_GW].p, b[Q_GB].p)) != XENT_OK)
                    FAIL("num_threads %d: grad from stats %d", t, st);
            for (int k = Q_ST; k < Q_N; k++)
                if (memcmp(b[k].p, m.q[q][k].p, b[k].n) != 0)
                    FAIL("num_threads %d changes shard %d's %s (must be bit-identical)", t, q,
                         k == Q_ST ? "statistics" : k == Q_GH ? "grad_hidden" : k == Q_GW ? "grad_weight" : "grad_bias");
            for (int k = Q_ST; k < Q_N; k++) sb_free(&b[k]);
        }
        /* 3. one invalid argument */
        s_invalid(&s, &m);
    }
    for (int k = 0; k < P_N; k++) free(before[k]);
    s_free(&s, &m);
    return 0;
}
