/* xt_check.c -- the check harness declared in xt_check.h (C99). */
#define _POSIX_C_SOURCE 200809L
#include "xt_check.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long xt_passed;
long xt_failed;
xt_rng_t xt_rng = {0x9E3779B97F4A7C15ull};

static const char *xt_tag = "?";
static char xt_case[384];
static char *xt_case_mirror;
static size_t xt_case_mirror_size;
static long xt_fail_lines_left = -1;
static pthread_mutex_t xt_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- Counters and reporting --------------------------------------------------------------------------------- */

void xt_begin(const char *tag)
{
    xt_tag = tag;
    xt_passed = 0;
    xt_failed = 0;
}

int xt_finish(void)
{
    printf("%ld passed, %ld failed\n", xt_passed, xt_failed);
    fflush(stdout);
    return xt_failed == 0 ? 0 : 1;
}

void xt_set_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(xt_case, sizeof xt_case, fmt, ap);
    va_end(ap);
    if (xt_case_mirror) {
        strncpy(xt_case_mirror, xt_case, xt_case_mirror_size - 1);
        xt_case_mirror[xt_case_mirror_size - 1] = '\0';
    }
}

const char *xt_get_case(void)
{
    return xt_case;
}

const char *xt_get_tag(void)
{
    return xt_tag;
}

void xt_mirror_case(char *shared, size_t size)
{
    xt_case_mirror = size ? shared : NULL;
    xt_case_mirror_size = size;
}

static int xt_vcheck(int line, int cond, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&xt_lock);
    if (cond) {
        xt_passed++;
    } else {
        xt_failed++;
        if (xt_fail_lines_left == 0) {
            pthread_mutex_unlock(&xt_lock);
            return cond;
        }
        if (xt_fail_lines_left > 0) xt_fail_lines_left--;
        if (line > 0) printf("FAIL [%s line %d] %s: ", xt_tag, line, xt_case);
        else printf("FAIL [%s] %s: ", xt_tag, xt_case);
        vprintf(fmt, ap);
        printf("\n");
        fflush(stdout);
    }
    pthread_mutex_unlock(&xt_lock);
    return cond;
}

int xt_check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cond = xt_vcheck(0, cond, fmt, ap);
    va_end(ap);
    return cond;
}

int xt_check_at(int line, int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cond = xt_vcheck(line, cond, fmt, ap);
    va_end(ap);
    return cond;
}

void xt_set_max_fail_lines(long n)
{
    xt_fail_lines_left = n;
}

void xt_add_counts(long passed, long failed)
{
    pthread_mutex_lock(&xt_lock);
    xt_passed += passed;
    xt_failed += failed;
    pthread_mutex_unlock(&xt_lock);
}

/* ---- Status checks ------------------------------------------------------------------------------------------ */

const char *xt_status_name(xent_status s)
{
    switch (s) {
    case XENT_OK: return "XENT_OK";
    case XENT_ERR_NULL_POINTER: return "XENT_ERR_NULL_POINTER";
    case XENT_ERR_INVALID_SHAPE: return "XENT_ERR_INVALID_SHAPE";
    case XENT_ERR_LABEL_OUT_OF_RANGE: return "XENT_ERR_LABEL_OUT_OF_RANGE";
    case XENT_ERR_INVALID_OPTION: return "XENT_ERR_INVALID_OPTION";
    case XENT_ERR_ALIASING: return "XENT_ERR_ALIASING";
    case XENT_ERR_UNSUPPORTED: return "XENT_ERR_UNSUPPORTED";
    case XENT_ERR_OUT_OF_MEMORY: return "XENT_ERR_OUT_OF_MEMORY";
    default: return "(unknown status)";
    }
}

int xt_check_status(xent_status got, xent_status want, const char *what)
{
    return xt_check(got == want, "%s: status %d %s, expected %d %s (message: \"%s\")", what, (int)got,
                    xt_status_name(got), (int)want, xt_status_name(want), xent_last_error_message());
}

void xt_expect_error_at(int line, xent_status got, xent_status want, const char *n1, const char *n2, const char *what)
{
    const char *msg = xent_last_error_message();
    xt_check_at(line, got == want, "%s: status %d (%s), expected %d (%s); message \"%s\"", what, (int)got,
                xent_status_string(got), (int)want, xent_status_string(want), msg);
    xt_check_at(line, msg != NULL && msg[0] != '\0', "%s: empty error message", what);
    if (msg == NULL) return;
    if (n1 != NULL)
        xt_check_at(line, strstr(msg, n1) != NULL, "%s: message \"%s\" does not name \"%s\"", what, msg, n1);
    if (n2 != NULL)
        xt_check_at(line, strstr(msg, n2) != NULL, "%s: message \"%s\" does not name \"%s\"", what, msg, n2);
}

void xt_expect_ok_at(int line, xent_status got, const char *what)
{
    const char *msg = xent_last_error_message();
    xt_check_at(line, got == XENT_OK, "%s: status %d (%s), expected XENT_OK; message \"%s\"", what, (int)got,
                xent_status_string(got), msg ? msg : "(null)");
    xt_check_at(line, msg != NULL && msg[0] == '\0', "%s: message \"%s\" after a successful call", what,
                msg ? msg : "(null)");
}

/* ---- Utilities ---------------------------------------------------------------------------------------------- */

uint64_t xt_rng_next(xt_rng_t *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double xt_rng_uniform(xt_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(xt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

uint64_t xt_rand_u64(void)
{
    return xt_rng_next(&xt_rng);
}

double xt_uniform(double lo, double hi)
{
    return xt_rng_uniform(&xt_rng, lo, hi);
}

size_t xt_rand_index(size_t n)
{
    return (size_t)(xt_rand_u64() % (uint64_t)n);
}

int xt_close_scaled(long double got, long double ref, double tol, long double scale)
{
    long double err, mag;
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == ref;
    if (isnan(got) || isinf(got)) return 0;
    err = fabsl(got - ref);
    mag = fabsl(ref) > scale ? fabsl(ref) : scale;
    return err <= (long double)tol * mag;
}

int xt_close(long double got, long double ref, double tol)
{
    return xt_close_scaled(got, ref, tol, 1.0L);
}

int xt_close_abs(long double got, long double ref, long double tol)
{
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == ref;
    if (isnan(got) || isinf(got)) return 0;
    return fabsl(got - ref) <= tol;
}

void *xt_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        printf("out of memory (%lu bytes)\n", (unsigned long)bytes);
        exit(2);
    }
    return p;
}

int xt_contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

void xt_fill_canary(void *p, size_t bytes)
{
    memset(p, XT_CANARY_BYTE, bytes);
}

int xt_is_canary(const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < bytes; i++)
        if (b[i] != XT_CANARY_BYTE) return 0;
    return 1;
}

void xt_arena_init(xt_arena *a, size_t size)
{
    size_t i;
    a->mem = (unsigned char *)xt_alloc(size);
    a->snap = (unsigned char *)xt_alloc(size);
    a->size = size;
    for (i = 0; i < size; i++) a->mem[i] = (unsigned char)(0xA5u ^ (i * 37u));
}

void xt_arena_free(xt_arena *a)
{
    free(a->mem);
    free(a->snap);
}

void xt_arena_snap(xt_arena *a)
{
    memcpy(a->snap, a->mem, a->size);
}

int xt_arena_unchanged(const xt_arena *a)
{
    return memcmp(a->snap, a->mem, a->size) == 0;
}
