/*
 * fuzz/oracles_linear.c -- xent_linear_cross_entropy_f32/_f64 (1.2.0): inputs whose first byte is >= 0xE0 (see
 * XF_LINEAR_TAG) decode here into one linear call instead of the cross-entropy calls of inputs.c.
 *
 * Layout after the tag byte (bit 0 of the tag: f64), each one byte unless noted (gen_seeds.py writes it):
 *   rows, dim, classes selectors; 4 stride selectors (hidden, weight, grad_hidden, grad_weight); options: struct
 *   size, reduction, threads, ignore_index, smoothing, grad_scale, z_loss, soft_cap, class weights, z_loss_out,
 *   workspace, accumulate; outputs (bit set: grad_hidden, grad_weight, grad_bias, lse; bit 4: no bias; bits 5-7: a
 *   required pointer NULL); aliasing (output, target, offset); labels mode; values mode; seed (4 bytes); then up to
 *   16 patches (kind, row, col) of special values.
 *
 * Invariants (abort on violation):
 *   1. the status equals an independent validation in the library's order: decodeOptions (struct_size, reduction)
 *      -> NULL hidden/weight/labels/loss -> dim 0, classes 0 -> shapes (stride < dim, extents) -> the options'
 *      values -> class weights -> overlap of byte ranges (every output against every input and output) -> the
 *      BLAS's 32-bit limit on dim, classes and strides -> the workspace (below the header's least, one row of a
 *      block + the bias sums + 192 bytes: refused; from it on: accepted) -> labels outside [0, classes) that are
 *      not ignore_index;
 *   2. on error no byte of any buffer or of the options changed, and the message is non-empty;
 *   3. on success the message is "", inputs and stride padding are unchanged, and (small shapes) every output
 *      agrees with the long double reference (xt_ref_linear; accumulate: the previous values plus it);
 *   4. another num_threads gives the same bytes (the header: bit-identical for any thread count).
 * Every buffer is its own exactly sized heap block (ASan red zones around it); an output placed on another buffer
 * (aliasing) lies inside that buffer's block, which gets the room for it.
 */
#include "xf.h"

enum { L_H, L_W, L_B, L_LAB, L_CW, L_LOSS, L_GH, L_GW, L_GB, L_LSE, L_Z, L_N };
static const char *const l_names[L_N] = {"hidden", "weight", "bias", "labels", "class_weights", "loss",
                                         "grad_hidden", "grad_weight", "grad_bias", "lse", "z_loss_out"};

typedef struct {
    const uint8_t *p;
    size_t n, i;
} LRd;

