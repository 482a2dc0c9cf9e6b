# test_mpi.py and test_mpi_linear.py are MPI programs (run by run.sh under mpirun on 2 and 4 ranks, `make test-mpi`),
# not pytest modules: keep the single-process suite from collecting them (they need mpi4py and several ranks).
collect_ignore = ["test_mpi.py", "test_mpi_linear.py"]
