// gemm_patterns.c: which calling pattern of a CBLAS is fastest for a fused linear cross-entropy
// (o = H·Wᵀ + b, loss = mean_i (lse_i − o[i, y_i]), G = ∂loss/∂o = (softmax(o) − onehot)/N,
// dH = G·W, dW = Gᵀ·H, db = Σ_rows G), without storing the rows×classes logits. A yardstick in C + SLEEF.
//
// Modes (first argument), options as key=value after it:
//   floor     the plain GEMMs of the full shape: logits = H·Wᵀ, dH = G·W, dW = Gᵀ·H (BLAS threads = blas=)
//   fused     loss + lse + dH + dW + db, tiled: R rows × C classes; passes=1 keeps the R×V logits of a row block
//             (G overwrites them), passes=2 keeps only R×C tiles and recomputes them in a backward pass
//   loss      loss + lse only (one pass, online log-sum-exp over class blocks)
//   numerics  fused (both schemes) against a float64 reference on a small shape
//   threads   BLAS thread-control and thread-safety checks
//   compare   on one shape, interleaved per repetition: the plain GEMMs, then loss A/B, one-pass A/B, Liger-style
//             (one-pass, C = V) A, two-pass A/B; best-of times, GFLOP/s and ratios to the plain GEMMs
// Options: shape=0..3 (or rows=,dim=,classes=), scale=k (rows and classes divided by k), R=, C=, passes=1|2,
//   own=T (our pthreads), blas=T (BLAS threads), ng=G (fixed number of class groups, each with its own dH partial;
//   0 = own threads, 1 = accumulate dH directly), reps=n, check=1 (print a hash of the outputs), gemm=1 (the
//   variants' GEMM calls alone, without the softmax work: the cost of the tiling itself).
//
// Work decomposition: the grid of GEMM calls (row block × class block) and the order of every reduction depend
// only on R, C and ng, never on the thread count; threads only choose which calls they make. With a
// single-threaded BLAS the outputs are then bit-identical for any own= (checked by check=1).
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sleef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gp_support.h"

// gemm=1: the calling pattern's GEMMs alone (no statistics, no G, no db): what the tiling costs before any
// softmax work; the outputs are then meaningless.
static int gemm_only;

// ---------------------------------------------------------------------------------------------------------------
// Max and Σ exp(x + b − max) of one row piece of n elements (b may be NULL). Float partial sums per lane are
// flushed into a double every 16 vectors (FACTS: keeps the error ~1e-7 over 128k classes).
static void row_stats(const float *x, const float *b, int n, float *max_out, double *sum_out) {
  vf m0 = vload_pad(x, tail_mask(0), -INFINITY), m1 = m0;
  int j = 0;
  for (; j + 2 * VW <= n; j += 2 * VW) {
    vf a = vload0(x + j, tail_mask(VW)), c = vload0(x + j + VW, tail_mask(VW));
    if (b) a += vload0(b + j, tail_mask(VW)), c += vload0(b + j + VW, tail_mask(VW));
    m0 = vmax(m0, a);
    m1 = vmax(m1, c);
  }
  for (; j < n; j += VW) {
    vmask k = tail_mask(n - j);
    vf a = vload_pad(x + j, k, -INFINITY);
    if (b) a += vload0(b + j, k);
    m0 = vmax(m0, a);
  }
  float m = hmax(vmax(m0, m1));
  vf vm = vload_pad(x, tail_mask(0), m);
  double total = 0.0;
  j = 0;
  while (j < n) {
    int end = j + 256 < n ? j + 256 : n;
    vf s0 = vload0(x, tail_mask(0)), s1 = s0;
    for (; j + 2 * VW <= end; j += 2 * VW) {
      vf a = vload0(x + j, tail_mask(VW)), c = vload0(x + j + VW, tail_mask(VW));
      if (b) a += vload0(b + j, tail_mask(VW)), c += vload0(b + j + VW, tail_mask(VW));
      s0 += vexp(a - vm);
      s1 += vexp(c - vm);
    }
    for (; j < end; j += VW) {
      vmask k = tail_mask(end - j);
      vf a = vload_pad(x + j, k, -INFINITY);
      if (b) a += vload0(b + j, k);
      s0 += vexp(a - vm);  // padded lanes: exp(−inf) = 0
    }
    total += hsum_d(s0 + s1);
  }
  *max_out = m;
  *sum_out = total;
}

// g = exp(x + b − lse)·scale in place (the one-hot term is subtracted by the caller); db += g.
static void row_grad(float *x, const float *b, int n, float lse, float scale, float *db) {
  vf vl = vload_pad(x, tail_mask(0), lse), vs = vload_pad(x, tail_mask(0), scale);
  for (int j = 0; j < n; j += VW) {
    vmask k = tail_mask(n - j);
    vf a = vload0(x + j, k);
    if (b) a += vload0(b + j, k);
    vf g = vexp(a - vl) * vs;
    vstore(x + j, g, k);
    if (db) vstore(db + j, vload0(db + j, k) + g, k);
  }
}