static uint8_t l8(LRd *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

static uint64_t l_rng;
static uint64_t lrnd(void)
{
    l_rng ^= l_rng >> 12, l_rng ^= l_rng << 25, l_rng ^= l_rng >> 27;
    return l_rng * 0x2545F4914F6CDD1DULL;
}
static double lunif(double lo, double hi)
{
    return lo + (hi - lo) * (double)(lrnd() >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct {
    int f64;
    size_t es, rows, dim, classes, hs, ws, ghs, gws;
    int want[L_N];   /* the pointer is passed (non-NULL) */
    int alias_out, alias_to; /* -1: none */
    size_t alias_off;        /* bytes into alias_to's block */
    /* options */
    int opts_null;
    size_t struct_size;
    int32_t reduction, threads;
    int64_t ignore;
    float smoothing, gscale, zloss, cap;
    size_t workspace;
    int32_t accumulate;
    int cw_mode; /* 0 none, 1 valid, 2 with zeros, 3 a negative weight, 4 a NaN weight */
    /* buffers: blocks and the pointers passed */
    size_t count[L_N], bytes[L_N], room[L_N];
    uint8_t *blk[L_N], *snap[L_N], *mask[L_N]; /* mask[k][b]: byte b may change on success */
    void *ptr[L_N];
    xent_options opts;
    uint8_t opts_bytes[sizeof(xent_options) + 32];
    size_t opts_alloc;
} LSpec;

#define XF_OPTS_V11 offsetof(xent_options, workspace_bytes)
#define XF_BLAS_MAX ((size_t)INT32_MAX)

/* ---- Decoding ------------------------------------------------------------------------------------------------ */

static size_t pick_dim(uint8_t v)
{
    switch (v >> 5) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2 + v % 7;
    default: return 1 + v % 48;
    }
}

static size_t pick_classes(uint8_t v, size_t *rows, size_t *dim)
{
    static const size_t tails[] = {7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
    switch (v >> 5) {
    case 0: return v & 1 ? 1 : 0;
    case 1: return tails[v % 12];
    case 2:
    case 3:
    case 4: return 1 + v % 70;
    case 5: return 100 + (size_t)v * 13;
    case 6:
        if (*rows > 3) *rows = 3;
        if (*dim > 3) *dim = 3;
        return 70001 + v % 3; /* the long-row path of the kernel */
    default: return 2 + v % 33;
    }
}

static size_t pick_stride(uint8_t v, size_t dim, int may_be_huge)
{
    switch (v & 7) {
    case 0:
    case 1:
    case 2: return dim;
    case 3: return dim + 1 + (v >> 3) % 4;
    case 4: return dim ? dim - 1 : 0; /* too small */
    case 5: return may_be_huge ? (v & 8 ? XF_BLAS_MAX + 1 : XF_BLAS_MAX) : dim + 2;
    case 6: return 0;
    default: return dim + 7;
    }
}

static float pick_float(uint8_t v, const float *table, int n)
{
    return table[v % n];
}

/* The header's bytes of one row of a block (xent_options.workspace_bytes): the logits (twice with a separate
   gradient), 64 per 2048-class tile and 64 more, min(tiles, 4) - 1 rows of dim for the parts of grad_hidden. */
static size_t l_row_bytes(const LSpec *s, int separate)
{
    size_t tiles = (s->classes + 2047) / 2048;
    return s->classes * s->es * (separate ? 2 : 1) + 64 * (tiles + 1) + ((tiles < 4 ? tiles : 4) - 1) * s->dim * s->es;
}

/* The bias gradient's sums (reserved with or without grad_bias) and the 192 bytes of alignment. */
static size_t l_sums_bytes(const LSpec *s)
{
    return (s->f64 ? 16 : 8) * s->classes + 192;
}

static void decode_linear(LRd *r, LSpec *s, uint8_t tag)
{
    static const float smo[] = {0, 0, 0.1f, 0.05f, 1, 1.5f, -0.1f, NAN};
    static const float gsc[] = {1, 1, 2.5f, 0, -1, 1e-30f, INFINITY, NAN};
    static const float zl[] = {0, 0, 1e-3f, 1e-2f, -1, INFINITY};
    static const float cap[] = {0, 0, 3, 30, 0.5f, -1, NAN};
    uint8_t rowsel, dimsel, clssel, ss[4], optsel, red, thr, ign, sm, gs, zs, cs, cwsel, zout, wsel, acc, outs;
    uint8_t asel, aoff;
    memset(s, 0, sizeof *s);
    s->f64 = tag & 1;
    s->es = s->f64 ? 8 : 4;
    rowsel = l8(r), dimsel = l8(r), clssel = l8(r);
    for (int k = 0; k < 4; k++) ss[k] = l8(r);
    optsel = l8(r), red = l8(r), thr = l8(r), ign = l8(r), sm = l8(r), gs = l8(r), zs = l8(r), cs = l8(r);
    cwsel = l8(r), zout = l8(r), wsel = l8(r), acc = l8(r), outs = l8(r), asel = l8(r), aoff = l8(r);
    s->rows = rowsel < 16 ? rowsel % 3 : rowsel < 224 ? rowsel % 40 : 40 + (size_t)(rowsel - 224) * 8;
    s->dim = pick_dim(dimsel);
    s->classes = pick_classes(clssel, &s->rows, &s->dim);
    /* huge strides only where they cost no memory: rows <= 1 (hidden, grad_hidden), classes == 1 (weight) */
    s->hs = pick_stride(ss[0], s->dim, s->rows <= 1);
    s->ws = pick_stride(ss[1], s->dim, s->classes <= 1);
    s->ghs = pick_stride(ss[2], s->dim, s->rows <= 1);
    s->gws = pick_stride(ss[3], s->dim, s->classes <= 1);
    /* options */
    s->opts_null = (optsel & 7) == 7;
    switch ((optsel >> 3) & 7) {
    case 1: s->struct_size = XF_OPTS_V1; break;
    case 2: s->struct_size = XF_OPTS_V11; break;
    case 3: s->struct_size = XF_OPTS_V1 - 1; break;
    case 4: s->struct_size = sizeof(xent_options) + 16; break; /* a later header: garbage after our fields */
    default: s->struct_size = sizeof(xent_options); break;
    }
    s->reduction = red < 200 ? red % 3 : red < 250 ? 3 : -1;
    s->threads = thr < 240 ? thr % 4 : thr < 250 ? 8 : -1;
    s->ignore = ign % 4 == 0 ? 0 : ign % 4 == 1 ? 1 : -100;
    s->smoothing = pick_float(sm, smo, 8);
    s->gscale = pick_float(gs, gsc, 8);
    s->zloss = pick_float(zs, zl, 6);
    s->cap = pick_float(cs, cap, 7);
    s->cw_mode = cwsel < 128 ? 0 : 1 + cwsel % 4;
    s->want[L_Z] = zout & 1;
    s->accumulate = acc & 1;
    /* outputs and NULL inputs */
    s->want[L_H] = s->want[L_W] = s->want[L_LAB] = s->want[L_LOSS] = 1;
    s->want[L_GH] = outs & 1, s->want[L_GW] = (outs >> 1) & 1, s->want[L_GB] = (outs >> 2) & 1;
    s->want[L_LSE] = (outs >> 3) & 1;
    s->want[L_B] = !((outs >> 4) & 1);
    s->want[L_CW] = s->cw_mode != 0;
    switch (outs >> 5) {
    case 5: s->want[L_H] = 0; break;
    case 6: s->want[L_W] = 0; break;
    case 7: s->want[(asel & 1) ? L_LAB : L_LOSS] = 0; break;
    default: break;
    }
    /* workspace: 0 default, the least (the header's formula, as if no separate gradient), one byte less, a few rows,
       huge */
    {
        size_t row = l_row_bytes(s, 0), sums = l_sums_bytes(s);
        switch (wsel & 7) {
        case 1: s->workspace = row + sums; break;
        case 2: s->workspace = row + sums - 1; break;
        case 3: s->workspace = (1 + (size_t)(wsel >> 3) % 5) * row + sums; break;
        case 4: s->workspace = SIZE_MAX; break;
        case 5: s->workspace = 1; break;
        default: s->workspace = 0; break;
        }
    }
    /* aliasing: output asel%6 placed on buffer (asel/6)%11 */
    s->alias_out = s->alias_to = -1;
    if (asel >= 160) {
        s->alias_out = L_LOSS + asel % 6;
        s->alias_to = (asel / 6) % L_N;
        s->alias_off = aoff;
        if (s->alias_to == s->alias_out || !s->want[s->alias_out] || !s->want[s->alias_to])
            s->alias_out = s->alias_to = -1;
    }
}

/* ---- Buffers ----------------------------------------------------------------------------------------------- */

static size_t mat_extent(size_t rows, size_t cols, size_t stride)
{
    size_t e;
    if (!extent_ok(rows, cols, stride, 8, &e)) return 0;
    return e;
}

/* Element counts of every buffer (0 for a shape that will be refused: nothing is allocated for it). */
static void counts(LSpec *s)
{
    int32_t red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction; /* NULL options: the defaults */
    size_t nloss = red == XENT_REDUCTION_NONE ? s->rows : 1;
    s->count[L_H] = mat_extent(s->rows, s->dim, s->hs);
    s->count[L_W] = mat_extent(s->classes, s->dim, s->ws);
    s->count[L_B] = s->classes;
    s->count[L_LAB] = s->rows;
    s->count[L_CW] = s->classes;
    s->count[L_LOSS] = nloss;
    s->count[L_GH] = mat_extent(s->rows, s->dim, s->ghs);
    s->count[L_GW] = mat_extent(s->classes, s->dim, s->gws);
    s->count[L_GB] = s->classes;
    s->count[L_LSE] = s->rows;
    s->count[L_Z] = nloss;
    for (int k = 0; k < L_N; k++)
        s->bytes[k] = s->count[k] * (k == L_LAB ? 8 : (k == L_CW || k == L_Z) ? 8 : s->es);
}

static void set_elem(LSpec *s, int k, size_t i, double v)
{
    if (i >= s->count[k]) return; /* a refused shape (stride < dim) has a shorter block, or none */
    if (k == L_CW || k == L_Z || s->f64) ((double *)s->blk[k])[i] = v;
    else ((float *)s->blk[k])[i] = (float)v;
}

static double get_elem(const LSpec *s, int k, size_t i)
{
    if (k == L_CW || k == L_Z || s->f64) return ((const double *)s->blk[k])[i];
    return ((const float *)s->blk[k])[i];
}

static void fill_matrix(LSpec *s, int k, size_t rows, size_t cols, size_t stride, double lo, double hi)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < stride && i * stride + j < s->count[k]; j++)
            set_elem(s, k, i * stride + j, j < cols ? lunif(lo, hi) : NAN);
}

static void build(LSpec *s, LRd *r, uint8_t labmode, uint8_t valmode)
{
    double scale = (valmode & 3) == 3 ? 8 : (valmode & 3) == 2 ? 0.05 : 1.5;
    counts(s);
    if (s->alias_out >= 0) { /* the aliased output lies inside its target's block */
        size_t off = s->bytes[s->alias_to] ? s->alias_off % s->bytes[s->alias_to] : 0;
        off &= ~(size_t)7;
        s->alias_off = off;
        s->room[s->alias_to] = off + s->bytes[s->alias_out];
    }
    for (int k = 0; k < L_N; k++) {
        size_t n = s->bytes[k] > s->room[k] ? s->bytes[k] : s->room[k];
        s->blk[k] = (uint8_t *)xmalloc(n ? n : 1);
        s->snap[k] = (uint8_t *)xmalloc(n ? n : 1);
        s->mask[k] = (uint8_t *)calloc(n ? n : 1, 1);
        s->room[k] = n;
        memset(s->blk[k], 0xA7, n);
    }
    fill_matrix(s, L_H, s->rows, s->dim, s->hs, -scale, scale);
    fill_matrix(s, L_W, s->classes, s->dim, s->ws, -scale, scale);
    for (size_t j = 0; j < s->classes; j++) set_elem(s, L_B, j, lunif(-1, 1));
    for (size_t i = 0; i < s->rows; i++) {
        int64_t lab = s->classes ? (int64_t)(lrnd() % s->classes) : 0;
        uint64_t u = lrnd() % 64;
        if (labmode & 1 && u < 8) lab = s->ignore;
        if (labmode & 2 && u == 9) lab = (int64_t)s->classes;
        if (labmode & 2 && u == 10) lab = -1;
        if (labmode & 4) lab = s->ignore; /* every row ignored */
        ((int64_t *)s->blk[L_LAB])[i] = lab;
    }
    for (size_t j = 0; j < s->classes; j++) {
        double w = lunif(0.25, 2);
        if (s->cw_mode == 2 && j % 3 == 0) w = 0;
        if (s->cw_mode == 3 && j == s->classes / 2) w = -1;
        if (s->cw_mode == 4 && j == s->classes - 1) w = NAN;
        ((double *)s->blk[L_CW])[j] = w;
    }
    /* accumulate: grad_weight and grad_bias start from values the call adds to */
    if (s->accumulate) {
        fill_matrix(s, L_GW, s->classes, s->dim, s->gws, -1, 1);
        for (size_t j = 0; j < s->classes; j++) set_elem(s, L_GB, j, lunif(-1, 1));
    }
    /* patches: NaN/inf in hidden, -inf/1e30 in bias, a huge hidden value */
    {
        int np = l8(r) % 17;
        for (int q = 0; q < np; q++) {
            uint8_t kind = l8(r), row = l8(r), col = l8(r);
            size_t i = s->rows ? row % s->rows : 0, j = s->dim ? col % s->dim : 0, c = s->classes ? col % s->classes : 0;
            switch (kind % 8) {
            case 0:
                if (s->rows && s->dim) set_elem(s, L_H, i * s->hs + j, NAN);
                break;
            case 1:
                if (s->rows && s->dim) set_elem(s, L_H, i * s->hs + j, kind & 8 ? INFINITY : -INFINITY);
                break;
            case 2:
                if (s->classes) set_elem(s, L_B, c, -INFINITY);
                break;
            case 3:
                if (s->classes) set_elem(s, L_B, c, kind & 8 ? 1e30 : -1e30);
                break;
            case 4:
                if (s->rows && s->dim) set_elem(s, L_H, i * s->hs + j, kind & 8 ? 1e4 : -1e4);
                break;
            case 5:
                if (s->classes && s->dim) set_elem(s, L_W, c * s->ws + j, 0);
                break;
            case 6: /* every class of the label masked but one */
                if (s->classes)
                    for (size_t cc = 0; cc < s->classes; cc++)
                        if (cc != c) set_elem(s, L_B, cc, -INFINITY);
                break;
            default:
                if (s->rows && s->classes) ((int64_t *)s->blk[L_LAB])[i] = (int64_t)c;
                break;
            }
        }
    }
    /* pointers */
    for (int k = 0; k < L_N; k++) s->ptr[k] = s->want[k] ? (void *)s->blk[k] : NULL;
    if (s->alias_out >= 0) s->ptr[s->alias_out] = s->blk[s->alias_to] + s->alias_off;
    /* what a successful call may write: the output elements (not the stride padding) */
    for (int k = L_LOSS; k < L_N; k++) {
        size_t rows = 1, cols = s->count[k], stride = s->count[k], es = (k == L_Z) ? 8 : s->es;
        if (!s->want[k] || k == s->alias_out) continue;
        if (k == L_GH) rows = s->rows, cols = s->dim, stride = s->ghs;
        if (k == L_GW) rows = s->classes, cols = s->dim, stride = s->gws;
        if (!s->count[k]) continue;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                if ((i * stride + j + 1) * es <= s->room[k]) memset(s->mask[k] + (i * stride + j) * es, 1, es);
    }
    /* an aliased output that turns out not to overlap (its target not read: class weights or z_loss_out beyond
       struct_size, an empty extent) is written where it was placed */
    if (s->alias_out >= 0) {
        size_t n = s->bytes[s->alias_out];
        if (s->alias_off + n <= s->room[s->alias_to]) memset(s->mask[s->alias_to] + s->alias_off, 1, n);
    }
    /* options */
    xent_options_init(&s->opts);
    s->opts.reduction = s->reduction;
    s->opts.num_threads = s->threads;
    s->opts.ignore_index = s->ignore;
    s->opts.label_smoothing = s->smoothing;
    s->opts.grad_scale = s->gscale;
    s->opts.z_loss = s->zloss;
    s->opts.soft_cap = s->cap;
    s->opts.class_weights = (const double *)s->ptr[L_CW];
    s->opts.z_loss_out = (double *)s->ptr[L_Z];
    s->opts.workspace_bytes = s->workspace;
    s->opts.accumulate = s->accumulate;
    s->opts.struct_size = s->struct_size;
    memset(s->opts_bytes, 0x5C, sizeof s->opts_bytes);
    memcpy(s->opts_bytes, &s->opts, sizeof s->opts);
}

static void free_spec(LSpec *s)
{
    for (int k = 0; k < L_N; k++) free(s->blk[k]), free(s->snap[k]), free(s->mask[k]);
}

/* ---- The expected status -------------------------------------------------------------------------------------- */

typedef struct {
    uintptr_t lo, hi;
} LRange;

static LRange range_of(const LSpec *s, int k, size_t elems, size_t es)
{
    LRange r = {0, 0};
    if (!s->ptr[k] || !elems) return r;
    r.lo = (uintptr_t)s->ptr[k];
    r.hi = r.lo + elems * es;
    return r;
}

static int l_overlap(LRange a, LRange b)
{
    return a.lo != a.hi && b.lo != b.hi && a.lo < b.hi && b.lo < a.hi;
}


static int lin_expected(const LSpec *s, const char **why)
{
    int v11 = s->opts_null || s->struct_size >= offsetof(xent_options, z_loss_out) + sizeof(double *);
    int v12 = s->opts_null || s->struct_size >= offsetof(xent_options, accumulate) + sizeof(int32_t);
    int32_t red = s->opts_null ? XENT_REDUCTION_MEAN : s->reduction;
    size_t ext, es = s->es, nloss, workspace = v12 && !s->opts_null ? s->workspace : 0;
    float smo = s->opts_null ? 0 : s->smoothing, gsc = s->opts_null ? 1 : s->gscale;
    float zl = v11 && !s->opts_null ? s->zloss : 0, cap = v11 && !s->opts_null ? s->cap : 0;
    int32_t thr = s->opts_null ? 0 : s->threads;
    int64_t ign = s->opts_null ? -100 : s->ignore;
    const void *cw = v11 && !s->opts_null ? s->ptr[L_CW] : NULL;
    const void *z = v11 && !s->opts_null ? s->ptr[L_Z] : NULL;
    if (!s->opts_null) {
        if (s->struct_size < XF_OPTS_V1) return *why = "struct_size", XENT_ERR_INVALID_OPTION;
        if (red < 0 || red > 2) return *why = "reduction", XENT_ERR_INVALID_OPTION;
    }
    nloss = red == XENT_REDUCTION_NONE ? s->rows : 1;
    if (!s->ptr[L_H]) return *why = "hidden NULL", XENT_ERR_NULL_POINTER;
    if (!s->ptr[L_W]) return *why = "weight NULL", XENT_ERR_NULL_POINTER;
    if (!s->ptr[L_LAB]) return *why = "labels NULL", XENT_ERR_NULL_POINTER;
    if (!s->ptr[L_LOSS]) return *why = "loss NULL", XENT_ERR_NULL_POINTER;
    if (s->dim == 0) return *why = "dim 0", XENT_ERR_INVALID_SHAPE;
    if (s->classes == 0) return *why = "classes 0", XENT_ERR_INVALID_SHAPE;
    if (!extent_ok(s->rows, s->dim, s->hs, es, &ext)) return *why = "hidden shape", XENT_ERR_INVALID_SHAPE;
    if (!extent_ok(s->classes, s->dim, s->ws, es, &ext)) return *why = "weight shape", XENT_ERR_INVALID_SHAPE;
    if (s->ptr[L_GH] && !extent_ok(s->rows, s->dim, s->ghs, es, &ext))
        return *why = "grad_hidden shape", XENT_ERR_INVALID_SHAPE;
    if (s->ptr[L_GW] && !extent_ok(s->classes, s->dim, s->gws, es, &ext))
        return *why = "grad_weight shape", XENT_ERR_INVALID_SHAPE;
    if (!(smo >= 0 && smo <= 1)) return *why = "smoothing", XENT_ERR_INVALID_OPTION;
    if (!isfinite(gsc)) return *why = "grad_scale", XENT_ERR_INVALID_OPTION;
    if (thr < 0) return *why = "num_threads", XENT_ERR_INVALID_OPTION;
    if (!(zl >= 0 && isfinite(zl))) return *why = "z_loss", XENT_ERR_INVALID_OPTION;
    if (!(cap >= 0 && isfinite(cap))) return *why = "soft_cap", XENT_ERR_INVALID_OPTION;
    if (cw) {
        const double *w = (const double *)cw;
        for (size_t j = 0; j < s->classes; j++)
            if (!(w[j] >= 0 && isfinite(w[j]))) return *why = "class weight", XENT_ERR_INVALID_OPTION;
    }
    {
        LRange in[5], out[6];
        int nin = 0, nout = 0;
        in[nin++] = range_of(s, L_H, mat_extent(s->rows, s->dim, s->hs), es);
        in[nin++] = range_of(s, L_W, mat_extent(s->classes, s->dim, s->ws), es);
        in[nin++] = range_of(s, L_B, s->classes, es);
        in[nin++] = range_of(s, L_LAB, s->rows, 8);
        if (cw) in[nin++] = range_of(s, L_CW, s->classes, 8);
        out[nout++] = range_of(s, L_LOSS, nloss, es);
        out[nout++] = range_of(s, L_GH, mat_extent(s->rows, s->dim, s->ghs), es);
        out[nout++] = range_of(s, L_GW, mat_extent(s->classes, s->dim, s->gws), es);
        out[nout++] = range_of(s, L_GB, s->classes, es);
        out[nout++] = range_of(s, L_LSE, s->rows, es);
        if (z) out[nout++] = range_of(s, L_Z, nloss, 8);
        for (int a = 0; a < nout; a++) {
            for (int b = 0; b < nin; b++)
                if (l_overlap(out[a], in[b])) return *why = "an output overlaps an input", XENT_ERR_ALIASING;
            for (int b = 0; b < a; b++)
                if (l_overlap(out[a], out[b])) return *why = "two outputs overlap", XENT_ERR_ALIASING;
        }
    }
    if (s->dim > XF_BLAS_MAX || s->classes > XF_BLAS_MAX || s->hs > XF_BLAS_MAX || s->ws > XF_BLAS_MAX ||
        (s->ptr[L_GH] && s->ghs > XF_BLAS_MAX) || (s->ptr[L_GW] && s->gws > XF_BLAS_MAX))
        return *why = "a size above the BLAS's 2^31 - 1", XENT_ERR_INVALID_SHAPE;
    {
        /* The header's formula, exactly: one row of a block plus the bias sums (reserved with or without grad_bias)
           plus 192 bytes is the least bound accepted. */
        size_t bound = workspace ? workspace : XENT_LINEAR_WORKSPACE_DEFAULT;
        size_t sums = l_sums_bytes(s), row = l_row_bytes(s, cap != 0 && smo > 0 && cw);
        (void)es;
        if (bound > (size_t)INT64_MAX) bound = (size_t)INT64_MAX;
        if (bound < sums || bound - sums < row) return *why = "workspace too small", XENT_ERR_INVALID_OPTION;
    }
    for (size_t i = 0; i < s->rows; i++) {
        int64_t l = ((const int64_t *)s->blk[L_LAB])[i];
        if (l != ign && (l < 0 || l >= (int64_t)s->classes)) return *why = "label out of range", XENT_ERR_LABEL_OUT_OF_RANGE;
    }
    return *why = "valid", XENT_OK;
}

/* ---- The call and the oracles --------------------------------------------------------------------------------- */

static xent_status lin_call(LSpec *s, int32_t threads)
{
    xent_options o;
    memcpy(&o, s->opts_bytes, sizeof o);
    if (threads >= 0) o.num_threads = threads;
    memcpy(s->opts_bytes, &o, sizeof o);
    const xent_options *op = s->opts_null ? NULL : (const xent_options *)(const void *)s->opts_bytes;
    if (s->f64)
        return xent_linear_cross_entropy_f64(
            (const double *)s->ptr[L_H], s->rows, s->dim, s->hs, (const double *)s->ptr[L_W], s->classes, s->ws,
            (const double *)s->ptr[L_B], (const int64_t *)s->ptr[L_LAB], op, (double *)s->ptr[L_LOSS],
            (double *)s->ptr[L_GH], s->ghs, (double *)s->ptr[L_GW], s->gws, (double *)s->ptr[L_GB],
            (double *)s->ptr[L_LSE]);
    return xent_linear_cross_entropy_f32((const float *)s->ptr[L_H], s->rows, s->dim, s->hs,
                                         (const float *)s->ptr[L_W], s->classes, s->ws, (const float *)s->ptr[L_B],
                                         (const int64_t *)s->ptr[L_LAB], op, (float *)s->ptr[L_LOSS],
                                         (float *)s->ptr[L_GH], s->ghs, (float *)s->ptr[L_GW], s->gws,
                                         (float *)s->ptr[L_GB], (float *)s->ptr[L_LSE]);
}

XF_CHECKER static void lin_snapshot(LSpec *s)
{
    for (int k = 0; k < L_N; k++) memcpy(s->snap[k], s->blk[k], s->room[k]);
}

XF_CHECKER static void lin_restore(LSpec *s)
{
    for (int k = 0; k < L_N; k++) memcpy(s->blk[k], s->snap[k], s->room[k]);
}

XF_CHECKER static void lin_untouched(const LSpec *s, int ok, const uint8_t *opts_before)
{
    if (memcmp(opts_before, s->opts_bytes, sizeof s->opts_bytes) != 0) FAIL("the options struct was written");
    for (int k = 0; k < L_N; k++)
        for (size_t b = 0; b < s->room[k]; b++)
            if (s->blk[k][b] != s->snap[k][b] && !(ok && s->mask[k][b]))
                FAIL("%s call changed byte %zu of %s (%s)", ok ? "a successful" : "a refused", b, l_names[k],
                     ok ? "not an output element" : "nothing may be written");
}

/* |got - ref| <= tol * max(scale, 1e-2 * the largest scale, or 1 when all are 0); NaN only for NaN, infinities
   exactly. */
XF_CHECKER static void lin_cmp(const char *what, double got, LD ref, LD scale, LD smax, double tol, size_t i)
{
    if (isnan(ref) || isnan(got)) {
        if (isnan(ref) != isnan(got)) FAIL("%s[%zu]: got %.17g, expected %.17Lg", what, i, got, ref);
        return;
    }
    if (isinf(ref) || isinf(got)) {
        if ((LD)got != ref) FAIL("%s[%zu]: got %.17g, expected %.17Lg", what, i, got, ref);
        return;
    }
    if (!(scale >= smax * 1e-2L)) scale = smax * 1e-2L;
    if (scale == 0) scale = 1;
    if (fabsl((LD)got - ref) > (LD)tol * scale)
        FAIL("%s[%zu]: got %.17g, expected %.17Lg (error %.3Lg x scale %.3Lg, tolerance %.3g)", what, i, got, ref,
             fabsl((LD)got - ref) / scale, scale, tol);
}

XF_CHECKER static LD lin_max(const LD *a, size_t n)
{
    LD m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]) && a[i] > m) m = a[i];
    return m;
}

