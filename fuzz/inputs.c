/*
 * fuzz/inputs.c -- the input reader, the random stream, value generation and decoding (see fuzz/README.md, "Input
 * format", and fuzz/gen_seeds.py, which writes the same layout).
 */
#include "xf.h"

const char *const fn_names[F_COUNT] = {
    "cross_entropy", "cross_entropy_ex", "soft_cross_entropy", "soft_cross_entropy_ex",
    "logsumexp",     "softmax",          "log_softmax"};
const char *const buf_names[B_COUNT] = {"logits/x", "labels/targets", "loss/out", "grad", "lse", "bias_grad", "opts"};

/* ---- Input reader ---------------------------------------------------------------------------------------------- */

static uint8_t rd8(Rd *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}
static uint16_t rd16(Rd *r)
{
    uint16_t a = rd8(r);
    return (uint16_t)(a | (uint16_t)rd8(r) << 8);
}
static uint32_t rd32(Rd *r)
{
    uint32_t a = rd16(r);
    return a | (uint32_t)rd16(r) << 16;
}
static int rd_left(const Rd *r)
{
    return r->i < r->n;
}

uint64_t xf_rng;
uint64_t rnd(void)
{
    uint64_t z = (xf_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rndu(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}
static double rndn(void)
{
    double u = rndu() + 1e-300, v = rndu();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- Helpers on sizes ---------------------------------------------------------------------------------- */

/* Elements spanned by a rows x cols matrix with this stride; 0 when rows == 0; returns 0 in *ok on overflow of
 * the library's rules (size_t values above INT64_MAX are negative Ints for the library). */
int extent_ok(size_t rows, size_t cols, size_t stride, size_t es, size_t *ext)
{
    const size_t imax = (size_t)INT64_MAX;
    if (rows > imax || cols == 0 || cols > imax || stride > imax || stride < cols) return 0;
    if (rows == 0) {
        *ext = 0;
        return 1;
    }
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
    case 0:
    case 1:
    case 2: return -INFINITY;
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

static double to_elem(double v, int f64)
{
    return f64 ? v : (double)(float)v;
}

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
    case 9:
    case 10:
    case 11: return cols + 1 + v % 9;
    case 12: return cols - 1 - v % 3; /* < cols (wraps to huge when cols is 0) */
    case 13: return v & 1 ? 0 : 1;
    case 14: return huge_table[v % HUGE_N];
    case 15: return cols * 2 + v % 5;
    default: return cols;
    }
}

void decode(Rd *r, Spec *s)
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

    /* one line a group of selector values */
    // clang-format off
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
    // clang-format on
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
    case 6:
        s->struct_size = full + 8 * (1 + ((optsel >> 3) & 3));
        s->opts_alloc = s->struct_size;
        break;
    case 7:
        s->struct_size = (optsel >> 3) & 1 ? SIZE_MAX : (size_t)1 << 40;
        s->opts_alloc = full;
        break;
    case 4: s->struct_size = s->opts_alloc = v1; break; /* a 1.0.0 caller */
    default:
        s->struct_size = full;
        s->opts_alloc = full;
        break;
    }
    switch (red % 16) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4: s->reduction = XENT_REDUCTION_MEAN; break;
    case 5:
    case 6:
    case 7:
    case 8: s->reduction = XENT_REDUCTION_SUM; break;
    case 9:
    case 10:
    case 11:
    case 12: s->reduction = XENT_REDUCTION_NONE; break;
    case 13: s->reduction = 3; break;
    case 14: s->reduction = -1; break;
    default: s->reduction = red & 16 ? INT32_MIN : INT32_MAX; break;
    }
    switch (thr % 16) {
    case 6:
    case 7:
    case 8: s->threads = 1; break;
    case 9:
    case 10: s->threads = 2; break;
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
        case 5:
            if (rnd() % 4 == 0) l = s->ignore;
            break;
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
        case 0:
            for (size_t c = 0; c < cols; c++) row[c] = -INFINITY;
            break;
        case 1:
            for (size_t c = 0; c < cols; c++) row[c] = -INFINITY;
            row[j] = to_elem(rndn(), s->f64);
            break;
        case 2: row[j] = NAN; break;
        case 3: row[j] = INFINITY; break;
        case 4: row[j] = -INFINITY; break;
        case 5: {
            int64_t l = s->labels[i];
            if (l >= 0 && (uint64_t)l < cols) row[l] = -INFINITY;
            break;
        }
        case 6:
            for (size_t c = 0; c < cols; c++) row[c] = to_elem(special_value(kind >> 4, s->f64), s->f64);
            break;
        case 7: row[j] = to_elem(kind & 16 ? 1e30 : -1e30, s->f64); break;
        case 8: row[j] = to_elem(special_value((uint8_t)(kind >> 3), s->f64), s->f64); break;
        case 9:
            for (size_t c = 0; c < cols; c++) row[c] = to_elem(kind & 16 ? 1e30 : -1e30, s->f64);
            break;
        case 10:
            for (size_t c = 0; c < cols; c++) row[c] = to_elem(special_value(5 + (kind >> 4) % 4, s->f64), s->f64);
            break;
        default: row[j] = to_elem(s->f64 ? 5e-324 : 1e-45, s->f64); break;
        }
    }
}
