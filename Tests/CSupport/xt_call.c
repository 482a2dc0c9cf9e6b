/* xt_call.c -- the generic cross-entropy call of xt_call.h, for float and double (C99). */
#ifndef XT_REAL
#include "xt_call.h"

#include <string.h>

#define XT_TYPED_FILE "xt_call.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

XT_CE_CALL XT_FN(xt_ce_on)(int soft, int ex, const XT_REAL *logits, size_t rows, size_t cols, size_t rs,
                           const int64_t *labels, const XT_REAL *targets, size_t ts, const xent_options *opts)
{
    XT_FN(xt_ce_call) c;
    memset(&c, 0, sizeof c);
    c.soft = soft;
    c.ex = ex;
    c.logits = logits;
    c.rows = rows;
    c.cols = cols;
    c.row_stride = rs;
    c.labels = labels;
    c.targets = targets;
    c.target_stride = ts;
    c.opts = opts;
    return c;
}

const char *XT_FN(xt_ce_name)(const XT_FN(xt_ce_call) * c)
{
    if (c->soft) return c->ex ? "soft_cross_entropy_ex_" XT_TYPE_NAME : "soft_cross_entropy_" XT_TYPE_NAME;
    return c->ex ? "cross_entropy_ex_" XT_TYPE_NAME : "cross_entropy_" XT_TYPE_NAME;
}

xent_status XT_FN(xt_ce_run)(const XT_FN(xt_ce_call) * c)
{
    if (c->soft) {
        if (c->ex)
            return XT_FN(xent_soft_cross_entropy_ex)(c->logits, c->rows, c->cols, c->row_stride, c->targets,
                                                     c->target_stride, c->opts, c->loss, c->grad, c->grad_stride,
                                                     c->lse, c->bias);
        return XT_FN(xent_soft_cross_entropy)(c->logits, c->rows, c->cols, c->row_stride, c->targets, c->target_stride,
                                              c->opts, c->loss, c->grad, c->lse);
    }
    if (c->ex)
        return XT_FN(xent_cross_entropy_ex)(c->logits, c->rows, c->cols, c->row_stride, c->labels, c->opts, c->loss,
                                            c->grad, c->grad_stride, c->lse, c->bias);
    return XT_FN(xent_cross_entropy)(c->logits, c->rows, c->cols, c->row_stride, c->labels, c->opts, c->loss, c->grad,
                                     c->lse);
}

void XT_FN(xt_ce_set_outputs)(XT_FN(xt_ce_call) * c, XT_REAL *loss, XT_REAL *grad, size_t grad_stride, XT_REAL *lse,
                              XT_REAL *bias)
{
    c->loss = loss;
    c->grad = grad;
    c->grad_stride = grad_stride;
    c->lse = lse;
    c->bias = bias;
}

#endif /* XT_REAL */
