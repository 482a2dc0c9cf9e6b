/* xt_isolate.h -- runs a test function in a child process (POSIX: fork, a pipe, a shared page). */
#ifndef XT_ISOLATE_H
#define XT_ISOLATE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Runs fn() in a child process (a crash or a trap in the library must not end the suite): the child's pass and
   fail counts come back through a pipe and are added to the harness's; a child killed by a signal counts as one
   failure, reported with the signal and the case (xt_set_case) it was in. */
void xt_isolated(const char *name, void (*fn)(void));

#ifdef __cplusplus
}
#endif

#endif /* XT_ISOLATE_H */
