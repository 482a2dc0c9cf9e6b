#!/usr/bin/env bash
# Tests/C/run.sh PREFIX
#
# Tests an installed Xent (PREFIX/include/xent.h, PREFIX/lib/libxent.so, PREFIX/lib/pkgconfig/xent.pc):
#   1. the header alone compiles as C99, C11 and C++17 with -Wall -Wextra -Werror -pedantic (with every compiler
#      found: cc/gcc/clang, c++/g++/clang++);
#   2. the test files (xt_tests.h lists them) build two programs through `pkg-config --cflags --libs xent`, with an
#      rpath to PREFIX/lib so that they run without LD_LIBRARY_PATH: test_xent_c (every file as C99, main in
#      test_xent.c) and test_xent_cpp (the same files as C++17, main in test_xent.cpp), both with the harness and the
#      long double reference of Tests/CSupport (compiled as C99);
#   3. both programs run; each prints one line per failed check and "N passed, N failed".
# Exits non-zero when anything fails. Set XENT_TEST_BUILD=DIR to keep the binaries (default: a temporary dir).
# CC, CXX and XENT_TEST_FLAGS (extra compile and link flags, e.g. sanitizers) choose the compilers of step 2.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
support=$(cd "$here/../CSupport" && pwd)

if [ ! -f "$prefix/lib/pkgconfig/xent.pc" ]; then
    echo "run.sh: $prefix/lib/pkgconfig/xent.pc not found (run: make install PREFIX=$prefix)" >&2
    exit 2
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
command -v pkg-config >/dev/null || { echo "run.sh: pkg-config not found" >&2; exit 2; }
if ! pkg-config --exists xent; then
    echo "run.sh: pkg-config cannot read $prefix/lib/pkgconfig/xent.pc" >&2
    exit 2
fi
cflags=$(pkg-config --cflags xent)
libs=$(pkg-config --libs xent)
libdir=$(pkg-config --variable=libdir xent)
echo "run.sh: xent $(pkg-config --modversion xent) from $prefix (cflags: $cflags; libs: $libs)"

if [ -n "${XENT_TEST_BUILD:-}" ]; then
    build=$XENT_TEST_BUILD
    mkdir -p "$build"
else
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
fi

warn=(-Wall -Wextra -Werror -pedantic)
failed=0

# ---- 1. the header alone ---------------------------------------------------------------------------------------
ccs=()
for c in cc gcc clang; do command -v "$c" >/dev/null && ccs+=("$c"); done
cxxs=()
for c in c++ g++ clang++; do command -v "$c" >/dev/null && cxxs+=("$c"); done
[ "${#ccs[@]}" -gt 0 ] || { echo "run.sh: no C compiler" >&2; exit 2; }
[ "${#cxxs[@]}" -gt 0 ] || { echo "run.sh: no C++ compiler" >&2; exit 2; }

printf '#include <xent.h>\n#include <xent.h>\nint main(void) { return xent_version_number() == XENT_VERSION_NUMBER ? 0 : 1; }\n' \
    > "$build/header_only.c"
cp "$build/header_only.c" "$build/header_only.cpp"
for c in "${ccs[@]}"; do
    for std in c99 c11; do
        # shellcheck disable=SC2086
        if "$c" -std=$std "${warn[@]}" $cflags -c "$build/header_only.c" -o "$build/header_only.o"; then
            echo "ok: xent.h compiles as $std with $c"
        else
            echo "FAIL: xent.h does not compile as $std with $c"
            failed=1
        fi
    done
done
for c in "${cxxs[@]}"; do
    # shellcheck disable=SC2086
    if "$c" -std=c++17 "${warn[@]}" $cflags -c "$build/header_only.cpp" -o "$build/header_only.o"; then
        echo "ok: xent.h compiles as c++17 with $c"
    else
        echo "FAIL: xent.h does not compile as c++17 with $c"
        failed=1
    fi
done

# ---- 2. build the test programs -------------------------------------------------------------------------------
cc=${CC:-${ccs[0]}}
cxx=${CXX:-${cxxs[0]}}
read -r -a extra <<< "${XENT_TEST_FLAGS:-}"
extra_c=() # the same without link-only flags, for the compile-only step
for f in "${extra[@]}"; do case $f in -fuse-ld=*) ;; *) extra_c+=("$f") ;; esac; done
tests=()
for f in "$here"/*.c; do [ "$(basename "$f")" = test_xent.c ] || tests+=("$f"); done
# shellcheck disable=SC2086
"$cc" -std=c99 "${warn[@]}" -O1 -pthread "${extra[@]}" -I"$here" -I"$support" $cflags "${tests[@]}" \
    "$here/test_xent.c" "$support"/*.c -o "$build/test_xent_c" $libs -Wl,-rpath,"$libdir" -lblas -lm
mkdir -p "$build/support"
for f in "$support"/*.c; do
    # shellcheck disable=SC2086
    "$cc" -std=c99 "${warn[@]}" -O1 -pthread "${extra_c[@]}" -I"$support" $cflags -c "$f" \
        -o "$build/support/$(basename "${f%.c}").o"
done
# shellcheck disable=SC2086
"$cxx" -std=c++17 "${warn[@]}" -O1 -pthread "${extra[@]}" -I"$here" -I"$support" $cflags -x c++ "${tests[@]}" \
    "$here/test_xent.cpp" -x none "$build"/support/*.o -o "$build/test_xent_cpp" $libs -Wl,-rpath,"$libdir" -lblas -lm
echo "ok: test programs built with $cc and $cxx"

# ---- 3. run them ------------------------------------------------------------------------------------------------
for prog in test_xent_c test_xent_cpp; do
    echo "== $prog"
    if env -u LD_LIBRARY_PATH "$build/$prog"; then
        echo "ok: $prog"
    else
        echo "FAIL: $prog (exit status $?)"
        failed=1
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "run.sh: FAILED"
    exit 1
fi
echo "run.sh: all C/C++ tests passed"
