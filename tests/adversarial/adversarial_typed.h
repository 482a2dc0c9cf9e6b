/*
 * adversarial_typed.h -- the element-type-specific part of tests/adversarial/adversarial.c, included twice:
 * with T = float, FN(name) = name##_f32, and with T = double, FN(name) = name##_f64.
 * Needs: T, FN, XFN (the xent_ function suffix paster), ADV_SUF ("f32"/"f64"), ADV_BOUND (the header's bound).
 */

/* ---- One entry point for the four cross-entropy functions ------------------------------------------------- */

typedef struct {
    const T *x;
    size_t rows, cols, stride;
    const int64_t *labels; /* hard kinds */
    const T *targets;      /* soft kinds */
    size_t target_stride;
    const xent_options *opts;
    T *loss, *grad;
    size_t grad_stride; /* ex kinds only; the plain kinds use stride */
    T *lse, *bias;      /* bias: ex kinds only */
} FN(ce_args);


static xent_status FN(ce_call)(int kind, FN(ce_args) a)
{
    switch (kind) {
    case CE: return XFN(xent_cross_entropy)(a.x, a.rows, a.cols, a.stride, a.labels, a.opts, a.loss, a.grad, a.lse);
    case CE_EX:
        return XFN(xent_cross_entropy_ex)(a.x, a.rows, a.cols, a.stride, a.labels, a.opts, a.loss, a.grad,
                                          a.grad_stride, a.lse, a.bias);
    case SOFT:
        return XFN(xent_soft_cross_entropy)(a.x, a.rows, a.cols, a.stride, a.targets, a.target_stride, a.opts,
                                            a.loss, a.grad, a.lse);
    default:
        return XFN(xent_soft_cross_entropy_ex)(a.x, a.rows, a.cols, a.stride, a.targets, a.target_stride, a.opts,
                                               a.loss, a.grad, a.grad_stride, a.lse, a.bias);
    }
}


static xent_status FN(row_call)(int kind, const T *x, size_t rows, size_t cols, size_t stride, T *out,
                                size_t out_stride)
{
    switch (kind) {
    case LSE: return XFN(xent_logsumexp)(x, rows, cols, stride, out);
    case SOFTMAX: return XFN(xent_softmax)(x, rows, cols, stride, out, out_stride);
    default: return XFN(xent_log_softmax)(x, rows, cols, stride, out, out_stride);
    }
}

/* ---- Every invalid argument of every function --------------------------------------------------------------- */

/* Shared fixture: inputs x (R x C, stride S), labels, targets; every output lives in one canary arena. */

/* x has room after its extent (AEXT elements) for the "touching, not overlapping" cases (AR values there). */
static T FN(fx_x)[AR * AS + 8], FN(fx_x0)[AR * AS + 8], FN(fx_tg)[AR * AS], FN(fx_tg0)[AR * AS];
static int64_t FN(fx_lab)[AR], FN(fx_lab0)[AR];
static T FN(fx_arena)[4 * AR * AS + 64];

static void FN(fx_reset)(void)
{
    int i;
    for (i = 0; i < AR * AS + 8; i++) {
        FN(fx_x0)[i] = (T)(0.25 * ((i * 7) % 11) - 1.0);
        if (i < AR * AS) FN(fx_tg0)[i] = (T)(0.1 * ((i * 3) % 5));
    }
    for (i = 0; i < AR; i++) FN(fx_lab0)[i] = i % AC;
    memcpy(FN(fx_x), FN(fx_x0), sizeof FN(fx_x));
    memcpy(FN(fx_tg), FN(fx_tg0), sizeof FN(fx_tg));
    memcpy(FN(fx_lab), FN(fx_lab0), sizeof FN(fx_lab));
    adv_fill_canary(FN(fx_arena), sizeof FN(fx_arena));
}

/* After a refused call: no output written, no input (possibly an in-place gradient target) modified. */
static void FN(fx_untouched_at)(int line)
{
    adv_check_at(line, adv_is_canary(FN(fx_arena), sizeof FN(fx_arena)), "an output was written by a failed call");
    adv_check_at(line, memcmp(FN(fx_x), FN(fx_x0), sizeof FN(fx_x)) == 0, "the logits were modified by a failed call");
    adv_check_at(line, memcmp(FN(fx_tg), FN(fx_tg0), sizeof FN(fx_tg)) == 0, "the targets were modified by a failed call");
    adv_check_at(line, memcmp(FN(fx_lab), FN(fx_lab0), sizeof FN(fx_lab)) == 0, "the labels were modified by a failed call");
}

/* A valid call of kind `kind` on the fixture: outputs at disjoint places of the arena. */
static FN(ce_args) FN(fx_args)(int kind, const xent_options *o)
{
    FN(ce_args) a;
    T *ar = FN(fx_arena);
    memset(&a, 0, sizeof a);
    a.x = FN(fx_x);
    a.rows = AR;
    a.cols = AC;
    a.stride = AS;
    a.labels = (kind == CE || kind == CE_EX) ? FN(fx_lab) : NULL;
    a.targets = (kind == SOFT || kind == SOFT_EX) ? FN(fx_tg) : NULL;
    a.target_stride = AS;
    a.opts = o;
    a.loss = ar;                 /* AR values (NONE) */
    a.grad = ar + 8;             /* AEXT values */
    a.grad_stride = AS;
    a.lse = ar + 8 + AR * AS;    /* AR values */
    a.bias = (kind == CE_EX || kind == SOFT_EX) ? ar + 16 + AR * AS : NULL; /* AC values */
    return a;
}

#define FX_FAILS(kind, args, want, n1, n2)                                                                       \
    do {                                                                                                         \
        xent_status s_ = FN(ce_call)((kind), (args));                                                            \
        adv_expect_error_at(__LINE__, s_, (want), (n1), (n2), adv_ce_kind_name[kind]);                           \
        FN(fx_untouched_at)(__LINE__);                                                                           \
        FN(fx_reset)();                                                                                          \
    } while (0)

