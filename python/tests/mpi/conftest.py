# test_mpi.py is an MPI program (run by run.sh under mpirun on 2 and 4 ranks, `make test-mpi`), not a pytest module:
# keep the single-process suite from collecting it (it needs mpi4py and several ranks).
collect_ignore = ["test_mpi.py"]
