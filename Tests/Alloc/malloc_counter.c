/* Counts malloc/realloc/posix_memalign/aligned_alloc calls (calloc is left alone: dlsym needs it) between
   counter_arm(1) and counter_arm(0); counter_fail_next(n) makes the next n allocations fail (malloc and aligned_alloc
   return NULL, posix_memalign ENOMEM). Loaded with LD_PRELOAD by run.sh (the library is linked normally). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

static long allocations = 0;
static int armed = 0;
static int failures = 0; /* the next `failures` malloc calls return NULL (out-of-memory paths) */

void counter_arm(int on)
{
    armed = on;
}
long counter_allocations(void)
{
    return allocations;
}
void counter_fail_next(int n)
{
    failures = n;
}

void *malloc(size_t n)
{
    static void *(*real)(size_t);
    if (!real) real = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    if (armed) allocations++;
    if (failures > 0) {
        failures--;
        return NULL;
    }
    return real(n);
}
void *realloc(void *p, size_t n)
{
    static void *(*real)(void *, size_t);
    if (!real) real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    if (armed) allocations++;
    return real(p, n);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    static int (*real)(void **, size_t, size_t);
    if (!real) real = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    if (armed) allocations++;
    if (failures > 0) {
        failures--;
        return ENOMEM;
    }
    return real(p, a, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    static void *(*real)(size_t, size_t);
    if (!real) real = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    if (armed) allocations++;
    if (failures > 0) {
        failures--;
        return NULL;
    }
    return real(a, n);
}
