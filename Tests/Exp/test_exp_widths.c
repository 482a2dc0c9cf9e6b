/*
 * Tests/Exp/test_exp_widths.c -- the AVX-512 build's premise: its paired exp and log (xentshim_exp2_* and
 * xentshim_log2_*, one 512-bit SLEEF call for two vectors: the kernels' exps, the rows-in-lanes kernel's two row
 * groups' logs) return the same bits as the 256-bit SLEEF functions the AVX2 build calls (xentshim_exp_*,
 * xentshim_log_*), NaNs included, bit for bit. The functions under test are the shim's own (Sources/_XentShims),
 * compiled as the library compiles them.
 *
 *   float:  every one of the 2^32 bit patterns, exp and log, 2 threads;
 *   double: exp: 2^27 inputs, half uniform in [-746, 710] (the whole finite-result range and both edges), half
 *           uniform over the bit patterns; log: 2^26 inputs, half log-uniform over the positive doubles
 *           (subnormals included), half uniform over the bit patterns; plus the special values.
 * Prints the counts and exits non-zero on any difference. Built with -march=x86-64-v4; run only on CPUs with
 * AVX-512 (make test-exp).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "_XentShims.h"

#if !XENTSHIM_ISA_AVX512
#error "build with -march=x86-64-v4: this test compares the AVX-512 shim with the AVX2 one"
#endif

typedef struct {
    uint64_t lo, hi, bad, logbad;
    uint32_t first, logfirst;
} Part;

static void *float_part(void *arg)
{
    Part *p = arg;
    for (uint64_t u = p->lo; u < p->hi; u += 16) {
        uint32_t bits[16];
        for (int k = 0; k < 16; k++) bits[k] = (uint32_t)(u + k);
        xentshim_f32x8 a, b, w[2], n[2];
        memcpy(&a, bits, 32);
        memcpy(&b, bits + 8, 32);
        uint32_t wide[16], narrow[16];
        xentshim_exp2_f32x8(a, b, wide, wide + 8);
        n[0] = xentshim_exp_f32x8(a);
        n[1] = xentshim_exp_f32x8(b);
        memcpy(narrow, n, 64);
        for (int k = 0; k < 16; k++)
            if (wide[k] != narrow[k] && p->bad++ == 0) p->first = bits[k];
        xentshim_log2_f32x8(a, b, w, w + 1);
        n[0] = xentshim_log_f32x8(a);
        n[1] = xentshim_log_f32x8(b);
        memcpy(wide, w, 64);
        memcpy(narrow, n, 64);
        for (int k = 0; k < 16; k++)
            if (wide[k] != narrow[k] && p->logbad++ == 0) p->logfirst = bits[k];
    }
    return NULL;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Eight doubles through the paired function (log or exp) and through the 256-bit one; differing lanes counted
 * (the first three printed). */
static uint64_t compare_d8(const double in[8], int log, uint64_t bad)
{
    xentshim_f64x4 a, b, n[2];
    memcpy(&a, in, 32);
    memcpy(&b, in + 4, 32);
    uint64_t wide[8], narrow[8];
    if (log) {
        xentshim_log2_f64x4(a, b, wide, wide + 4);
        n[0] = xentshim_log_f64x4(a);
        n[1] = xentshim_log_f64x4(b);
    } else {
        xentshim_exp2_f64x4(a, b, wide, wide + 4);
        n[0] = xentshim_exp_f64x4(a);
        n[1] = xentshim_exp_f64x4(b);
    }
    memcpy(narrow, n, 64);
    for (int k = 0; k < 8; k++)
        if (wide[k] != narrow[k] && bad++ < 3)
            printf("test_exp_widths: %s at %a: paired 0x%016llx, 256-bit 0x%016llx\n", log ? "log" : "exp", in[k],
                   (unsigned long long)wide[k], (unsigned long long)narrow[k]);
    return bad;
}

int main(void)
{
    /* float: all 2^32 patterns on 2 threads */
    Part parts[2] = {{0, 1ull << 31, 0, 0, 0, 0}, {1ull << 31, 1ull << 32, 0, 0, 0, 0}};
    pthread_t t;
    pthread_create(&t, NULL, float_part, &parts[1]);
    float_part(&parts[0]);
    pthread_join(t, NULL);
    uint64_t fbad = parts[0].bad + parts[1].bad, flogbad = parts[0].logbad + parts[1].logbad;
    if (fbad)
        printf("test_exp_widths: exp differs for %llu floats, first 0x%08x\n", (unsigned long long)fbad,
               parts[0].bad ? parts[0].first : parts[1].first);
    if (flogbad)
        printf("test_exp_widths: log differs for %llu floats, first 0x%08x\n", (unsigned long long)flogbad,
               parts[0].logbad ? parts[0].logfirst : parts[1].logfirst);

    /* double exp */
    const uint64_t n = 1ull << 27;
    uint64_t dbad = 0;
    static const double specials[8] = {0.0,   -0.0, INFINITY, -INFINITY, NAN, 709.782712893384, -745.1332191019412,
                                       1e-300};
    for (uint64_t i = 0; i < n; i += 8) {
        double in[8];
        for (int k = 0; k < 8; k++) {
            uint64_t r = next();
            if (i == 0) in[k] = specials[k];
            else if ((i / 8) % 2) in[k] = -746.0 + (double)(r >> 11) * (1456.0 / 9007199254740992.0);
            else memcpy(&in[k], &r, 8);
        }
        dbad = compare_d8(in, 0, dbad);
    }
    /* double log */
    const uint64_t nl = 1ull << 26;
    uint64_t dlogbad = 0;
    static const double lspecials[8] = {0.0, -0.0, INFINITY, -INFINITY, -NAN, 1.0, 0x1p-1074, 0x1.fffffffffffffp+1023};
    for (uint64_t i = 0; i < nl; i += 8) {
        double in[8];
        for (int k = 0; k < 8; k++) {
            uint64_t r = next();
            if (i == 0) in[k] = lspecials[k];
            else if ((i / 8) % 2) { /* log-uniform over the positive doubles: random exponent, random mantissa */
                uint64_t bits = ((r >> 11) % 0x7FF) << 52 | (r & 0xFFFFFFFFFFFFFull);
                memcpy(&in[k], &bits, 8);
            } else memcpy(&in[k], &r, 8);
        }
        dlogbad = compare_d8(in, 1, dlogbad);
    }
    printf("test_exp_widths: paired vs 256-bit SLEEF, bit for bit: exp 4294967296 floats, %llu differ; %llu doubles, "
           "%llu differ\n",
           (unsigned long long)fbad, (unsigned long long)n, (unsigned long long)dbad);
    printf("test_exp_widths: log 4294967296 floats, %llu differ; %llu doubles, %llu differ\n",
           (unsigned long long)flogbad, (unsigned long long)nl, (unsigned long long)dlogbad);
    return fbad || dbad || flogbad || dlogbad ? 1 : 0;
}
