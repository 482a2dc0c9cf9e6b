/*
 * adversarial.c -- hostile arguments and values against the public C ABI (include/xent.h), issue 5: see
 * adversarial.h for the files. This one: library information, the reference of one row, the typed entry points, and
 * main. Build: cc -std=c99 -O1 -I. -I../CSupport (the .c files here and in ../CSupport) $(pkg-config --cflags --libs
 * xent) -lm (see mk/reliability.mk).
 */
#ifndef XT_REAL
#include "adversarial.h"

const char *const adv_ce_kind_name[4] = {"cross_entropy", "cross_entropy_ex", "soft_cross_entropy",
                                         "soft_cross_entropy_ex"};
const char *const adv_row_kind_name[3] = {"logsumexp", "softmax", "log_softmax"};

long double adv_ref_ce_d(const double *x, size_t n, int64_t label, const double *y, double eps, long double *lse_out,
                         long double *g)
{
    xt_row_stats r = xt_ref_row_d(x, n, NULL, 0);
    long double *t = (long double *)xt_alloc((n + 1) * sizeof(long double)), tsum = 0, loss;
    size_t j;
    for (j = 0; j < n; j++) {
        long double base = y ? (long double)y[j] : ((int64_t)j == label ? 1.0L : 0.0L);
        t[j] = (1.0L - eps) * base + (long double)eps / n;
        tsum += t[j];
    }
    loss = xt_ref_row_loss(&r, x, t, n, tsum, NULL);
    if (g)
        for (j = 0; j < n; j++) g[j] = tsum * xt_ref_softmax(&r, x[j]) - t[j];
    if (lse_out) *lse_out = xt_ref_lse(&r);
    free(t);
    return loss;
}

static void test_misc(void)
{
    xent_options o;
    xt_set_case("library information");
    xent_options_init(NULL); /* does nothing */
    memset(&o, 0xFF, sizeof o);
    xent_options_init(&o);
    XT_CHECK(o.struct_size == sizeof o && o.reduction == XENT_REDUCTION_MEAN && o.num_threads == 0 &&
                 o.ignore_index == -100 && o.label_smoothing == 0 && o.grad_scale == 1,
             "xent_options_init defaults");
    XT_CHECK(xent_version_number() == XENT_VERSION_NUMBER, "version %u", (unsigned)xent_version_number());
    XT_CHECK(strcmp(xent_version_string(), XENT_VERSION_STRING) == 0, "version string %s", xent_version_string());
    XT_CHECK(strcmp(xent_status_string(-1), "unknown status") == 0, "status -1: %s", xent_status_string(-1));
    XT_CHECK(strcmp(xent_status_string(INT32_MIN), "unknown status") == 0, "status INT32_MIN");
    XT_CHECK(strcmp(xent_status_string(8), "unknown status") == 0, "status 8: %s", xent_status_string(8));
    XT_CHECK(strcmp(xent_status_string(INT32_MAX), "unknown status") == 0, "status INT32_MAX");
    {
        int s;
        for (s = 0; s <= XENT_ERR_OUT_OF_MEMORY; s++)
            XT_CHECK(xent_status_string(s) != NULL && strcmp(xent_status_string(s), "unknown status") != 0,
                     "status %d has no description", s);
    }
    XT_CHECK(xent_isa_name() != NULL && xent_isa_name()[0] != '\0', "isa name");
    /* A long message (a huge label at a huge row index is still short; the message is bounded) and the
       message of a success is "". */
    {
        float x[2] = {0, 0}, loss[1];
        int64_t lab[1] = {INT64_MIN};
        xent_status s = xent_cross_entropy_f32(x, 1, 2, 2, lab, NULL, loss, NULL, NULL);
        XT_EXPECT_ERROR(s, XENT_ERR_LABEL_OUT_OF_RANGE, "-9223372036854775808", "row 0");
        lab[0] = 1;
        XT_EXPECT_OK(xent_cross_entropy_f32(x, 1, 2, 2, lab, NULL, loss, NULL, NULL));
        XT_CHECK(xent_last_error_message()[0] == '\0', "message after success");
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("adversarial: libxent %s (%s)\n", xent_version_string(), xent_isa_name());
    xt_begin("adversarial");
    test_misc();
    run_all_f32();
    run_all_f64();
    return xt_finish();
}

#define XT_TYPED_FILE "adversarial.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

xent_status XT_FN(ce_call)(int kind, XT_FN(ce_args) a)
{
    a.soft = kind == SOFT || kind == SOFT_EX;
    a.ex = kind == CE_EX || kind == SOFT_EX;
    return XT_FN(xt_ce_run)(&a);
}

xent_status XT_FN(row_call)(int kind, const XT_REAL *x, size_t rows, size_t cols, size_t stride, XT_REAL *out,
                            size_t out_stride)
{
    switch (kind) {
    case LSE: return XT_FN(xent_logsumexp)(x, rows, cols, stride, out);
    case SOFTMAX: return XT_FN(xent_softmax)(x, rows, cols, stride, out, out_stride);
    default: return XT_FN(xent_log_softmax)(x, rows, cols, stride, out, out_stride);
    }
}

void XT_FN(run_all)(void)
{
    XT_FN(test_invalid_cross_entropy)();
    XT_FN(test_invalid_rowwise)();
    xt_isolated("huge shapes " XT_TYPE_NAME, XT_FN(test_huge_shapes));
    XT_FN(test_huge_labels)();
    XT_FN(test_one_class)();
    XT_FN(test_special_values)();
    XT_FN(test_smoothing_edges)();
    XT_FN(test_all_ignored)();
    XT_FN(test_in_place)();
    XT_FN(test_unaligned)();
    XT_FN(test_million_classes)();
}

#endif /* XT_REAL */
