# The install path from a fresh clone (issue 17): Tests/Install/run.sh clones HEAD into a temporary folder, makes a
# new virtualenv and runs the README's `pip install .` (a clean release build of libxent.so, minutes), then imports
# the package from outside the clone and makes one call. Needs PyPI (hatchling, numpy).
#
#   make test-install          the README's command
#   make test-install-sdist    also `python -m build` (an sdist, a wheel built from it; auditwheel show), a second build

.PHONY: test-install test-install-sdist

test-install:
	bash Tests/Install/run.sh

test-install-sdist:
	bash Tests/Install/run.sh --sdist

EXTRA_TESTS += test-install