// ---------------------------------------------------------------------------------------------------------------
typedef struct {
  int rows, dim, classes;
} shape_t;

static const shape_t shapes[4] = {{4096, 1024, 32000}, {1024, 2048, 128256}, {8192, 768, 50257}, {2048, 256, 128256}};

typedef struct {
  int R, C, passes, own, ng, loss_only;
} cfg_t;

typedef struct {  // the problem: inputs and outputs
  int N, D, V;
  const float *H, *W, *b;
  const int32_t *y;
  float *dH, *dW, *db, *lse;
  double loss;
} prob_t;

typedef struct {  // shared state of one fused call
  const prob_t *p;
  cfg_t c;
  int nC, ng;
  float *tiles;      // passes=1: R×V (one row block); passes=2: own×R×C
  float *bmax;       // R×nC
  double *bsum;      // R×nC
  float *zlab;       // R: o[i, y_i]
  float *lse_blk;    // R: lse of the current row block
  float *dHpart;     // ng×R×D (ng > 1)
  double *rowloss;   // N
  pthread_barrier_t bar;
} fused_t;

typedef struct {
  fused_t *f;
  int t;
} targ_t;

static size_t workspace_bytes(const prob_t *p, cfg_t c, int nC, int ng) {
  size_t R = (size_t)c.R;
  size_t tiles = (c.passes == 1 && !c.loss_only) ? R * (size_t)p->V : (size_t)c.own * R * (size_t)c.C;
  size_t parts = ng > 1 ? (size_t)ng * R * (size_t)p->D : 0;
  return 4 * tiles + 4 * parts + R * (size_t)nC * 12 + R * 8;
}

static inline void barrier(fused_t *f) {
  if (f->c.own > 1) pthread_barrier_wait(&f->bar);
}

// Logits tile of row block [r0, r0+rn) × class block cb, written at T (leading dimension ldt), plus its stats.
static void forward_tile(fused_t *f, int r0, int rn, int cb, float *T, int ldt, int stats) {
  const prob_t *p = f->p;
  int c0 = cb * f->c.C, cn = p->V - c0 < f->c.C ? p->V - c0 : f->c.C;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, cn, p->D, 1.0f, p->H + (size_t)r0 * p->D, p->D,
              p->W + (size_t)c0 * p->D, p->D, 0.0f, T, ldt);
  for (int i = 0; stats && !gemm_only && i < rn; i++) {
    float *x = T + (size_t)i * ldt;
    row_stats(x, p->b + c0, cn, &f->bmax[(size_t)i * f->nC + cb], &f->bsum[(size_t)i * f->nC + cb]);
    int y = p->y[r0 + i];
    if (y >= c0 && y < c0 + cn) f->zlab[i] = x[y - c0] + p->b[y];
  }
}

// lse of rows [i0, i1) of the row block: per-block (max, sum) combined in class-block order, in double.
static void combine_rows(fused_t *f, int r0, int i0, int i1) {
  for (int i = i0; !gemm_only && i < i1; i++) {
    const float *m = &f->bmax[(size_t)i * f->nC];
    const double *s = &f->bsum[(size_t)i * f->nC];
    float M = -INFINITY;
    for (int cb = 0; cb < f->nC; cb++) M = m[cb] > M ? m[cb] : M;
    double S = 0.0;
    for (int cb = 0; cb < f->nC; cb++) S += s[cb] * exp((double)m[cb] - (double)M);
    double l = (double)M + log(S);
    f->lse_blk[i] = (float)l;
    f->p->lse[r0 + i] = (float)l;
    f->rowloss[r0 + i] = l - (double)f->zlab[i];
  }
}

// Backward of one tile: G in place, db, dW_c (+)= Gᵀ·H_r, dHpart (+)= G·W_c.
static void backward_tile(fused_t *f, int r0, int rn, int cb, float *T, int ldt, float *dHdst, int first_in_group) {
  const prob_t *p = f->p;
  int c0 = cb * f->c.C, cn = p->V - c0 < f->c.C ? p->V - c0 : f->c.C;
  float scale = 1.0f / (float)p->N;
  for (int i = 0; !gemm_only && i < rn; i++) {
    float *x = T + (size_t)i * ldt;
    row_grad(x, p->b + c0, cn, f->lse_blk[i], scale, NULL);
    int y = p->y[r0 + i];
    if (y >= c0 && y < c0 + cn) x[y - c0] -= scale;
  }
  // db: column sums of G in row order (fixed), one vector pass per row
  float *db = p->db + c0;
  for (int i = 0; !gemm_only && i < rn; i++) {
    const float *x = T + (size_t)i * ldt;
    for (int j = 0; j < cn; j += VW) {
      vmask k = tail_mask(cn - j);
      vstore(db + j, vload0(db + j, k) + vload0(x + j, k), k);
    }
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cn, p->D, rn, 1.0f, T, ldt, p->H + (size_t)r0 * p->D, p->D,
              r0 == 0 ? 0.0f : 1.0f, p->dW + (size_t)c0 * p->D, p->D);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, p->D, cn, 1.0f, T, ldt, p->W + (size_t)c0 * p->D, p->D,
              first_in_group ? 0.0f : 1.0f, dHdst, p->D);
}

