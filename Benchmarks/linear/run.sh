#!/usr/bin/env bash
# Builds and runs the fused-linear-cross-entropy GEMM-pattern yardstick (Benchmarks/linear/gemm_patterns.c).
#
#   bash Benchmarks/linear/run.sh            # builds, then: numerics, thread checks, floor + patterns on 4 shapes
#   bash Benchmarks/linear/run.sh quick      # same at scale=8 (rows and classes / 8), 1 rep
#   bash Benchmarks/linear/run.sh build      # only build
#   BIN=build/linear bash Benchmarks/linear/run.sh ...   # where the binaries go (default build/linear)
#
# Binaries: gp_openblas (-lblas: Debian's alternative, OpenBLAS pthread), gp_blis (BLIS, OpenMP build).
# One run of this script uses whatever OPENBLAS_CORETYPE the environment has; `both` runs the shapes once as is
# and once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (and once with OPENBLAS_CORETYPE=Haswell).
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

SC=1; REPS=2
[ "$MODE" = quick ] && { SC=8; REPS=1; }
G=$BIN/gp_openblas
export BLIS_NUM_THREADS=${BLIS_NUM_THREADS:-2}

echo "## $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
"$G" info
"$G" numerics
"$G" threads
"$BIN/gp_serial" threads
"$BIN/gp_blis" threads

shapes_run() {  # $1 = binary, rest = env prefix
  local bin=$1
  for s in 0 1 2 3; do
    "$bin" floor shape=$s scale=$SC reps=$REPS blas=2
    "$bin" loss shape=$s scale=$SC reps=$REPS blas=2 own=1 R=512 C=4096
    "$bin" loss shape=$s scale=$SC reps=$REPS blas=1 own=2 R=512 C=4096
    "$bin" fused shape=$s scale=$SC reps=$REPS blas=2 own=1 passes=1 R=512 C=4096
    "$bin" fused shape=$s scale=$SC reps=$REPS blas=1 own=2 passes=1 R=512 C=4096 ng=2
    "$bin" fused shape=$s scale=$SC reps=$REPS blas=2 own=1 passes=2 R=512 C=4096
    "$bin" fused shape=$s scale=$SC reps=$REPS blas=1 own=2 passes=2 R=512 C=4096 ng=2
  done
}

case "$MODE" in
  full|quick) shapes_run "$G" ;;
  both)
    echo "# environment as is"; shapes_run "$G"
    echo "# OPENBLAS_CORETYPE=Haswell"; OPENBLAS_CORETYPE=Haswell shapes_run "$G"
    echo "# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"; env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE true
    ( unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; shapes_run "$G" ) ;;
  blis) shapes_run "$BIN/gp_blis" ;;
  *) echo "unknown mode $MODE" >&2; exit 1 ;;
esac
