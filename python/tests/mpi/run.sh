#!/usr/bin/env bash
# Run the MPI tests (test_mpi.py) on 2 and 4 ranks of this machine with Open MPI.
#   python/tests/mpi/run.sh PYTHON     (a python that has numpy, mpi4py and the xent package installed)
# --oversubscribe: more ranks than cores is fine here. As root, Open MPI needs the two ALLOW_RUN_AS_ROOT variables.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${1:-python3}"
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1
status=0
for n in ${MPI_RANKS:-2 4}; do
    echo "test-mpi: $n ranks"
    start=$(date +%s)
    # run from a scratch directory so that `import xent` is the installed package, never python/xent
    (cd "$(mktemp -d)" && timeout 300 mpirun --oversubscribe -n "$n" "$python" "$here/test_mpi.py") || status=1
    echo "test-mpi: $n ranks took $(( $(date +%s) - start )) s"
done
exit $status