static void *fused_worker(void *arg) {
  targ_t *a = arg;
  fused_t *f = a->f;
  const prob_t *p = f->p;
  int t = a->t, T = f->c.own, R = f->c.R, nC = f->nC, ng = f->ng;
  float *mytile = f->tiles + (size_t)t * R * f->c.C;
  for (int r0 = 0; r0 < p->N; r0 += R) {
    int rn = p->N - r0 < R ? p->N - r0 : R;
    // forward: groups g ≡ t (mod T); class blocks of a group in order
    for (int g = t; g < ng; g += T) {
      int cb0 = (int)((long)g * nC / ng), cb1 = (int)((long)(g + 1) * nC / ng);
      for (int cb = cb0; cb < cb1; cb++) {
        if (f->c.passes == 1 && !f->c.loss_only)
          forward_tile(f, r0, rn, cb, f->tiles + (size_t)cb * f->c.C, p->V, 1);
        else
          forward_tile(f, r0, rn, cb, mytile, f->c.C, 1);
      }
    }
    barrier(f);
    int i0 = (int)((long)t * rn / T), i1 = (int)((long)(t + 1) * rn / T);
    combine_rows(f, r0, i0, i1);
    barrier(f);
    if (f->c.loss_only) continue;
    for (int g = t; g < ng; g += T) {
      int cb0 = (int)((long)g * nC / ng), cb1 = (int)((long)(g + 1) * nC / ng);
      float *dHdst = ng == 1 ? p->dH + (size_t)r0 * p->D : f->dHpart + (size_t)g * R * p->D;
      for (int cb = cb0; cb < cb1; cb++) {
        if (f->c.passes == 1) {
          backward_tile(f, r0, rn, cb, f->tiles + (size_t)cb * f->c.C, p->V, dHdst, cb == cb0);
        } else {
          forward_tile(f, r0, rn, cb, mytile, f->c.C, 0);  // recompute, no stats
          backward_tile(f, r0, rn, cb, mytile, f->c.C, dHdst, cb == cb0);
        }
      }
    }
    if (ng > 1) {  // dH rows = Σ_g dHpart_g, groups in order
      barrier(f);
      for (int i = i0; i < i1; i++) {
        float *dst = p->dH + (size_t)(r0 + i) * p->D;
        for (int d = 0; d < p->D; d += VW) {
          vmask k = tail_mask(p->D - d);
          vf s = vload0(f->dHpart + (size_t)i * p->D + d, k);
          for (int g = 1; g < ng; g++) s += vload0(f->dHpart + ((size_t)g * R + i) * p->D + d, k);
          vstore(dst + d, s, k);
        }
      }
    }
    barrier(f);
  }
  return NULL;
}

// One fused call. Returns seconds; fills p->loss, lse, dH, dW, db.
static double run_fused(prob_t *p, cfg_t c, size_t *ws_out) {
  fused_t f;
  memset(&f, 0, sizeof f);
  f.p = p;
  f.c = c;
  if (f.c.C > p->V) f.c.C = p->V;
  if (f.c.R > p->N) f.c.R = p->N;
  f.nC = (p->V + f.c.C - 1) / f.c.C;
  f.ng = c.ng > 0 ? c.ng : c.own;
  if (f.ng > f.nC) f.ng = f.nC;
  if (f.ng < c.own) f.ng = c.own < f.nC ? c.own : f.nC;
  size_t R = (size_t)f.c.R;
  size_t tiles = (f.c.passes == 1 && !c.loss_only) ? R * p->V : (size_t)c.own * R * f.c.C;
  f.tiles = xalloc(4 * tiles);
  f.bmax = xalloc(R * f.nC * 4);
  f.bsum = xalloc(R * f.nC * 8);
  f.zlab = xalloc(R * 4);
  f.lse_blk = xalloc(R * 4);
  f.dHpart = f.ng > 1 ? xalloc((size_t)f.ng * R * p->D * 4) : NULL;
  f.rowloss = xalloc((size_t)p->N * 8);
  if (ws_out) *ws_out = workspace_bytes(p, f.c, f.nC, f.ng);
  if (c.own > 1) pthread_barrier_init(&f.bar, NULL, (unsigned)c.own);
  if (!c.loss_only) memset(p->db, 0, (size_t)p->V * 4);
  targ_t args[64];
  pthread_t th[64];
  double t0 = now();
  for (int t = 0; t < c.own; t++) {
    args[t].f = &f;
    args[t].t = t;
    if (t > 0) pthread_create(&th[t], NULL, fused_worker, &args[t]);
  }
  fused_worker(&args[0]);
  for (int t = 1; t < c.own; t++) pthread_join(th[t], NULL);
  double sum = 0.0;
  for (int i = 0; i < p->N; i++) sum += f.rowloss[i];
  p->loss = sum / p->N;
  double t1 = now();
  if (c.own > 1) pthread_barrier_destroy(&f.bar);
  free(f.tiles), free(f.bmax), free(f.bsum), free(f.zlab), free(f.lse_blk), free(f.dHpart), free(f.rowloss);
  return t1 - t0;
}

