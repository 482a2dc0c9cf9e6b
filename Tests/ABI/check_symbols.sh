#!/bin/sh
# check_symbols.sh LIB HEADER
#
# Checks that the shared library LIB exports exactly the functions declared in HEADER: the defined dynamic
# function symbols (nm -D --defined-only, type T/t/W/i) must equal the set of names of the declarations
# "XENT_API <return type> xent_name(" in HEADER. Prints both differences and exits 1 on a mismatch
# (2 on a usage or tool error), 0 when the sets are equal.
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 LIB HEADER" >&2
    exit 2
fi
lib=$1
header=$2
[ -f "$lib" ] || { echo "check_symbols: no such library: $lib" >&2; exit 2; }
[ -f "$header" ] || { echo "check_symbols: no such header: $header" >&2; exit 2; }
command -v nm >/dev/null 2>&1 || { echo "check_symbols: nm not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Declared: join the header into one stream, drop comments and preprocessor lines, then take the identifier
# that directly precedes "(" in each "XENT_API ... (" declaration.
sed -e 's://.*$::' "$header" \
    | grep -v '^[[:space:]]*#' \
    | tr '\n' ' ' \
    | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/: :g' \
    | tr ';' '\n' \
    | grep -E '(^|[^A-Za-z0-9_])XENT_API[[:space:]]' \
    | grep -v '#[[:space:]]*define' \
    | sed -E 's/^.*XENT_API[[:space:]]+//; s/[[:space:]]*\(.*$//; s/.*[^A-Za-z0-9_]//' \
    | LC_ALL=C sort -u > "$tmp/declared"

# Exported: defined global dynamic symbols of function type (T text; W weak; i indirect). Strip symbol versions
# ("name@@VERS").
if ! nm -D --defined-only "$lib" > "$tmp/nm" 2> "$tmp/nm.err"; then
    echo "check_symbols: nm failed on $lib:" >&2
    cat "$tmp/nm.err" >&2
    exit 2
fi
awk 'NF >= 3 && ($2 == "T" || $2 == "W" || $2 == "i") { print $3 }' "$tmp/nm" \
    | sed -e 's/@.*$//' \
    | LC_ALL=C sort -u > "$tmp/exported"

ndecl=$(wc -l < "$tmp/declared" | tr -d ' ')
nexp=$(wc -l < "$tmp/exported" | tr -d ' ')
if [ "$ndecl" -eq 0 ]; then
    echo "check_symbols: no XENT_API declarations found in $header" >&2
    exit 2
fi

LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/extra"

# Also flag any other global symbol (data: B/D/R/V/G/S, unique u, ...), which the ABI does not have. Lowercase
# types are local bindings (not exported); absolute symbols and the linker-defined section markers are skipped.
awk 'NF >= 3 && $2 ~ /^[A-Zu]$/ && $2 != "T" && $2 != "W" && $2 != "i" && $2 != "A" \
     && $3 != "__bss_start" && $3 != "_edata" && $3 != "_end" { print $2, $3 }' "$tmp/nm" > "$tmp/other"

status=0
if [ -s "$tmp/missing" ]; then
    echo "declared in $header but not exported by $lib:"
    sed 's/^/  - /' "$tmp/missing"
    status=1
fi
if [ -s "$tmp/extra" ]; then
    echo "exported by $lib but not declared in $header:"
    sed 's/^/  + /' "$tmp/extra"
    status=1
fi
if [ -s "$tmp/other" ]; then
    echo "non-function symbols exported by $lib:"
    sed 's/^/  ? /' "$tmp/other"
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "check_symbols: OK: $lib exports exactly the $ndecl functions declared in $header"
else
    echo "check_symbols: FAILED ($ndecl declared, $nexp exported)"
fi
exit "$status"
