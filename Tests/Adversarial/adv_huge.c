/*
 * adv_huge.c -- shapes near SIZE_MAX, rows x stride overflow, byte extents above PTRDIFF_MAX, huge label and bias
 * vectors (in child processes, so that a trap inside the library is reported as a failure instead of ending the
 * suite).
 */
#ifndef XT_REAL
#include "adversarial.h"

#define XT_TYPED_FILE "adv_huge.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* ---- Shapes near SIZE_MAX (run in a child process: a trap must not end the suite) -------------------------- */

void XT_FN(test_huge_shapes)(void)
{
    XT_REAL x[8] = {0}, out[8], loss[8], grad[8], lse[8], bias[8];
    int64_t lab[8] = {0};
    const size_t el = sizeof(XT_REAL);
    const size_t maxel = (size_t)PTRDIFF_MAX / el; /* the largest extent in elements whose bytes fit ptrdiff_t */
    struct {
        size_t rows, cols, stride;
        const char *what;
    } shapes[] = {
        {SIZE_MAX, 1, 1, "rows = SIZE_MAX"},
        {1, SIZE_MAX, SIZE_MAX, "cols = SIZE_MAX"},
        {2, 1, SIZE_MAX, "stride = SIZE_MAX"},
        {SIZE_MAX / 2 + 1, 1, 1, "rows = 2^63"},
        {((size_t)1 << 32) + 1, 1, (size_t)1 << 32, "rows x stride overflows size_t (2^32+1 rows x 2^32)"},
        {3, 1, SIZE_MAX / 2, "(rows-1) x stride overflows size_t"},
        {2, 2, SIZE_MAX - 1, "(rows-1) x stride + cols overflows size_t"},
        {1, maxel + 1, maxel + 1, "one row whose bytes exceed PTRDIFF_MAX"},
        {maxel + 1, 1, 1, "rows whose bytes exceed PTRDIFF_MAX"},
        {2, 1, maxel, "(rows-1) x stride + cols bytes exceed PTRDIFF_MAX"},
        {1, SIZE_MAX / el + 1, SIZE_MAX / el + 1, "element count fits size_t, bytes do not"},
    };
    size_t k;
    int kind;
    memset(out, 0x11, sizeof out);
    for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t r = shapes[k].rows, c = shapes[k].cols, s = shapes[k].stride;
        for (kind = 0; kind < 3; kind++) {
            xent_status st;
            xt_set_case("%s_%s: huge shape: %s (rows %zu, cols %zu, stride %zu)", adv_row_kind_name[kind], XT_TYPE_NAME,
                        shapes[k].what, r, c, s);
            st = XT_FN(row_call)(kind, x, r, c, s, out, s);
            xt_expect_error_at(__LINE__, st, XENT_ERR_INVALID_SHAPE, "x", NULL, adv_row_kind_name[kind]);
        }
        for (kind = 0; kind < 4; kind++) {
            xent_options o;
            XT_FN(ce_args) a;
            xent_status st;
            xent_options_init(&o);
            a = XT_FN(xt_ce_on)(0, 0, x, r, c, s, lab, x, s, &o);
            XT_FN(xt_ce_set_outputs)(&a, loss, grad, s, lse, (kind == CE_EX || kind == SOFT_EX) ? bias : NULL);
            xt_set_case("%s_%s: huge shape: %s (rows %zu, cols %zu, stride %zu)", adv_ce_kind_name[kind], XT_TYPE_NAME,
                        shapes[k].what, r, c, s);
            st = XT_FN(ce_call)(kind, a);
            xt_expect_error_at(__LINE__, st, XENT_ERR_INVALID_SHAPE, "logits", NULL, adv_ce_kind_name[kind]);
        }
    }
    /* Valid logits, invalid other matrices: a huge target or gradient stride. */
    for (kind = 0; kind < 4; kind++) {
        xent_options o;
        XT_FN(ce_args) a;
        xent_options_init(&o);
        a = XT_FN(xt_ce_on)(0, 0, x, 2, 1, 1, lab, x + 2, 1, &o);
        XT_FN(xt_ce_set_outputs)(&a, loss, grad, 1, lse, NULL);
        if (kind == SOFT || kind == SOFT_EX) {
            a.target_stride = SIZE_MAX;
            xt_set_case("%s_%s: target_stride = SIZE_MAX", adv_ce_kind_name[kind], XT_TYPE_NAME);
            xt_expect_error_at(__LINE__, XT_FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "targets", NULL, "targets");
            a.target_stride = maxel;
            xt_expect_error_at(__LINE__, XT_FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "targets", NULL, "targets");
            a.target_stride = 1;
        }
        if (kind == CE_EX || kind == SOFT_EX) {
            a.grad_stride = maxel;
            xt_set_case("%s_%s: grad_stride bytes exceed PTRDIFF_MAX", adv_ce_kind_name[kind], XT_TYPE_NAME);
            xt_expect_error_at(__LINE__, XT_FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "gradient", NULL, "grad");
        }
    }
    for (kind = SOFTMAX; kind <= LOG_SOFTMAX; kind++) {
        xt_set_case("%s_%s: out_stride bytes exceed PTRDIFF_MAX", adv_row_kind_name[kind], XT_TYPE_NAME);
        xt_expect_error_at(__LINE__, XT_FN(row_call)(kind, x, 2, 1, 1, out, maxel), XENT_ERR_INVALID_SHAPE, "out", NULL,
                           "out");
    }
}