// ---------------------------------------------------------------------------------------------------------------
typedef struct {
  const char *mode;
  int shape, rows, dim, classes, scale, reps, blas, check, variants, no_floor, max_ws_mib, max_rounds;
  cfg_t c;
} opts_t;

static prob_t make_problem(int N, int D, int V, int grads) {
  prob_t p;
  memset(&p, 0, sizeof p);
  p.N = N, p.D = D, p.V = V;
  float *H = xalloc((size_t)N * D * 4), *W = xalloc((size_t)V * D * 4), *b = xalloc((size_t)V * 4);
  int32_t *y = xalloc((size_t)N * 4);
  rng_state = 12345;
  for (size_t i = 0; i < (size_t)N * D; i++) H[i] = frand();
  float ws = 2.0f / sqrtf((float)D);
  for (size_t i = 0; i < (size_t)V * D; i++) W[i] = ws * frand();
  for (int i = 0; i < V; i++) b[i] = 0.1f * frand();
  for (int i = 0; i < N; i++) y[i] = (int32_t)((uint32_t)(rng_state = rng_state * 6364136223846793005ull + 1) % (uint32_t)V);
  p.H = H, p.W = W, p.b = b, p.y = y;
  p.lse = xalloc((size_t)N * 4);
  if (grads) {
    p.dH = xalloc((size_t)N * D * 4);
    p.dW = xalloc((size_t)V * D * 4);
    p.db = xalloc((size_t)V * 4);
  }
  return p;
}

static void free_problem(prob_t *p) {
  free((void *)p->H), free((void *)p->W), free((void *)p->b), free((void *)p->y), free(p->lse);
  free(p->dH), free(p->dW), free(p->db);
}

static uint64_t hash_outputs(const prob_t *p) {
  uint64_t h = 1469598103934665603ull;
  h = hash_bytes(&p->loss, 8, h);
  h = hash_bytes(p->lse, (size_t)p->N * 4, h);
  if (p->dH) {
    h = hash_bytes(p->dH, (size_t)p->N * p->D * 4, h);
    h = hash_bytes(p->dW, (size_t)p->V * p->D * 4, h);
    h = hash_bytes(p->db, (size_t)p->V * 4, h);
  }
  return h;
}

static shape_t get_shape(const opts_t *o) {
  shape_t s = shapes[o->shape];
  if (o->rows) s.rows = o->rows;
  if (o->dim) s.dim = o->dim;
  if (o->classes) s.classes = o->classes;
  if (o->scale > 1) s.rows /= o->scale, s.classes /= o->scale;
  return s;
}

static void mode_floor(const opts_t *o) {
  shape_t s = get_shape(o);
  size_t N = s.rows, D = s.dim, V = s.classes;
  float *H = xalloc(N * D * 4), *W = xalloc(V * D * 4), *L = xalloc(N * V * 4), *dH = xalloc(N * D * 4),
        *dW = xalloc(V * D * 4);
  rng_state = 7;
  for (size_t i = 0; i < N * D; i++) H[i] = frand();
  for (size_t i = 0; i < V * D; i++) W[i] = frand() * 0.05f;
  blas_set_threads(o->blas);
  double best[3] = {1e30, 1e30, 1e30};
  for (int r = 0; r < o->reps; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, D, 1.0f, H, D, W, D, 0.0f, L, V);
    double t1 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, V, 1.0f, L, V, W, D, 0.0f, dH, D);
    double t2 = now();
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, D, N, 1.0f, L, V, H, D, 0.0f, dW, D);
    double t3 = now();
    double d[3] = {t1 - t0, t2 - t1, t3 - t2};
    for (int k = 0; k < 3; k++) best[k] = d[k] < best[k] ? d[k] : best[k];
  }
  double fl = 2.0 * N * D * V;
  printf("floor rows=%zu dim=%zu classes=%zu blas=%d logits %.4f s %.0f GF/s | dH %.4f s %.0f GF/s | dW %.4f s %.0f GF/s"
         " | sum3 %.4f s | one %.4f s\n",
         N, D, V, o->blas, best[0], fl / best[0] * 1e-9, best[1], fl / best[1] * 1e-9, best[2], fl / best[2] * 1e-9,
         best[0] + best[1] + best[2], best[0]);
  free(H), free(W), free(L), free(dH), free(dW);
}

