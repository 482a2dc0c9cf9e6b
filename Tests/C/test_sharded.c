/*
 * test_sharded.c -- the sharded-vocabulary API (1.1.0): shards' statistics (xent_partial_stats_*) merged in any
 * grouping (xent_merge_stats) and finalized (xent_finalize_stats_*) give the loss and lse of
 * xent_cross_entropy_* on the whole matrix, and xent_grad_from_stats_* its gradient; merge is commutative bit for
 * bit; f64 agrees with the fused f64 kernel; every argument error is reported before anything is written.
 */
#include "xt_tests.h"

enum { ROWS = 7, COLS = 301 };

/* Statistics of the shards cut at `bounds` merged left to right into `merged`. */
static void shard_stats(const float *x, const int64_t *labels, const xent_options *o, const size_t *bounds, int shards,
                        xent_stats *merged)
{
    xent_stats part[ROWS];
    int k;
    for (k = 0; k < shards; k++) {
        size_t lo = bounds[k], n = bounds[k + 1] - bounds[k];
        xent_status s = xent_partial_stats_f32(x + lo, ROWS, n, COLS, lo, COLS, labels, o, k == 0 ? merged : part);
        XT_CHECK(s == XENT_OK, "partial stats of shard %d: %s", k, xent_last_error_message());
        if (k > 0) XT_CHECK(xent_merge_stats(merged, part, merged, ROWS) == XENT_OK, "merge (in place over a)");
    }
}

/* Shards of 1, 2, 3 and 5 against the fused call: every reduction, with and without smoothing. */
static void test_sharded_vs_fused(const float *x, const int64_t *labels)
{
    static float grad[ROWS * COLS], ref_grad[ROWS * COLS];
    static const size_t cuts[][6] = {{0, COLS}, {0, 1, COLS}, {0, 150, 151, COLS}, {0, 20, 120, 200, 300, COLS}};
    static const int shard_counts[] = {1, 2, 3, 5};
    int reduction, smooth, c, i, k;
    for (reduction = 0; reduction <= 2; reduction++) {
        for (smooth = 0; smooth <= 1; smooth++) {
            xent_options o;
            float ref_loss[ROWS], ref_lse[ROWS];
            xent_options_init(&o);
            o.reduction = reduction;
            o.label_smoothing = smooth ? 0.1f : 0.0f;
            o.grad_scale = 1.5f;
            XT_CHECK(xent_cross_entropy_f32(x, ROWS, COLS, COLS, labels, &o, ref_loss, ref_grad, ref_lse) == XENT_OK,
                     "fused");
            for (c = 0; c < 4; c++) {
                xent_stats merged[ROWS];
                float loss[ROWS], lse[ROWS];
                int n = reduction == XENT_REDUCTION_NONE ? ROWS : 1;
                double worst = 0;
                shard_stats(x, labels, &o, cuts[c], shard_counts[c], merged);
                XT_CHECK(xent_finalize_stats_f32(merged, ROWS, COLS, labels, &o, loss, lse) == XENT_OK, "finalize: %s",
                         xent_last_error_message());
                for (i = 0; i < n; i++)
                    XT_CHECK(xt_close(loss[i], ref_loss[i], 3e-7),
                             "loss reduction %d smooth %d shards %d row %d: %.9g vs %.9g", reduction, smooth,
                             shard_counts[c], i, loss[i], ref_loss[i]);
                for (i = 0; i < ROWS; i++) XT_CHECK(xt_close(lse[i], ref_lse[i], 3e-7), "lse row %d", i);
                for (k = 0; k < shard_counts[c]; k++) {
                    size_t lo = cuts[c][k], w = cuts[c][k + 1] - lo;
                    XT_CHECK(xent_grad_from_stats_f32(x + lo, ROWS, w, COLS, lo, COLS, labels, merged, &o, grad + lo,
                                                      COLS) == XENT_OK,
                             "grad of shard %d", k);
                }
                for (i = 0; i < ROWS * COLS; i++) worst = fmax(worst, fabs((double)grad[i] - ref_grad[i]));
                XT_CHECK(worst <= 3e-7, "gradient reduction %d smooth %d shards %d: max error %g", reduction, smooth,
                         shard_counts[c], worst);
            }
        }
    }
}