/* One child process per case, so that every case is reported. */
static size_t XT_FN(huge_labels_rows);
static int XT_FN(huge_labels_kind);

/* The huge-labels case (huge_bias 0): the labels vector of a float call, rows in (PTRDIFF_MAX/8, SIZE_MAX/4] fit the
   logits' byte extent (rows x 4 bytes) but the labels' (rows x 8 bytes) exceeds PTRDIFF_MAX or overflows. The
   huge-bias case (huge_bias 1): rows == 0 with a huge cols, the bias gradient (cols values) is the only extent that
   grows; bytes above PTRDIFF_MAX or overflowing size_t. Both must be refused (XENT_ERR_INVALID_SHAPE), not trap or
   write. huge_labels_rows is the rows (labels) or the cols (bias). */
static int XT_FN(huge_bias);

static void XT_FN(huge_case)(void)
{
    XT_REAL x[4] = {0}, loss[4], bias[4];
    int64_t lab[4] = {0};
    xent_options o;
    XT_FN(ce_args) a;
    const int kind = XT_FN(huge_labels_kind);
    xent_options_init(&o);
    a = XT_FN(xt_ce_on)(0, 0, x, 0, 0, 0, lab, NULL, 0, &o);
    a.loss = loss;
    if (!XT_FN(huge_bias)) {
        a.rows = XT_FN(huge_labels_rows);
        a.cols = 1;
        a.row_stride = 1;
        a.grad_stride = 1;
        a.bias = kind == CE_EX ? bias : NULL;
        xt_set_case("%s_%s: rows = %zu, cols = 1 (labels: rows x 8 bytes > PTRDIFF_MAX)", adv_ce_kind_name[kind],
                    XT_TYPE_NAME, a.rows);
        xt_expect_error_at(__LINE__, XT_FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, NULL, NULL, "labels");
    } else {
        a.rows = 0;
        a.cols = XT_FN(huge_labels_rows);
        a.row_stride = a.cols;
        a.targets = x;
        a.target_stride = a.cols;
        a.grad_stride = 0;
        a.bias = bias;
        xt_set_case("%s_%s: rows = 0, cols = %zu with a bias gradient (cols x %zu bytes > PTRDIFF_MAX)",
                    adv_ce_kind_name[kind], XT_TYPE_NAME, a.cols, sizeof(XT_REAL));
        xt_expect_error_at(__LINE__, XT_FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, NULL, NULL, "bias");
    }
}

void XT_FN(test_huge_labels)(void)
{
    const size_t cols_list[] = {(size_t)PTRDIFF_MAX / sizeof(XT_REAL) + 1, SIZE_MAX / sizeof(XT_REAL) + 1};
    size_t c;
    for (c = 0; c < sizeof cols_list / sizeof cols_list[0]; c++) {
        for (XT_FN(huge_labels_kind) = CE_EX; XT_FN(huge_labels_kind) <= SOFT_EX; XT_FN(huge_labels_kind) += 2) {
            XT_FN(huge_labels_rows) = cols_list[c];
            XT_FN(huge_bias) = 1;
            xt_isolated("huge bias gradient " XT_TYPE_NAME, XT_FN(huge_case));
        }
    }

    const size_t rows_list[] = {(size_t)PTRDIFF_MAX / 8 + 1, SIZE_MAX / 8, SIZE_MAX / 4};
    size_t k;
    for (k = 0; k < sizeof rows_list / sizeof rows_list[0]; k++) {
        for (XT_FN(huge_labels_kind) = CE; XT_FN(huge_labels_kind) <= CE_EX; XT_FN(huge_labels_kind)++) {
            XT_FN(huge_labels_rows) = rows_list[k];
            XT_FN(huge_bias) = 0;
            xt_isolated("huge labels vector " XT_TYPE_NAME, XT_FN(huge_case));
        }
    }
}

#endif /* XT_REAL */