static void mode_fused(const opts_t *o) {
  shape_t s = get_shape(o);
  prob_t p = make_problem(s.rows, s.dim, s.classes, !o->c.loss_only);
  blas_set_threads(o->blas);
  double best = 1e30;
  size_t ws = 0;
  for (int r = 0; r < o->reps; r++) {
    double t = run_fused(&p, o->c, &ws);
    best = t < best ? t : best;
  }
  double fl = (o->c.loss_only ? 2.0 : (o->c.passes == 1 ? 6.0 : 8.0)) * s.rows * s.dim * (double)s.classes;
  printf("%s rows=%d dim=%d classes=%d R=%d C=%d passes=%d own=%d blas=%d ng=%d best %.4f s %.0f GF/s ws %.1f MiB"
         " loss %.9g",
         o->c.loss_only ? "loss" : "fused", s.rows, s.dim, s.classes, o->c.R, o->c.C, o->c.passes, o->c.own, o->blas,
         o->c.ng, best, fl / best * 1e-9, ws / 1048576.0, p.loss);
  if (o->check) printf(" hash %016llx", (unsigned long long)hash_outputs(&p));
  printf("\n");
  fflush(stdout);
  free_problem(&p);
}

// CPU time used by other processes during a timing, in cores: Δ(busy jiffies of the machine) − Δ(ours).
static long long fg_busy0, fg_self0;
static void read_jiffies(long long *busy, long long *self) {
  unsigned long long u = 0, n = 0, sy = 0, id = 0, io = 0, irq = 0, si = 0, st = 0;
  FILE *fp = fopen("/proc/stat", "r");
  if (fp) {
    if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &id, &io, &irq, &si, &st) != 8) u = 0;
    fclose(fp);
  }
  *busy = (long long)(u + n + sy + irq + si + st);
  unsigned long ut = 0, stt = 0;
  fp = fopen("/proc/self/stat", "r");
  if (fp) {
    char buf[1024];
    size_t len = fread(buf, 1, sizeof buf - 1, fp);
    buf[len] = 0;
    char *q = strrchr(buf, ')');
    if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2) ut = stt = 0;
    fclose(fp);
  }
  *self = (long long)(ut + stt);
}
static void foreign_begin(void) { read_jiffies(&fg_busy0, &fg_self0); }
static double foreign_end(double secs) {
  long long b, s;
  read_jiffies(&b, &s);
  return (double)((b - fg_busy0) - (s - fg_self0)) / (double)sysconf(_SC_CLK_TCK) / (secs > 1e-3 ? secs : 1e-3);
}

