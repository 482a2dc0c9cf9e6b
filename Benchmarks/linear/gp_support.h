// gp_support.h: the helpers of gemm_patterns.c (one translation unit; static functions): BLAS thread control
// through dlsym, clocks, allocation, a random stream, an output hash, and the SIMD vocabulary (AVX-512 or AVX2
// with SLEEF) of its cross-entropy tile kernels. Included after the system headers gemm_patterns.c lists.
#ifndef GP_SUPPORT_H
#define GP_SUPPORT_H

// ---------------------------------------------------------------------------------------------------------------
// BLAS thread control through dlsym: works whichever CBLAS the binary was linked with (OpenBLAS exports
// openblas_set_num_threads from libopenblas.so.0, which Debian's libblas.so.3 pulls in; BLIS exports
// bli_thread_set_num_threads; MKL MKL_Set_Num_Threads). Nothing found: the BLAS's own default stays.
typedef void (*set_int_fn)(int);
typedef int (*get_int_fn)(void);
typedef void (*set_i64_fn)(int64_t);
typedef int64_t (*get_i64_fn)(void);

static const char *blas_name = "unknown";
static set_int_fn ob_set;
static get_int_fn ob_get;
static set_i64_fn bli_set;
static get_i64_fn bli_get;
static set_int_fn mkl_set;

static void blas_probe(void) {
  ob_set = (set_int_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  ob_get = (get_int_fn)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  bli_set = (set_i64_fn)dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads");
  bli_get = (get_i64_fn)dlsym(RTLD_DEFAULT, "bli_thread_get_num_threads");
  mkl_set = (set_int_fn)dlsym(RTLD_DEFAULT, "MKL_Set_Num_Threads");
  if (ob_set) {
    const char *(*corename)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    const char *(*config)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
    static char buf[256];
    snprintf(buf, sizeof buf, "OpenBLAS core=%s config=%s", corename ? corename() : "?", config ? config() : "?");
    blas_name = buf;
  } else if (bli_set) {
    blas_name = "BLIS";
  } else if (mkl_set) {
    blas_name = "MKL";
  }
}

static void blas_set_threads(int n) {
  if (ob_set) ob_set(n);
  else if (bli_set) bli_set(n);
  else if (mkl_set) mkl_set(n);
}

static int blas_get_threads(void) {
  if (ob_get) return ob_get();
  if (bli_get) return (int)bli_get();
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------
static double cpu_now(void) {  // CPU time of the whole process (all threads)
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xalloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64)) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(2);
  }
  memset(p, 0, bytes);  // first touch outside any timed region
  return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) {  // uniform in [-1, 1)
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((int32_t)(rng_state >> 32)) * (1.0f / 2147483648.0f);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h) {  // FNV-1a
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
  return h;
}

// ---------------------------------------------------------------------------------------------------------------
// The cross-entropy kernels on a tile (SLEEF exp, vector tails by masks, -inf padding for the max).
#if defined(__AVX512F__)
#define VW 16
typedef __m512 vf;
typedef __mmask16 vmask;
static inline vmask tail_mask(int n) { return (vmask)((n >= 16) ? 0xFFFF : ((1u << n) - 1u)); }
static inline vf vload_pad(const float *p, vmask m, float pad) { return _mm512_mask_loadu_ps(_mm512_set1_ps(pad), m, p); }
static inline vf vload0(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vstore(float *p, vf v, vmask m) { _mm512_mask_storeu_ps(p, m, v); }
static inline vf vexp(vf x) { return Sleef_expf16_u10avx512f(x); }
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline float hmax(vf a) { return _mm512_reduce_max_ps(a); }
static inline double hsum_d(vf a) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
  return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}
#elif defined(__AVX2__)
#define VW 8
typedef __m256 vf;
typedef __m256i vmask;
static inline vmask tail_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vload_pad(const float *p, vmask m, float pad) {
  return _mm256_blendv_ps(_mm256_set1_ps(pad), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline vf vload0(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vstore(float *p, vf v, vmask m) { _mm256_maskstore_ps(p, m, v); }
static inline vf vexp(vf x) { return Sleef_expf8_u10avx2(x); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline float hmax(vf a) {
  float t[8];
  _mm256_storeu_ps(t, a);
  float m = t[0];
  for (int i = 1; i < 8; i++) m = t[i] > m ? t[i] : m;
  return m;
}
static inline double hsum_d(vf a) {
  __m256d s = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)), _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
  double t[4];
  _mm256_storeu_pd(t, s);
  return (t[0] + t[1]) + (t[2] + t[3]);
}
#else
#error "needs AVX2 or AVX-512 (build with -march=native on x86-64-v3 or later)"
#endif

#endif // GP_SUPPORT_H
