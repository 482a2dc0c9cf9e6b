/*
 * xt_check.h -- the one check harness of the C and C++ test programs (Tests/C, Tests/Adversarial,
 * Tests/Concurrency, Tests/Alloc): pass/fail counters, the case being run, status checks, canaries, a
 * deterministic generator, and the closing "N passed, N failed" line that CI reads.
 *
 * Valid C99 and C++17. Thread-safe: the counters and the printing are behind one mutex (Tests/Concurrency checks
 * from 8 threads); the case description is per process (set it from one thread, or pass what you need in the
 * message).
 */
#ifndef XT_CHECK_H
#define XT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <xent.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define XT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XT_PRINTF(a, b)
#endif

/* ---- Counters and reporting --------------------------------------------------------------------------------- */

extern long xt_passed;
extern long xt_failed;

/* Starts a program: the tag printed in front of every failure ("c", "c++", "adversarial"...); zeroes the counters. */
void xt_begin(const char *tag);
/* Prints "N passed, N failed" and returns the exit status (0 when nothing failed). */
int xt_finish(void);

/* Describes the case being run; printed in front of every failure. */
void xt_set_case(const char *fmt, ...) XT_PRINTF(1, 2);
const char *xt_get_case(void);
const char *xt_get_tag(void);
/* In a child process (Tests/Adversarial's isolation): mirror every case description into this buffer too. */
void xt_mirror_case(char *shared, size_t size);

/* Records one check; prints one line when it failed ("FAIL [tag] case: message"). Returns cond. */
int xt_check(int cond, const char *fmt, ...) XT_PRINTF(2, 3);
/* The same with the source line in the failure ("FAIL [tag line N] case: message"). */
int xt_check_at(int line, int cond, const char *fmt, ...) XT_PRINTF(3, 4);
#define XT_CHECK(cond, ...) xt_check_at(__LINE__, (cond) ? 1 : 0, __VA_ARGS__)

/* At most n failure lines are printed from now on (the count goes on); n < 0: no limit (the default). */
void xt_set_max_fail_lines(long n);

/* Adds counts gathered elsewhere (a child process, a thread's private tally). */
void xt_add_counts(long passed, long failed);

/* ---- Status checks ------------------------------------------------------------------------------------------ */

/* "XENT_OK", "XENT_ERR_NULL_POINTER", ... */
const char *xt_status_name(xent_status s);
/* Checks a status; on an unexpected one also prints the library's message. */
int xt_check_status(xent_status got, xent_status want, const char *what);
/* A failed call: the status, a non-empty thread message that contains each non-NULL needle. */
void xt_expect_error_at(int line, xent_status got, xent_status want, const char *n1, const char *n2, const char *what);
/* A successful call: XENT_OK and the message "". */
void xt_expect_ok_at(int line, xent_status got, const char *what);
#define XT_EXPECT_ERROR(got, want, n1, n2) xt_expect_error_at(__LINE__, (got), (want), (n1), (n2), #got)
#define XT_EXPECT_OK(got) xt_expect_ok_at(__LINE__, (got), #got)

/* ---- Utilities ---------------------------------------------------------------------------------------------- */

/* xorshift64* streams: xt_rng is the default stream of a program (seed 0x9E3779B97F4A7C15). */
typedef struct xt_rng_t {
    uint64_t state;
} xt_rng_t;
extern xt_rng_t xt_rng;
uint64_t xt_rng_next(xt_rng_t *r);
/* Uniform in [lo, hi) from stream r. */
double xt_rng_uniform(xt_rng_t *r, double lo, double hi);
uint64_t xt_rand_u64(void);
double xt_uniform(double lo, double hi);
size_t xt_rand_index(size_t n);

/* |got - ref| <= tol * max(scale, |ref|) (xt_close: scale 1; xt_close_abs: <= tol); NaN matches NaN only,
   infinities match exactly. */
int xt_close_scaled(long double got, long double ref, double tol, long double scale);
int xt_close(long double got, long double ref, double tol);
int xt_close_abs(long double got, long double ref, long double tol);

/* malloc that ends the program (status 2) when out of memory. */
void *xt_alloc(size_t bytes);
int xt_contains(const char *haystack, const char *needle);

/* Canary bytes: fill, and test that a region still holds them. */
#define XT_CANARY_BYTE 0xA7
void xt_fill_canary(void *p, size_t bytes);
int xt_is_canary(const void *p, size_t bytes);

/* A byte arena holding every buffer of a test, so that "nothing was written" is one memcmp. */
typedef struct xt_arena {
    unsigned char *mem;
    unsigned char *snap;
    size_t size;
} xt_arena;
void xt_arena_init(xt_arena *a, size_t size);
void xt_arena_free(xt_arena *a);
void xt_arena_snap(xt_arena *a);
int xt_arena_unchanged(const xt_arena *a);

#ifdef __cplusplus
}
#endif

#endif /* XT_CHECK_H */
