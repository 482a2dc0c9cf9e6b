#!/usr/bin/env bash
# Run the Python test suite of the xent package against a non-editable install.
#
#   python/run_tests.sh [VENV] [PYTEST ARGS...]   (default VENV: python/.venv; reused when it exists)
#
# The package is installed as the README installs it (`pip install .` at the repository root), bundling the library
# `make lib` built (build/lib/libxent.so, or its copy python/xent/libxent.so; else $XENT_LIBRARY) through
# XENT_PREBUILT_LIBRARY instead of building it again. The library under test is $XENT_LIBRARY when that is set,
# otherwise the bundled one. XENT_WITH_TORCH=1 also installs torch (`make test` sets it: the xent.torch suite and
# the comparisons with torch.nn.functional; without torch they are skipped). Before the tests, `ruff check` and
# `ruff format --check` (ruff.toml) must pass on python/, Benchmarks/compare.py, fuzz/gen_seeds.py and Tests/Install.
# Arguments after VENV (or all, when the first starts with '-') go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then   # a first argument not starting with '-' is the virtualenv
    venv="$1"
    shift
fi
python="${PYTHON:-python3}"
ruff_version=0.17.6

if [ -n "${XENT_LIBRARY:-}" ]; then
    [ -f "$XENT_LIBRARY" ] || { echo "run_tests.sh: XENT_LIBRARY=$XENT_LIBRARY does not exist" >&2; exit 1; }
    echo "run_tests.sh: testing against XENT_LIBRARY=$XENT_LIBRARY"
fi
bundle=""
for candidate in "$root/build/lib/libxent.so" "$here/xent/libxent.so" "${XENT_LIBRARY:-}"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then bundle="$candidate"; break; fi
done
[ -n "$bundle" ] || { echo "run_tests.sh: no libxent.so (run 'make lib' first, or set XENT_LIBRARY)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    echo "run_tests.sh: creating virtualenv $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install numpy pytest hypothesis hatchling "ruff==$ruff_version"
if [ "${XENT_WITH_TORCH:-0}" = 1 ]; then   # PyPI's wheel (it pulls CUDA wheels too: ~2.5 GB, minutes, once)
    "$venv/bin/python" -c 'import torch' 2>/dev/null || "${pip[@]}" install "torch>=2.11"
fi

# Lint and format (ruff.toml at the repository root): the package, its tests and the repository's Python scripts.
# The version is pinned because `ruff format` output may change between releases.
lint_paths=(python Benchmarks/compare.py Benchmarks/plotting.py Benchmarks/torch_overhead.py Benchmarks/linear_mpi_bench.py fuzz/gen_seeds.py Tests/Install)
(cd "$root" && "$venv/bin/ruff" check --no-cache "${lint_paths[@]}" && "$venv/bin/ruff" format --no-cache --check "${lint_paths[@]}") || {
    echo "run_tests.sh: ruff failed; run \`ruff check --fix\` and \`ruff format\` on ${lint_paths[*]} (ruff $ruff_version)" >&2
    exit 1
}

# Non-editable, so the tests exercise what a user gets (including the bundled library): the README's `pip install .`
# of the repository, with XENT_PREBUILT_LIBRARY so that the build hook (python/hatch_build.py) bundles the library of
# `make lib` instead of building it again. hatchling writes nothing into the source tree, so concurrent runs are safe.
# --no-build-isolation uses the hatchling just installed instead of fetching it again.
echo "run_tests.sh: installing the package with XENT_PREBUILT_LIBRARY=$bundle"
XENT_PREBUILT_LIBRARY="$bundle" "${pip[@]}" install --no-build-isolation --force-reinstall --no-deps "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/run"

# Run from a scratch directory so that `import xent` finds the installed package, never python/xent.
cd "$work/run"
"$venv/bin/python" -c 'import xent, sys; print("run_tests.sh: xent", xent.__version__, "from", xent.__file__, "library", xent.library_path, "isa", xent.isa())'
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" -c "$root/pyproject.toml" "$here/tests" "$@"