static void FN(test_invalid_cross_entropy)(void)
{
    int kind;
    for (kind = 0; kind < 4; kind++) {
        const int hard = kind == CE || kind == CE_EX, ex = kind == CE_EX || kind == SOFT_EX;
        xent_options o, bad;
        FN(ce_args) a;
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        FN(fx_reset)();
        adv_set_case("%s_%s: invalid arguments", adv_ce_kind_name[kind], ADV_SUF);

        /* The valid call succeeds (and clears the message of an earlier failure). */
        a = FN(fx_args)(kind, &o);
        EXPECT_OK(FN(ce_call)(kind, a));
        FN(fx_reset)();

        /* NULL pointers, also with rows == 0. */
        a = FN(fx_args)(kind, &o); a.x = NULL;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, "logits", NULL);
        a = FN(fx_args)(kind, &o); a.x = NULL; a.rows = 0;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, "logits", NULL);
        a = FN(fx_args)(kind, &o);
        if (hard) a.labels = NULL; else a.targets = NULL;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, hard ? "labels" : "targets", NULL);
        a = FN(fx_args)(kind, &o); a.rows = 0;
        if (hard) a.labels = NULL; else a.targets = NULL;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, hard ? "labels" : "targets", NULL);
        a = FN(fx_args)(kind, &o); a.loss = NULL;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, "loss", NULL);
        a = FN(fx_args)(kind, &o); a.loss = NULL; a.rows = 0;
        FX_FAILS(kind, a, XENT_ERR_NULL_POINTER, "loss", NULL);

        /* Shapes. */
        a = FN(fx_args)(kind, &o); a.cols = 0;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        a = FN(fx_args)(kind, &o); a.cols = 0; a.rows = 0;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        a = FN(fx_args)(kind, &o); a.stride = AC - 1; a.grad_stride = AC - 1;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "logits", "stride");
        a = FN(fx_args)(kind, &o); a.stride = 0; a.grad_stride = 0;
        FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "logits", "stride");
        if (!hard) {
            a = FN(fx_args)(kind, &o); a.target_stride = AC - 1;
            FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "targets", "stride");
        } else {
            /* target_stride of a hard-label call does not exist; labels need no stride. */
        }
        if (ex) {
            a = FN(fx_args)(kind, &o); a.grad_stride = AC - 1;
            FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "gradient", "stride");
            a = FN(fx_args)(kind, &o); a.grad_stride = SIZE_MAX;
            FX_FAILS(kind, a, XENT_ERR_INVALID_SHAPE, "gradient", NULL);
            /* grad_stride is ignored without a gradient. */
            a = FN(fx_args)(kind, &o); a.grad = NULL; a.grad_stride = 0;
            EXPECT_OK(FN(ce_call)(kind, a));
            FN(fx_reset)();
        }

        /* Options. */
        bad = o; bad.struct_size = 0;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "struct_size", NULL);
        bad = o; bad.struct_size = XENT_OPTIONS_V1_SIZE - 1;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "struct_size", NULL);
        bad = o; bad.reduction = 3;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "reduction", NULL);
        bad = o; bad.reduction = -1;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "reduction", NULL);
        bad = o; bad.reduction = INT32_MIN;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "reduction", NULL);
        {
            const float smoothing[] = {NAN, -NAN, -0.001f, 1.001f, INFINITY, -INFINITY, -FLT_MIN, 2.0f};
            size_t k;
            for (k = 0; k < sizeof smoothing / sizeof smoothing[0]; k++) {
                bad = o; bad.label_smoothing = smoothing[k];
                a = FN(fx_args)(kind, &bad);
                FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "smoothing", NULL);
            }
        }
        bad = o; bad.grad_scale = INFINITY;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "grad scale", NULL);
        bad = o; bad.grad_scale = -INFINITY;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "grad scale", NULL);
        bad = o; bad.grad_scale = NAN;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "grad scale", NULL);
        bad = o; bad.num_threads = -1;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "thread", NULL);
        bad = o; bad.num_threads = INT32_MIN;
        a = FN(fx_args)(kind, &bad);
        FX_FAILS(kind, a, XENT_ERR_INVALID_OPTION, "thread", NULL);
        /* Accepted: a larger struct_size (a caller compiled against a later header), up to SIZE_MAX. */
        {
            struct { xent_options v1; unsigned char later[32]; } big;
            memset(&big, 0x5C, sizeof big);
            xent_options_init(&big.v1);
            big.v1.reduction = XENT_REDUCTION_NONE;
            big.v1.struct_size = sizeof big;
            a = FN(fx_args)(kind, &big.v1);
            EXPECT_OK(FN(ce_call)(kind, a));
            FN(fx_reset)();
            big.v1.struct_size = SIZE_MAX;
            a = FN(fx_args)(kind, &big.v1);
            EXPECT_OK(FN(ce_call)(kind, a));
            FN(fx_reset)();
        }
        /* Smoothing exactly 0 and 1, a zero and a negative grad_scale are valid. */
        bad = o; bad.label_smoothing = 1.0f; bad.grad_scale = -2.5f;
        a = FN(fx_args)(kind, &bad);
        EXPECT_OK(FN(ce_call)(kind, a));
        FN(fx_reset)();
        bad = o; bad.grad_scale = 0.0f;
        a = FN(fx_args)(kind, &bad);
        EXPECT_OK(FN(ce_call)(kind, a));
        FN(fx_reset)();

        /* Aliasing: every output against every input and every other output, partial overlaps. */
        a = FN(fx_args)(kind, &o); a.loss = FN(fx_x) + 2;
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "loss", "logits");
        a = FN(fx_args)(kind, &o); a.loss = FN(fx_x) + AEXT - 1;          /* last logit */
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "loss", "logits");
        a = FN(fx_args)(kind, &o); a.lse = FN(fx_x) + AC;                 /* in row 0's stride gap */
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "lse", "logits");
        a = FN(fx_args)(kind, &o); a.grad = FN(fx_x) + 1;                 /* partial overlap, same stride */
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "gradient", "logits");
        a = FN(fx_args)(kind, &o); a.lse = a.loss + 1;
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "lse", "loss");
        a = FN(fx_args)(kind, &o); a.grad = a.loss + 2;
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "gradient", "loss");
        a = FN(fx_args)(kind, &o); a.lse = a.grad + AEXT - 1;
        FX_FAILS(kind, a, XENT_ERR_ALIASING, "lse", "gradient");
        if (hard) {
            a = FN(fx_args)(kind, &o); a.loss = (T *)(void *)(FN(fx_lab) + 1);
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "loss", "labels");
            a = FN(fx_args)(kind, &o); a.lse = (T *)(void *)FN(fx_lab);
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "lse", "labels");
        } else {
            a = FN(fx_args)(kind, &o); a.loss = FN(fx_tg) + 3;
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "loss", "targets");
            a = FN(fx_args)(kind, &o); a.grad = FN(fx_tg);                /* "in place" on the targets */
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "gradient", "targets");
            a = FN(fx_args)(kind, &o); a.x = FN(fx_tg);                   /* logits == targets: two inputs */
            EXPECT_OK(FN(ce_call)(kind, a));
            FN(fx_reset)();
        }
        if (ex) {
            a = FN(fx_args)(kind, &o); a.grad_stride = AS + 1; a.grad = FN(fx_x);   /* in place, other stride */
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "gradient", "logits");
            a = FN(fx_args)(kind, &o); a.bias = FN(fx_x) + 3;
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "logits");
            a = FN(fx_args)(kind, &o); a.bias = a.grad + 2;
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "gradient");
            a = FN(fx_args)(kind, &o); a.bias = a.lse + AR - 1;
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "lse");
            a = FN(fx_args)(kind, &o); a.bias = a.loss;
            FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "loss");
            if (hard) {
                a = FN(fx_args)(kind, &o); a.bias = (T *)(void *)(FN(fx_lab) + AR - 1);
                FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "labels");
            } else {
                a = FN(fx_args)(kind, &o); a.bias = FN(fx_tg) + AEXT - 1;
                FX_FAILS(kind, a, XENT_ERR_ALIASING, "bias", "targets");
            }
        }
        /* Touching but not overlapping is fine: lse right after the logits' extent, loss right before. */
        a = FN(fx_args)(kind, &o); a.lse = FN(fx_x) + AEXT;
        EXPECT_OK(FN(ce_call)(kind, a));
        FN(fx_reset)();
        /* SUM/MEAN: loss is one value, so loss + 1 is free for lse. */
        bad = o; bad.reduction = XENT_REDUCTION_SUM;
        a = FN(fx_args)(kind, &bad); a.lse = a.loss + 1;
        EXPECT_OK(FN(ce_call)(kind, a));
        FN(fx_reset)();

        /* Labels out of range name the row and the label; nothing is written, not even an in-place gradient. */
        if (hard) {
            const int64_t badlab[] = {AC, AC + 1, -1, -101, -99, INT64_MIN, INT64_MAX, INT64_MIN + 1};
            size_t k;
            for (k = 0; k < sizeof badlab / sizeof badlab[0]; k++) {
                int inplace;
                for (inplace = 0; inplace < 2; inplace++) {
                    char want[128];
                    FN(fx_reset)();
                    FN(fx_lab)[2] = FN(fx_lab0)[2] = badlab[k];
                    FN(fx_lab)[3] = FN(fx_lab0)[3] = badlab[k]; /* the first offending row is reported */
                    a = FN(fx_args)(kind, &o);
                    if (inplace) a.grad = FN(fx_x);
                    snprintf(want, sizeof want, "label %" PRId64 " at row 2 is outside [0, %d)", badlab[k], AC);
                    {
                        xent_status s = FN(ce_call)(kind, a);
                        const char *msg = xent_last_error_message();
                        adv_expect_error_at(__LINE__, s, XENT_ERR_LABEL_OUT_OF_RANGE, "row 2", NULL, "bad label");
                        CHECK(strcmp(msg, want) == 0, "label %" PRId64 ": message \"%s\", expected \"%s\"",
                              badlab[k], msg, want);
                        FN(fx_untouched_at)(__LINE__);
                    }
                }
            }
            FN(fx_reset)();
            /* The ignore index is not range-checked, whatever its value. */
            {
                const int64_t ignore[] = {-100, -1, AC, INT64_MIN, INT64_MAX};
                for (k = 0; k < sizeof ignore / sizeof ignore[0]; k++) {
                    xent_options oi = o;
                    oi.ignore_index = ignore[k];
                    FN(fx_reset)();
                    FN(fx_lab)[1] = FN(fx_lab0)[1] = ignore[k];
                    a = FN(fx_args)(kind, &oi);
                    EXPECT_OK(FN(ce_call)(kind, a));
                    CHECK(a.loss[1] == 0, "ignored row (ignore_index %" PRId64 "): loss %g", ignore[k], (double)a.loss[1]);
                }
                /* -100 is not ignored when ignore_index is something else. */
                {
                    xent_options oi = o;
                    oi.ignore_index = -1;
                    FN(fx_reset)();
                    FN(fx_lab)[1] = FN(fx_lab0)[1] = -100;
                    a = FN(fx_args)(kind, &oi);
                    FX_FAILS(kind, a, XENT_ERR_LABEL_OUT_OF_RANGE, "label -100 at row 1", NULL);
                }
            }
            FN(fx_reset)();
        }
    }
}