// Interleaved comparison on one shape (the machine is shared and noisy): every repetition runs the plain GEMMs
// and then each variant once; best-of per variant; ratios against the best plain times of the same run.
static void mode_compare(const opts_t *o) {
  shape_t s = get_shape(o);
  prob_t p = make_problem(s.rows, s.dim, s.classes, 1);
  size_t N = s.rows, D = s.dim, V = s.classes;
  float *L = o->no_floor ? NULL : xalloc(N * V * 4);
  int R = o->c.R, C = o->c.C, ngB = o->c.ng > 0 ? o->c.ng : 2;
  struct {
    const char *name;
    cfg_t c;
    int blas;
  } var[] = {
      {"loss   A own=1 blas=2", {R, C, 1, 1, 1, 1}, 2},
      {"loss   B own=2 blas=1", {R, C, 1, 2, 2, 1}, 1},
      {"1pass  A own=1 blas=2", {R, C, 1, 1, 1, 0}, 2},
      {"1pass  B own=2 blas=1", {R, C, 1, 2, ngB, 0}, 1},
      {"liger  A C=V   blas=2", {R, (int)V, 1, 1, 1, 0}, 2},
      {"2pass  A own=1 blas=2", {R, C, 2, 1, 1, 0}, 2},
      {"2pass  B own=2 blas=1", {R, C, 2, 2, ngB, 0}, 1},
  };
  int nv = (int)(sizeof var / sizeof var[0]);
  // items 0..2: the plain GEMMs; 3..: the variants. A timing counts as clean when the other processes of the
  // machine used < 0.15 cores during it (from /proc/stat); best clean time wins; rounds go on (up to 3×reps, or rounds=)
  // until every item has a clean timing, else the best unclean one is reported with a '*'.
  double best[3 + 16], bestany[3 + 16], bcpu[3 + 16], vloss[16];
  int clean[3 + 16];
  size_t vws[16];
  for (int k = 0; k < 3 + nv; k++) best[k] = bestany[k] = bcpu[k] = 1e30, clean[k] = 0;
  int rounds = o->max_rounds > 0 ? o->max_rounds : 3 * o->reps;
  for (int r = 0; r < rounds; r++) {
    int done = r >= o->reps;
    for (int k = 0; k < 3 + nv; k++) {
      if (k < 3 && !L) continue;
      if (k >= 3 && !((o->variants >> (k - 3)) & 1)) continue;
      if (k >= 3 && var[k - 3].c.passes == 1 && !var[k - 3].c.loss_only &&
          (size_t)R * V * 4 > (size_t)o->max_ws_mib << 20)
        continue;
      if (r >= o->reps && clean[k]) continue;
      done = 0;
      double t, f, c0 = cpu_now();
      foreign_begin();
      if (k < 3) {
        blas_set_threads(2);
        double t0 = now();
        if (k == 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, D, 1.0f, p.H, D, p.W, D, 0.0f, L, V);
        if (k == 1) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, V, 1.0f, L, V, p.W, D, 0.0f, p.dH, D);
        if (k == 2) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, D, N, 1.0f, L, V, p.H, D, 0.0f, p.dW, D);
        t = now() - t0;
      } else {
        blas_set_threads(var[k - 3].blas);
        t = run_fused(&p, var[k - 3].c, &vws[k - 3]);
        vloss[k - 3] = p.loss;
      }
      f = foreign_end(t);
      double c = cpu_now() - c0;
      if (c < bcpu[k]) bcpu[k] = c;
      if (t < bestany[k]) bestany[k] = t;
      if (f < 0.15) {
        clean[k] = 1;
        if (t < best[k]) best[k] = t;
      }
    }
    if (done) break;
  }
  for (int k = 0; k < 3 + nv; k++)
    if (!clean[k]) best[k] = bestany[k];
  double fbest[3] = {best[0], best[1], best[2]}, vbest[16];
  for (int v = 0; v < nv; v++) vbest[v] = best[3 + v];
  double fl = 2.0 * N * D * V, sum3 = fbest[0] + fbest[1] + fbest[2];
  printf("compare rows=%zu dim=%zu classes=%zu R=%d C=%d reps=%d core=%s\n", N, D, V, R, C, o->reps, blas_name);
  if (L)
    printf("  plain GEMMs (blas=2): logits %.3f s%s %.0f GF/s | dH %.3f s%s %.0f GF/s | dW %.3f s%s %.0f GF/s | sum %.3f s\n",
           fbest[0], clean[0] ? "" : "*", fl / fbest[0] * 1e-9, fbest[1], clean[1] ? "" : "*", fl / fbest[1] * 1e-9,
           fbest[2], clean[2] ? "" : "*", fl / fbest[2] * 1e-9, sum3);
  double cpu3 = bcpu[0] + bcpu[1] + bcpu[2];
  if (L) printf("  plain GEMMs CPU time: %.3f + %.3f + %.3f = %.3f s\n", bcpu[0], bcpu[1], bcpu[2], cpu3);
  for (int v = 0; v < nv; v++) {
    if (vbest[v] >= 1e30) continue;
    int lo = var[v].c.loss_only;
    double flops = (lo ? 2.0 : var[v].c.passes == 1 ? 6.0 : 8.0) * fl / 2.0;
    printf("  %s: %.3f s%s %.0f GF/s  ratio %.3f (vs %s)  cpu %.3f s cpu-ratio %.3f  ws %.1f MiB  loss %.8g\n",
           var[v].name, vbest[v], clean[3 + v] ? "" : "*",
           flops / vbest[v] * 1e-9, L ? vbest[v] / (lo ? fbest[0] : sum3) : 0.0, lo ? "1 GEMM" : "3 GEMMs",
           bcpu[3 + v], L ? bcpu[3 + v] / (lo ? bcpu[0] : cpu3) : 0.0, vws[v] / 1048576.0, vloss[v]);
  }
  fflush(stdout);
  free(L);
  free_problem(&p);
}

