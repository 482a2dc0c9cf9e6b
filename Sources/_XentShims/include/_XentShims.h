/*
 * _XentShims.h: the only door between Xent and SLEEF.
 *
 * Static inline, one-line forwarders over SLEEF's vectorized exp and log (1.0-ulp variants, "u10"),
 * for the two vector shapes Xent's kernels use: 8 x float and 4 x double. Nothing of <sleef.h> is
 * included or re-exported: the handful of SLEEF prototypes needed are declared here with our own
 * vector typedefs (same LLVM vector types, so the same calling convention as __m256/__m128).
 *
 * Vector ABI rule: a 256-bit vector passed by value is only correct between code
 * compiled for the same ISA. These wrappers are compiled by the same compiler invocation that compiles
 * the Swift caller (the Clang importer), so the ISA always matches:
 *   - built with AVX2+FMA (-Xcc -march=x86-64-v3): SLEEF's fixed-ISA 256-bit entry points;
 *   - built with AVX-512 (-Xcc -march=x86-64-v4): the same, and one 512-bit exp for two vectors
 *     (xentshim_exp2_*: inline, so no 512-bit vector crosses into Swift);
 *   - x86-64 otherwise: SLEEF's any-CPU 128-bit dispatchers on the two halves;
 *   - aarch64: SLEEF's Advanced SIMD (NEON) 128-bit entry points on the two halves.
 */
#ifndef XENT_SHIMS_H
#define XENT_SHIMS_H

/* The shim by role, each header self-contained:
 *   xentshim_types.h     vector types, unaligned stores, prefetch, splats, the ISA macros
 *   xentshim_sleef.h     SLEEF forwarders (exp, log, tanh; paired 512-bit calls) and scalar exp/log
 *   xentshim_fast_exp.h  the inline polynomial exp
 *   xentshim_lanes.h     lane-wise helpers, the rows-in-lanes kernel's scalars, the soft cap
 *   xentshim_tiles.h     the rows-in-lanes tiles (column loads and stores, transposes)
 *   xentshim_runtime.h   the workers' counter, CPU features, the per-call allocation */
#include "xentshim_types.h"
#include "xentshim_sleef.h"
#include "xentshim_fast_exp.h"
#include "xentshim_lanes.h"
#include "xentshim_tiles.h"
#include "xentshim_runtime.h"

#endif /* XENT_SHIMS_H */
