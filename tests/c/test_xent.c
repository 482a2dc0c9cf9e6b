/*
 * test_xent.c -- C99 test of the Xent C ABI against a long double reference.
 * Build: cc -std=c99 -Wall -Wextra -Werror -pedantic test_xent.c $(pkg-config --cflags --libs xent) -lm
 * Prints one line per failed check and ends with "N passed, N failed"; exits 1 on any failure.
 */
#include "xent_test_common.h"

int main(void)
{
    return xt_run_all("c", NULL);
}
