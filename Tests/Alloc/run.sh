#!/usr/bin/env bash
# Tests/Alloc/run.sh LIBDIR: builds the allocation counter and the test against LIBDIR/libxent.so and
# runs it with the counter preloaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$(cd "$1" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -shared -fPIC "$here/malloc_counter.c" -o "$out/libmalloc_counter.so" -ldl
support="$here/../CSupport"
cc -O2 -std=c99 -Wall -Wextra -pthread -I"$here/../../include" -I"$support" "$here/no_alloc.c" "$support/xt_check.c" \
  "$support/xt_ref.c" "$support/xt_isolate.c" -o "$out/no_alloc" -lm \
  -L"$lib" -lxent -L"$out" -lmalloc_counter -Wl,-rpath,"$lib:$out"
LD_PRELOAD="$out/libmalloc_counter.so" "$out/no_alloc"
