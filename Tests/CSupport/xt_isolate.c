/* xt_isolate.c -- xt_isolated (xt_isolate.h): a test function in a child process (POSIX). */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS, strsignal */
#define _POSIX_C_SOURCE 200809L
#include "xt_isolate.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xt_check.h"

#define XT_CASE_SIZE 384

void xt_isolated(const char *name, void (*fn)(void))
{
    int fd[2];
    pid_t pid;
    char *shared = (char *)mmap(NULL, XT_CASE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) shared = NULL;
    if (shared) strcpy(shared, "(none)");
    fflush(stdout);
    if (pipe(fd) != 0) {
        perror("pipe");
        xt_add_counts(0, 1);
        return;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        xt_add_counts(0, 1);
        return;
    }
    if (pid == 0) {
        long counts[2];
        close(fd[0]);
        xt_mirror_case(shared, XT_CASE_SIZE);
        xt_passed = xt_failed = 0;
        fn();
        counts[0] = xt_passed;
        counts[1] = xt_failed;
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
            xt_add_counts(counts[0], counts[1]);
        } else {
            xt_add_counts(0, 1);
            if (WIFSIGNALED(status))
                printf("FAIL %s: the process died with signal %d (%s) -- a crash or a Swift runtime trap inside "
                       "libxent, in the case: %s\n",
                       name, WTERMSIG(status), strsignal(WTERMSIG(status)), shared ? shared : "?");
            else printf("FAIL %s: the child exited with status %d\n", name, WEXITSTATUS(status));
            fflush(stdout);
        }
    }
    if (shared) munmap(shared, XT_CASE_SIZE);
}
