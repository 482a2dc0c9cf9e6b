#!/usr/bin/env bash
# Builds and runs the fused-linear-cross-entropy GEMM-pattern yardstick (Benchmarks/linear/gemm_patterns.c).
#
#   bash Benchmarks/linear/run.sh            # builds, then: numerics, thread checks, plain GEMMs + all patterns on
#                                            # the 4 shapes (native OpenBLAS kernels), ~30 min on a quiet machine
#   bash Benchmarks/linear/run.sh quick      # same at scale=8 (rows and classes / 8), 1 round
#   bash Benchmarks/linear/run.sh both       # scale=2: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset vs CORETYPE=Haswell
#   bash Benchmarks/linear/run.sh blis       # scale=2, BLIS (OpenMP build)
#   bash Benchmarks/linear/run.sh build      # only build
#   BIN=build/linear bash Benchmarks/linear/run.sh ...   # where the binaries go (default build/linear)
#
# Binaries: gp_openblas (-lblas: Debian's alternative, OpenBLAS pthread), gp_serial (OpenBLAS serial build),
# gp_blis (BLIS, OpenMP build).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/build/linear}
mkdir -p "$BIN"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

need=()
[ -f /usr/include/x86_64-linux-gnu/cblas.h ] || need+=(libopenblas-dev)
[ -e /usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0 ] || need+=(libopenblas0-serial)
[ -e /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4 ] || need+=(libblis-dev)
[ -n "$(dpkg -L libsleef-dev 2>/dev/null | grep 'sleef.h$')" ] || need+=(libsleef-dev)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

CFLAGS=(-std=c11 -O2 -march=native -Wall -Wextra -I/usr/include/x86_64-linux-gnu)
L=/usr/lib/x86_64-linux-gnu
gcc "${CFLAGS[@]}" -o "$BIN/gp_openblas" "$HERE/gemm_patterns.c" -lblas -lsleef -lm -pthread -ldl
gcc "${CFLAGS[@]}" -o "$BIN/gp_blis" "$HERE/gemm_patterns.c" -L$L/blis-openmp -Wl,-rpath,$L/blis-openmp -lblis \
  -lsleef -lm -pthread -ldl
gcc "${CFLAGS[@]}" -o "$BIN/gp_serial" "$HERE/gemm_patterns.c" $L/openblas-serial/libopenblas.so.0 \
  -Wl,-rpath,$L/openblas-serial -lsleef -lm -pthread -ldl
MODE=${1:-full}
[ "$MODE" = build ] && exit 0

# Each `compare` line: one shape; per round the three plain GEMMs (2 BLAS threads) and then each variant once;
# best-of wall time and CPU time; ratios to the plain GEMMs of the same process. R=512 C=2048 are the defaults
# measured best (README.md). `quick`: rows and classes / 8.
SC=1; ROUNDS=${ROUNDS:-2}
[ "$MODE" = quick ] && { SC=8; ROUNDS=1; }
G=$BIN/gp_openblas
echo "## $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"$G" info
"$G" numerics
for b in gp_openblas gp_serial gp_blis; do "$BIN/$b" threads; done
# bit-identity across own thread counts (single-threaded BLAS, fixed ng): the two hashes must match
"$G" fused shape=0 scale=8 reps=1 own=1 blas=1 ng=2 R=256 C=512 check=1
"$G" fused shape=0 scale=8 reps=1 own=2 blas=1 ng=2 R=256 C=512 check=1

shapes_run() {  # $1 = binary, $2 = variants mask, $3 = scale
  for s in 3 0 1 2; do "$1" compare shape=$s scale=$3 R=512 C=2048 reps=$ROUNDS rounds=$ROUNDS variants=$2; done
}

case "$MODE" in
  full|quick) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bash -c "$(declare -f shapes_run); ROUNDS=$ROUNDS; shapes_run $G 127 $SC" ;;
  both)
    echo "# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bash -c "$(declare -f shapes_run); ROUNDS=$ROUNDS; shapes_run $G 13 2"
    echo "# OPENBLAS_CORETYPE=Haswell"
    OPENBLAS_CORETYPE=Haswell bash -c "$(declare -f shapes_run); ROUNDS=$ROUNDS; shapes_run $G 13 2" ;;
  blis) shapes_run "$BIN/gp_blis" 13 2 ;;
  *) echo "unknown mode $MODE (full, quick, both, blis, build)" >&2; exit 1 ;;
esac