XF_CHECKER static void lin_check_values(LSpec *s)
{
    const xent_options *op = s->opts_null ? NULL : (const xent_options *)(const void *)s->opts_bytes;
    xt_ref_opts ro = xt_ref_opts_from(op);
    xt_ref_linear_out ref;
    size_t R = s->rows, D = s->dim, C = s->classes, i, j;
    int red = ro.reduction, v12 = !op || op->struct_size >= offsetof(xent_options, accumulate) + sizeof(int32_t);
    int acc = v12 && op && op->accumulate;
    double tol = s->f64 ? 1e-10 : 5e-4;
    LD *h = (LD *)xmalloc(sizeof(LD) * (R * D + 1)), *w = (LD *)xmalloc(sizeof(LD) * (C * D + 1));
    LD *b = (LD *)xmalloc(sizeof(LD) * (C + 1)), *sc = (LD *)xmalloc(sizeof(LD) * (R + C + 1)), smax, omax = 1;
    LD *gfl = (LD *)xmalloc(sizeof(LD) * (R + 1)), *hfl = (LD *)xmalloc(sizeof(LD) * (D + 1));
    for (i = 0; i < R; i++)
        for (j = 0; j < D; j++) h[i * D + j] = (LD)get_elem(s, L_H, i * s->hs + j);
    for (i = 0; i < C; i++)
        for (j = 0; j < D; j++) w[i * D + j] = (LD)get_elem(s, L_W, i * s->ws + j);
    for (j = 0; j < C; j++) b[j] = (LD)get_elem(s, L_B, j);
    xt_ref_linear_alloc(&ref, R, D, C);
    xt_ref_linear(h, R, D, w, C, s->ptr[L_B] ? b : NULL, (const int64_t *)s->ptr[L_LAB], &ro, &ref);
    for (i = 0; i < R; i++)
        if (ref.o_abs[i] > omax) omax = ref.o_abs[i];
    /* loss, lse */
    if (red == XENT_REDUCTION_NONE) {
        for (i = 0; i < R; i++) sc[i] = fmaxl(fmaxl(1, fabsl(ref.ce.loss_rows[i])), ref.o_abs[i]);
        smax = lin_max(sc, R);
        for (i = 0; i < R; i++) lin_cmp("loss", get_elem(s, L_LOSS, i), ref.ce.loss_rows[i], sc[i], smax, tol, i);
    } else {
        LD osum = 0;
        for (i = 0; i < R; i++) osum += isfinite(ref.o_abs[i]) ? ref.o_abs[i] : 0;
        sc[0] = fmaxl(fmaxl(1, fabsl(ref.ce.loss_red)), red == XENT_REDUCTION_SUM ? osum : omax);
        lin_cmp("loss", get_elem(s, L_LOSS, 0), ref.ce.loss_red, sc[0], sc[0], tol, 0);
    }
    if (s->ptr[L_LSE]) {
        for (i = 0; i < R; i++) sc[i] = fmaxl(fmaxl(1, fabsl(ref.ce.lse[i])), ref.o_abs[i]);
        smax = lin_max(sc, R);
        for (i = 0; i < R; i++) lin_cmp("lse", get_elem(s, L_LSE, i), ref.ce.lse[i], sc[i], smax, tol, i);
    }
    /* The gradient G's own resolution: G_ij = s*(tsum*p_ij - t_ij) + s_z*2*lambda*lse_i*p_ij is formed in the
       element type, so each G_ij errs by about u*(|s|*(t_ij + p_ij) + |s_z*2*lambda*lse_i|) however small G_ij
       itself is (p_label - 1 near 0); and the logits themselves are rounded to the element type, by about
       u*o_abs_i, which moves every p_ij by that much relatively (any float pipeline has it: large logits make
       it dominate). gfl[i] = 8*u/tol times that row's factor floors the scales below. */
    {
        LD cnt = 0, wsum = 0, tmax = 1, sg, sz;
        const double *cw = ro.weights;
        const int64_t *lab = (const int64_t *)s->ptr[L_LAB];
        for (i = 0; i < R; i++)
            if (lab[i] != ro.ignore_index) cnt += 1, wsum += cw ? (LD)cw[lab[i]] : 1;
        if (cw)
            for (j = 0; j < C; j++)
                if ((LD)cw[j] > tmax) tmax = (LD)cw[j];
        sg = red == XENT_REDUCTION_MEAN ? (wsum != 0 ? fabsl(ro.gscale) / wsum : 0) : fabsl(ro.gscale);
        sz = red == XENT_REDUCTION_MEAN ? (cnt != 0 ? fabsl(ro.gscale) / cnt : 0) : fabsl(ro.gscale);
        for (i = 0; i < R; i++) {
            LD l = isfinite(ref.ce.lse[i]) ? fabsl(ref.ce.lse[i]) : 0;
            LD o = isfinite(ref.o_abs[i]) ? ref.o_abs[i] : 0;
            gfl[i] = (8 * (s->f64 ? DBL_EPSILON : FLT_EPSILON) / tol) * (2 * sg * tmax + sz * 2 * ro.z_loss * l) *
                     (1 + 2 * o);
        }
    }
    if (s->ptr[L_GH]) {
        LD *wmax = (LD *)xmalloc(sizeof(LD) * (D + 1)), *sgh = (LD *)xmalloc(sizeof(LD) * (R * D + 1));
        for (j = 0; j < D; j++) {
            wmax[j] = 0;
            for (size_t c = 0; c < C; c++)
                if (isfinite(w[c * D + j]) && fabsl(w[c * D + j]) > wmax[j]) wmax[j] = fabsl(w[c * D + j]);
        }
        for (i = 0; i < R; i++)
            for (j = 0; j < D; j++) sgh[i * D + j] = fmaxl(ref.gh_abs[i * D + j], gfl[i] * wmax[j]);
        smax = lin_max(ref.gh_abs, R * D);
        for (i = 0; i < R; i++)
            for (j = 0; j < D; j++)
                lin_cmp("grad_hidden", get_elem(s, L_GH, i * s->ghs + j), ref.gh[i * D + j], sgh[i * D + j], smax,
                        tol, i * D + j);
        free(wmax), free(sgh);
    }
    /* the same floor summed over the rows: grad_weight (times |h_ik|) and grad_bias */
    {
        LD gsum = 0;
        for (j = 0; j < D; j++) hfl[j] = 0;
        for (i = 0; i < R; i++) {
            gsum += gfl[i];
            for (j = 0; j < D; j++)
                if (isfinite(h[i * D + j])) hfl[j] += gfl[i] * fabsl(h[i * D + j]);
        }
        hfl[D] = gsum;
    }
    if (s->ptr[L_GW]) {
        smax = lin_max(ref.gw_abs, C * D);
        for (i = 0; i < C; i++)
            for (j = 0; j < D; j++) {
                size_t e = i * s->gws + j;
                LD prev = !acc ? 0 : s->f64 ? (LD)((double *)s->snap[L_GW])[e] : (LD)((float *)s->snap[L_GW])[e];
                lin_cmp("grad_weight", get_elem(s, L_GW, i * s->gws + j), prev + ref.gw[i * D + j],
                        fabsl(prev) + fmaxl(ref.gw_abs[i * D + j], hfl[j]), smax, tol, i * D + j);
            }
    }
    if (s->ptr[L_GB]) {
        smax = lin_max(ref.ce.bias_abs, C);
        for (j = 0; j < C; j++) {
            LD prev = acc ? (LD)(s->f64 ? ((double *)s->snap[L_GB])[j] : ((float *)s->snap[L_GB])[j]) : 0;
            lin_cmp("grad_bias", get_elem(s, L_GB, j), prev + ref.ce.bias[j],
                    fabsl(prev) + fmaxl(ref.ce.bias_abs[j], hfl[D]), smax, tol, j);
        }
    }
    free(h), free(w), free(b), free(sc), free(gfl), free(hfl);
    xt_ref_linear_free(&ref);
}