#define ROW_FAILS(kind, x, rows, cols, stride, out, ostride, want, n1, n2)                                       \
    do {                                                                                                         \
        xent_status s_ = FN(row_call)((kind), (x), (rows), (cols), (stride), (out), (ostride));                  \
        adv_expect_error_at(__LINE__, s_, (want), (n1), (n2), adv_row_kind_name[kind]);                          \
        FN(fx_untouched_at)(__LINE__);                                                                           \
        FN(fx_reset)();                                                                                          \
    } while (0)

static void FN(test_invalid_rowwise)(void)
{
    int kind;
    for (kind = 0; kind < 3; kind++) {
        T *x = FN(fx_x), *out = FN(fx_arena);
        const int matrix = kind != LSE;
        adv_set_case("%s_%s: invalid arguments", adv_row_kind_name[kind], ADV_SUF);
        FN(fx_reset)();
        EXPECT_OK(FN(row_call)(kind, x, AR, AC, AS, out, AS));
        FN(fx_reset)();
        ROW_FAILS(kind, NULL, AR, AC, AS, out, AS, XENT_ERR_NULL_POINTER, "x", NULL);
        ROW_FAILS(kind, NULL, 0, AC, AS, out, AS, XENT_ERR_NULL_POINTER, "x", NULL);
        ROW_FAILS(kind, x, AR, AC, AS, NULL, AS, XENT_ERR_NULL_POINTER, "out", NULL);
        ROW_FAILS(kind, x, 0, AC, AS, NULL, AS, XENT_ERR_NULL_POINTER, "out", NULL);
        ROW_FAILS(kind, x, AR, 0, AS, out, AS, XENT_ERR_INVALID_SHAPE, "cols", NULL);
        ROW_FAILS(kind, x, AR, AC, AC - 1, out, AS, XENT_ERR_INVALID_SHAPE, "x", "stride");
        ROW_FAILS(kind, x, AR, AC, SIZE_MAX, out, AS, XENT_ERR_INVALID_SHAPE, "x", NULL);
        if (matrix) {
            ROW_FAILS(kind, x, AR, AC, AS, out, AC - 1, XENT_ERR_INVALID_SHAPE, "out", "stride");
            ROW_FAILS(kind, x, AR, AC, AS, out, 0, XENT_ERR_INVALID_SHAPE, "out", "stride");
            ROW_FAILS(kind, x, AR, AC, AS, out, SIZE_MAX, XENT_ERR_INVALID_SHAPE, "out", NULL);
            ROW_FAILS(kind, x, AR, AC, AS, x + 1, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x, AS + 1, XENT_ERR_ALIASING, "out", "x");  /* in place, other stride */
            ROW_FAILS(kind, x, AR, AC, AS, x, AC, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x + AS, AR - 1, AC, AS, x, AS, XENT_ERR_ALIASING, "out", "x"); /* one row behind */
        } else {
            /* logsumexp: out may not be x at all (it is rows values, not a matrix). */
            ROW_FAILS(kind, x, AR, AC, AS, x, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x + AEXT - 1, AS, XENT_ERR_ALIASING, "out", "x");
            ROW_FAILS(kind, x, AR, AC, AS, x + AC, AS, XENT_ERR_ALIASING, "out", "x"); /* the stride gap */
            EXPECT_OK(FN(row_call)(kind, x, AR, AC, AS, x + AEXT, AS));            /* right after: fine */
            FN(fx_reset)();
        }
        /* rows == 0: nothing is read or written. */
        EXPECT_OK(FN(row_call)(kind, x, 0, AC, AS, out, AS));
        FN(fx_untouched_at)(__LINE__);
        FN(fx_reset)();
    }
}

/* ---- Shapes near SIZE_MAX (run in a child process: a trap must not end the suite) -------------------------- */

