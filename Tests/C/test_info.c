/*
 * test_info.c -- the type-independent facts of the contract: every declaration has exactly the documented type (a
 * drift would not compile), status and reduction values, the options layout (1.0.0 prefix, 1.1.0 fields appended),
 * version macros and queries, status strings, the ISA name, xent_options_init, xent_last_error_message.
 */
#include "xt_tests.h"

/* The declarations have exactly the documented types (a drift would not compile). */
typedef xent_status (*xt_ce_f32_fn)(const float *, size_t, size_t, size_t, const int64_t *, const xent_options *,
                                    float *, float *, float *);
typedef xent_status (*xt_ce_f64_fn)(const double *, size_t, size_t, size_t, const int64_t *, const xent_options *,
                                    double *, double *, double *);
typedef xent_status (*xt_ce_ex_f32_fn)(const float *, size_t, size_t, size_t, const int64_t *, const xent_options *,
                                       float *, float *, size_t, float *, float *);
typedef xent_status (*xt_ce_ex_f64_fn)(const double *, size_t, size_t, size_t, const int64_t *, const xent_options *,
                                       double *, double *, size_t, double *, double *);
typedef xent_status (*xt_sce_f32_fn)(const float *, size_t, size_t, size_t, const float *, size_t, const xent_options *,
                                     float *, float *, float *);
typedef xent_status (*xt_sce_f64_fn)(const double *, size_t, size_t, size_t, const double *, size_t,
                                     const xent_options *, double *, double *, double *);
typedef xent_status (*xt_sce_ex_f32_fn)(const float *, size_t, size_t, size_t, const float *, size_t,
                                        const xent_options *, float *, float *, size_t, float *, float *);
typedef xent_status (*xt_sce_ex_f64_fn)(const double *, size_t, size_t, size_t, const double *, size_t,
                                        const xent_options *, double *, double *, size_t, double *, double *);
typedef xent_status (*xt_lse_f32_fn)(const float *, size_t, size_t, size_t, float *);
typedef xent_status (*xt_lse_f64_fn)(const double *, size_t, size_t, size_t, double *);
typedef xent_status (*xt_sm_f32_fn)(const float *, size_t, size_t, size_t, float *, size_t);
typedef xent_status (*xt_sm_f64_fn)(const double *, size_t, size_t, size_t, double *, size_t);
typedef void (*xt_init_fn)(xent_options *);
typedef uint32_t (*xt_vnum_fn)(void);
typedef const char *(*xt_str_fn)(void);
typedef const char *(*xt_status_str_fn)(xent_status);

