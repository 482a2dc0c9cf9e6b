/* No allocation in the hot path: after one warm-up call of each kind, 1000 more calls of every
   function on one thread — row kernel, rows-in-lanes kernel (<= 16 classes), long rows split into
   column blocks, soft targets, the softmax family — must not allocate at all. With two threads the
   count is reported (libdispatch's concurrentPerform allocates a few small blocks per call).
   The bias gradient's scratch: none up to 4096 classes, exactly one block per call above; when that block
   cannot be had (the counter makes malloc fail), XENT_ERR_OUT_OF_MEMORY and nothing written.
   Prints "N passed, N failed". */
#include <xent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void counter_arm(int on);
long counter_allocations(void);
void counter_fail_next(int n);

static int passed = 0, failed = 0;

static void run_all(const float *x, float *g, float *t, float *l, float *lse, float *b, int64_t *lab, int threads) {
  xent_options o;
  xent_options_init(&o);
  o.num_threads = threads;
  o.reduction = XENT_REDUCTION_NONE;
  xent_cross_entropy_ex_f32(x, 64, 10, 10, lab, &o, l, g, 10, lse, b);           /* rows in lanes */
  xent_cross_entropy_ex_f32(x, 8, 1000, 1000, lab, &o, l, g, 1000, lse, b);      /* row kernel */
  o.label_smoothing = 0.1f;
  xent_cross_entropy_f32(x, 1, 70000, 70000, lab, &o, l, g, lse);                /* column blocks */
  xent_soft_cross_entropy_ex_f32(x, 8, 1000, 1000, t, 1000, &o, l, g, 1000, lse, b);
  /* The softmax family has no thread option: shapes below the automatic threshold stay on one thread. */
  xent_softmax_f32(x, 8, 1000, 1000, g, 1000);
  xent_log_softmax_f32(x, 8, 1000, 1000, g, 1000);
  xent_logsumexp_f32(x, 64, 10, 10, l);
}

static void check(const char *what, int threads, const float *x, float *g, float *t, float *l, float *lse,
                  float *b, int64_t *lab) {
  run_all(x, g, t, l, lse, b, lab, threads); /* warm-up: one-time runtime and thread-pool set-up */
  counter_arm(1);
  long before = counter_allocations();
  for (int k = 0; k < 1000; k++) run_all(x, g, t, l, lse, b, lab, threads);
  long n = counter_allocations() - before;
  counter_arm(0);
  if (threads == 1) {
    if (n == 0) { passed++; } else { failed++; printf("FAIL %s (threads %d): %ld allocations in 7000 calls\n", what, threads, n); }
  } else {
    printf("note: %s with %d threads: %ld allocations in 7000 calls (libdispatch)\n", what, threads, n);
  }
}