// float64 reference on a small shape; relative errors of loss, lse, dH, dW, db (normwise for the matrices).
static void mode_numerics(const opts_t *o) {
  int N = o->rows ? o->rows : 96, D = o->dim ? o->dim : 64, V = o->classes ? o->classes : 50000;
  prob_t p = make_problem(N, D, V, 1);
  double *Lr = malloc((size_t)N * V * 8), *dHr = calloc((size_t)N * D, 8), *dWr = calloc((size_t)V * D, 8),
         *dbr = calloc(V, 8), *lser = malloc(N * 8), loss = 0;
  for (int i = 0; i < N; i++) {
    double M = -INFINITY;
    for (int j = 0; j < V; j++) {
      double a = p.b[j];
      for (int d = 0; d < D; d++) a += (double)p.H[(size_t)i * D + d] * p.W[(size_t)j * D + d];
      Lr[(size_t)i * V + j] = a;
      M = a > M ? a : M;
    }
    double S = 0;
    for (int j = 0; j < V; j++) S += exp(Lr[(size_t)i * V + j] - M);
    lser[i] = M + log(S);
    loss += lser[i] - Lr[(size_t)i * V + p.y[i]];
    for (int j = 0; j < V; j++) {
      double g = (exp(Lr[(size_t)i * V + j] - lser[i]) - (j == p.y[i])) / N;
      dbr[j] += g;
      for (int d = 0; d < D; d++) {
        dHr[(size_t)i * D + d] += g * p.W[(size_t)j * D + d];
        dWr[(size_t)j * D + d] += g * p.H[(size_t)i * D + d];
      }
    }
  }
  loss /= N;
  blas_set_threads(o->blas);
  for (int passes = 1; passes <= 2; passes++)
    for (int own = 1; own <= 2; own++) {
      cfg_t c = {32, 4096, passes, own, 0, 0};
      run_fused(&p, c, NULL);
      double e_lse = 0, n1 = 0, e1 = 0, n2 = 0, e2 = 0, n3 = 0, e3 = 0;
      for (int i = 0; i < N; i++) e_lse = fmax(e_lse, fabs(p.lse[i] - lser[i]) / fabs(lser[i]));
      for (size_t k = 0; k < (size_t)N * D; k++) e1 += pow(p.dH[k] - dHr[k], 2), n1 += dHr[k] * dHr[k];
      for (size_t k = 0; k < (size_t)V * D; k++) e2 += pow(p.dW[k] - dWr[k], 2), n2 += dWr[k] * dWr[k];
      for (int k = 0; k < V; k++) e3 += pow(p.db[k] - dbr[k], 2), n3 += dbr[k] * dbr[k];
      printf("numerics N=%d D=%d V=%d passes=%d own=%d: loss %.9g ref %.12g rel %.2e | lse max rel %.2e | dH %.2e "
             "dW %.2e db %.2e (normwise rel)\n",
             N, D, V, passes, own, p.loss, loss, fabs(p.loss - loss) / fabs(loss), e_lse, sqrt(e1 / n1),
             sqrt(e2 / n2), sqrt(e3 / n3));
    }
  free(Lr), free(dHr), free(dWr), free(dbr), free(lser);
  free_problem(&p);
}

// ---- thread checks ---------------------------------------------------------------------------------------------
typedef struct {
  int n, iters;
  const float *A, *B;
  float *C;
  double secs;
  int setn;
} gemm_job;

static void *gemm_thread(void *arg) {
  gemm_job *j = arg;
  if (j->setn) blas_set_threads(j->setn);
  double t0 = now();
  for (int k = 0; k < j->iters; k++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, j->n, j->n, 1.0f, j->A, j->n, j->B, j->n, 0.0f, j->C,
                j->n);
  j->secs = now() - t0;
  return NULL;
}

static double run_pair(gemm_job *jobs, int concurrent) {
  double t0 = now();
  if (concurrent) {
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, gemm_thread, &jobs[t]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  } else {
    for (int t = 0; t < 2; t++) gemm_thread(&jobs[t]);
  }
  return now() - t0;
}

