/*
 * test_xent.c -- the C99 program of the Xent C ABI tests (the files listed in xt_tests.h, compiled as C).
 * Build: see run.sh (the Tests/C .c files, Tests/CSupport/xt_check.c and xt_ref.c, pkg-config xent, -lm).
 * Prints one line per failed check and ends with "N passed, N failed"; exits 1 on any failure.
 */
#include "xt_tests.h"

int main(void)
{
    return xt_run_all("c", NULL);
}
