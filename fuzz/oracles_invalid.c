/*
 * fuzz/oracles_invalid.c -- invariant 8: one invalid 1.1 argument at a time (the one status the header names, the
 * message, no byte changed); xent_options_init_size.
 */
#include "xf.h"

/* xent_options_init_size writes exactly min(size, sizeof) bytes: the defaults and struct_size. */
/* Check 8: one invalid argument of a 1.1 entry point or option, on an otherwise valid problem (the successful
 * hard-label call's shape, labels and options), so that the header's rules name exactly one status: that status
 * is returned, the message is non-empty, and no byte of any buffer (outputs, inputs, statistics) changed. */
enum {
    I_ZLOSS,
    I_CAP,
    I_WEIGHT,
    I_SOFT_WEIGHTS,
    I_PS_SHAPE,
    I_PS_LABEL,
    I_PS_UNSUP,
    I_PS_NULL,
    I_PS_ALIAS,
    I_MERGE_ALIAS,
    I_MERGE_NULL,
    I_FIN_COUNT,
    I_FIN_SEEN,
    I_FIN_NULL,
    I_GS_STRIDE,
    I_GS_ALIAS,
    I_BF16_BOTH,
    I_COUNT
};
static const char *inv_names[I_COUNT] = {"z_loss",
                                         "soft_cap",
                                         "class weight",
                                         "class_weights with soft targets",
                                         "partial_stats col_offset + cols > total_cols",
                                         "partial_stats label >= total_cols",
                                         "partial_stats class_weights",
                                         "partial_stats NULL",
                                         "partial_stats stats over the logits",
                                         "merge_stats partial overlap",
                                         "merge_stats NULL",
                                         "finalize_stats count != total_cols",
                                         "finalize_stats label_seen != 1",
                                         "finalize_stats loss NULL",
                                         "grad_from_stats grad_stride < cols",
                                         "grad_from_stats grad over the logits + 1",
                                         "bf16 both gradients"};

/* A heap block and its snapshot, compared after the call. */
typedef struct {
    void *p;
    size_t n;
    void *copy;
} Canary;
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

XF_CHECKER void oracle_invalid11(const Spec *s)
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
    xent_stats *st = xmalloc(rows * sizeof *st), *st2 = xmalloc(rows * sizeof *st2),
               *stm = xmalloc((rows + 1) * sizeof *stm);
    fill_pattern(loss, nl * 8 + 8), fill_pattern(lse, rows * 8 + 8), fill_pattern(g, n * es + 8);
    fill_pattern(zout, rows * 8 + 8);
    for (size_t j = 0; j < cols; j++) w[j] = 1.0 + (double)(rnd() % 4);
    /* valid merged statistics of the whole rows (one shard), for the finalize / gradient cases */
    xent_status vst = s->f64 ? xent_partial_stats_f64((const double *)x, rows, cols, cols, 0, cols, lab, &o, st)
                             : xent_partial_stats_f32((const float *)x, rows, cols, cols, 0, cols, lab, &o, st);
    if (vst != XENT_OK)
        FAIL("invalid 1.1 argument: the valid partial_stats call failed: %d (%s)", vst, xent_last_error_message());
    memcpy(st2, st, rows * sizeof *st);
    size_t live = rows;
    for (size_t i = 0; i < rows; i++)
        if (lab[i] != o.ignore_index) {
            live = i;
            break;
        }
    if (k == I_FIN_SEEN && live == rows) k = I_FIN_COUNT; /* every row ignored: label_seen is not checked */
    if (k == I_GS_ALIAS && n < 2) k = I_GS_STRIDE;        /* one element: no partial overlap exists */

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
    case I_ZLOSS:
    case I_CAP:
    case I_WEIGHT: {
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
        got = s->f64 ? xent_cross_entropy_ex_f64(xdd, rows, cols, cols, lab, &o, (double *)loss, (double *)g, cols,
                                                 (double *)lse, NULL)
                     : xent_cross_entropy_ex_f32(xf, rows, cols, cols, lab, &o, (float *)loss, (float *)g, cols,
                                                 (float *)lse, NULL);
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
        got = s->f64 ? xent_soft_cross_entropy_ex_f64(xdd, rows, cols, cols, (const double *)t, cols, &o,
                                                      (double *)loss, (double *)g, cols, (double *)lse, NULL)
                     : xent_soft_cross_entropy_ex_f32(xf, rows, cols, cols, (const float *)t, cols, &o, (float *)loss,
                                                      (float *)g, cols, (float *)lse, NULL);
        free(t);
        break;
    }
    case I_PS_SHAPE:
    case I_PS_LABEL:
    case I_PS_UNSUP:
    case I_PS_NULL:
    case I_PS_ALIAS: {
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
        if (k == I_PS_UNSUP) { /* the z-loss is accepted since 1.3.0 */
            o.class_weights = w;
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
    case I_FIN_COUNT:
    case I_FIN_SEEN:
    case I_FIN_NULL: {
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
    case I_GS_STRIDE:
    case I_GS_ALIAS: {
        size_t gs = cols;
        void *gp = g;
        if (k == I_GS_STRIDE) {
            gs = cols - 1 - (size_t)(rnd() % (cols < 3 ? cols : 3));
            want = XENT_ERR_INVALID_SHAPE;
        }
        if (k == I_GS_ALIAS) {
            gp = x + es * (1 + rnd() % (n - 1));
            want = XENT_ERR_ALIASING;
        } /* inside, not at x */
        got = s->f64 ? xent_grad_from_stats_f64(xdd, rows, cols, cols, 0, cols, lab, st, &o, (double *)gp, gs)
                     : xent_grad_from_stats_f32(xf, rows, cols, cols, 0, cols, lab, st, &o, (float *)gp, gs);
        break;
    }
    case I_BF16_BOTH: {
        uint16_t *h = xmalloc(n * 2 + 2), *gh = xmalloc(n * 2 + 2);
        for (size_t i = 0; i < n; i++) h[i] = xt_bf16_round((float)s->x[i]);
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
        FAIL("invalid 1.1 argument (%s): status %d (\"%s\"), expected %d", inv_names[k], got, xent_last_error_message(),
             want);
    const char *msg = xent_last_error_message();
    if (!msg || !*msg) FAIL("invalid 1.1 argument (%s): status %d with an empty message", inv_names[k], got);
    static const char *what[] = {"logits",     "labels", "loss",          "lse",       "grad",
                                 "z_loss_out", "stats",  "class weights", "stats (2)", "stats (3)"};
    while (nc > 0) {
        nc--;
        canary_check(&c[nc], k, what[nc]);
    }
    if (k == I_WEIGHT) free((void *)o.class_weights);
    free(x), free(lab), free(loss), free(lse), free(g), free(w), free(zout), free(st), free(st2), free(stm);
}

XF_CHECKER void oracle_options_init(void)
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
        /* The struct's tail padding (4 bytes after accumulate since 1.2.0) is not a field: the library copies a
           Swift value whose padding is uninitialized, so those bytes are unspecified (reported; C makes no promise
           about padding). Every field byte must hold its default. */
        const size_t fields_end = offsetof(xent_options, accumulate) + sizeof(d.accumulate);
        for (size_t i = 0; i < wrote; i++)
            if (i < fields_end && buf[i] != ((uint8_t *)&d)[i])
                FAIL("xent_options_init_size(%zu): byte %zu is 0x%02x, expected 0x%02x", size, i, buf[i],
                     ((uint8_t *)&d)[i]);
    }
}
