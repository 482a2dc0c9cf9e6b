/*
 * test_options.c -- the options struct: a larger struct_size (a caller compiled against a future header) reads
 * only what it knows; the 1.1.0 options (z-loss with its separate output, class weights, the soft cap) against the
 * long double reference; a 1.0.0-sized struct keeps their defaults; xent_options_init and _init_size write only
 * their size.
 */
#ifndef XT_REAL
#include "xt_tests.h"

/* z-loss and class weights (hard labels, MEAN, smoothing 0.1), then the soft cap, against the long double
   reference; a 1.0.0-sized struct keeps the 1.1.0 fields at their defaults; invalid 1.1.0 options. */
void xt_test_options_v11(void)
{
    enum { R = 3, C = 5 };
    const float xs[R * C] = {1, 2, 3, 4, 5, -1, 0, 1, 0, -1, 2, 2, -INFINITY, 0, 1};
    const int64_t lb[R] = {4, 0, -100};
    const double w[C] = {1, 0.5, 2, 0, 1.5};
    long double xl[R * C];
    xt_ref_opts ro;
    xt_ref_ce_out ref;
    xent_options o, d;
    double z = -1;
    float loss = -1, grad[R * C], loss10 = -1, plain = -2, capped[R];
    double bad_w[C] = {1, 1, -1, 1, 1};
    int i, j;

    xt_set_case("options 1.1.0: z-loss and class weights");
    xt_widen_f32(xs, R, C, C, xl);
    xt_ref_ce_alloc(&ref, R, C);
    xent_options_init(&o);
    o.label_smoothing = 0.1f;
    o.z_loss = 0.01f;
    o.class_weights = w;
    o.z_loss_out = &z;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &o, &loss, grad, NULL) == XENT_OK, "weights + z-loss: %s",
             xent_last_error_message());
    ro = xt_ref_opts_from(&o);
    xt_ref_ce(xl, R, C, lb, NULL, &ro, &ref);
    XT_CHECK(xt_close(loss, ref.loss_red, 3e-7), "weighted loss %.9g vs %.9Lg", loss, ref.loss_red);
    XT_CHECK(xt_close(z, ref.z_red, 3e-7), "z-loss %.9g vs %.9Lg", z, ref.z_red);
    for (j = 0; j < C; j++) XT_CHECK(grad[2 * C + j] == 0, "ignored row's gradient");
    for (i = 0; i < 2 * C; i++)
        XT_CHECK(xt_close(grad[i], ref.grad[i], 1e-6), "weighted gradient [%d]: %.9g vs %.9Lg", i, grad[i],
                 ref.grad[i]);

    /* A caller compiled against 1.0.0: the fields after grad_scale are not read. */
    o.struct_size = XENT_OPTIONS_V1_SIZE;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &o, &loss10, NULL, NULL) == XENT_OK, "1.0.0-sized options");
    xent_options_init(&d);
    d.label_smoothing = 0.1f;
    xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL);
    XT_CHECK(loss10 == plain, "a 1.0.0-sized struct must ignore the 1.1.0 fields (%.9g vs %.9g)", loss10, plain);

    /* The soft cap: c*tanh(x/c) before everything; c < 0 refused. */
    xt_set_case("options 1.1.0: soft cap");
    xent_options_init(&d);
    d.reduction = XENT_REDUCTION_NONE;
    d.soft_cap = 2.5f;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, capped, NULL, NULL) == XENT_OK, "soft cap");
    ro = xt_ref_opts_from(&d);
    xt_ref_ce(xl, R, C, lb, NULL, &ro, &ref);
    for (i = 0; i < 2; i++)
        XT_CHECK(xt_close(capped[i], ref.loss_rows[i], 1e-6), "capped loss row %d: %.9g vs %.9Lg", i, capped[i],
                 ref.loss_rows[i]);
    d.soft_cap = -1;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION,
             "soft cap < 0");
    xent_options_init(&d);
    d.z_loss = -1;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION, "z_loss < 0");
    xent_options_init(&d);
    d.class_weights = bad_w;
    XT_CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION,
             "negative class weight");
    xent_options_init(&d);
    d.class_weights = w;
    XT_CHECK(xent_soft_cross_entropy_f32(xs, R, C, C, xs, C, &d, &plain, NULL, NULL) == XENT_ERR_UNSUPPORTED,
             "class weights with soft targets");
    xt_ref_ce_free(&ref);
}