static void mode_threads(const opts_t *o) {
  printf("threads: BLAS %s | symbols: openblas_set_num_threads %s, openblas_get_num_threads %s, "
         "bli_thread_set_num_threads %s, MKL_Set_Num_Threads %s\n",
         blas_name, ob_set ? "yes" : "no", ob_get ? "yes" : "no", bli_set ? "yes" : "no", mkl_set ? "yes" : "no");
  printf("threads: initial get_num_threads = %d\n", blas_get_threads());
  // is the setting process-global? set from another thread, read here
  gemm_job setter = {8, 0, NULL, NULL, NULL, 0, 1};
  pthread_t th;
  pthread_create(&th, NULL, gemm_thread, &setter);
  pthread_join(th, NULL);
  printf("threads: after another thread set 1: get here = %d (process-global if 1)\n", blas_get_threads());
  blas_set_threads(2);
  printf("threads: after set 2 here: get = %d\n", blas_get_threads());
  // concurrency: two of our threads calling sgemm at once, BLAS at 1 thread and at 2 threads
  int n = o->rows ? o->rows : 768, iters = o->reps > 3 ? o->reps : 40;
  size_t nn = (size_t)n * n;
  float *A = xalloc(nn * 4), *B = xalloc(nn * 4), *C[2] = {xalloc(nn * 4), xalloc(nn * 4)}, *Ref = xalloc(nn * 4);
  rng_state = 99;
  for (size_t i = 0; i < nn; i++) A[i] = frand(), B[i] = frand();
  for (int bt = 1; bt <= 2; bt++) {
    blas_set_threads(bt);
    gemm_job jobs[2] = {{n, iters, A, B, C[0], 0, 0}, {n, iters, A, B, C[1], 0, 0}};
    gemm_job one = {n, 1, A, B, Ref, 0, 0};
    gemm_thread(&one);
    double ser = 1e30, con = 1e30;
    int bad = 0;
    for (int rep = 0; rep < 3; rep++) {
      double s = run_pair(jobs, 0);
      double c = run_pair(jobs, 1);
      ser = s < ser ? s : ser;
      con = c < con ? c : con;
      for (int t = 0; t < 2; t++) bad += memcmp(C[t], Ref, nn * 4) != 0;
    }
    double gf = 2.0 * 2 * iters * (double)nn * n * 1e-9;
    printf("threads: blas=%d, 2 callers x %d sgemm %dx%dx%d: serial %.3f s (%.0f GF/s), concurrent %.3f s (%.0f GF/s),"
           " speedup %.2f, results %s\n",
           bt, iters, n, n, n, ser, gf / ser, con, gf / con, ser / con, bad ? "DIFFER" : "bit-identical");
  }
  free(A), free(B), free(C[0]), free(C[1]), free(Ref);
}

int main(int argc, char **argv) {
  opts_t o = {argc > 1 ? argv[1] : "fused", 0, 0, 0, 0, 1, 3, 2, 0, 0x7F, 0, 1024, 0, {512, 4096, 1, 1, 0, 0}};
  for (int i = 2; i < argc; i++) {
    char k[32];
    long v;
    if (sscanf(argv[i], "%31[^=]=%ld", k, &v) != 2) {
      fprintf(stderr, "bad argument %s\n", argv[i]);
      return 1;
    }
    if (!strcmp(k, "shape")) o.shape = (int)v;
    else if (!strcmp(k, "rows")) o.rows = (int)v;
    else if (!strcmp(k, "dim")) o.dim = (int)v;
    else if (!strcmp(k, "classes")) o.classes = (int)v;
    else if (!strcmp(k, "scale")) o.scale = (int)v;
    else if (!strcmp(k, "reps")) o.reps = (int)v;
    else if (!strcmp(k, "blas")) o.blas = (int)v;
    else if (!strcmp(k, "check")) o.check = (int)v;
    else if (!strcmp(k, "R")) o.c.R = (int)v;
    else if (!strcmp(k, "C")) o.c.C = (int)v;
    else if (!strcmp(k, "passes")) o.c.passes = (int)v;
    else if (!strcmp(k, "own")) o.c.own = (int)v;
    else if (!strcmp(k, "ng")) o.c.ng = (int)v;
    else if (!strcmp(k, "variants")) o.variants = (int)v;  // bit mask over compare's variants
    else if (!strcmp(k, "nofloor")) o.no_floor = (int)v;
    else if (!strcmp(k, "rounds")) o.max_rounds = (int)v;  // compare: at most this many rounds (default 3×reps)
    else if (!strcmp(k, "maxws")) o.max_ws_mib = (int)v;  // skip one-pass variants whose R×V buffer is larger
    else if (!strcmp(k, "gemm")) gemm_only = (int)v;  // the pattern's GEMMs alone, no softmax work
    else {
      fprintf(stderr, "unknown option %s\n", k);
      return 1;
    }
  }
  if (o.shape < 0 || o.shape > 3 || o.c.own < 1 || o.c.own > 64) return 1;
  blas_probe();
  if (!strcmp(o.mode, "floor")) mode_floor(&o);
  else if (!strcmp(o.mode, "fused")) mode_fused(&o);
  else if (!strcmp(o.mode, "loss")) o.c.loss_only = 1, mode_fused(&o);
  else if (!strcmp(o.mode, "numerics")) mode_numerics(&o);
  else if (!strcmp(o.mode, "compare")) mode_compare(&o);
  else if (!strcmp(o.mode, "threads")) mode_threads(&o);
  else if (!strcmp(o.mode, "info")) printf("BLAS: %s, threads %d, vector width %d\n", blas_name, blas_get_threads(), VW);
  else {
    fprintf(stderr, "unknown mode %s\n", o.mode);
    return 1;
  }
  return 0;
}
