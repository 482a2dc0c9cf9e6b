#!/usr/bin/env bash
# The single entry of `make bench`: builds what the benchmark needs, makes (or reuses) its virtualenv and runs
# Benchmarks/compare.py, which prints a progress line per case, the table and the targets, and writes
# build/bench/results.json and build/bench/results.png, then Benchmarks/linear_bench.py (the linear
# cross-entropy against the GEMM floor and PyTorch: build/bench/linear.json, linear.png).
#
#   bash Benchmarks/run.sh [SWIFT BUILD FLAGS...]      e.g. bash Benchmarks/run.sh -Xcc -march=x86-64-v3
#
# Environment:
#   PEERS=1          also install PyTorch and JAX (CPU) into the virtualenv (large download; optional: without
#                    them the comparison covers numpy, the naive Swift loop and the C yardstick)
#   BENCH_SUITE=1    afterwards run the package-benchmark suite too (swift package benchmark; ~10 min more)
#   BENCH_ARGS=...   extra arguments for compare.py (--quick, --shapes 8192x1000,1x128256); --quick also scales
#                    the linear cross-entropy's shapes down
#   BENCH_LINEAR=0   skip the linear cross-entropy table (Benchmarks/linear_bench.py: minutes at full size)
#   LINEAR_ARGS=...  extra arguments for linear_bench.py (--alt all, --reps 2, --scale 4, --shapes 4096x1024x32000)
#   BENCH_VENV=...   the virtualenv (default .build-bench-venv); PYTHON=... the interpreter that makes it
# Needs build/lib/libxent.so (`make lib`, which `make bench` runs first) and libsleef-dev (`make deps`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SWIFT_FLAGS=("$@")
VENV=${BENCH_VENV:-$ROOT/.build-bench-venv}
PY=${PYTHON:-python3}
OUT=$ROOT/build/bench
BIN=$OUT/bin
mkdir -p "$BIN"

[ -f build/lib/libxent.so ] || { echo "run.sh: build/lib/libxent.so is missing: run 'make lib' first" >&2; exit 1; }
# A private copy of the library: a `make lib` during the run must not replace a file the benchmark has mapped.
cp build/lib/libxent.so "$BIN/libxent.so.tmp" && mv -f "$BIN/libxent.so.tmp" "$BIN/libxent.so"

# ---- system packages (idempotent): gcc, SLEEF's header and library -------------------------------------------
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v gcc >/dev/null || ! { [ -f /usr/include/sleef.h ] || ls /usr/include/*/sleef.h >/dev/null 2>&1; }; then
  echo "run.sh: installing gcc and libsleef-dev"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gcc libsleef-dev >/dev/null
fi

# ---- the Swift timer (release, this host's ISA) -----------------------------------------------------------------
echo "== building xent-swift-bench (swift build -c release ${SWIFT_FLAGS[*]:-})"
swift build -c release --package-path Benchmarks --scratch-path "$ROOT/.build-bench" --product xent-swift-bench \
  "${SWIFT_FLAGS[@]}" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
[ -x .build-bench/release/xent-swift-bench ] || { echo "run.sh: the Swift build failed" >&2; exit 1; }

# ---- the C programs: bandwidth probe, C ABI vs the C yardstick (AVX2+FMA only) ----------------------------------
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  # The yardstick is built for the library's ISA: AVX-512 (x86-64-v4) when the library is, else AVX2+FMA.
  case " ${SWIFT_FLAGS[*]:-} " in *x86-64-v4*) CISA=(-march=x86-64-v4) ;; *) CISA=(-mavx2 -mfma) ;; esac
  echo "== building the C yardstick and the bandwidth probe (gcc -O2 ${CISA[*]})"
  gcc -O2 -mavx2 -mfma -pthread -Wall -o "$BIN/bandwidth" Benchmarks/bandwidth/bandwidth.c
  gcc -O2 "${CISA[@]}" -pthread -Wall -Iinclude -IBenchmarks/yardstick -o "$BIN/c_bench" \
    Benchmarks/yardstick/c_bench.c Benchmarks/yardstick/c_sleef_kernel.c \
    -L"$BIN" -lxent -Wl,-rpath,"$BIN" -lsleef -lm
  gcc -O2 "${CISA[@]}" -Wall -o "$BIN/exp_bench" Benchmarks/yardstick/exp_bench.c -lsleef -lm
  echo "== SLEEF's exp alone, ns per element, one thread (the floor of Double/Float where the exp dominates):"
  "$BIN/exp_bench" | tee "$OUT/exp_bench.json"
else
  echo "== no AVX2+FMA on this CPU: the C yardstick and the bandwidth probe are skipped"
  rm -f "$BIN/bandwidth" "$BIN/c_bench" "$BIN/exp_bench"
fi

# ---- the virtualenv --------------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
pipi() { "$VPY" -m pip install -q --disable-pip-version-check "$@"; }
"$VPY" -c 'import numpy, matplotlib' 2>/dev/null || { echo "== installing numpy, matplotlib"; pipi numpy matplotlib; }
if [ "${PEERS:-0}" = 1 ]; then
  "$VPY" -c 'import torch' 2>/dev/null || { echo "== installing torch (PEERS=1)"; pipi torch || echo "run.sh: torch install failed; continuing without it"; }
  "$VPY" -c 'import jax' 2>/dev/null || { echo "== installing jax[cpu] (PEERS=1)"; pipi "jax[cpu]" || echo "run.sh: jax install failed; continuing without it"; }
fi

# ---- the comparison ----------------------------------------------------------------------------------------------
echo "== running Benchmarks/compare.py"
# OpenBLAS core-type overrides slow numpy on some hosts; the comparison wants each peer at its best.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE XENT_LIBRARY="$BIN/libxent.so" XENT_BENCH_BIN="$BIN" \
  XENT_SWIFT_BENCH="$ROOT/.build-bench/release/xent-swift-bench" \
  "$VPY" Benchmarks/compare.py --out "$OUT" ${BENCH_ARGS:-}

# ---- xent.torch's own cost (issue 17): the same calls through xent.torch and the NumPy API, one process ----------
if "$VPY" -c 'import torch' 2>/dev/null; then
  echo "== running Benchmarks/torch_overhead.py"
  XENT_LIBRARY="$BIN/libxent.so" "$VPY" Benchmarks/torch_overhead.py --out "$OUT" || echo "run.sh: torch_overhead.py failed"
fi

# ---- the linear cross-entropy (issue 16): Xent against the GEMM floor and PyTorch --------------------------------
# With the environment as it is (OpenBLAS's configuration is part of what it measures; the script runs Xent and the
# floor once more in the other one). --quick in BENCH_ARGS scales its shapes down; LINEAR_ARGS adds its own flags.
if [ "${BENCH_LINEAR:-1}" = 1 ]; then
  echo "== running Benchmarks/linear_bench.py"
  QUICK=$(case " ${BENCH_ARGS:-} " in *" --quick "*) echo --quick ;; esac)
  XENT_LIBRARY="$BIN/libxent.so" "$VPY" Benchmarks/linear_bench.py --out "$OUT" $QUICK ${LINEAR_ARGS:-}
fi

if [ "${BENCH_SUITE:-0}" = 1 ]; then
  echo "== package-benchmark suite (swift package benchmark)"
  swift package --package-path Benchmarks --scratch-path "$ROOT/.build-bench" "${SWIFT_FLAGS[@]}" benchmark --no-progress
fi
echo "== done: $OUT/results.json, $OUT/results.png, $OUT/linear.json, $OUT/linear.png"
