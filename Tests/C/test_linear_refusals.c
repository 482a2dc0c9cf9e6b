/*
 * test_linear_refusals.c -- every refusal of xent_linear_cross_entropy_f32/_f64 (1.2.0): the documented status,
 * the message naming the argument, and nothing written -- all inputs and outputs live in one arena, compared byte
 * for byte with its snapshot after each refused call.
 */
#ifndef XT_REAL
#include "xt_tests.h"

/* The arguments of the refusal tests, by position in one arena. */
enum { LA_H, LA_W, LA_B, LA_LAB, LA_CW, LA_LOSS, LA_GH, LA_GW, LA_GB, LA_LSE, LA_Z, LA_N };
static const char *const xt_lin_arg_name[LA_N] = {"hidden",      "weight",      "bias",      "labels",
                                                  "class_weights", "loss",      "grad_hidden", "grad_weight",
                                                  "grad_bias",   "lse",         "z-loss"};

#define XT_TYPED_FILE "test_linear_refusals.c"
#include "xt_instantiate.h"

void xt_test_linear_refusals(void)
{
    xt_test_linear_refusals_f32();
    xt_test_linear_refusals_f64();
}

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

typedef struct XT_FN(lin_args) {
    size_t rows, dim, classes, hs, ws, ghs, gws;
    void *p[LA_N];
    xent_options opts;
    const xent_options *op;
} XT_FN(lin_args);

static xent_status XT_FN(lin_args_call)(XT_FN(lin_args) * a)
{
    xent_options o = a->opts;
    o.z_loss_out = (double *)a->p[LA_Z];
    o.class_weights = (const double *)a->p[LA_CW];
    return XT_FN(xent_linear_cross_entropy)(
        (const XT_REAL *)a->p[LA_H], a->rows, a->dim, a->hs, (const XT_REAL *)a->p[LA_W], a->classes, a->ws,
        (const XT_REAL *)a->p[LA_B], (const int64_t *)a->p[LA_LAB], a->op ? &o : NULL, (XT_REAL *)a->p[LA_LOSS],
        (XT_REAL *)a->p[LA_GH], a->ghs, (XT_REAL *)a->p[LA_GW], a->gws, (XT_REAL *)a->p[LA_GB], (XT_REAL *)a->p[LA_LSE]);
}

static void XT_FN(lin_refuse)(XT_FN(lin_args) * a, xt_arena *ar, xent_status want, const char *n1, const char *n2,
                              const char *what)
{
    xent_status st;
    xt_set_case("linear %s refusal: %s", XT_TYPE_NAME, what);
    xt_arena_snap(ar);
    st = XT_FN(lin_args_call)(a);
    xt_expect_error_at(__LINE__, st, want, n1, n2, what);
    XT_CHECK(xt_arena_unchanged(ar), "a byte of an input or output changed");
}

