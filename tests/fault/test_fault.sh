#!/bin/sh
# test_fault.sh - the end-to-end suites (tests/test_{echo,chat,time,talk}.py)
# once more, with the fault-injection shim (tests/fault/shim.c) preloaded
# into every program under test: short reads and writes, EINTR, EAGAIN on
# non-blocking sockets.  The python test process itself and the tools it
# runs (nc) never get the shim.
#
# Run by `make check` from the top of the build tree, with top_srcdir and
# TCPCHAT_BINDIR set.  By hand, from the build tree:
#     top_srcdir=. sh tests/fault/test_fault.sh [SUITE.py...]
# Knobs (environment):
#     TCPCHAT_FAULT_SEED    seed (default 1); printed, so a failure replays
#     TCPCHAT_FAULT_RATE    probability of a fault per socket call (default 0.25)
#     TCPCHAT_FAULT_KINDS   subset of short,eintr,eagain (default all)
#     TCPCHAT_FAULT_SHIM    the shim (default tests/fault/.libs/libtcpchat-fault.so)
#     TCPCHAT_FAULT_ASAN    "skip" to skip, rather than chain, under ASan
#     TCPCHAT_FAULT_EXCLUDE tests left out, as SUITE.Class.test_name separated
#                           by spaces; "none" runs them all (default: the
#                           list below, each printed with its reason)
# Exit: 0 all passed, 1 a suite failed or the shim injected nothing, 77 skip.
set -u

# Tests that cannot pass reliably under the shim, as SUITE.Class.test; each
# is printed when it is left out.  None today: keep it that way.
default_exclude=""
why() {
	echo "asked for"
}

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
bindir=${TCPCHAT_BINDIR:-$PWD/examples}
python=${PYTHON3:-python3}
libtool=${LIBTOOL:-$PWD/libtool}
shim=${TCPCHAT_FAULT_SHIM:-$PWD/tests/fault/.libs/libtcpchat-fault.so}
seed=${TCPCHAT_FAULT_SEED:-1}
rate=${TCPCHAT_FAULT_RATE:-0.25}

if [ ! -f "$shim" ]; then
	echo "SKIP: the shim $shim is not built (a --disable-shared build?)"
	exit 77
fi
if ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: no $python"
	exit 77
fi
if [ $# -eq 0 ]; then
	set -- test_echo.py test_chat.py test_time.py test_talk.py
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tcpchat-fault.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The real program behind a libtool wrapper script, to look at how it is
# linked.
real_program() {
	for p in "$bindir/.libs/lt-$1" "$bindir/.libs/$1" "$bindir/$1"; do
		if [ -f "$p" ] && ! head -c 2 "$p" | grep -q '^#!'; then
			echo "$p"
			return
		fi
	done
}

# AddressSanitizer's runtime must come first in the process: preloading the
# shim alone makes it abort ("ASan runtime does not come first").  Preloading
# the runtime first and the shim after it works: the program's calls go to
# ASan's interceptors, which call the next definition, the shim's, which
# calls the C library.  A static runtime (clang) is in the program, which
# comes first anyway.
preload=$shim
prog=$(real_program tcpchat-echo-server)
if [ -n "$prog" ]; then
	asan=$( (ldd "$prog"; ldd "$shim") 2>/dev/null | sed -n 's/.*libasan[^ ]* => \([^ ]*\) .*/\1/p' | head -n 1)
	if [ -n "$asan" ]; then
		if [ "${TCPCHAT_FAULT_ASAN:-}" = skip ]; then
			echo "SKIP: the programs are built with AddressSanitizer ($asan)"
			exit 77
		fi
		preload="$asan $shim"
		echo "AddressSanitizer build: preloading $asan before the shim"
	fi
fi

# How the python suites start every program: libtool --mode=execute turns
# the wrapper scripts into the real programs (setting the library path),
# and env adds the shim for the program alone.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
if [ -x "$libtool" ]; then
	wrapper="$(quote "$libtool") --mode=execute env"
else
	wrapper="env"
fi
wrapper="$wrapper $(quote "LD_PRELOAD=$preload") TCPCHAT_FAULT_SEED=$seed"
wrapper="$wrapper TCPCHAT_FAULT_RATE=$rate $(quote "TCPCHAT_FAULT_LOG=$tmp/faults.log")"
if [ -n "${TCPCHAT_FAULT_KINDS:-}" ]; then
	wrapper="$wrapper TCPCHAT_FAULT_KINDS=$TCPCHAT_FAULT_KINDS"
fi

echo "fault injection: seed $seed, rate $rate, kinds ${TCPCHAT_FAULT_KINDS:-short,eintr,eagain}"
echo "shim: $shim"
exclude=${TCPCHAT_FAULT_EXCLUDE-$default_exclude}
[ "$exclude" = none ] && exclude=""
failed=""
for suite in "$@"; do
	echo
	echo "=== $suite under the shim"
	name=${suite%.py}
	set --
	for id in $exclude; do
		case $id in
		"$name".*)
			echo "leaving out ${id#"$name".}: $(why "$id")"
			set -- "$@" --exclude "${id#"$name".}" ;;
		esac
	done
	if ! TCPCHAT_WRAPPER=$wrapper TCPCHAT_BINDIR=$bindir \
		"$python" "$here/run_suite.py" "$top_srcdir/tests/$suite" "$@" 2>&1; then
		failed="$failed $suite"
	fi
done

# The shim must have done its job, or passing proves nothing.
echo
if [ -f "$tmp/faults.log" ]; then
	sed 's/^/  /' "$tmp/faults.log" | head -n 20
	[ "$(wc -l <"$tmp/faults.log")" -gt 20 ] && echo "  ..."
fi
totals=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[2] ~ /^[0-9]+$/ && kv[1] != "pid" && kv[1] != "seed") sum[kv[1]] += kv[2] } }
	END { printf "faults=%d short=%d eintr=%d eagain=%d epoll_short=%d einprogress=%d processes=%d\n",
	      sum["faults"], sum["short"], sum["eintr"], sum["eagain"], sum["epoll_short"], sum["einprogress"], NR }' \
	"$tmp/faults.log" 2>/dev/null)
echo "injected: ${totals:-nothing}"
for kind in short eintr eagain; do
	case ${TCPCHAT_FAULT_KINDS:-short,eintr,eagain} in *$kind*) ;; *) continue ;; esac
	case $totals in
	*" $kind=0 "* | "")
		echo "FAIL: no $kind fault was injected: is the shim loaded?"
		failed="$failed (no-$kind)"
		;;
	esac
done

if [ -n "$failed" ]; then
	echo "FAIL:$failed"
	echo "replay: TCPCHAT_FAULT_SEED=$seed TCPCHAT_FAULT_RATE=$rate top_srcdir=$top_srcdir sh $0 SUITE.py"
	exit 1
fi
echo "PASS: every suite passed under the shim"
exit 0
