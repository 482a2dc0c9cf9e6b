/*
 * THE YARDSTICK, NOT THE PRODUCT.
 *
 * A plain C softmax cross-entropy calling SLEEF's Sleef_expf8_u10avx2 (Sleef_expf16_u10avx512f for two vectors
 * at once when built for x86-64-v4, like Xent's AVX-512 build), written the way a careful C programmer would
 * without Xent, so the benchmark can check the target "the Swift kernel through the C ABI runs at
 * >= 0.95x the speed of an equivalent plain C loop calling SLEEF". It is never shipped, installed or linked into
 * libxent.so. Build with -O2 and the library's ISA: -mavx2 -mfma or -march=x86-64-v4 (see Benchmarks/run.sh).
 */
#ifndef C_SLEEF_KERNEL_H
#define C_SLEEF_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Same semantics as xent_cross_entropy_f32 with reduction MEAN, ignore_index -100, no label smoothing,
 * grad_scale 1, contiguous rows (row_stride = cols):
 *     lse_i = m_i + log(sum_j exp(x_ij - m_i)),  m_i = max_j x_ij
 *     *loss = (1/n) sum_i (lse_i - x_i,label_i)     (n = rows whose label != -100; accumulated in double)
 *     grad_ij = (softmax(x_i)_j - [j == label_i]) / n   (grad may be NULL: loss only; ignored rows get 0)
 * Labels must be in [0, cols) or -100 (not validated: this is a yardstick). threads >= 1: rows are split in
 * contiguous blocks across a persistent pthread pool; when rows < threads, every row is split into column
 * blocks whose (max, sum) statistics are merged (two phases). Returns 0, or -1 if the pool cannot start.
 */
int csk_cross_entropy_f32(const float *logits, size_t rows, size_t cols, const int64_t *labels, int threads,
                          float *loss, float *grad);

/* Stops the pool's threads (optional, at exit). */
void csk_shutdown(void);

#endif