void XT_FN(xt_test_linear_refusals)(void)
{
    enum { R = 6, D = 5, C = 7, S = D + 1 };
    size_t count[LA_N], esz[LA_N], off = 0;
    XT_FN(lin_args) a, g;
    xt_arena ar;
    int k, m;
    size_t i;
    count[LA_H] = R * S, count[LA_W] = C * S, count[LA_B] = C, count[LA_LAB] = R, count[LA_CW] = C;
    count[LA_LOSS] = R, count[LA_GH] = R * S, count[LA_GW] = C * S, count[LA_GB] = C, count[LA_LSE] = R;
    count[LA_Z] = R;
    for (k = 0; k < LA_N; k++)
        esz[k] = k == LA_LAB ? sizeof(int64_t) : (k == LA_CW || k == LA_Z) ? sizeof(double) : sizeof(XT_REAL);
    for (k = 0; k < LA_N; k++) off += (count[k] * esz[k] + 63) / 64 * 64;
    xt_arena_init(&ar, off + 4096); /* slack: a misplaced output may reach past the last buffer */
    memset(&g, 0, sizeof g);
    off = 0;
    for (k = 0; k < LA_N; k++) {
        g.p[k] = ar.mem + off;
        off += (count[k] * esz[k] + 63) / 64 * 64;
    }
    g.rows = R, g.dim = D, g.classes = C, g.hs = g.ws = g.ghs = g.gws = S;
    XT_FN(xt_fill_random)((XT_REAL *)g.p[LA_H], R, D, S, -1, 1);
    XT_FN(xt_fill_random)((XT_REAL *)g.p[LA_W], C, D, S, -1, 1);
    XT_FN(xt_fill_random)((XT_REAL *)g.p[LA_B], 1, C, C, -1, 1);
    for (i = 0; i < R; i++) ((int64_t *)g.p[LA_LAB])[i] = (int64_t)(i % C);
    for (i = 0; i < C; i++) ((double *)g.p[LA_CW])[i] = 1.0 + (double)i;
    for (k = LA_LOSS; k < LA_N; k++) xt_fill_canary(g.p[k], count[k] * esz[k]);
    xent_options_init(&g.opts);
    g.opts.reduction = XENT_REDUCTION_NONE;
    g.opts.z_loss = 1e-3f;
    g.op = &g.opts;

    /* the valid call succeeds (else every refusal below would prove nothing); then restore the canaries */
    a = g;
    xt_set_case("linear %s refusal: the valid call", XT_TYPE_NAME);
    XT_EXPECT_OK(XT_FN(lin_args_call)(&a));
    for (k = LA_LOSS; k < LA_N; k++) xt_fill_canary(g.p[k], count[k] * esz[k]);

    /* NULL required pointers */
    for (k = 0; k < LA_N; k++) {
        if (k != LA_H && k != LA_W && k != LA_LAB && k != LA_LOSS) continue;
        a = g;
        a.p[k] = NULL;
        XT_FN(lin_refuse)(&a, &ar, XENT_ERR_NULL_POINTER, xt_lin_arg_name[k], NULL, xt_lin_arg_name[k]);
    }
    /* shapes */
    a = g, a.dim = 0;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "dim", NULL, "dim 0");
    a = g, a.classes = 0;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "classes", NULL, "classes 0");
    a = g, a.hs = D - 1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "hidden", NULL, "hidden_stride < dim");
    a = g, a.ws = D - 1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "weight", NULL, "weight_stride < dim");
    a = g, a.ghs = D - 1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "grad_hidden", NULL, "grad_hidden_stride < dim");
    a = g, a.gws = D - 2;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, "grad_weight", NULL, "grad_weight_stride < dim");
    a = g, a.rows = (size_t)1 << 62;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_SHAPE, NULL, NULL, "rows 2^62 (extent overflow)");
    /* a label out of range, named with its row */
    a = g;
    ((int64_t *)g.p[LA_LAB])[4] = 1234;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_LABEL_OUT_OF_RANGE, "1234", "row 4", "label 1234 at row 4");
    ((int64_t *)g.p[LA_LAB])[4] = -7;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_LABEL_OUT_OF_RANGE, "-7", "row 4", "label -7 at row 4");
    ((int64_t *)g.p[LA_LAB])[4] = 4;
    /* options */
    a = g, a.opts.reduction = 3;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "reduction 3");
    a = g, a.opts.label_smoothing = 1.5f;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "smoothing 1.5");
    a = g, a.opts.grad_scale = (float)INFINITY;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "grad_scale inf");
    a = g, a.opts.num_threads = -1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "num_threads -1");
    a = g, a.opts.z_loss = -1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "z_loss -1");
    a = g, a.opts.soft_cap = -1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "soft_cap -1");
    a = g, a.opts.struct_size = XENT_OPTIONS_V1_SIZE - 1;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "struct_size below 1.0.0");
    ((double *)g.p[LA_CW])[3] = -1;
    a = g;
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, NULL, NULL, "a negative class weight");
    ((double *)g.p[LA_CW])[3] = 4;
    /* the workspace: below one row of logits plus the bias sums is refused; the least accepted bound (the layout
       may add a little: alignment, per-row statistics) is found by bisection, and one byte less is refused */
    {
        size_t least = C * sizeof(XT_REAL) + (sizeof(XT_REAL) == 8 ? 2 : 1) * C * sizeof(double);
        size_t lo = least - 1, hi = least + 65536;
        a = g, a.opts.workspace_bytes = least - 1;
        XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, "workspace", NULL, "workspace below one row + the sums");
        a = g, a.opts.workspace_bytes = 1;
        XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, "workspace", NULL, "workspace 1 byte");
        a = g, a.opts.workspace_bytes = C * sizeof(XT_REAL) - 1, a.p[LA_GB] = NULL;
        XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, "workspace", NULL,
                          "workspace below one row (no grad_bias)");
        xt_set_case("linear %s: the least workspace", XT_TYPE_NAME);
        a = g, a.opts.workspace_bytes = hi;
        if (XT_CHECK(XT_FN(lin_args_call)(&a) == XENT_OK, "a workspace of one row + the sums + 64 KiB is refused: %s",
                     xent_last_error_message())) {
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                xent_status st;
                a = g, a.opts.workspace_bytes = mid;
                st = XT_FN(lin_args_call)(&a);
                XT_CHECK(st == XENT_OK || st == XENT_ERR_INVALID_OPTION, "workspace %lu: status %d",
                         (unsigned long)mid, (int)st);
                if (st == XENT_OK) hi = mid;
                else lo = mid;
            }
            printf("note [%s]: linear %s, %d classes: the least workspace is %lu bytes (one row + the sums: %lu)\n",
                   xt_get_tag(), XT_TYPE_NAME, (int)C, (unsigned long)hi, (unsigned long)least);
            for (k = LA_LOSS; k < LA_N; k++) xt_fill_canary(g.p[k], count[k] * esz[k]);
            a = g, a.opts.workspace_bytes = hi - 1;
            XT_FN(lin_refuse)(&a, &ar, XENT_ERR_INVALID_OPTION, "workspace", NULL, "workspace one byte below the least");
            a = g, a.opts.workspace_bytes = hi;
            xt_set_case("linear %s: the least workspace", XT_TYPE_NAME);
            XT_EXPECT_OK(XT_FN(lin_args_call)(&a));
        }
        for (k = LA_LOSS; k < LA_N; k++) xt_fill_canary(g.p[k], count[k] * esz[k]);
    }
    /* aliasing: every output placed on every input and on every other output */
    for (k = LA_LOSS; k < LA_N; k++)
        for (m = 0; m < LA_N; m++) {
            char what[96];
            if (m == k) continue;
            a = g;
            a.p[k] = g.p[m];
            snprintf(what, sizeof what, "%s on %s", xt_lin_arg_name[k], xt_lin_arg_name[m]);
            XT_FN(lin_refuse)(&a, &ar, XENT_ERR_ALIASING, "overlaps", NULL, what);
        }
    /* a partial overlap: grad_hidden's last row on weight's first element */
    a = g;
    a.p[LA_GH] = (XT_REAL *)g.p[LA_W] - (R - 1) * S - (D - 1);
    XT_FN(lin_refuse)(&a, &ar, XENT_ERR_ALIASING, "overlaps", NULL, "grad_hidden's last element on weight[0]");
    /* adjacency is fine: lse right after the loss values (grad_hidden, whose place that is, not asked for) */
    a = g;
    a.p[LA_GH] = NULL;
    a.p[LA_LSE] = (XT_REAL *)g.p[LA_LOSS] + R;
    xt_set_case("linear %s: lse adjacent to loss", XT_TYPE_NAME);
    XT_EXPECT_OK(XT_FN(lin_args_call)(&a));
    /* opts NULL: the defaults (MEAN) */
    a = g, a.op = NULL;
    xt_set_case("linear %s: opts NULL", XT_TYPE_NAME);
    XT_EXPECT_OK(XT_FN(lin_args_call)(&a));
    xt_arena_free(&ar);
}

#endif /* XT_REAL */
