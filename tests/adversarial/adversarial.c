/*
 * adversarial.c -- hostile arguments and values against the public C ABI (include/xent.h), issue 5.
 *
 *   - every invalid argument of every function: the status, the outputs untouched (canaries; an in-place
 *     gradient target and every input too), and a message naming the argument or the row;
 *   - shapes near SIZE_MAX, rows x stride overflow, byte extents above PTRDIFF_MAX (in a child process, so a
 *     trap inside the library is reported as a failure instead of ending the suite);
 *   - cols = 1; all -inf rows; a single +inf; NaN in one row only; a -inf at the label; labels at 0, cols-1
 *     (valid), cols, -1, -100 (ignored by default), INT64_MIN; label_smoothing 0 and 1; MEAN with every row
 *     ignored; rows == 0; the gradient in place; partial overlaps of outputs and inputs; pointers at element
 *     offset 1 (aligned for the type, not to 16/32 bytes: C forbids a misaligned float*); 1 000 003 classes in
 *     f32 and f64 against a long double reference with the error bounds stated in xent.h.
 *
 * Prints one line per failed check and "N passed, N failed"; exits 1 when anything failed.
 * Build: cc -std=c99 -O1 adversarial.c $(pkg-config --cflags --libs xent) -lm   (see mk/reliability.mk).
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS, strsignal */
#define _POSIX_C_SOURCE 200809L
#include "adversarial_common.h"

enum { CE = 0, CE_EX = 1, SOFT = 2, SOFT_EX = 3 };
enum { LSE = 0, SOFTMAX = 1, LOG_SOFTMAX = 2 };
static const char *const adv_ce_kind_name[4] = {"cross_entropy", "cross_entropy_ex", "soft_cross_entropy",
                                                "soft_cross_entropy_ex"};
static const char *const adv_row_kind_name[3] = {"logsumexp", "softmax", "log_softmax"};
/* The fixture of the invalid-argument tests: AR x AC logits with row stride AS; AEXT elements span them. */
enum { AR = 4, AC = 5, AS = 7, AEXT = (AR - 1) * AS + AC };

#define T float
#define FN(name) name##_f32
#define XFN(name) name##_f32
#define ADV_SUF "f32"
#define ADV_BOUND 2e-7
#include "adversarial_typed.h"
#undef T
#undef FN
#undef XFN
#undef ADV_SUF
#undef ADV_BOUND

#define T double
#define FN(name) name##_f64
#define XFN(name) name##_f64
#define ADV_SUF "f64"
#define ADV_BOUND 1e-14
#include "adversarial_typed.h"

static void test_misc(void)
{
    xent_options o;
    adv_set_case("library information");
    xent_options_init(NULL); /* does nothing */
    memset(&o, 0xFF, sizeof o);
    xent_options_init(&o);
    CHECK(o.struct_size == sizeof o && o.reduction == XENT_REDUCTION_MEAN && o.num_threads == 0 &&
              o.ignore_index == -100 && o.label_smoothing == 0 && o.grad_scale == 1,
          "xent_options_init defaults");
    CHECK(xent_version_number() == XENT_VERSION_NUMBER, "version %u", (unsigned)xent_version_number());
    CHECK(strcmp(xent_version_string(), XENT_VERSION_STRING) == 0, "version string %s", xent_version_string());
    CHECK(strcmp(xent_status_string(-1), "unknown status") == 0, "status -1: %s", xent_status_string(-1));
    CHECK(strcmp(xent_status_string(INT32_MIN), "unknown status") == 0, "status INT32_MIN");
    CHECK(strcmp(xent_status_string(8), "unknown status") == 0, "status 8: %s", xent_status_string(8));
    CHECK(strcmp(xent_status_string(INT32_MAX), "unknown status") == 0, "status INT32_MAX");
    {
        int s;
        for (s = 0; s <= XENT_ERR_OUT_OF_MEMORY; s++)
            CHECK(xent_status_string(s) != NULL && strcmp(xent_status_string(s), "unknown status") != 0,
                  "status %d has no description", s);
    }
    CHECK(xent_isa_name() != NULL && xent_isa_name()[0] != '\0', "isa name");
    /* A long message (a huge label at a huge row index is still short; the message is bounded) and the
       message of a success is "". */
    {
        float x[2] = {0, 0}, loss[1];
        int64_t lab[1] = {INT64_MIN};
        xent_status s = xent_cross_entropy_f32(x, 1, 2, 2, lab, NULL, loss, NULL, NULL);
        EXPECT_ERROR(s, XENT_ERR_LABEL_OUT_OF_RANGE, "-9223372036854775808", "row 0");
        lab[0] = 1;
        EXPECT_OK(xent_cross_entropy_f32(x, 1, 2, 2, lab, NULL, loss, NULL, NULL));
        CHECK(xent_last_error_message()[0] == '\0', "message after success");
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("adversarial: libxent %s (%s)\n", xent_version_string(), xent_isa_name());
    test_misc();
    run_all_f32();
    run_all_f64();
    printf("%ld passed, %ld failed\n", adv_passed, adv_failed);
    return adv_failed == 0 ? 0 : 1;
}