static void FN(test_huge_shapes)(void)
{
    T x[8] = {0}, out[8], loss[8], grad[8], lse[8], bias[8];
    int64_t lab[8] = {0};
    const size_t el = sizeof(T);
    const size_t maxel = (size_t)PTRDIFF_MAX / el; /* the largest extent in elements whose bytes fit ptrdiff_t */
    struct { size_t rows, cols, stride; const char *what; } shapes[] = {
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
            adv_set_case("%s_%s: huge shape: %s (rows %zu, cols %zu, stride %zu)", adv_row_kind_name[kind], ADV_SUF,
                         shapes[k].what, r, c, s);
            st = FN(row_call)(kind, x, r, c, s, out, s);
            adv_expect_error_at(__LINE__, st, XENT_ERR_INVALID_SHAPE, "x", NULL, adv_row_kind_name[kind]);
        }
        for (kind = 0; kind < 4; kind++) {
            xent_options o;
            FN(ce_args) a;
            xent_status st;
            xent_options_init(&o);
            memset(&a, 0, sizeof a);
            a.x = x; a.rows = r; a.cols = c; a.stride = s; a.labels = lab; a.targets = x; a.target_stride = s;
            a.opts = &o; a.loss = loss; a.grad = grad; a.grad_stride = s; a.lse = lse;
            a.bias = (kind == CE_EX || kind == SOFT_EX) ? bias : NULL;
            adv_set_case("%s_%s: huge shape: %s (rows %zu, cols %zu, stride %zu)", adv_ce_kind_name[kind], ADV_SUF,
                         shapes[k].what, r, c, s);
            st = FN(ce_call)(kind, a);
            adv_expect_error_at(__LINE__, st, XENT_ERR_INVALID_SHAPE, "logits", NULL, adv_ce_kind_name[kind]);
        }
    }
    /* Valid logits, invalid other matrices: a huge target or gradient stride. */
    for (kind = 0; kind < 4; kind++) {
        xent_options o;
        FN(ce_args) a;
        xent_options_init(&o);
        memset(&a, 0, sizeof a);
        a.x = x; a.rows = 2; a.cols = 1; a.stride = 1; a.labels = lab; a.targets = x + 2; a.target_stride = 1;
        a.opts = &o; a.loss = loss; a.grad = grad; a.grad_stride = 1; a.lse = lse;
        if (kind == SOFT || kind == SOFT_EX) {
            a.target_stride = SIZE_MAX;
            adv_set_case("%s_%s: target_stride = SIZE_MAX", adv_ce_kind_name[kind], ADV_SUF);
            adv_expect_error_at(__LINE__, FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "targets", NULL, "targets");
            a.target_stride = maxel;
            adv_expect_error_at(__LINE__, FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "targets", NULL, "targets");
            a.target_stride = 1;
        }
        if (kind == CE_EX || kind == SOFT_EX) {
            a.grad_stride = maxel;
            adv_set_case("%s_%s: grad_stride bytes exceed PTRDIFF_MAX", adv_ce_kind_name[kind], ADV_SUF);
            adv_expect_error_at(__LINE__, FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, "gradient", NULL, "grad");
        }
    }
    for (kind = SOFTMAX; kind <= LOG_SOFTMAX; kind++) {
        adv_set_case("%s_%s: out_stride bytes exceed PTRDIFF_MAX", adv_row_kind_name[kind], ADV_SUF);
        adv_expect_error_at(__LINE__, FN(row_call)(kind, x, 2, 1, 1, out, maxel), XENT_ERR_INVALID_SHAPE, "out",
                            NULL, "out");
    }
}

/* The labels vector of a float call: rows in (PTRDIFF_MAX/8, SIZE_MAX/4] fit the logits' byte extent
   (rows x 4 bytes) but the labels' (rows x 8 bytes) exceeds PTRDIFF_MAX or overflows. Must be refused
   (XENT_ERR_INVALID_SHAPE), not trap. One child process per case, so that every case is reported. */
static size_t FN(huge_labels_rows);
static int FN(huge_labels_kind);

static void FN(huge_labels_case)(void)
{
    T x[4] = {0}, loss[4], bias[4];
    int64_t lab[4] = {0};
    xent_options o;
    FN(ce_args) a;
    const int kind = FN(huge_labels_kind);
    xent_options_init(&o);
    memset(&a, 0, sizeof a);
    a.x = x; a.rows = FN(huge_labels_rows); a.cols = 1; a.stride = 1; a.labels = lab; a.opts = &o;
    a.loss = loss; a.grad = NULL; a.grad_stride = 1; a.lse = NULL; a.bias = kind == CE_EX ? bias : NULL;
    adv_set_case("%s_%s: rows = %zu, cols = 1 (labels: rows x 8 bytes > PTRDIFF_MAX)", adv_ce_kind_name[kind],
                 ADV_SUF, a.rows);
    adv_expect_error_at(__LINE__, FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, NULL, NULL, "labels");
}

/* rows == 0 with a huge cols: the bias gradient (cols values) is the only extent that grows; bytes above
   PTRDIFF_MAX or overflowing size_t must be refused (XENT_ERR_INVALID_SHAPE), not trap or write. */
static void FN(huge_bias_case)(void)
{
    T x[4] = {0}, loss[4], bias[4];
    int64_t lab[4] = {0};
    xent_options o;
    FN(ce_args) a;
    const int kind = FN(huge_labels_kind);
    xent_options_init(&o);
    memset(&a, 0, sizeof a);
    a.x = x; a.rows = 0; a.cols = FN(huge_labels_rows); a.stride = a.cols; a.labels = lab; a.targets = x;
    a.target_stride = a.cols; a.opts = &o; a.loss = loss; a.grad = NULL; a.grad_stride = 0; a.lse = NULL;
    a.bias = bias;
    adv_set_case("%s_%s: rows = 0, cols = %zu with a bias gradient (cols x %zu bytes > PTRDIFF_MAX)",
                 adv_ce_kind_name[kind], ADV_SUF, a.cols, sizeof(T));
    adv_expect_error_at(__LINE__, FN(ce_call)(kind, a), XENT_ERR_INVALID_SHAPE, NULL, NULL, "bias");
}

static void FN(test_huge_labels)(void)
{
    const size_t cols_list[] = {(size_t)PTRDIFF_MAX / sizeof(T) + 1, SIZE_MAX / sizeof(T) + 1};
    size_t c;
    for (c = 0; c < sizeof cols_list / sizeof cols_list[0]; c++) {
        for (FN(huge_labels_kind) = CE_EX; FN(huge_labels_kind) <= SOFT_EX; FN(huge_labels_kind) += 2) {
            FN(huge_labels_rows) = cols_list[c];
            adv_isolated("huge bias gradient " ADV_SUF, FN(huge_bias_case));
        }
    }

    const size_t rows_list[] = {(size_t)PTRDIFF_MAX / 8 + 1, SIZE_MAX / 8, SIZE_MAX / 4};
    size_t k;
    for (k = 0; k < sizeof rows_list / sizeof rows_list[0]; k++) {
        for (FN(huge_labels_kind) = CE; FN(huge_labels_kind) <= CE_EX; FN(huge_labels_kind)++) {
            FN(huge_labels_rows) = rows_list[k];
            adv_isolated("huge labels vector " ADV_SUF, FN(huge_labels_case));
        }
    }
}

/* ---- Numeric cases against the long double reference --------------------------------------------------------- */