int main(void) {
  size_t n = 70000 * 2;
  float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g), *t = malloc(n * sizeof *t);
  float l[128], lse[128], *b = malloc(n * sizeof *b);
  int64_t lab[128];
  for (size_t i = 0; i < n; i++) { x[i] = (float)((i * 7919) % 1000) * 0.01f - 5; t[i] = (i % 97 == 0) ? 0.5f : 0; }
  for (int i = 0; i < 128; i++) lab[i] = (i * 3) % 10;

  check("every function", 1, x, g, t, l, lse, b, lab);
  check("every function", 2, x, g, t, l, lse, b, lab);

  /* The bias gradient's running sum (Double, with error terms for double logits): on the stack up to 4096
     classes (no allocation, also for double), above it exactly one heap block per call (header). */
  {
    xent_options o;
    xent_options_init(&o);
    o.num_threads = 1;
    double *xd = malloc(8 * 4096 * sizeof *xd), *bd = malloc(4096 * sizeof *bd), ld;
    for (size_t i = 0; i < 8 * 4096; i++) xd[i] = x[i];
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1) counter_arm(1);
      long before = counter_allocations();
      for (int k = 0; k < 100; k++) {
        xent_cross_entropy_ex_f64(xd, 8, 4096, 4096, lab, &o, &ld, NULL, 0, NULL, bd);
        xent_cross_entropy_ex_f32(x, 8, 4096, 4096, lab, &o, l, NULL, 0, NULL, b);
      }
      long stack = counter_allocations() - before;
      before = counter_allocations();
      for (int k = 0; k < 100; k++) xent_cross_entropy_ex_f32(x, 8, 4097, 4097, lab, &o, l, NULL, 0, NULL, b);
      long heap = counter_allocations() - before;
      counter_arm(0);
      if (pass == 0) continue;
      if (stack == 0 && heap == 100) {
        passed++;
      } else {
        failed++;
        printf("FAIL bias gradient: %ld allocations in 200 calls of 4096 classes (want 0), %ld in 100 of 4097 "
               "(want 100)\n", stack, heap);
      }
    }
    free(xd);
    free(bd);
  }

  /* Out of memory: when the bias gradient's heap block cannot be had, the call returns XENT_ERR_OUT_OF_MEMORY
     with a message and writes nothing (loss, gradient, lse and bias keep their canary bytes). */
  {
    xent_options o;
    xent_options_init(&o);
    o.num_threads = 1;
    size_t rows = 3, cols = 5000;
    float *grad = malloc(rows * cols * sizeof *grad), lossv[3], lsev[3], *bias = malloc(cols * sizeof *bias);
    memset(grad, 0x5A, rows * cols * sizeof *grad), memset(lossv, 0x5A, sizeof lossv);
    memset(lsev, 0x5A, sizeof lsev), memset(bias, 0x5A, cols * sizeof *bias);
    int untouched = 1;
    counter_fail_next(1);
    xent_status st = xent_cross_entropy_ex_f32(x, rows, cols, cols, lab, &o, lossv, grad, cols, lsev, bias);
    counter_fail_next(0);
    const unsigned char *bytes[4] = {(const unsigned char *)grad, (const unsigned char *)lossv,
                                     (const unsigned char *)lsev, (const unsigned char *)bias};
    size_t sizes[4] = {rows * cols * sizeof *grad, sizeof lossv, sizeof lsev, cols * sizeof *bias};
    for (int k = 0; k < 4; k++)
      for (size_t i = 0; i < sizes[k]; i++) untouched &= bytes[k][i] == 0x5A;
    const char *msg = xent_last_error_message();
    if (st == XENT_ERR_OUT_OF_MEMORY && untouched && strstr(msg, "bias gradient") != NULL) {
      passed++;
    } else {
      failed++;
      printf("FAIL out of memory: status %d (want %d), outputs %s, message \"%s\"\n", st, XENT_ERR_OUT_OF_MEMORY,
             untouched ? "untouched" : "WRITTEN", msg);
    }
    /* The same call with memory succeeds. */
    st = xent_cross_entropy_ex_f32(x, rows, cols, cols, lab, &o, lossv, grad, cols, lsev, bias);
    if (st == XENT_OK) { passed++; } else { failed++; printf("FAIL after out of memory: status %d\n", st); }
    free(grad), free(bias);
  }

  /* The error path is not the hot path: its message is built as a Swift string, then copied into
     the fixed per-thread buffer. Reported, not asserted. */
  xent_options o;
  xent_options_init(&o);
  int64_t bad[2] = {0, 99};
  float loss;
  xent_cross_entropy_f32(x, 2, 10, 10, bad, &o, &loss, NULL, NULL);
  counter_arm(1);
  long before = counter_allocations();
  for (int k = 0; k < 1000; k++) xent_cross_entropy_f32(x, 2, 10, 10, bad, &o, &loss, NULL, NULL);
  long errors = counter_allocations() - before;
  counter_arm(0);
  printf("note: the error path allocates %ld times per 1000 failed calls (message formatting)\n", errors);

  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
