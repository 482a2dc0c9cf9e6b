/*
 * tests/exp/test_exp_widths.c -- the AVX-512 build's premise: SLEEF's 512-bit exp returns the same bits as its
 * 256-bit exp, which the AVX2 build uses (the AVX-512 kernels compute two vectors' exps with one 512-bit call).
 *
 *   float:  every one of the 2^32 bit patterns (NaNs: both results NaN), 2 threads;
 *   double: 2^27 inputs, half uniform in [-746, 710] (the whole finite-result range and both edges), half
 *           uniform over the bit patterns; plus the special values.
 * Prints the counts and exits non-zero on any difference. Built with -march=x86-64-v4; run only on CPUs with
 * AVX-512 (make test-exp).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sleef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int same_f(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, 4) == 0; }
static int same_d(double a, double b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, 8) == 0; }

typedef struct { uint64_t lo, hi, bad; uint32_t first; } Part;

static void *float_part(void *arg) {
    Part *p = arg;
    for (uint64_t u = p->lo; u < p->hi; u += 16) {
        uint32_t bits[16];
        for (int k = 0; k < 16; k++) bits[k] = (uint32_t)(u + k);
        float in[16], e16[16], e8[16];
        memcpy(in, bits, sizeof in);
        _mm512_storeu_ps(e16, Sleef_expf16_u10avx512f(_mm512_loadu_ps(in)));
        _mm256_storeu_ps(e8, Sleef_expf8_u10avx2(_mm256_loadu_ps(in)));
        _mm256_storeu_ps(e8 + 8, Sleef_expf8_u10avx2(_mm256_loadu_ps(in + 8)));
        for (int k = 0; k < 16; k++)
            if (!same_f(e16[k], e8[k]) && p->bad++ == 0) p->first = bits[k];
    }
    return NULL;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int main(void) {
    /* float: all 2^32 patterns on 2 threads */
    Part parts[2] = {{0, 1ull << 31, 0, 0}, {1ull << 31, 1ull << 32, 0, 0}};
    pthread_t t;
    pthread_create(&t, NULL, float_part, &parts[1]);
    float_part(&parts[0]);
    pthread_join(t, NULL);
    uint64_t fbad = parts[0].bad + parts[1].bad;
    if (fbad) {
        uint32_t b = parts[0].bad ? parts[0].first : parts[1].first;
        float x;
        memcpy(&x, &b, 4);
        printf("test_exp_widths: expf16 != expf8 for %llu floats, first %a (0x%08x)\n", (unsigned long long)fbad, x, b);
    }

    /* double */
    const uint64_t n = 1ull << 27;
    uint64_t dbad = 0;
    static const double specials[8] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 709.782712893384, -745.1332191019412, 1e-300};
    for (uint64_t i = 0; i < n; i += 8) {
        double in[8], e8[8], e4[8];
        for (int k = 0; k < 8; k++) {
            uint64_t r = next();
            if (i == 0) in[k] = specials[k];
            else if ((i / 8) % 2) in[k] = -746.0 + (double)(r >> 11) * (1456.0 / 9007199254740992.0);
            else memcpy(&in[k], &r, 8);
        }
        _mm512_storeu_pd(e8, Sleef_expd8_u10avx512f(_mm512_loadu_pd(in)));
        _mm256_storeu_pd(e4, Sleef_expd4_u10avx2(_mm256_loadu_pd(in)));
        _mm256_storeu_pd(e4 + 4, Sleef_expd4_u10avx2(_mm256_loadu_pd(in + 4)));
        for (int k = 0; k < 8; k++)
            if (!same_d(e8[k], e4[k]) && dbad++ < 3) printf("test_exp_widths: expd8 %a != expd4 %a at %a\n", e8[k], e4[k], in[k]);
    }
    printf("test_exp_widths: SLEEF expf16 vs expf8: 4294967296 floats, %llu differ; expd8 vs expd4: %llu doubles, "
           "%llu differ\n", (unsigned long long)fbad, (unsigned long long)n, (unsigned long long)dbad);
    return fbad || dbad ? 1 : 0;
}