/* Checks a CE result (reduction NONE, scale 1) row by row against the reference: loss, lse, gradient. */
static void FN(check_ce_rows)(const T *x, size_t rows, size_t cols, size_t stride, const int64_t *labels,
                              const T *targets, double eps, int64_t ignore, const T *loss, const T *grad,
                              size_t grad_stride, const T *lse, double bound)
{
    double *xd = (double *)malloc(cols * sizeof(double)), *yd = (double *)malloc(cols * sizeof(double));
    long double *g = (long double *)malloc(cols * sizeof(long double));
    size_t i, j;
    for (i = 0; i < rows; i++) {
        long double ref_lse, ref_loss;
        int ignored = labels != NULL && labels[i] == ignore;
        long bad = 0;
        for (j = 0; j < cols; j++) {
            xd[j] = (double)x[i * stride + j];
            if (targets) yd[j] = (double)targets[i * stride + j];
        }
        ref_loss = adv_ref_ce_d(xd, cols, labels ? labels[i] : -1, targets ? yd : NULL, eps, &ref_lse, g);
        if (ignored) {
            ref_loss = 0;
            for (j = 0; j < cols; j++) g[j] = 0;
        }
        CHECK(adv_close(loss[i], ref_loss, bound * fmaxl(1, fabsl(ref_loss))), "row %zu: loss %.9Lg, reference %.12Lg",
              i, (long double)loss[i], ref_loss);
        if (lse)
            CHECK(adv_close(lse[i], ref_lse, bound * fmaxl(1, fabsl(ref_lse))), "row %zu: lse %.9Lg, reference %.12Lg",
                  i, (long double)lse[i], ref_lse);
        if (grad) {
            /* The header's gradient bound: bound * max(1, sum_j |t_j|) (soft targets need not sum to 1). */
            long double tabs = 0, gtol;
            for (j = 0; j < cols && targets; j++)
                tabs += fabsl((1.0L - eps) * yd[j] + (long double)eps / cols);
            gtol = bound * fmaxl(1, tabs);
            for (j = 0; j < cols; j++)
                if (!adv_close(grad[i * grad_stride + j], g[j], gtol)) {
                    if (bad < 3)
                        CHECK(0, "row %zu col %zu: grad %.9Lg, reference %.12Lg", i, j,
                              (long double)grad[i * grad_stride + j], g[j]);
                    bad++;
                }
            CHECK(bad == 0, "row %zu: %ld gradient elements off", i, bad);
        }
    }
    free(xd);
    free(yd);
    free(g);
}

static void FN(check_rowwise)(const T *x, size_t rows, size_t cols, size_t stride, double bound)
{
    T *lse = (T *)malloc(rows * sizeof(T)), *sm = (T *)malloc(rows * cols * sizeof(T)),
      *ls = (T *)malloc(rows * cols * sizeof(T));
    double *xd = (double *)malloc(cols * sizeof(double));
    size_t i, j;
    EXPECT_OK(XFN(xent_logsumexp)(x, rows, cols, stride, lse));
    EXPECT_OK(XFN(xent_softmax)(x, rows, cols, stride, sm, cols));
    EXPECT_OK(XFN(xent_log_softmax)(x, rows, cols, stride, ls, cols));
    for (i = 0; i < rows; i++) {
        long double r, m, lsum;
        long bad = 0;
        for (j = 0; j < cols; j++) xd[j] = (double)x[i * stride + j];
        adv_ref_lse_parts(xd, cols, &m, &lsum);
        r = m + lsum;
        CHECK(adv_close(lse[i], r, bound * fmaxl(1, fabsl(r))), "row %zu: logsumexp %.9Lg, reference %.12Lg", i,
              (long double)lse[i], r);
        for (j = 0; j < cols; j++) {
            long double p = adv_ref_p(xd[j], m, lsum), lp = adv_ref_logp(xd[j], m, lsum);
            if (!adv_close(sm[i * cols + j], p, bound)) {
                if (bad < 3) CHECK(0, "row %zu col %zu: softmax %.9Lg, reference %.12Lg", i, j, (long double)sm[i * cols + j], p);
                bad++;
            }
            if (!adv_close(ls[i * cols + j], lp, bound * fmaxl(1, fabsl(lp)))) {
                if (bad < 3) CHECK(0, "row %zu col %zu: log_softmax %.9Lg, reference %.12Lg", i, j, (long double)ls[i * cols + j], lp);
                bad++;
            }
        }
        CHECK(bad == 0, "row %zu: %ld softmax/log_softmax elements off", i, bad);
    }
    free(lse);
    free(sm);
    free(ls);
    free(xd);
}

/* cols = 1: loss 0, gradient 0, softmax 1, log_softmax 0, lse = x, whatever the logit (finite). */
static void FN(test_one_class)(void)
{
    const T xs[] = {(T)2.5, (T)-1e30, (T)0, (T)1e30, (T)-7.25};
    enum { N = 5, S = 3 };
    T x[N * S], loss[N], grad[N * S], lse[N], out[N], tg[N * S], bias[1];
    int64_t lab[N] = {0, 0, 0, 0, 0};
    xent_options o;
    int i, k;
    for (i = 0; i < N * S; i++) x[i] = tg[i] = (T)99;
    for (i = 0; i < N; i++) { x[i * S] = xs[i]; tg[i * S] = (T)(i == 2 ? 0.5 : 1.0); }
    for (k = 0; k < 2; k++) {
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        o.label_smoothing = k ? 0.3f : 0.0f;
        adv_set_case("cols = 1, %s, smoothing %g", ADV_SUF, (double)o.label_smoothing);
        EXPECT_OK(XFN(xent_cross_entropy_ex)(x, N, 1, S, lab, &o, loss, grad, S, lse, bias));
        for (i = 0; i < N; i++) {
            CHECK(loss[i] == 0, "row %d: loss %g, expected 0", i, (double)loss[i]);
            CHECK(grad[i * S] == 0, "row %d: grad %g, expected 0", i, (double)grad[i * S]);
            CHECK(lse[i] == xs[i], "row %d: lse %g, expected %g", i, (double)lse[i], (double)xs[i]);
        }
        CHECK(bias[0] == 0, "bias %g", (double)bias[0]);
        EXPECT_OK(XFN(xent_soft_cross_entropy)(x, N, 1, S, tg, S, &o, loss, grad, lse));
        for (i = 0; i < N; i++) {
            CHECK(loss[i] == 0, "soft row %d: loss %g, expected 0", i, (double)loss[i]);
            CHECK(grad[i * S] == 0, "soft row %d: grad %g, expected 0", i, (double)grad[i * S]);
        }
    }
    adv_set_case("cols = 1, %s, row-wise", ADV_SUF);
    EXPECT_OK(XFN(xent_softmax)(x, N, 1, S, out, 1));
    for (i = 0; i < N; i++) CHECK(out[i] == 1, "row %d: softmax %g, expected 1", i, (double)out[i]);
    EXPECT_OK(XFN(xent_log_softmax)(x, N, 1, S, out, 1));
    for (i = 0; i < N; i++) CHECK(out[i] == 0, "row %d: log_softmax %g, expected 0", i, (double)out[i]);
    EXPECT_OK(XFN(xent_logsumexp)(x, N, 1, S, out));
    for (i = 0; i < N; i++) CHECK(out[i] == xs[i], "row %d: logsumexp %g, expected %g", i, (double)out[i], (double)xs[i]);
    /* A single -inf logit in a one-class row: an all -inf row. */
    x[0] = (T)-INFINITY;
    EXPECT_OK(XFN(xent_softmax)(x, 1, 1, S, out, 1));
    CHECK(out[0] == 0, "softmax of [-inf] %g, expected 0", (double)out[0]);
    EXPECT_OK(XFN(xent_cross_entropy)(x, 1, 1, S, lab, &o, loss, grad, lse));
    CHECK(loss[0] == INFINITY && lse[0] == -INFINITY && grad[0] == -1,
          "[-inf] with label 0: loss %g lse %g grad %g (expected +inf, -inf, -1)", (double)loss[0], (double)lse[0],
          (double)grad[0]);
}

