/*
 * fuzz/memory.c -- memory placement: exactly sized heap blocks (ASan) or regions ending at a PROT_NONE guard page,
 * aliasing, canaries and snapshots, ASan poisoning of stride padding during the call; the call itself; the
 * "nothing else changed" check.
 */
#include "xf.h"

size_t page_size;

/* ---- Memory placement ------------------------------------------------------------------------------------- */

static void region_alloc(Region *g, int guard)
{
    size_t size = g->size;
    if (guard) {
        size_t data = (size + 8 + page_size - 1) / page_size * page_size;
        g->maplen = data + 2 * page_size;
        g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g->map == MAP_FAILED) {
            perror("mmap");
            abort();
        }
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
#define FOR_RUNS(m, k, BODY)                                                                                           \
    do {                                                                                                               \
        Buf *b_ = &(m)->b[k];                                                                                          \
        for (size_t i_ = 0; i_ < b_->mrows; i_++) {                                                                    \
            size_t off_ = (size_t)b_->off + i_ * b_->mstride, len_ = b_->mcols;                                        \
            BODY;                                                                                                      \
        }                                                                                                              \
    } while (0)

static const uint8_t canary[16] = {0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0xF0, 0x0F,
                                   0x81, 0x7E, 0xDB, 0x24, 0xE7, 0x18, 0xBD, 0x42};

/* Writes the dense rows x cols doubles src into dst (row stride `stride` elements) in the element type. */
static void put_matrix(uint8_t *dst, size_t stride, const double *src, size_t rows, size_t cols, int f64)
{
    size_t es = f64 ? 8 : 4;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            uint8_t *d = dst + (i * stride + j) * es;
            if (f64) memcpy(d, &src[i * cols + j], 8);
            else {
                float f = (float)src[i * cols + j];
                memcpy(d, &f, 4);
            }
        }
}

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

XF_CHECKER void mem_build(Mem *m, Spec *s, int alias_mode, int inplace)
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
        case 0: d = B; break;  /* exactly adjacent after B */
        case 1: d = -A; break; /* exactly adjacent before B */
        case 2: d = 0; break;  /* same start */
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
    if (m->b[B_X].mrows) put_matrix(m->b[B_X].p, s->rstride, s->x, rows, cols, s->f64);
    if (!vir) {
        if (ce && soft && m->b[B_TGT].mrows) {
            put_matrix(m->b[B_TGT].p, s->tstride, s->tgt, rows, cols, s->f64);
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

void mem_free(Mem *m)
{
    for (int g = 0; g < B_COUNT; g++)
        if (m->reg[g].base) region_free(&m->reg[g]);
}

/* One scratch buffer, kept between executions, holds the snapshots of all regions of the Mem being checked
 * (fresh buffers per execution cost a page fault per 4 KiB). A snapshot is used only between its mem_snapshot
 * and mem_check_untouched, and those pairs never interleave. */
static uint8_t *xf_scratch;
static size_t xf_scratch_cap;

XF_CHECKER void mem_snapshot(Mem *m)
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
        if (!on) {
            XF_UNPOISON(R->base, R->size);
            continue;
        }
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

/* The call of s->fn for one element type T (suffix SFX), into st. */
#define MEM_CALL_TYPED(T, SFX)                                                                                         \
    do {                                                                                                               \
        T *x = p[B_X], *y = p[B_TGT], *l = p[B_LOSS], *g = p[B_GRAD], *e = p[B_LSE], *b = p[B_BIAS];                   \
        const int64_t *lab = p[B_TGT];                                                                                 \
        switch (s->fn) {                                                                                               \
        case F_CE: st = xent_cross_entropy_##SFX(x, r, c, rs, lab, o, l, g, e); break;                                 \
        case F_CE_EX: st = xent_cross_entropy_ex_##SFX(x, r, c, rs, lab, o, l, g, s->gstride, e, b); break;            \
        case F_SOFT: st = xent_soft_cross_entropy_##SFX(x, r, c, rs, y, s->tstride, o, l, g, e); break;                \
        case F_SOFT_EX:                                                                                                \
            st = xent_soft_cross_entropy_ex_##SFX(x, r, c, rs, y, s->tstride, o, l, g, s->gstride, e, b);              \
            break;                                                                                                     \
        case F_LSE: st = xent_logsumexp_##SFX(x, r, c, rs, l); break;                                                  \
        case F_SOFTMAX: st = xent_softmax_##SFX(x, r, c, rs, l, s->ostride); break;                                    \
        default: st = xent_log_softmax_##SFX(x, r, c, rs, l, s->ostride); break;                                       \
        }                                                                                                              \
    } while (0)

xent_status mem_call(Mem *m)
{
    Spec *s = m->s;
    void **p = m->ptr;
    const xent_options *o = (const xent_options *)p[B_OPTS];
    size_t r = s->rows, c = s->cols, rs = s->rstride;
    xent_status st;
    mem_poison(m, 1);
    if (s->f64) MEM_CALL_TYPED(double, f64);
    else MEM_CALL_TYPED(float, f32);
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
XF_CHECKER void mem_check_untouched(Mem *m, int ok)
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
XF_CHECKER double *mem_get(Mem *m, int k, size_t *count)
{
    Buf *b = &m->b[k];
    size_t es = m->s->es, per = b->mcols / (k == B_TGT ? 8 : es);
    double *v = malloc((b->mrows * per + 1) * sizeof(double));
    size_t n = 0;
    for (size_t i = 0; i < b->mrows; i++)
        for (size_t j = 0; j < per; j++) {
            const uint8_t *src = b->p + i * b->mstride + j * es;
            if (es == 8) memcpy(&v[n++], src, 8);
            else {
                float f;
                memcpy(&f, src, 4);
                v[n++] = f;
            }
        }
    *count = n;
    return v;
}
