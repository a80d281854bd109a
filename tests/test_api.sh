#!/bin/sh
# test_api.sh - the shared library exports the public API and nothing else,
# and the public header stands alone: C99 and C++ pedantic, warnings as
# errors.  Run by `make check` with CC, NM, top_srcdir and TCPCHAT_LIBDIR.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

so=$(ls "$TCPCHAT_LIBDIR"/.libs/libtcpchat.so.* 2>/dev/null | head -n 1)
if [ -z "$so" ]; then
	echo "SKIP: no shared library built"
	exit 77
fi

# Every function the header declares, and every symbol the library exports.
grep '^TCPCHAT_EXPORT' "$top_srcdir/include/tcpchat.h" | grep -o 'tcpchat_[a-z_]*(' | tr -d '(' | sort -u >"$tmp/declared"
${NM:-nm} -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }' |
	grep -v '^_' | sort -u >"$tmp/exported"

extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$extra" ]; then
	echo "FAIL: exported but not in tcpchat.h:"; echo "$extra"; fail=1
fi
if [ -n "$missing" ]; then
	echo "FAIL: declared in tcpchat.h but not exported:"; echo "$missing"; fail=1
fi
echo "exports: $(wc -l <"$tmp/exported") symbols"

printf '#include <tcpchat.h>\nint main(void) { return tcpchat_version() == 0; }\n' >"$tmp/h.c"
if ! ${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" -c "$tmp/h.c" -o "$tmp/h.o"; then
	echo "FAIL: tcpchat.h does not compile alone as C99 -pedantic -Werror"; fail=1
fi
if command -v c++ >/dev/null 2>&1; then
	cp "$tmp/h.c" "$tmp/h.cc"
	if ! c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" -c "$tmp/h.cc" -o "$tmp/hh.o"; then
		echo "FAIL: tcpchat.h does not compile as C++11"; fail=1
	fi
fi
[ $fail -eq 0 ] && echo "PASS: public API and header"
exit $fail
