#!/usr/bin/env bash
# Run the MPI tests on 2 and 4 ranks of this machine with Open MPI: test_mpi.py (the sharded vocabulary) and
# test_mpi_linear.py (the LM head over a sharded vocabulary, xent.mpi.linear_cross_entropy).
#   python/tests/mpi/run.sh PYTHON     (a python that has numpy, mpi4py and the xent package installed)
# MPI_RANKS (default "2 4"): the rank counts; MPI_TESTS (default both): the test files to run.
# --oversubscribe: more ranks than cores is fine here. As root, Open MPI needs the two ALLOW_RUN_AS_ROOT variables.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${1:-python3}"
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1
status=0
for n in ${MPI_RANKS:-2 4}; do
    for test in ${MPI_TESTS:-test_mpi.py test_mpi_linear.py}; do
        echo "test-mpi: $test on $n ranks"
        start=$(date +%s)
        # run from a scratch directory so that `import xent` is the installed package, never python/xent
        (cd "$(mktemp -d)" && timeout 300 mpirun --oversubscribe -n "$n" "$python" "$here/$test") || {
            echo "test-mpi: $test on $n ranks FAILED"
            status=1
        }
        echo "test-mpi: $test on $n ranks took $(( $(date +%s) - start )) s"
    done
done
exit $status
