/* The 1.1.0 additions, from C99. The sharded-vocabulary API: shards' statistics merged in any grouping
   give the loss, lse and gradient of xent_cross_entropy_* on the whole matrix; merge is commutative bit
   for bit; every argument error is reported before anything is written. The new options: z-loss (a
   separate output), class weights and the soft cap against a long double reference, a 1.0.0-sized
   struct that keeps their defaults. Prints "N passed, N failed". */
#include <xent.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0, failed = 0;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (cond) {                                       \
            passed++;                                     \
        } else {                                          \
            failed++;                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

enum { ROWS = 7, COLS = 301 };

static int close_to(double a, double b, double tol) {
    if (isnan(a) && isnan(b)) return 1;
    if (a == b) return 1;
    return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* Statistics of the shards cut at `cuts` merged left to right into `merged`. */
static void shard_stats(const float *x, const int64_t *labels, const xent_options *o, const size_t *bounds,
                        int shards, xent_stats *merged) {
    xent_stats part[ROWS];
    for (int k = 0; k < shards; k++) {
        size_t lo = bounds[k], n = bounds[k + 1] - bounds[k];
        xent_status s = xent_partial_stats_f32(x + lo, ROWS, n, COLS, lo, COLS, labels, o, k == 0 ? merged : part);
        CHECK(s == XENT_OK, "partial stats of shard %d: %s", k, xent_last_error_message());
        if (k > 0) CHECK(xent_merge_stats(merged, part, merged, ROWS) == XENT_OK, "merge (in place over a)");
    }
}

int main(void) {
    static float x[ROWS * COLS], grad[ROWS * COLS], ref_grad[ROWS * COLS];
    int64_t labels[ROWS];
    srand(7);
    for (int i = 0; i < ROWS * COLS; i++) x[i] = (float)rand() / (float)RAND_MAX * 8.0f - 4.0f;
    for (int j = 100; j < 160; j++) x[2 * COLS + j] = -INFINITY; /* masked across a shard boundary */
    for (int i = 0; i < ROWS; i++) labels[i] = (int64_t)((i * 97 + 13) % COLS);
    labels[3] = -100;

    const size_t cuts[][6] = {{0, COLS}, {0, 1, COLS}, {0, 150, 151, COLS}, {0, 20, 120, 200, 300, COLS}};
    const int shard_counts[] = {1, 2, 3, 5};
    for (int reduction = 0; reduction <= 2; reduction++) {
        for (int smooth = 0; smooth <= 1; smooth++) {
            xent_options o;
            xent_options_init(&o);
            o.reduction = reduction;
            o.label_smoothing = smooth ? 0.1f : 0.0f;
            o.grad_scale = 1.5f;
            float ref_loss[ROWS], ref_lse[ROWS];
            CHECK(xent_cross_entropy_f32(x, ROWS, COLS, COLS, labels, &o, ref_loss, ref_grad, ref_lse) == XENT_OK,
                  "fused");
            for (int c = 0; c < 4; c++) {
                xent_stats merged[ROWS];
                shard_stats(x, labels, &o, cuts[c], shard_counts[c], merged);
                float loss[ROWS], lse[ROWS];
                CHECK(xent_finalize_stats_f32(merged, ROWS, COLS, labels, &o, loss, lse) == XENT_OK, "finalize: %s",
                      xent_last_error_message());
                int n = reduction == XENT_REDUCTION_NONE ? ROWS : 1;
                for (int i = 0; i < n; i++)
                    CHECK(close_to(loss[i], ref_loss[i], 3e-7), "loss reduction %d smooth %d shards %d row %d: %.9g vs %.9g",
                          reduction, smooth, shard_counts[c], i, loss[i], ref_loss[i]);
                for (int i = 0; i < ROWS; i++) CHECK(close_to(lse[i], ref_lse[i], 3e-7), "lse row %d", i);
                for (int k = 0; k < shard_counts[c]; k++) {
                    size_t lo = cuts[c][k], w = cuts[c][k + 1] - lo;
                    CHECK(xent_grad_from_stats_f32(x + lo, ROWS, w, COLS, lo, COLS, labels, merged, &o, grad + lo, COLS)
                              == XENT_OK, "grad of shard %d", k);
                }
                double worst = 0;
                for (int i = 0; i < ROWS * COLS; i++) worst = fmax(worst, fabs((double)grad[i] - ref_grad[i]));
                CHECK(worst <= 3e-7, "gradient reduction %d smooth %d shards %d: max error %g", reduction, smooth,
                      shard_counts[c], worst);
            }
        }
    }

    /* Commutative bit for bit; f64 agrees with the fused f64 kernel. */
    {
        static double xd[ROWS * COLS];
        for (int i = 0; i < ROWS * COLS; i++) xd[i] = x[i];
        xent_stats a[ROWS], b[ROWS], ab[ROWS], ba[ROWS];
        CHECK(xent_partial_stats_f64(xd, ROWS, 100, COLS, 0, COLS, labels, NULL, a) == XENT_OK, "f64 partial a");
        CHECK(xent_partial_stats_f64(xd + 100, ROWS, COLS - 100, COLS, 100, COLS, labels, NULL, b) == XENT_OK,
              "f64 partial b");
        xent_merge_stats(a, b, ab, ROWS);
        xent_merge_stats(b, a, ba, ROWS);
        CHECK(memcmp(ab, ba, sizeof ab) == 0, "merge is not commutative bit for bit");
        double loss, ref;
        CHECK(xent_finalize_stats_f64(ab, ROWS, COLS, labels, NULL, &loss, NULL) == XENT_OK, "f64 finalize");
        xent_cross_entropy_f64(xd, ROWS, COLS, COLS, labels, NULL, &ref, NULL, NULL);
        CHECK(close_to(loss, ref, 1e-14), "f64 loss %.17g vs %.17g", loss, ref);
    }

    /* Errors, nothing written. */
    {
        xent_stats s[ROWS], canary[ROWS];
        memset(s, 0x5a, sizeof s);
        memcpy(canary, s, sizeof s);
        float loss = 42;
        CHECK(xent_partial_stats_f32(NULL, ROWS, 10, COLS, 0, COLS, labels, NULL, s) == XENT_ERR_NULL_POINTER, "null");
        CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, COLS - 5, COLS, labels, NULL, s) == XENT_ERR_INVALID_SHAPE,
              "shard past total_cols");
        int64_t bad[ROWS];
        memcpy(bad, labels, sizeof bad);
        bad[4] = COLS;
        CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, bad, NULL, s) == XENT_ERR_LABEL_OUT_OF_RANGE,
              "label out of range");
        CHECK(strstr(xent_last_error_message(), "row 4") != NULL, "message names the row: %s", xent_last_error_message());
        CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, labels, NULL, (xent_stats *)(void *)x)
                  == XENT_ERR_ALIASING, "stats over the logits");
        CHECK(memcmp(s, canary, sizeof s) == 0, "stats written on error");
        xent_stats half[ROWS];
        xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, labels, NULL, half);
        CHECK(xent_finalize_stats_f32(half, ROWS, COLS, labels, NULL, &loss, NULL) == XENT_ERR_INVALID_SHAPE,
              "finalize of one shard only");
        CHECK(loss == 42, "loss written on error");
        CHECK(xent_merge_stats(half, half + 1, half, ROWS - 1) == XENT_ERR_ALIASING, "partial overlap in merge");
    }

    /* z-loss and class weights (hard labels, MEAN, smoothing 0.1) against long double. */
    {
        enum { R = 3, C = 5 };
        const float xs[R * C] = {1, 2, 3, 4, 5, -1, 0, 1, 0, -1, 2, 2, -INFINITY, 0, 1};
        const int64_t lb[R] = {4, 0, -100};
        const double w[C] = {1, 0.5, 2, 0, 1.5};
        xent_options o;
        xent_options_init(&o);
        o.label_smoothing = 0.1f;
        o.z_loss = 0.01f;
        o.class_weights = w;
        double z = -1;
        o.z_loss_out = &z;
        float loss = -1, grad[R * C];
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &o, &loss, grad, NULL) == XENT_OK, "weights + z-loss: %s",
              xent_last_error_message());
        long double total = 0, wsum = 0, ztotal = 0;
        for (int i = 0; i < R; i++) {
            if (lb[i] == -100) continue;
            long double m = -INFINITY, sum = 0;
            for (int j = 0; j < C; j++) m = xs[i * C + j] > m ? xs[i * C + j] : m;
            for (int j = 0; j < C; j++) sum += expl((long double)xs[i * C + j] - m);
            long double lse = m + logl(sum), l = 0;
            for (int j = 0; j < C; j++) {
                long double t = 0.1L * w[j] / C + (j == lb[i] ? 0.9L * w[j] : 0);
                if (t != 0) l += t * (lse - xs[i * C + j]);
            }
            total += l;
            wsum += w[lb[i]];
            ztotal += 0.01L * lse * lse;
        }
        CHECK(close_to(loss, (double)(total / wsum), 3e-7), "weighted loss %.9g vs %.9Lg", loss, total / wsum);
        CHECK(close_to(z, (double)(ztotal / 2), 3e-7), "z-loss %.9g vs %.9Lg", z, ztotal / 2);
        for (int j = 0; j < C; j++) CHECK(grad[2 * C + j] == 0, "ignored row's gradient");

        /* A caller compiled against 1.0.0: the fields after grad_scale are not read. */
        float loss10 = -1, plain = -2;
        o.struct_size = XENT_OPTIONS_V1_SIZE;
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &o, &loss10, NULL, NULL) == XENT_OK, "1.0.0-sized options");
        xent_options d;
        xent_options_init(&d);
        d.label_smoothing = 0.1f;
        xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL);
        CHECK(loss10 == plain, "a 1.0.0-sized struct must ignore the 1.1.0 fields (%.9g vs %.9g)", loss10, plain);

        /* The soft cap: c*tanh(x/c) before everything (checked against long double below); c < 0 refused. */
        xent_options_init(&d);
        d.reduction = XENT_REDUCTION_NONE;
        d.soft_cap = 2.5f;
        float capped[R];
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, capped, NULL, NULL) == XENT_OK, "soft cap");
        for (int i = 0; i < 2; i++) {
            long double m = -INFINITY, sum = 0, v[C];
            for (int j = 0; j < C; j++) {
                v[j] = xs[i * C + j] == -INFINITY ? -INFINITY : 2.5L * tanhl(xs[i * C + j] / 2.5L);
                m = v[j] > m ? v[j] : m;
            }
            for (int j = 0; j < C; j++) sum += expl(v[j] - m);
            long double want = m + logl(sum) - v[lb[i]];
            CHECK(close_to(capped[i], (double)want, 1e-6), "capped loss row %d: %.9g vs %.9Lg", i, capped[i], want);
        }
        d.soft_cap = -1;
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION, "soft cap < 0");
        xent_options_init(&d);
        d.z_loss = -1;
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION, "z_loss < 0");
        double bad_w[C] = {1, 1, -1, 1, 1};
        xent_options_init(&d);
        d.class_weights = bad_w;
        CHECK(xent_cross_entropy_f32(xs, R, C, C, lb, &d, &plain, NULL, NULL) == XENT_ERR_INVALID_OPTION,
              "negative class weight");
        xent_options_init(&d);
        d.class_weights = w;
        CHECK(xent_soft_cross_entropy_f32(xs, R, C, C, xs, C, &d, &plain, NULL, NULL) == XENT_ERR_UNSUPPORTED,
              "class weights with soft targets");
    }

    /* bfloat16 logits: equal to the float32 path on the widened values; the bfloat16 gradient is the
       float32 one rounded to nearest-even; both gradients at once is refused. */
    {
        enum { R = 5, C = 37 };
        uint16_t h[R * C], g16[R * C];
        float x32[R * C], g32[R * C], ref_g[R * C], loss, ref_loss, loss2;
        int64_t lb[R] = {0, 36, 5, -100, 17};
        for (int i = 0; i < R * C; i++) {
            float f = (float)rand() / (float)RAND_MAX * 10.0f - 5.0f;
            uint32_t u;
            memcpy(&u, &f, 4);
            h[i] = (uint16_t)(u >> 16);
            u = (uint32_t)h[i] << 16;
            memcpy(&x32[i], &u, 4);
        }
        xent_options o;
        xent_options_init(&o);
        o.label_smoothing = 0.05f;
        CHECK(xent_cross_entropy_f32(x32, R, C, C, lb, &o, &ref_loss, ref_g, NULL) == XENT_OK, "f32 reference");
        CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss, g32, NULL, C, NULL) == XENT_OK, "bf16, f32 grad");
        CHECK(loss == ref_loss && memcmp(g32, ref_g, sizeof g32) == 0, "bf16 with a float32 gradient = the f32 path");
        CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss2, NULL, g16, C, NULL) == XENT_OK, "bf16, bf16 grad");
        CHECK(close_to(loss2, ref_loss, 4e-7), "bf16 loss %.9g vs %.9g", loss2, ref_loss);
        int rounding_ok = 1;
        for (int i = 0; i < R * C; i++) {
            uint32_t u;
            memcpy(&u, &ref_g[i], 4);
            uint32_t lower = u & 0xFFFF, upper = u >> 16;
            uint16_t want = (uint16_t)(upper + (lower > 0x8000 || (lower == 0x8000 && (upper & 1))));
            if (g16[i] != want) rounding_ok = 0;
        }
        CHECK(rounding_ok, "bfloat16 gradient is not the float32 gradient rounded to nearest-even");
        memset(g16, 0x77, sizeof g16);
        CHECK(xent_cross_entropy_bf16(h, R, C, C, lb, &o, &loss2, g32, g16, C, NULL) == XENT_ERR_INVALID_OPTION,
              "both gradients");
        CHECK(g16[0] == 0x7777, "written on error");
    }

    /* xent_options_init: the function (what a 1.0.0 binary calls) writes only the 1.0.0 fields; the macro
       (this header) fills the whole struct; _size never writes past its size. */
    {
        struct {
            unsigned char v1[XENT_OPTIONS_V1_SIZE];
            unsigned char after[64];
        } box;
        memset(&box, 0xCD, sizeof box);
        (xent_options_init)((xent_options *)(void *)&box);
        int intact = 1;
        for (size_t k = 0; k < sizeof box.after; k++) intact &= box.after[k] == 0xCD;
        size_t size;
        memcpy(&size, box.v1, sizeof size);
        CHECK(intact && size == XENT_OPTIONS_V1_SIZE, "the function wrote past the 1.0.0 struct (struct_size %zu)",
              size);
        xent_options full;
        memset(&full, 0xCD, sizeof full);
        xent_options_init(&full);
        CHECK(full.struct_size == sizeof full && full.z_loss == 0 && full.class_weights == NULL &&
                  full.z_loss_out == NULL, "the macro fills the whole struct");
        memset(&full, 0xCD, sizeof full);
        xent_options_init_size(&full, 12);
        CHECK(full.struct_size == 12 && ((unsigned char *)&full)[12] == 0xCD, "init_size wrote past its size");
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
