/* fuzz/regressions/repro_known.c -- the known defects of fuzz/regressions/README.md as a plain C program.
 * Build: cc -Iinclude fuzz/regressions/repro_known.c -Lbuild/lib -lxent -Wl,-rpath,$PWD/build/lib -o /tmp/repro
 * Run:   /tmp/repro A   (or B). Expected (header): status 2 (XENT_ERR_INVALID_SHAPE). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xent.h>

int main(int argc, char **argv)
{
    float logits[16] = {0}, loss[16] = {0}, bias[16] = {0};
    int64_t labels[16] = {0};
    xent_status st;
    if (argc > 1 && !strcmp(argv[1], "B")) {
        /* B: rows = 0, cols = 2^62 - 1, bias_grad requested: cols * sizeof(float) overflows. */
        size_t cols = ((size_t)1 << 62) - 1;
        st = xent_cross_entropy_ex_f32(logits, 0, cols, cols, labels, NULL, loss, NULL, cols, NULL, bias);
    } else {
        /* A: rows = 2^61 - 1 (logits extent (2^61 - 1) * 4 bytes < PTRDIFF_MAX), cols = 1: the labels span
         * rows * 8 bytes, which overflows. */
        size_t rows = ((size_t)1 << 61) - 1;
        st = xent_cross_entropy_f32(logits, rows, 1, 1, labels, NULL, loss, NULL, NULL);
    }
    printf("status %d: %s\n", st, xent_last_error_message());
    return st == XENT_ERR_INVALID_SHAPE ? 0 : 1;
}