static void describe(const LSpec *s, int expect, const char *why)
{
    snprintf(xf_desc, sizeof xf_desc,
             "xent_linear_cross_entropy_%s rows=%zu dim=%zu classes=%zu strides=%zu/%zu/%zu/%zu opts=%s "
             "struct_size=%zu reduction=%d threads=%d ignore=%lld smoothing=%g grad_scale=%g z_loss=%g soft_cap=%g "
             "class_weights=%d z_out=%d workspace=%zu accumulate=%d ptrs(h w b lab cw loss gh gw gb lse z)=%d%d%d%d%d%d%d%d%d%d%d "
             "alias=%s on %s +%zu; expected %d (%s)",
             s->f64 ? "f64" : "f32", s->rows, s->dim, s->classes, s->hs, s->ws, s->ghs, s->gws,
             s->opts_null ? "NULL" : "set", s->struct_size, s->reduction, s->threads, (long long)s->ignore,
             (double)s->smoothing, (double)s->gscale, (double)s->zloss, (double)s->cap, s->cw_mode, s->want[L_Z],
             s->workspace, s->accumulate, !!s->ptr[0], !!s->ptr[1], !!s->ptr[2], !!s->ptr[3], !!s->ptr[4],
             !!s->ptr[5], !!s->ptr[6], !!s->ptr[7], !!s->ptr[8], !!s->ptr[9], !!s->ptr[10],
             s->alias_out >= 0 ? l_names[s->alias_out] : "-", s->alias_to >= 0 ? l_names[s->alias_to] : "-",
             s->alias_off, expect, why);
}