/* xent_options_init: the function (what a 1.0.0 binary calls) writes only the 1.0.0 fields; the macro (this
   header) fills the whole struct; _size never writes past its size. */
void xt_test_options_init(void)
{
    struct {
        unsigned char v1[XENT_OPTIONS_V1_SIZE];
        unsigned char after[64];
    } box;
    xent_options full;
    size_t k, size;
    int intact = 1;
    xt_set_case("options 1.1.0: xent_options_init and xent_options_init_size");
    memset(&box, 0xCD, sizeof box);
    (xent_options_init)((xent_options *)(void *)&box);
    for (k = 0; k < sizeof box.after; k++) intact &= box.after[k] == 0xCD;
    memcpy(&size, box.v1, sizeof size);
    XT_CHECK(intact && size == XENT_OPTIONS_V1_SIZE, "the function wrote past the 1.0.0 struct (struct_size %lu)",
             (unsigned long)size);
    memset(&full, 0xCD, sizeof full);
    xent_options_init(&full);
    XT_CHECK(full.struct_size == sizeof full && full.z_loss == 0 && full.class_weights == NULL &&
                 full.z_loss_out == NULL,
             "the macro fills the whole struct");
    memset(&full, 0xCD, sizeof full);
    xent_options_init_size(&full, 12);
    XT_CHECK(full.struct_size == 12 && ((unsigned char *)&full)[12] == 0xCD, "init_size wrote past its size");
}

#define XT_TYPED_FILE "test_options.c"
#include "xt_instantiate.h"

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

/* Options with a larger struct_size (a caller compiled against a future header). */
void XT_FN(xt_test_options_future)(void)
{
    struct {
        xent_options v1;
        int64_t future_a;
        double future_b;
        unsigned char future_c[40];
    } big;
    enum { R = 5, C = 9 };
    XT_REAL x[R * C], t[R * C], loss1[R], loss2[R], g1[R * C], g2[R * C];
    int64_t labels[R];
    size_t i;
    xent_options small;
    xent_status s1, s2;
    for (i = 0; i < R * C; i++) {
        x[i] = (XT_REAL)xt_uniform(-3, 3);
        t[i] = (XT_REAL)xt_uniform(0, 0.2);
    }
    for (i = 0; i < R; i++) labels[i] = (int64_t)(i * 2 % C);
    labels[1] = 4;
    xent_options_init(&small);
    small.reduction = XENT_REDUCTION_NONE;
    small.label_smoothing = 0.2f;
    small.grad_scale = 3.0f;
    small.ignore_index = 4;
    memset(&big, 0xEE, sizeof big); /* garbage in the unknown fields must be ignored */
    big.v1 = small;
    big.v1.struct_size = sizeof big;
    xt_set_case("options with a larger struct_size %s", XT_TYPE_NAME);
    s1 = XT_FN(xent_cross_entropy)(x, R, C, C, labels, &small, loss1, g1, NULL);
    s2 = XT_FN(xent_cross_entropy)(x, R, C, C, labels, &big.v1, loss2, g2, NULL);
    xt_check_status(s1, XENT_OK, "cross_entropy, v1 struct");
    xt_check_status(s2, XENT_OK, "cross_entropy, larger struct");
    xt_check(memcmp(loss1, loss2, sizeof loss1) == 0 && memcmp(g1, g2, sizeof g1) == 0,
             "cross_entropy: results differ between the v1 and the larger struct");
    xt_check(loss2[1] == 0, "ignore_index not read from the larger struct: loss[1] = %g", (double)loss2[1]);
    s1 = XT_FN(xent_soft_cross_entropy)(x, R, C, C, t, C, &small, loss1, g1, NULL);
    s2 = XT_FN(xent_soft_cross_entropy)(x, R, C, C, t, C, &big.v1, loss2, g2, NULL);
    xt_check_status(s1, XENT_OK, "soft_cross_entropy, v1 struct");
    xt_check_status(s2, XENT_OK, "soft_cross_entropy, larger struct");
    xt_check(memcmp(loss1, loss2, sizeof loss1) == 0 && memcmp(g1, g2, sizeof g1) == 0,
             "soft_cross_entropy: results differ between the v1 and the larger struct");
}

#endif /* XT_REAL */