/* All -inf rows, a single +inf, NaN in one row only, a -inf at the label, labels 0 / cols-1 / ignored, for
   class counts that reach every kernel (rows in lanes <= 16, vector tails, column blocks >= 65536). */
static void FN(test_special_values)(void)
{
    const size_t cols_list[] = {1, 2, 7, 8, 9, 16, 17, 33, 1000, 70001};
    enum { R = 12 };
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], stride = cols + 2;
        T *x = (T *)malloc(R * stride * sizeof(T)), *grad = (T *)malloc(R * stride * sizeof(T));
        T loss[R], lse[R], red[1];
        int64_t lab[R];
        xent_options o;
        size_t i, j;
        int threads;
        for (i = 0; i < R; i++) {
            for (j = 0; j < stride; j++) x[i * stride + j] = (T)adv_uniform(-6, 6);
            lab[i] = (int64_t)((i * 7) % cols);
        }
        for (j = 0; j < cols; j++) x[0 * stride + j] = (T)-INFINITY;    /* row 0: all -inf */
        x[3 * stride + cols / 2] = (T)NAN;                                 /* row 3: one NaN */
        x[5 * stride + cols - 1] = (T)INFINITY;                            /* row 5: one +inf */
        if (cols > 1) { x[7 * stride + 0] = (T)-INFINITY; lab[7] = 0; }   /* row 7: -inf at the label */
        lab[8] = 0;
        lab[9] = -100;                                                    /* row 9: ignored */
        lab[10] = (int64_t)cols - 1;
        for (j = 0; j < cols; j++) x[11 * stride + j] = (T)((j % 2) ? 1e30 : -1e30); /* row 11: huge finite */
        lab[11] = (int64_t)(cols - 1);
        for (threads = 0; threads <= 2; threads++) {
            xent_options_init(&o);
            o.reduction = XENT_REDUCTION_NONE;
            o.num_threads = threads;
            adv_set_case("special values, %s, cols %zu, num_threads %d", ADV_SUF, cols, threads);
            EXPECT_OK(XFN(xent_cross_entropy)(x, R, cols, stride, lab, &o, loss, grad, lse));
            FN(check_ce_rows)(x, R, cols, stride, lab, NULL, 0, -100, loss, grad, stride, lse, ADV_BOUND);
            /* Exact documented values. */
            CHECK(lse[0] == -INFINITY && loss[0] == INFINITY, "all -inf row: lse %g loss %g", (double)lse[0], (double)loss[0]);
            for (j = 0; j < cols; j++)
                if (grad[j] != ((int64_t)j == lab[0] ? -1 : 0)) {
                    CHECK(0, "all -inf row: grad[%zu] = %g", j, (double)grad[j]);
                    break;
                }
            CHECK(isnan(loss[3]) && isnan(lse[3]) && isnan(grad[3 * stride]), "NaN row: loss %g lse %g grad %g",
                  (double)loss[3], (double)lse[3], (double)grad[3 * stride]);
            CHECK(isnan(loss[5]) && isnan(lse[5]) && isnan(grad[5 * stride]), "+inf row: loss %g lse %g grad %g",
                  (double)loss[5], (double)lse[5], (double)grad[5 * stride]);
            if (cols > 1) CHECK(loss[7] == INFINITY && isfinite(grad[7 * stride]) && grad[7 * stride] == -1,
                                "-inf at the label: loss %g grad %g", (double)loss[7], (double)grad[7 * stride]);
            CHECK(loss[9] == 0 && isfinite(lse[9]), "ignored row: loss %g lse %g", (double)loss[9], (double)lse[9]);
            /* SUM over all rows is NaN (rows 3, 5); SUM over rows 8..11 is finite. */
            o.reduction = XENT_REDUCTION_SUM;
            EXPECT_OK(XFN(xent_cross_entropy)(x, R, cols, stride, lab, &o, red, NULL, NULL));
            CHECK(isnan(red[0]), "SUM with NaN rows: %g", (double)red[0]);
            o.reduction = XENT_REDUCTION_MEAN;
            EXPECT_OK(XFN(xent_cross_entropy)(x + 8 * stride, 4, cols, stride, lab + 8, &o, red, NULL, NULL));
            {
                long double want = ((long double)loss[8] + loss[10] + loss[11]) / 3;
                CHECK(adv_close(red[0], want, ADV_BOUND * 4 * fmaxl(1, fabsl(want))), "MEAN of rows 8..11 (9 ignored): %g, expected %Lg",
                      (double)red[0], want);
            }
        }
        adv_set_case("special values, %s, cols %zu, row-wise", ADV_SUF, cols);
        FN(check_rowwise)(x, R, cols, stride, ADV_BOUND);
        free(x);
        free(grad);
    }
}

/* label_smoothing 0 and 1 (1: uniform targets, the label does not matter), soft targets, MEAN/SUM scaling. */
static void FN(test_smoothing_edges)(void)
{
    enum { R = 5, C = 37 };
    T x[R * C], tg[R * C], loss[R], grad[R * C], lse[R], loss2[R], grad2[R * C];
    int64_t lab[R] = {0, C - 1, 5, 0, C - 1}, lab2[R] = {3, 3, 3, 3, 3};
    xent_options o;
    int k, i;
    for (i = 0; i < R * C; i++) { x[i] = (T)adv_uniform(-3, 3); tg[i] = (T)adv_uniform(0, 0.1); }
    for (k = 0; k < 2; k++) {
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        o.label_smoothing = (float)k;
        adv_set_case("label_smoothing %d, %s", k, ADV_SUF);
        EXPECT_OK(XFN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, grad, lse));
        FN(check_ce_rows)(x, R, C, C, lab, NULL, (double)k, -100, loss, grad, C, lse, ADV_BOUND);
        EXPECT_OK(XFN(xent_soft_cross_entropy)(x, R, C, C, tg, C, &o, loss, grad, lse));
        FN(check_ce_rows)(x, R, C, C, NULL, tg, (double)k, -100, loss, grad, C, lse, ADV_BOUND);
        if (k == 1) {
            EXPECT_OK(XFN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, grad, NULL));
            EXPECT_OK(XFN(xent_cross_entropy)(x, R, C, C, lab2, &o, loss2, grad2, NULL));
            for (i = 0; i < R; i++)
                CHECK(adv_close(loss[i], loss2[i], ADV_BOUND * fmaxl(1, fabsl(loss[i]))),
                      "smoothing 1: the label changed the loss of row %d (%g vs %g)", i, (double)loss[i], (double)loss2[i]);
        }
    }
}

