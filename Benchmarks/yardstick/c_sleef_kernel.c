/*
 * THE YARDSTICK, NOT THE PRODUCT: a plain C cross-entropy calling SLEEF (see c_sleef_kernel.h).
 *
 * Per row: pass 1 reads the row for its maximum (4 AVX2 accumulators); pass 2 reads it again, computes
 * e = Sleef_expf8_u10avx2(x - m) (two vectors per Sleef_expf16_u10avx512f call when built for x86-64-v4, as Xent's
 * AVX-512 build), sums e (float lanes flushed into double every 256 elements, the accuracy
 * Xent also has) and, for loss+grad, stores e into grad; pass 3 scales the row of grad by 1/(sum * n) and
 * subtracts 1/n at the label (the row is still in L2 for the class counts benchmarked). Tails use masked
 * loads with -inf padding (exp = 0) and masked stores. Compiled with -O2 and the library's ISA (-mavx2 -mfma or
 * -march=x86-64-v4).
 */
#define _GNU_SOURCE
#include "c_sleef_kernel.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sleef.h>
#include <stdlib.h>

#define IGNORE_INDEX (-100)

/* lanes 0..k-1 on, 0 < k < 8 */
static inline __m256i tail_mask(size_t k)
{
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - k));
}

/* masked load, -inf in the missing lanes */
static inline __m256 load_tail(const float *x, size_t k)
{
    __m256i mask = tail_mask(k);
    __m256 v = _mm256_maskload_ps(x, mask);
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(mask));
}

static inline float hmax(__m256 v)
{
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    a = _mm_max_ss(a, _mm_shuffle_ps(a, a, 1));
    return _mm_cvtss_f32(a);
}

static inline double hsum_pd(__m256d v)
{
    __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
}

static inline __m256d widen_sum(__m256 v)
{
    return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/* max over x[0..n) */
static float block_max(const float *x, size_t n)
{
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
        m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + j + 16));
        m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + j + 24));
    }
    for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
    if (j < n) m1 = _mm256_max_ps(m1, load_tail(x + j, n - j));
    return hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
}

/* exp of two vectors. Built for x86-64-v4 (AVX-512), one 512-bit SLEEF call, as Xent's AVX-512 build does (the
 * same bits as two 256-bit calls, half the cost per element); otherwise two 256-bit calls. */
static inline void exp_pair(__m256 a, __m256 b, __m256 *ea, __m256 *eb)
{
#ifdef __AVX512DQ__
    __m512 e = Sleef_expf16_u10avx512f(_mm512_insertf32x8(_mm512_castps256_ps512(a), b, 1));
    *ea = _mm512_castps512_ps256(e);
    *eb = _mm512_extractf32x8_ps(e, 1);
#else
    *ea = Sleef_expf8_u10avx2(a);
    *eb = Sleef_expf8_u10avx2(b);
#endif
}

/* sum_j exp(x_j - m) over x[0..n); stores the exponentials into e when e != NULL */
static double block_sum_exp(const float *x, size_t n, float m, float *e)
{
    const __m256 vm = _mm256_set1_ps(m);
    __m256d total = _mm256_setzero_pd();
    size_t j = 0;
    while (j + 8 <= n) {
        size_t end = j + 256 <= n ? j + 256 : n - (n - j) % 8; /* flush float lanes every 256 elements */
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        for (; j + 16 <= end; j += 16) {
            __m256 e0, e1;
            exp_pair(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), _mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm), &e0,
                     &e1);
            if (e) {
                _mm256_storeu_ps(e + j, e0);
                _mm256_storeu_ps(e + j + 8, e1);
            }
            a0 = _mm256_add_ps(a0, e0);
            a1 = _mm256_add_ps(a1, e1);
        }
        for (; j + 8 <= end; j += 8) {
            __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
            if (e) _mm256_storeu_ps(e + j, e0);
            a0 = _mm256_add_ps(a0, e0);
        }
        total = _mm256_add_pd(total, widen_sum(_mm256_add_ps(a0, a1)));
    }
    if (j < n) {
        __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(load_tail(x + j, n - j), vm));
        if (e) _mm256_maskstore_ps(e + j, tail_mask(n - j), e0);
        total = _mm256_add_pd(total, widen_sum(e0));
    }
    return hsum_pd(total);
}

static void block_scale(float *g, size_t n, float s)
{
    const __m256 vs = _mm256_set1_ps(s);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_loadu_ps(g + j), vs));
    for (; j < n; j++) g[j] *= s;
}

static void block_zero(float *g, size_t n)
{
    for (size_t j = 0; j < n; j++) g[j] = 0;
}

/* ---- the job ------------------------------------------------------------------------------------------- */

typedef struct {
    const float *x;
    size_t rows, cols;
    const int64_t *labels;
    float *grad;
    double inv_n;
    int threads;
    int phase; /* column-split mode: 0 = statistics, 1 = scale */
    int column_split;
    double row_loss[64]; /* per-thread partial loss sums (row mode) */
    float *bm;           /* column-split statistics: [threads][rows] max and sum */
    double *bs;
} job_t;

static job_t job;

