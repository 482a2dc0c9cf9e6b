# Sharded vocabulary on a real MPI job (issue 6): python/tests/mpi/test_mpi.py and test_mpi_linear.py (the LM head
# over a sharded vocabulary) under Open MPI on 2 and 4 ranks.
#
#   make test-mpi             installs Open MPI (openmpi-bin libopenmpi-dev) when mpirun is missing, mpi4py into
#                             $(VENV), installs the xent package (`pip install .`, bundling the library of `make lib`)
#                             into $(VENV), then runs the MPI tests on 2 and 4 ranks (--oversubscribe: this machine
#                             has 2 cores).
#   make example-mpi          python/examples/sharded_mpi.py on MPI_EXAMPLE_RANKS (default 4) ranks.
#   make example-linear-mpi   python/examples/linear_mpi.py (a byte bigram LM head split by vocabulary, trained with
#                             xent.mpi.linear_cross_entropy) on MPI_EXAMPLE_RANKS ranks.
#   make bench-linear-mpi     Benchmarks/linear_mpi_bench.py: weak scaling of that step on 1 .. MPI_BENCH_RANKS
#                             (default: the cores, here 2) ranks, one thread each, and the communication per step.
#
# As root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here only when root).

MPI_RANKS         ?= 2 4
MPI_EXAMPLE_RANKS ?= 4
MPI_BENCH_RANKS   ?= $(shell nproc)
MPI_SUDO          := $(if $(filter 0,$(shell id -u)),,sudo)
MPI_ROOT_ENV      := $(if $(filter 0,$(shell id -u)),OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1,)

.PHONY: mpi-deps mpi-venv test-mpi example-mpi example-linear-mpi bench-linear-mpi

mpi-deps:
	@if ! command -v mpirun >/dev/null || [ ! -e /usr/include/x86_64-linux-gnu/mpi/mpi.h -a ! -e /usr/include/aarch64-linux-gnu/mpi/mpi.h -a ! -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ]; then \
	  echo "mpi-deps: installing openmpi-bin libopenmpi-dev"; \
	  $(MPI_SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(MPI_SUDO) apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null; \
	fi

# The virtualenv of python/run_tests.sh (created when missing), with mpi4py and the freshly built package.
mpi-venv: lib mpi-deps
	@[ -x "$(VENV)/bin/python" ] || $(PYTHON) -m venv "$(VENV)"
	@"$(VENV)/bin/python" -m pip --disable-pip-version-check -q install numpy hatchling
	@"$(VENV)/bin/python" -c 'import mpi4py' 2>/dev/null || \
	  "$(VENV)/bin/python" -m pip --disable-pip-version-check -q install mpi4py
	XENT_PREBUILT_LIBRARY=$(CURDIR)/build/lib/libxent.so "$(VENV)/bin/python" -m pip --disable-pip-version-check -q \
	  install --no-build-isolation --force-reinstall --no-deps .

test-mpi: mpi-venv
	@cd /tmp && "$(VENV)/bin/python" -c 'import xent, xent.mpi; from mpi4py import MPI; \
	  print("test-mpi: xent", xent.__version__, "library", xent.library_version(), "mpi4py on", MPI.Get_library_version().splitlines()[0][:40])'
	MPI_RANKS="$(MPI_RANKS)" bash python/tests/mpi/run.sh "$(VENV)/bin/python"

example-mpi: mpi-venv
	cd /tmp && $(MPI_ROOT_ENV) mpirun --oversubscribe -n $(MPI_EXAMPLE_RANKS) "$(VENV)/bin/python" \
	  $(CURDIR)/python/examples/sharded_mpi.py

example-linear-mpi: mpi-venv
	cd /tmp && $(MPI_ROOT_ENV) mpirun --oversubscribe -n $(MPI_EXAMPLE_RANKS) "$(VENV)/bin/python" \
	  $(CURDIR)/python/examples/linear_mpi.py

bench-linear-mpi: mpi-venv
	cd /tmp && $(MPI_ROOT_ENV) mpirun --oversubscribe -n $(MPI_BENCH_RANKS) "$(VENV)/bin/python" \
	  $(CURDIR)/Benchmarks/linear_mpi_bench.py

EXTRA_TESTS += test-mpi
