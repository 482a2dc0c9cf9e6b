#!/usr/bin/env bash
# The install path from a fresh clone: clone this repository's HEAD (committed state only) into a temporary folder,
# make a new virtualenv, run the README's command `pip install .` in the clone (it builds libxent.so with Swift), then
# import the package from outside the clone and check it (Tests/Install/check_installed.py: the bundled library, one
# cross_entropy call against numpy, the versions against include/xent.h, the wheel tag, the ISA).
#
#   Tests/Install/run.sh [--sdist]
#
# --sdist also runs `python -m build` in the clone (an sdist, then a wheel built from the unpacked sdist), lists the
# sdist, prints `auditwheel show` of the wheel, installs that wheel into a second virtualenv and checks it the same way.
# First, python/hatch_build.py's swift build command is compared with `make -n lib`'s (the same flags).
# Each build of the library is a clean release build (minutes). Needs git, python3 with venv, Swift, libsleef-dev and
# libopenblas-dev, and PyPI (hatchling and numpy; build and auditwheel with --sdist). XENT_KEEP=1 keeps the folder.
set -euo pipefail

sdist=0
case "${1:-}" in
    "") ;;
    --sdist) sdist=1 ;;
    *) echo "usage: $0 [--sdist]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel)"
python="${PYTHON:-python3}"
unset XENT_LIBRARY XENT_PREBUILT_LIBRARY   # the library under test is the one the install builds and bundles

work="$(mktemp -d /tmp/xent-install.XXXXXX)"
if [ "${XENT_KEEP:-0}" = 1 ]; then echo "install test: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
clone="$work/xent"
git clone -q "$root" "$clone"
echo "install test: $(git -C "$clone" log -1 --format='%h %s') cloned into $clone"

# The hook builds with `make lib`'s flags (the scratch and package paths aside).
if command -v make >/dev/null; then
    make_cmd="$(make -s -n -C "$clone" lib | grep '^swift build')"
    hook_cmd="$("$python" "$clone/python/hatch_build.py" --print-swift-command)"
    "$python" - "$make_cmd" "$hook_cmd" <<'PY'
import shlex, sys

def flags(command):
    words, out = shlex.split(command), []
    while words:
        w = words.pop(0)
        if w in ("--scratch-path", "--package-path"):
            words.pop(0)
        else:
            out.append(w)
    return out

make, hook = map(flags, sys.argv[1:3])
assert make == hook, f"python/hatch_build.py builds with\n  {hook}\nbut make lib with\n  {make}"
print("install test: python/hatch_build.py builds with make lib's flags:", " ".join(hook[2:]))
PY
fi

check() {   # check VENV: import the installed package from outside the clone and check it
    (cd "$work" && "$1/bin/python" "$here/check_installed.py" "$clone/include/xent.h" "$clone/python/hatch_build.py")
}

"$python" -m venv "$work/venv"
start=$(date +%s)
(cd "$clone" && "$work/venv/bin/pip" install --disable-pip-version-check .)
echo "install test: \`pip install .\` from the fresh clone took $(( $(date +%s) - start )) s"
check "$work/venv"
echo "install test: left in the clone: $(git -C "$clone" status --short --ignored | tr '\n' ' ')"

if [ "$sdist" = 1 ]; then
    "$work/venv/bin/pip" install --disable-pip-version-check -q build auditwheel
    start=$(date +%s)
    (cd "$clone" && "$work/venv/bin/python" -m build --outdir "$work/dist" .)
    echo "install test: \`python -m build\` (sdist, then the wheel from it) took $(( $(date +%s) - start )) s"
    sdist_file=("$work"/dist/xent-*.tar.gz)
    wheel=("$work"/dist/xent-*.whl)
    echo "install test: $(basename "${sdist_file[0]}") holds:"
    tar -tzf "${sdist_file[0]}" | sed 's/^/  /'
    case "$(basename "${wheel[0]}")" in
        xent-*-py3-none-linux_*.whl) echo "install test: wheel $(basename "${wheel[0]}")" ;;
        *) echo "install test: wheel ${wheel[0]} is not tagged py3-none-linux_*" >&2; exit 1 ;;
    esac
    "$work/venv/bin/auditwheel" show "${wheel[0]}"
    "$python" -m venv "$work/venv-wheel"
    "$work/venv-wheel/bin/pip" install --disable-pip-version-check -q "${wheel[0]}"
    check "$work/venv-wheel"
fi
echo "install test: passed"
