/*
 * adversarial_common.h -- reporting, canaries, long double references and the fork-isolation helper of
 * tests/adversarial/adversarial.c (C99; compiled with -Wall -Wextra -Werror -pedantic).
 */
#ifndef XENT_ADVERSARIAL_COMMON_H
#define XENT_ADVERSARIAL_COMMON_H

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xent.h>

/* ---- Reporting ---------------------------------------------------------------------------------------------- */

static long adv_passed;
static long adv_failed;
static char adv_case[256];
static char *adv_shared_case; /* in an isolated child: the current case, shared with the parent */

#if defined(__GNUC__) || defined(__clang__)
#define ADV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ADV_PRINTF(a, b)
#endif

static void adv_set_case(const char *fmt, ...) ADV_PRINTF(1, 2);
static void adv_set_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(adv_case, sizeof adv_case, fmt, ap);
    va_end(ap);
    if (adv_shared_case) memcpy(adv_shared_case, adv_case, sizeof adv_case);
}

static int adv_check_at(int line, int cond, const char *fmt, ...) ADV_PRINTF(3, 4);
static int adv_check_at(int line, int cond, const char *fmt, ...)
{
    if (cond) {
        adv_passed++;
    } else {
        va_list ap;
        adv_failed++;
        printf("FAIL [line %d] %s: ", line, adv_case);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    return cond;
}
#define CHECK(cond, ...) adv_check_at(__LINE__, (cond) ? 1 : 0, __VA_ARGS__)

/* Checks a failed call: the status, and that the thread's message is non-empty and contains each non-NULL
   needle (the argument or row it must name). */
static void adv_expect_error_at(int line, xent_status got, xent_status want, const char *n1, const char *n2,
                                const char *what)
{
    const char *msg = xent_last_error_message();
    adv_check_at(line, got == want, "%s: status %d (%s), expected %d (%s); message \"%s\"", what, (int)got,
                 xent_status_string(got), (int)want, xent_status_string(want), msg);
    adv_check_at(line, msg != NULL && msg[0] != '\0', "%s: empty error message", what);
    if (msg == NULL) return;
    if (n1 != NULL) adv_check_at(line, strstr(msg, n1) != NULL, "%s: message \"%s\" does not name \"%s\"", what, msg, n1);
    if (n2 != NULL) adv_check_at(line, strstr(msg, n2) != NULL, "%s: message \"%s\" does not name \"%s\"", what, msg, n2);
}
#define EXPECT_ERROR(got, want, n1, n2) adv_expect_error_at(__LINE__, (got), (want), (n1), (n2), #got)

static void adv_expect_ok_at(int line, xent_status got, const char *what)
{
    const char *msg = xent_last_error_message();
    adv_check_at(line, got == XENT_OK, "%s: status %d (%s), expected XENT_OK; message \"%s\"", what, (int)got,
                 xent_status_string(got), msg ? msg : "(null)");
    adv_check_at(line, msg != NULL && msg[0] == '\0', "%s: message \"%s\" after a successful call", what,
                 msg ? msg : "(null)");
}
#define EXPECT_OK(got) adv_expect_ok_at(__LINE__, (got), #got)

/* ---- Canaries ----------------------------------------------------------------------------------------------- */

#define ADV_CANARY_BYTE 0xA7

static void adv_fill_canary(void *p, size_t bytes) { memset(p, ADV_CANARY_BYTE, bytes); }

static int adv_is_canary(const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < bytes; i++)
        if (b[i] != ADV_CANARY_BYTE) return 0;
    return 1;
}

/* ---- Isolation ------------------------------------------------------------------------------------------------ */

/* Runs fn() in a child process (a crash or a trap in the library must not end the suite): the child's pass and
   fail counts come back through a pipe; a child killed by a signal counts as one failure. */