int xf_linear(const uint8_t *data, size_t size)
{
    LRd r = {data, size, 1};
    LSpec s;
    uint8_t labmode, valmode, opts_before[sizeof(xent_options) + 32];
    const char *why = "";
    int expect;
    xent_status st;
    decode_linear(&r, &s, data[0]);
    labmode = l8(&r), valmode = l8(&r);
    l_rng = 0x9E3779B97F4A7C15ULL;
    for (int k = 0; k < 4; k++) l_rng = (l_rng ^ l8(&r)) * 0x100000001B3ULL;
    if (!l_rng) l_rng = 1;
    /* bound the work of one execution (the reference is long double) */
    while (s.rows * s.classes * (s.dim ? s.dim : 1) > 400000 && s.rows > 1) s.rows /= 2;
    build(&s, &r, labmode, valmode);
    expect = lin_expected(&s, &why);
    describe(&s, expect, why);
    if (xf_verbose) fprintf(stderr, "%s\n", xf_desc);
    lin_snapshot(&s);
    memcpy(opts_before, s.opts_bytes, sizeof opts_before);
    st = lin_call(&s, -1);
    if (xf_verbose) fprintf(stderr, "  got %d: \"%s\"\n", st, xent_last_error_message());
    if (st != expect) FAIL("status %d (\"%s\"), expected %d (%s)", st, xent_last_error_message(), expect, why);
    if (xent_status_string(st) == NULL) FAIL("no status string for %d", st);
    if (st != XENT_OK && xent_last_error_message()[0] == '\0') FAIL("empty message after status %d", st);
    if (st == XENT_OK && xent_last_error_message()[0] != '\0')
        FAIL("message \"%s\" after success", xent_last_error_message());
    lin_untouched(&s, st == XENT_OK, opts_before);
    if (st == XENT_OK) {
        if (s.alias_out < 0) lin_check_values(&s);
        /* another thread count: the same bytes */
        if (s.rows > 0 && !getenv("XENT_FUZZ_NO_VARIANTS")) {
            uint8_t **first = (uint8_t **)xmalloc(sizeof(uint8_t *) * L_N);
            int32_t t = s.opts_null ? -1 : (s.threads == 1 ? 2 : 1);
            for (int k = 0; k < L_N; k++) {
                first[k] = (uint8_t *)xmalloc(s.room[k] ? s.room[k] : 1);
                memcpy(first[k], s.blk[k], s.room[k]);
            }
            if (t >= 0) {
                lin_restore(&s);
                st = lin_call(&s, t);
                if (st != XENT_OK) FAIL("num_threads %d: status %d (\"%s\")", t, st, xent_last_error_message());
                for (int k = 0; k < L_N; k++)
                    if (memcmp(first[k], s.blk[k], s.room[k]) != 0)
                        FAIL("num_threads %d changes %s (must be bit-identical)", t, l_names[k]);
            }
            for (int k = 0; k < L_N; k++) free(first[k]);
            free(first);
        }
    }
    free_spec(&s);
    return 0;
}