/* Commutative bit for bit; f64 agrees with the fused f64 kernel. */
static void test_sharded_f64(const float *x, const int64_t *labels)
{
    static double xd[ROWS * COLS];
    xent_stats a[ROWS], b[ROWS], ab[ROWS], ba[ROWS];
    double loss, ref;
    int i;
    for (i = 0; i < ROWS * COLS; i++) xd[i] = x[i];
    XT_CHECK(xent_partial_stats_f64(xd, ROWS, 100, COLS, 0, COLS, labels, NULL, a) == XENT_OK, "f64 partial a");
    XT_CHECK(xent_partial_stats_f64(xd + 100, ROWS, COLS - 100, COLS, 100, COLS, labels, NULL, b) == XENT_OK,
             "f64 partial b");
    xent_merge_stats(a, b, ab, ROWS);
    xent_merge_stats(b, a, ba, ROWS);
    XT_CHECK(memcmp(ab, ba, sizeof ab) == 0, "merge is not commutative bit for bit");
    XT_CHECK(xent_finalize_stats_f64(ab, ROWS, COLS, labels, NULL, &loss, NULL) == XENT_OK, "f64 finalize");
    xent_cross_entropy_f64(xd, ROWS, COLS, COLS, labels, NULL, &ref, NULL, NULL);
    XT_CHECK(xt_close(loss, ref, 1e-14), "f64 loss %.17g vs %.17g", loss, ref);
}

/* Errors: the status, nothing written. */
static void test_sharded_errors(const float *x, const int64_t *labels)
{
    xent_stats s[ROWS], canary[ROWS], half[ROWS];
    int64_t bad[ROWS];
    float loss = 42;
    memset(s, 0x5a, sizeof s);
    memcpy(canary, s, sizeof s);
    XT_CHECK(xent_partial_stats_f32(NULL, ROWS, 10, COLS, 0, COLS, labels, NULL, s) == XENT_ERR_NULL_POINTER, "null");
    XT_CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, COLS - 5, COLS, labels, NULL, s) == XENT_ERR_INVALID_SHAPE,
             "shard past total_cols");
    memcpy(bad, labels, sizeof bad);
    bad[4] = COLS;
    XT_CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, bad, NULL, s) == XENT_ERR_LABEL_OUT_OF_RANGE,
             "label out of range");
    XT_CHECK(strstr(xent_last_error_message(), "row 4") != NULL, "message names the row: %s",
             xent_last_error_message());
    XT_CHECK(xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, labels, NULL, (xent_stats *)(void *)x) ==
                 XENT_ERR_ALIASING,
             "stats over the logits");
    XT_CHECK(memcmp(s, canary, sizeof s) == 0, "stats written on error");
    xent_partial_stats_f32(x, ROWS, 10, COLS, 0, COLS, labels, NULL, half);
    XT_CHECK(xent_finalize_stats_f32(half, ROWS, COLS, labels, NULL, &loss, NULL) == XENT_ERR_INVALID_SHAPE,
             "finalize of one shard only");
    XT_CHECK(loss == 42, "loss written on error");
    XT_CHECK(xent_merge_stats(half, half + 1, half, ROWS - 1) == XENT_ERR_ALIASING, "partial overlap in merge");
}

/* The inputs come from rand() after srand(7) (xt_run_all seeds it): logits in [-4, 4), a -inf block across a
   shard boundary, one ignored row. */
void xt_test_sharded(void)
{
    static float x[ROWS * COLS];
    int64_t labels[ROWS];
    int i, j;
    xt_set_case("sharded vocabulary");
    for (i = 0; i < ROWS * COLS; i++) x[i] = (float)rand() / (float)RAND_MAX * 8.0f - 4.0f;
    for (j = 100; j < 160; j++) x[2 * COLS + j] = -INFINITY; /* masked across a shard boundary */
    for (i = 0; i < ROWS; i++) labels[i] = (int64_t)((i * 97 + 13) % COLS);
    labels[3] = -100;
    test_sharded_vs_fused(x, labels);
    test_sharded_f64(x, labels);
    test_sharded_errors(x, labels);
}
