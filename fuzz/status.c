/*
 * fuzz/status.c -- the status a call must return: an independent validation written from the header's rules, in
 * the library's precedence order (decodeOptions, then CrossEntropyCall/RowFunctionCall.validate()).
 */
#include "xf.h"

const char *xf_reason;
int xf_known; /* a known library defect applies: see fuzz/regressions/README.md */

/* ---- Expected status (the library's order of checks) ------------------------------------------------- */

typedef struct {
    uintptr_t lo, hi;
    int buf;
} Range;

static int overlaps(Range a, Range b)
{
    return a.lo != a.hi && b.lo != b.hi && a.lo < b.hi && b.lo < a.hi;
}

/* ptr[b] are the actual pointers passed (NULL or not). */
int expected_status(const Spec *s, void *const ptr[B_COUNT])
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
            if (!extent_ok(rows, cols, s->tstride, es, &text))
                return xf_reason = "targets shape", XENT_ERR_INVALID_SHAPE;
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
