#!/usr/bin/env bash
# Run the Python test suite of the xent package against a non-editable install.
#
#   python/run_tests.sh [VENV] [PYTEST ARGS...]   (default VENV: python/.venv; reused when it exists)
#
# The library under test is $XENT_LIBRARY when that is set; otherwise the libxent.so bundled into the package
# (`make lib` copies it to python/xent/libxent.so before `pip install ./python`). If neither exists but
# build/lib/libxent.so does, that one is used through XENT_LIBRARY. XENT_WITH_TORCH=1 also installs torch
# (optional: the torch comparisons are skipped without it). Before the tests, `ruff check` and `ruff format --check`
# (configuration: ruff.toml) must pass on python/, Benchmarks/compare.py and fuzz/gen_seeds.py.
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
elif [ -f "$here/xent/libxent.so" ]; then
    echo "run_tests.sh: testing against the bundled $here/xent/libxent.so"
elif [ -f "$root/build/lib/libxent.so" ]; then
    export XENT_LIBRARY="$root/build/lib/libxent.so"
    echo "run_tests.sh: python/xent/libxent.so missing; using XENT_LIBRARY=$XENT_LIBRARY"
else
    echo "run_tests.sh: no libxent.so (run 'make lib' first, or set XENT_LIBRARY)" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "run_tests.sh: creating virtualenv $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install numpy pytest hypothesis setuptools wheel "ruff==$ruff_version"
if [ "${XENT_WITH_TORCH:-0}" = 1 ]; then
    "${pip[@]}" install torch
fi

# Lint and format (ruff.toml at the repository root): the package, its tests and the repository's Python scripts.
# The version is pinned because `ruff format` output may change between releases.
lint_paths=(python Benchmarks/compare.py Benchmarks/plotting.py fuzz/gen_seeds.py)
(cd "$root" && "$venv/bin/ruff" check --no-cache "${lint_paths[@]}" && "$venv/bin/ruff" format --no-cache --check "${lint_paths[@]}") || {
    echo "run_tests.sh: ruff failed; run \`ruff check --fix\` and \`ruff format\` on ${lint_paths[*]} (ruff $ruff_version)" >&2
    exit 1
}

# Non-editable, so the tests exercise what a user gets (including the bundled library): `pip install ./python`,
# built from a scratch copy so that concurrent runs never share setuptools' build/ and *.egg-info folders.
# --no-build-isolation uses the setuptools/wheel just installed instead of fetching them again.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="$work/src"
mkdir "$src" "$work/run"
cp -R "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$here/xent" "$src/"
rm -rf "$src/xent/__pycache__"
"${pip[@]}" install --no-build-isolation --force-reinstall --no-deps "$src"

# Run from a scratch directory so that `import xent` finds the installed package, never python/xent.
cd "$work/run"
"$venv/bin/python" -c 'import xent, sys; print("run_tests.sh: xent", xent.__version__, "from", xent.__file__, "library", xent.library_path, "isa", xent.isa())'
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" -c "$here/pyproject.toml" "$here/tests" "$@"