static void rows_part(int t)
{
    size_t per = job.rows / job.threads, extra = job.rows % job.threads;
    size_t r0 = t * per + (t < (int)extra ? (size_t)t : extra), r1 = r0 + per + (t < (int)extra);
    size_t c = job.cols;
    double total = 0;
    float inv_n = (float)job.inv_n;
    for (size_t r = r0; r < r1; r++) {
        const float *x = job.x + r * c;
        float *g = job.grad ? job.grad + r * c : NULL;
        int64_t label = job.labels[r];
        if (label == IGNORE_INDEX) {
            if (g) block_zero(g, c);
            continue;
        }
        float m = block_max(x, c);
        double s = block_sum_exp(x, c, m, g);
        total += (double)(m - x[label]) + log(s);
        if (g) {
            block_scale(g, c, (float)(1.0 / s) * inv_n);
            g[label] -= inv_n;
        }
    }
    job.row_loss[t] = total;
}

static void column_block(int t, size_t *c0, size_t *c1)
{
    size_t per = ((job.cols + job.threads - 1) / job.threads + 7) & ~(size_t)7; /* multiple of 8 */
    *c0 = t * per < job.cols ? t * per : job.cols;
    *c1 = *c0 + per < job.cols ? *c0 + per : job.cols;
}

static void merged(size_t r, float *M, double *S)
{
    float m = -INFINITY;
    for (int u = 0; u < job.threads; u++) m = fmaxf(m, job.bm[u * job.rows + r]);
    double s = 0;
    for (int u = 0; u < job.threads; u++) {
        float mu = job.bm[u * job.rows + r];
        if (mu != -INFINITY) s += job.bs[u * job.rows + r] * exp((double)mu - (double)m);
    }
    *M = m;
    *S = s;
}

static void columns_part(int t)
{
    size_t c0, c1;
    column_block(t, &c0, &c1);
    for (size_t r = 0; r < job.rows; r++) {
        const float *x = job.x + r * job.cols;
        float *g = job.grad ? job.grad + r * job.cols : NULL;
        int64_t label = job.labels[r];
        if (job.phase == 0) {
            float m = c1 > c0 ? block_max(x + c0, c1 - c0) : -INFINITY;
            job.bm[t * job.rows + r] = m;
            job.bs[t * job.rows + r] =
                c1 > c0 && label != IGNORE_INDEX ? block_sum_exp(x + c0, c1 - c0, m, g ? g + c0 : NULL) : 0;
        } else if (g) {
            if (label == IGNORE_INDEX) {
                block_zero(g + c0, c1 - c0);
                continue;
            }
            float M;
            double S;
            merged(r, &M, &S);
            float mt = job.bm[t * job.rows + r];
            block_scale(g + c0, c1 - c0, (float)(exp((double)mt - (double)M) / S * job.inv_n));
            if ((size_t)label >= c0 && (size_t)label < c1) g[label] -= (float)job.inv_n;
        }
    }
}

static void run_part(int t)
{
    if (job.column_split) columns_part(t);
    else rows_part(t);
}

/* ---- a persistent pool: workers wait on a barrier, run their part, meet at a second barrier ---------------- */

static pthread_t workers[64];
static int pool_size = 0; /* threads including the caller */
static pthread_barrier_t start_barrier, done_barrier;
static volatile int quitting = 0;

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (;;) {
        pthread_barrier_wait(&start_barrier);
        if (quitting) return NULL;
        run_part(t);
        pthread_barrier_wait(&done_barrier);
    }
}

void csk_shutdown(void)
{
    if (pool_size > 1) {
        quitting = 1;
        pthread_barrier_wait(&start_barrier);
        for (int t = 1; t < pool_size; t++) pthread_join(workers[t], NULL);
        pthread_barrier_destroy(&start_barrier);
        pthread_barrier_destroy(&done_barrier);
        quitting = 0;
    }
    pool_size = 0;
}

static int ensure_pool(int threads)
{
    if (pool_size == threads) return 0;
    csk_shutdown();
    if (threads > 1) {
        pthread_barrier_init(&start_barrier, NULL, threads);
        pthread_barrier_init(&done_barrier, NULL, threads);
        for (int t = 1; t < threads; t++)
            if (pthread_create(&workers[t], NULL, worker, (void *)(intptr_t)t) != 0) return -1;
    }
    pool_size = threads;
    return 0;
}

static void run_all(void)
{
    if (job.threads > 1) pthread_barrier_wait(&start_barrier);
    run_part(0);
    if (job.threads > 1) pthread_barrier_wait(&done_barrier);
}

int csk_cross_entropy_f32(const float *logits, size_t rows, size_t cols, const int64_t *labels, int threads,
                          float *loss, float *grad)
{
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (ensure_pool(threads) != 0) return -1;
    size_t n = 0;
    for (size_t r = 0; r < rows; r++) n += labels[r] != IGNORE_INDEX;
    job.x = logits;
    job.rows = rows;
    job.cols = cols;
    job.labels = labels;
    job.grad = grad;
    job.inv_n = n ? 1.0 / (double)n : 0.0;
    job.threads = threads;
    job.column_split = rows < (size_t)threads;
    double total = 0;
    if (!job.column_split) {
        run_all();
        for (int t = 0; t < threads; t++) total += job.row_loss[t];
    } else {
        float bm[64 * 64];
        double bs[64 * 64];
        job.bm = bm;
        job.bs = bs;
        job.phase = 0;
        run_all();
        job.phase = 1;
        if (grad) run_all();
        for (size_t r = 0; r < rows; r++) {
            if (labels[r] == IGNORE_INDEX) continue;
            float M;
            double S;
            merged(r, &M, &S);
            total += (double)(M - logits[r * cols + labels[r]]) + log(S);
        }
    }
    *loss = (float)(n ? total / (double)n : 0.0);
    return 0;
}