void xt_test_signatures(void)
{
    xt_ce_f32_fn a = xent_cross_entropy_f32;
    xt_ce_f64_fn b = xent_cross_entropy_f64;
    xt_ce_ex_f32_fn c = xent_cross_entropy_ex_f32;
    xt_ce_ex_f64_fn d = xent_cross_entropy_ex_f64;
    xt_sce_f32_fn e = xent_soft_cross_entropy_f32;
    xt_sce_f64_fn f = xent_soft_cross_entropy_f64;
    xt_sce_ex_f32_fn g = xent_soft_cross_entropy_ex_f32;
    xt_sce_ex_f64_fn h = xent_soft_cross_entropy_ex_f64;
    xt_lse_f32_fn i = xent_logsumexp_f32;
    xt_lse_f64_fn j = xent_logsumexp_f64;
    xt_sm_f32_fn k = xent_softmax_f32;
    xt_sm_f64_fn l = xent_softmax_f64;
    xt_sm_f32_fn m = xent_log_softmax_f32;
    xt_sm_f64_fn n = xent_log_softmax_f64;
    xt_init_fn o = xent_options_init;
    xt_vnum_fn p = xent_version_number;
    xt_str_fn q = xent_version_string;
    xt_status_str_fn r = xent_status_string;
    xt_str_fn s = xent_last_error_message;
    xt_str_fn t = xent_isa_name;
    xt_set_case("signatures");
    xt_check(a && b && c && d && e && f && g && h && i && j && k && l && m && n && o && p && q && r && s && t,
             "a function pointer is NULL");
    xt_check(sizeof(xent_status) == 4 && (xent_status)-1 < 0, "xent_status is not a signed 32-bit integer");
    xt_check(XENT_OK == 0 && XENT_ERR_NULL_POINTER == 1 && XENT_ERR_INVALID_SHAPE == 2 &&
                 XENT_ERR_LABEL_OUT_OF_RANGE == 3 && XENT_ERR_INVALID_OPTION == 4 && XENT_ERR_ALIASING == 5 &&
                 XENT_ERR_UNSUPPORTED == 6 && XENT_ERR_OUT_OF_MEMORY == 7,
             "status code values differ from the v1 contract");
    xt_check(XENT_REDUCTION_NONE == 0 && XENT_REDUCTION_SUM == 1 && XENT_REDUCTION_MEAN == 2,
             "reduction values differ from the v1 contract");
    xt_check(
        offsetof(xent_options, struct_size) == 0 && offsetof(xent_options, reduction) == sizeof(size_t) &&
            offsetof(xent_options, num_threads) == sizeof(size_t) + 4 &&
            offsetof(xent_options, ignore_index) == sizeof(size_t) + 8 &&
            offsetof(xent_options, label_smoothing) == sizeof(size_t) + 16 &&
            offsetof(xent_options, grad_scale) == sizeof(size_t) + 20 && XENT_OPTIONS_V1_SIZE == sizeof(size_t) + 24,
        "xent_options' 1.0.0 prefix differs from the v1 contract (v1 size %lu)", (unsigned long)XENT_OPTIONS_V1_SIZE);
    xt_check(offsetof(xent_options, z_loss) == XENT_OPTIONS_V1_SIZE &&
                 offsetof(xent_options, soft_cap) == XENT_OPTIONS_V1_SIZE + 4 &&
                 offsetof(xent_options, class_weights) == XENT_OPTIONS_V1_SIZE + 8 &&
                 offsetof(xent_options, z_loss_out) == XENT_OPTIONS_V1_SIZE + 8 + sizeof(void *) &&
                 sizeof(xent_options) >= XENT_OPTIONS_V1_SIZE + 8 + 2 * sizeof(void *),
             "xent_options' 1.1.0 fields are not appended after the 1.0.0 ones (size %lu)",
             (unsigned long)sizeof(xent_options));
}

void xt_test_info(void)
{
    static const xent_status codes[8] = {XENT_OK,
                                         XENT_ERR_NULL_POINTER,
                                         XENT_ERR_INVALID_SHAPE,
                                         XENT_ERR_LABEL_OUT_OF_RANGE,
                                         XENT_ERR_INVALID_OPTION,
                                         XENT_ERR_ALIASING,
                                         XENT_ERR_UNSUPPORTED,
                                         XENT_ERR_OUT_OF_MEMORY};
    static const xent_status unknown[5] = {8, -1, 100, INT32_MAX, INT32_MIN};
    const char *strings[8];
    char expect[32];
    const char *isa;
    int i, k;

    xt_set_case("version");
    xt_check(XENT_VERSION_NUMBER == XENT_VERSION_MAJOR * 10000 + XENT_VERSION_MINOR * 100 + XENT_VERSION_PATCH,
             "XENT_VERSION_NUMBER is not MAJOR*10000+MINOR*100+PATCH");
    xt_check(XENT_VERSION_MAJOR == 1 && XENT_VERSION_NUMBER >= 10102, "header version is not 1.x at least 1.1.2");
    xt_check(xent_version_number() == (uint32_t)XENT_VERSION_NUMBER,
             "xent_version_number() = %lu, XENT_VERSION_NUMBER = %lu", (unsigned long)xent_version_number(),
             (unsigned long)XENT_VERSION_NUMBER);
    xt_check(xent_version_string() != NULL && strcmp(xent_version_string(), XENT_VERSION_STRING) == 0,
             "xent_version_string() = \"%s\", XENT_VERSION_STRING = \"%s\"",
             xent_version_string() ? xent_version_string() : "(null)", XENT_VERSION_STRING);
    snprintf(expect, sizeof expect, "%d.%d.%d", XENT_VERSION_MAJOR, XENT_VERSION_MINOR, XENT_VERSION_PATCH);
    xt_check(strcmp(expect, XENT_VERSION_STRING) == 0, "XENT_VERSION_STRING \"%s\" is not \"%s\"", XENT_VERSION_STRING,
             expect);

    xt_set_case("xent_status_string");
    for (i = 0; i < 8; i++) {
        strings[i] = xent_status_string(codes[i]);
        if (!xt_check(strings[i] != NULL && strings[i][0] != '\0', "code %d gives NULL or \"\"", (int)codes[i]))
            strings[i] = "";
        else xt_check(strcmp(strings[i], "unknown status") != 0, "code %d gives \"unknown status\"", (int)codes[i]);
    }
    for (i = 0; i < 8; i++)
        for (k = i + 1; k < 8; k++)
            xt_check(strcmp(strings[i], strings[k]) != 0, "codes %d and %d share the string \"%s\"", i, k, strings[i]);
    for (i = 0; i < 5; i++) {
        const char *u = xent_status_string(unknown[i]);
        xt_check(u != NULL && strcmp(u, "unknown status") == 0, "unknown code %ld gives \"%s\"", (long)unknown[i],
                 u ? u : "(null)");
    }

    xt_set_case("xent_isa_name");
    isa = xent_isa_name();
    xt_check(isa != NULL && isa[0] != '\0', "NULL or empty");
    if (isa) {
        xt_check(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "sse2") == 0 ||
                     strcmp(isa, "neon") == 0,
                 "\"%s\" is not one of avx512, avx2, sse2, neon", isa);
#if defined(__x86_64__) || defined(_M_X64)
        xt_check(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "sse2") == 0, "\"%s\" on x86-64",
                 isa);