/* MEAN with every row ignored: loss 0, gradient 0, bias 0, lse still written; rows == 0 edge cases. */
static void FN(test_all_ignored)(void)
{
    enum { R = 6, C = 9 };
    T x[R * C], loss[R], grad[R * C], lse[R], bias[C];
    int64_t lab[R];
    xent_options o;
    int i, red;
    for (i = 0; i < R * C; i++) x[i] = (T)adv_uniform(-2, 2);
    for (i = 0; i < R; i++) lab[i] = -100;
    for (red = XENT_REDUCTION_SUM; red <= XENT_REDUCTION_MEAN; red++) {
        xent_options_init(&o);
        o.reduction = red;
        o.label_smoothing = 0.2f;
        adv_set_case("every row ignored, %s, %s", red == XENT_REDUCTION_SUM ? "SUM" : "MEAN", ADV_SUF);
        adv_fill_canary(loss, sizeof loss);
        adv_fill_canary(grad, sizeof grad);
        adv_fill_canary(bias, sizeof bias);
        EXPECT_OK(XFN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, loss, grad, C, lse, bias));
        CHECK(loss[0] == 0 && !signbit(loss[0]), "loss %g, expected +0", (double)loss[0]);
        CHECK(adv_is_canary(loss + 1, sizeof loss - sizeof loss[0]), "a reduced loss wrote more than one value");
        for (i = 0; i < R * C; i++)
            if (grad[i] != 0) { CHECK(0, "grad[%d] = %g, expected 0", i, (double)grad[i]); break; }
        for (i = 0; i < C; i++)
            if (bias[i] != 0) { CHECK(0, "bias[%d] = %g, expected 0", i, (double)bias[i]); break; }
        for (i = 0; i < R; i++) {
            double xd[C];
            int j;
            long double r;
            for (j = 0; j < C; j++) xd[j] = (double)x[i * C + j];
            r = adv_ref_lse_d(xd, C);
            CHECK(adv_close(lse[i], r, ADV_BOUND * fmaxl(1, fabsl(r))), "row %d: lse %g, reference %Lg", i, (double)lse[i], r);
        }
    }
    /* rows == 0: SUM/MEAN give 0, NONE writes nothing, the bias gradient gets cols zeros. */
    for (red = XENT_REDUCTION_NONE; red <= XENT_REDUCTION_MEAN; red++) {
        int kind;
        for (kind = CE_EX; kind <= SOFT_EX; kind += 2) {
            xent_options_init(&o);
            o.reduction = red;
            adv_set_case("rows == 0, %s, reduction %d, %s", adv_ce_kind_name[kind], red, ADV_SUF);
            adv_fill_canary(loss, sizeof loss);
            adv_fill_canary(grad, sizeof grad);
            adv_fill_canary(lse, sizeof lse);
            adv_fill_canary(bias, sizeof bias);
            if (kind == CE_EX)
                EXPECT_OK(XFN(xent_cross_entropy_ex)(x, 0, C, C, lab, &o, loss, grad, C, lse, bias));
            else
                EXPECT_OK(XFN(xent_soft_cross_entropy_ex)(x, 0, C, C, x, C, &o, loss, grad, C, lse, bias));
            if (red == XENT_REDUCTION_NONE) CHECK(adv_is_canary(loss, sizeof loss), "NONE with rows == 0 wrote a loss");
            else CHECK(loss[0] == 0, "loss %g, expected 0", (double)loss[0]);
            CHECK(adv_is_canary(grad, sizeof grad) && adv_is_canary(lse, sizeof lse), "rows == 0 wrote grad or lse");
            for (i = 0; i < C; i++)
                if (bias[i] != 0) { CHECK(0, "bias[%d] = %g, expected 0", i, (double)bias[i]); break; }
        }
    }
}

/* The gradient in place (grad == logits, same stride) equals the out-of-place gradient bit for bit, and the
   stride padding stays untouched; softmax/log_softmax in place likewise. */
static void FN(test_in_place)(void)
{
    const size_t cols_list[] = {3, 10, 16, 300, 70000};
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], stride = cols + 3, R = 9, n = R * stride;
        T *x = (T *)malloc(n * sizeof(T)), *y = (T *)malloc(n * sizeof(T)), *g = (T *)malloc(n * sizeof(T)),
          *tg = (T *)malloc(n * sizeof(T));
        T loss[9], loss2[9], lse[9], lse2[9], *bias = (T *)malloc(cols * sizeof(T)), *bias2 = (T *)malloc(cols * sizeof(T));
        int64_t lab[9];
        xent_options o;
        size_t i, j;
        int kind;
        for (i = 0; i < n; i++) { x[i] = (T)adv_uniform(-5, 5); tg[i] = (T)adv_uniform(0, 1.0 / (double)cols); }
        for (i = 0; i < R; i++) lab[i] = (int64_t)((i * 13) % cols);
        lab[4] = -100;
        xent_options_init(&o);
        o.label_smoothing = 0.1f;
        o.grad_scale = 3.0f;
        for (kind = 0; kind < 4; kind++) {
            const int hard = kind == CE || kind == CE_EX;
            FN(ce_args) a;
            int same = 1;
            adv_set_case("gradient in place, %s_%s, cols %zu", adv_ce_kind_name[kind], ADV_SUF, cols);
            memset(&a, 0, sizeof a);
            a.x = x; a.rows = R; a.cols = cols; a.stride = stride; a.labels = lab; a.targets = tg;
            a.target_stride = stride; a.opts = &o; a.loss = loss; a.grad = g; a.grad_stride = stride; a.lse = lse;
            a.bias = (kind == CE_EX || kind == SOFT_EX) ? bias : NULL;
            adv_fill_canary(g, n * sizeof(T));
            EXPECT_OK(FN(ce_call)(kind, a));
            memcpy(y, x, n * sizeof(T));
            a.x = y; a.grad = y; a.loss = loss2; a.lse = lse2; a.bias = a.bias ? bias2 : NULL;
            EXPECT_OK(FN(ce_call)(kind, a));
            for (i = 0; i < R && same; i++) {
                for (j = 0; j < cols; j++)
                    if (memcmp(&y[i * stride + j], &g[i * stride + j], sizeof(T)) != 0) { same = 0; break; }
                for (j = cols; j < stride; j++)
                    if (memcmp(&y[i * stride + j], &x[i * stride + j], sizeof(T)) != 0) {
                        CHECK(0, "row %zu: padding element %zu was written", i, j);
                        break;
                    }
            }
            CHECK(same, "in-place gradient differs from the out-of-place one (row %zu)", i - 1);
            CHECK(memcmp(loss, loss2, sizeof loss[0]) == 0 && memcmp(lse, lse2, sizeof lse) == 0,
                  "in place: loss or lse differs");
            if (a.bias) CHECK(memcmp(bias, bias2, cols * sizeof(T)) == 0, "in place: bias gradient differs");
            (void)hard;
        }
        for (kind = SOFTMAX; kind <= LOG_SOFTMAX; kind++) {
            adv_set_case("%s_%s in place, cols %zu", adv_row_kind_name[kind], ADV_SUF, cols);
            EXPECT_OK(FN(row_call)(kind, x, R, cols, stride, g, stride));
            memcpy(y, x, n * sizeof(T));
            EXPECT_OK(FN(row_call)(kind, y, R, cols, stride, y, stride));
            {
                int same = 1;
                for (i = 0; i < R && same; i++) {
                    if (memcmp(y + i * stride, g + i * stride, cols * sizeof(T)) != 0) same = 0;
                    if (memcmp(y + i * stride + cols, x + i * stride + cols, (stride - cols) * sizeof(T)) != 0) {
                        CHECK(0, "row %zu: padding written", i);
                    }
                }
                CHECK(same, "in place differs from out of place");
            }
        }
        free(x); free(y); free(g); free(tg); free(bias); free(bias2);
    }
}