static void adv_isolated(const char *name, void (*fn)(void))
{
    int fd[2];
    pid_t pid;
    char *shared = (char *)mmap(NULL, sizeof adv_case, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) shared = NULL;
    if (shared) strcpy(shared, "(none)");
    fflush(stdout);
    if (pipe(fd) != 0) {
        perror("pipe");
        adv_failed++;
        return;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        adv_failed++;
        return;
    }
    if (pid == 0) {
        long counts[2];
        close(fd[0]);
        adv_shared_case = shared;
        adv_passed = adv_failed = 0;
        fn();
        counts[0] = adv_passed;
        counts[1] = adv_failed;
        if (write(fd[1], counts, sizeof counts) != (ssize_t)sizeof counts) _exit(3);
        fflush(stdout);
        _exit(0);
    } else {
        long counts[2] = {0, 0};
        int status = 0;
        ssize_t n;
        close(fd[1]);
        n = read(fd[0], counts, sizeof counts);
        close(fd[0]);
        waitpid(pid, &status, 0);
        if (n == (ssize_t)sizeof counts && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            adv_passed += counts[0];
            adv_failed += counts[1];
        } else {
            adv_failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s: the process died with signal %d (%s) -- a crash or a Swift runtime trap inside "
                       "libxent, in the case: %s\n",
                       name, WTERMSIG(status), strsignal(WTERMSIG(status)), shared ? shared : "?");
            else
                printf("FAIL %s: the child exited with status %d\n", name, WEXITSTATUS(status));
            fflush(stdout);
        }
    }
    if (shared) munmap(shared, sizeof adv_case);
}

/* ---- Long double references ------------------------------------------------------------------------------- */

/* lse of one row as its two parts: the maximum m and ls = log(sum exp(x - m)), lse = m + ls (kept apart so that
   x - lse stays exact for huge logits such as 1e30, where m + ls rounds to m). m = -inf for an all -inf row;
   NaN for a NaN or +inf element. */
static void adv_ref_lse_parts(const double *x, size_t n, long double *m_out, long double *ls_out)
{
    long double m = -INFINITY, s = 0;
    size_t j;
    for (j = 0; j < n; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) {
            *m_out = *ls_out = NAN;
            return;
        }
        if (x[j] > m) m = x[j];
    }
    if (m == -INFINITY) {
        *m_out = -INFINITY;
        *ls_out = 0;
        return;
    }
    for (j = 0; j < n; j++) s += expl((long double)x[j] - m);
    *m_out = m;
    *ls_out = logl(s);
}

static long double adv_ref_lse_d(const double *x, size_t n)
{
    long double m, ls;
    adv_ref_lse_parts(x, n, &m, &ls);
    return m + ls;
}

/* p_j = exp(x_j - lse) and log p_j, from the parts. */
static long double adv_ref_p(double xj, long double m, long double ls)
{
    if (isnan(m)) return NAN;
    if (m == -INFINITY) return 0;
    return expl(((long double)xj - m) - ls);
}
static long double adv_ref_logp(double xj, long double m, long double ls)
{
    if (isnan(m)) return NAN;
    if (m == -INFINITY) return -INFINITY;
    return ((long double)xj - m) - ls;
}

/* Cross-entropy of one row with label `label` (or -1 for none: soft targets y), smoothing eps; writes the
   unscaled gradient p - t (or (sum t) p - t) to g when g != NULL. */
static long double adv_ref_ce_d(const double *x, size_t n, int64_t label, const double *y, double eps,
                                long double *lse_out, long double *g)
{
    long double m, ls, loss = 0, tsum = 0;
    size_t j;
    adv_ref_lse_parts(x, n, &m, &ls);
    for (j = 0; j < n; j++) {
        long double t = y ? (1.0L - eps) * y[j] + (long double)eps / n
                          : (1.0L - eps) * ((int64_t)j == label ? 1 : 0) + (long double)eps / n;
        tsum += t;
        if (t != 0) loss += t * ((m - x[j]) + ls);
    }
    if (g) {
        for (j = 0; j < n; j++) {
            long double t = y ? (1.0L - eps) * y[j] + (long double)eps / n
                              : (1.0L - eps) * ((int64_t)j == label ? 1 : 0) + (long double)eps / n;
            g[j] = tsum * adv_ref_p(x[j], m, ls) - t;
        }
    }
    if (lse_out) *lse_out = m + ls;
    if (m == -INFINITY) return tsum > 0 ? INFINITY : 0; /* documented: an all -inf row has loss +inf */
    return loss;
}

/* A deterministic generator (xorshift64*): uniform in [lo, hi). */
static uint64_t adv_rng_state = 0x9E3779B97F4A7C15ull;
static double adv_uniform(double lo, double hi)
{
    uint64_t x = adv_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    adv_rng_state = x;
    return lo + (hi - lo) * (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

/* |got - ref| <= tol (NaN matches NaN; infinities must match exactly). */
static int adv_close(long double got, long double ref, long double tol)
{
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == ref;
    if (isnan(got) || isinf(got)) return 0;
    return fabsl(got - ref) <= tol;
}

#endif /* XENT_ADVERSARIAL_COMMON_H */
