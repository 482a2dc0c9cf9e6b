/*
 * test_bf16.c -- bfloat16 logits (1.1.0): xent_cross_entropy_bf16 with a float32 gradient equals the float32 path
 * on the widened values bit for bit; the bfloat16 gradient is the float32 one rounded to nearest even; both
 * gradients at once is refused and writes nothing.
 */
#include "xt_tests.h"

void xt_test_bf16(void)
{
    enum { R = 5, C = 37 };
    uint16_t h[R * C], g16[R * C];
    float x32[R * C], g32[R * C], ref_g[R * C], loss, ref_loss, loss2;
    int64_t lb[R] = {0, 36, 5, -100, 17};
    xent_options o;
    int i, rounding_ok = 1;
    xt_set_case("bfloat16 logits");
    for (i = 0; i < R * C; i++) {
        float f = (float)rand() / (float)RAND_MAX * 10.0f - 5.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        h[i] = (uint16_t)(u >> 16); /* truncated, not rounded: any bfloat16 will do */
        x32[i] = xt_bf16_widen(h[i]);
    }
    xent_options_init(&o);
    o.label_smoothing = 0.05f;
    XT_CHECK(xent_cross_entropy_f32(x32, R, C, C, lb, &o, &ref_loss, ref_g, NULL) == XENT_OK, "f32 reference");
    XT_CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss, g32, NULL, C, NULL) == XENT_OK, "bf16, f32 grad");
    XT_CHECK(loss == ref_loss && memcmp(g32, ref_g, sizeof g32) == 0, "bf16 with a float32 gradient = the f32 path");
    XT_CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss2, NULL, g16, C, NULL) == XENT_OK, "bf16, bf16 grad");
    XT_CHECK(xt_close(loss2, ref_loss, 4e-7), "bf16 loss %.9g vs %.9g", loss2, ref_loss);
    for (i = 0; i < R * C; i++)
        if (g16[i] != xt_bf16_round(ref_g[i])) rounding_ok = 0;
    XT_CHECK(rounding_ok, "bfloat16 gradient is not the float32 gradient rounded to nearest-even");
    memset(g16, 0x77, sizeof g16);
    XT_CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss2, g32, g16, C, NULL) == XENT_ERR_INVALID_OPTION,
             "both gradients");
    XT_CHECK(g16[0] == 0x7777, "written on error");
}