/* Pointers at an element offset of 1 (aligned for T, but not to 16 or 32 bytes) for every argument. */
static void FN(test_unaligned)(void)
{
    const size_t cols_list[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1001};
    size_t ci;
    for (ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
        const size_t cols = cols_list[ci], R = 11, stride = cols + 1; /* odd stride: rows start misaligned too */
        const size_t n = R * stride + 8;
        T *xb = (T *)malloc(n * sizeof(T)), *gb = (T *)malloc(n * sizeof(T)), *tb = (T *)malloc(n * sizeof(T));
        T *ob = (T *)malloc(n * sizeof(T));
        T lossb[16], lseb[16], *biasb = (T *)malloc((cols + 8) * sizeof(T));
        int64_t labb[16];
        xent_options o;
        size_t i;
        T *x = xb + 1, *g = gb + 1, *tg = tb + 1, *out = ob + 1, *loss = lossb + 1, *lse = lseb + 1, *bias = biasb + 1;
        int64_t *lab = labb + 1;
        for (i = 0; i < n; i++) { xb[i] = (T)adv_uniform(-4, 4); tb[i] = (T)adv_uniform(0, 0.5); }
        for (i = 0; i < R; i++) lab[i] = (int64_t)((i * 5) % cols);
        xent_options_init(&o);
        o.reduction = XENT_REDUCTION_NONE;
        adv_set_case("unaligned (element offset 1), %s, cols %zu", ADV_SUF, cols);
        EXPECT_OK(XFN(xent_cross_entropy_ex)(x, R, cols, stride, lab, &o, loss, g, stride, lse, bias));
        FN(check_ce_rows)(x, R, cols, stride, lab, NULL, 0, -100, loss, g, stride, lse, ADV_BOUND);
        {
            long bad = 0;
            size_t j;
            for (j = 0; j < cols; j++) {
                long double s = 0, sa = 0;
                for (i = 0; i < R; i++) { s += g[i * stride + j]; sa += fabsl((long double)g[i * stride + j]); }
                if (!adv_close(bias[j], s, ADV_BOUND * 2 * fmaxl(1, sa))) bad++;
            }
            CHECK(bad == 0, "%ld bias gradient elements differ from the column sums", bad);
        }
        EXPECT_OK(XFN(xent_soft_cross_entropy_ex)(x, R, cols, stride, tg, stride, &o, loss, g, stride, lse, bias));
        FN(check_ce_rows)(x, R, cols, stride, NULL, tg, 0, -100, loss, g, stride, lse, ADV_BOUND);
        (void)out;
        FN(check_rowwise)(x, R, cols, stride, ADV_BOUND);
        EXPECT_OK(XFN(xent_softmax)(x, R, cols, stride, out, stride));
        EXPECT_OK(XFN(xent_log_softmax)(x, R, cols, stride, out, stride));
        EXPECT_OK(XFN(xent_logsumexp)(x, R, cols, stride, out));
        free(xb); free(gb); free(tb); free(ob); free(biasb);
    }
}

/* 1 000 003 classes, two rows, labels 0 and cols-1, against the long double reference with the header's bounds;
   also bit-identical for num_threads 1, 2 and 0. */
static void FN(test_million_classes)(void)
{
    const size_t C = 1000003, R = 2;
    T *x = (T *)malloc(R * C * sizeof(T)), *g = (T *)malloc(R * C * sizeof(T)), *g2 = (T *)malloc(R * C * sizeof(T));
    T *bias = (T *)malloc(C * sizeof(T)), *bias2 = (T *)malloc(C * sizeof(T));
    T loss[2], lse[2], mean[1], mean2[1], lse2[2];
    int64_t lab[2] = {0, (int64_t)C - 1};
    xent_options o;
    size_t i, j;
    int threads;
    for (i = 0; i < R * C; i++) x[i] = (T)adv_uniform(-8, 8);
    x[C - 1] = (T)9; /* a clear winner in row 0, elsewhere than the label */
    xent_options_init(&o);
    o.reduction = XENT_REDUCTION_NONE;
    adv_set_case("1000003 classes, %s, NONE", ADV_SUF);
    EXPECT_OK(XFN(xent_cross_entropy)(x, R, C, C, lab, &o, loss, g, lse));
    FN(check_ce_rows)(x, R, C, C, lab, NULL, 0, -100, loss, g, C, lse, ADV_BOUND);
    o.reduction = XENT_REDUCTION_MEAN;
    o.label_smoothing = 0.05f;
    for (threads = 1; threads >= 0; threads--) {
        o.num_threads = threads;
        adv_set_case("1000003 classes, %s, MEAN, smoothing, bias, num_threads %d", ADV_SUF, threads);
        EXPECT_OK(XFN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, threads ? mean : mean2, threads ? g : g2, C,
                                             threads ? lse : lse2, threads ? bias : bias2));
    }
    o.num_threads = 2;
    EXPECT_OK(XFN(xent_cross_entropy_ex)(x, R, C, C, lab, &o, mean2, g2, C, lse2, bias2));
    CHECK(memcmp(mean, mean2, sizeof mean) == 0 && memcmp(g, g2, R * C * sizeof(T)) == 0 &&
          memcmp(bias, bias2, C * sizeof(T)) == 0 && memcmp(lse, lse2, sizeof lse) == 0,
          "num_threads 1 and 2 differ");
    {
        double *xd = (double *)malloc(C * sizeof(double));
        long double *gr = (long double *)malloc(C * sizeof(long double)), *bs = (long double *)calloc(C, sizeof(long double));
        long double total = 0;
        long bad = 0, badb = 0;
        const double eps = (double)o.label_smoothing;
        for (i = 0; i < R; i++) {
            long double l;
            for (j = 0; j < C; j++) xd[j] = (double)x[i * C + j];
            total += adv_ref_ce_d(xd, C, lab[i], NULL, eps, &l, gr);
            for (j = 0; j < C; j++) {
                if (!adv_close(g[i * C + j], gr[j] / R, ADV_BOUND / R)) bad++;
                bs[j] += gr[j] / R;
            }
        }
        for (j = 0; j < C; j++)
            if (!adv_close(bias[j], bs[j], ADV_BOUND * R / R)) badb++;
        CHECK(adv_close(mean[0], total / R, ADV_BOUND * fabsl(total / R)), "mean loss %.9g, reference %.12Lg",
              (double)mean[0], total / R);
        CHECK(bad == 0, "%ld gradient elements outside the bound", bad);
        CHECK(badb == 0, "%ld bias gradient elements outside the bound", badb);
        free(xd); free(gr); free(bs);
    }
    adv_set_case("1000003 classes, %s, row-wise", ADV_SUF);
    FN(check_rowwise)(x, R, C, C, ADV_BOUND);
    free(x); free(g); free(g2); free(bias); free(bias2);
}

static void FN(run_all)(void)
{
    FN(test_invalid_cross_entropy)();
    FN(test_invalid_rowwise)();
    adv_isolated("huge shapes " ADV_SUF, FN(test_huge_shapes));
    FN(test_huge_labels)();
    FN(test_one_class)();
    FN(test_special_values)();
    FN(test_smoothing_edges)();
    FN(test_all_ignored)();
    FN(test_in_place)();
    FN(test_unaligned)();
    FN(test_million_classes)();
}