#elif defined(__aarch64__)
        xt_check(strcmp(isa, "neon") == 0, "\"%s\" on aarch64", isa);
#endif
        printf("note [%s]: xent %s, isa %s\n", xt_get_tag(), xent_version_string(), isa);
    }

    xt_set_case("xent_options_init");
    {
        struct {
            xent_options o;
            unsigned char after[32];
        } box;
        memset(&box, 0xCD, sizeof box);
        xent_options_init(&box.o);
        xt_check(box.o.struct_size == sizeof(xent_options), "struct_size %lu", (unsigned long)box.o.struct_size);
        xt_check(box.o.reduction == XENT_REDUCTION_MEAN, "reduction %d", (int)box.o.reduction);
        xt_check(box.o.num_threads == 0, "num_threads %d", (int)box.o.num_threads);
        xt_check(box.o.ignore_index == -100, "ignore_index %lld", (long long)box.o.ignore_index);
        xt_check(box.o.label_smoothing == 0.0f, "label_smoothing %g", (double)box.o.label_smoothing);
        xt_check(box.o.grad_scale == 1.0f, "grad_scale %g", (double)box.o.grad_scale);
        xt_check(box.o.z_loss == 0.0f && box.o.soft_cap == 0.0f && box.o.class_weights == NULL &&
                     box.o.z_loss_out == NULL,
                 "1.1.0 fields not at their defaults");
        for (i = 0; i < 32; i++)
            if (box.after[i] != 0xCD) break;
        xt_check(i == 32, "wrote past sizeof(xent_options)");
    }

    xt_set_case("xent_last_error_message");
    {
        float x[2] = {0.0f, 1.0f}, out = 0.0f;
        xt_check_status(xent_logsumexp_f32(x, 1, 2, 2, &out), XENT_OK, "valid call");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0', "after success: \"%s\"",
                 xent_last_error_message() ? xent_last_error_message() : "(null)");
        xt_check_status(xent_logsumexp_f32(x, 1, 0, 2, &out), XENT_ERR_INVALID_SHAPE, "cols 0");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] != '\0',
                 "after failure: empty message");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] != '\0',
                 "reading the message cleared it");
        xt_check_status(xent_logsumexp_f32(x, 1, 2, 2, &out), XENT_OK, "valid call");
        xt_check(xent_last_error_message() != NULL && xent_last_error_message()[0] == '\0',
                 "success after a failure did not clear the message: \"%s\"",
                 xent_last_error_message() ? xent_last_error_message() : "(null)");
    }
}
