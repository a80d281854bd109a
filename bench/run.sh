#!/bin/bash
# bench/run.sh - the libtcpchat benchmark suite (see bench/README.md).
#
#   bench/run.sh [BUILDDIR [SRCDIR]]        (what `make bench` runs)
#
# BUILDDIR is the top of a configured and built tree (default: the current
# directory if it has examples/, else this script's parent), SRCDIR the top
# of the sources (default: this script's parent).  Both may also come from
# the environment as TCPCHAT_BUILDDIR and TCPCHAT_SRCDIR.
#
# It installs what it needs when missing (libuv1-dev libevent-dev gnuplot
# strace valgrind, with apt-get as root or through sudo), builds the load
# generator and the baseline servers into BUILDDIR/bench/build/, runs every
# case against every server in turn within a round (server on one core,
# client on another), ROUNDS times, then counts system calls (strace) and
# user-space instructions (callgrind) per echoed message, and writes
# BUILDDIR/bench/results.md and results.svg.
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (3 s measured per
# case), BENCH_WARMUP (1 s), BENCH_QUICK=1 (1 round of 1 s: a smoke test),
# BENCH_ONLY (an extended regex on case names: only those cases),
# BENCH_COUNT (messages for the strace/callgrind counts, 20000),
# BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_NO_INSTALL=1, CC,
# BENCH_REPORT_ONLY=1 (write results.md again from the last run's raw data).
#
# Exit status: 0 when every run verified, 1 when any run failed
# verification or did not run; the results are written either way.

# shellcheck disable=SC2317  # functions called through variables and traps
if [ -z "$BASH_VERSION" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${2:-${TCPCHAT_SRCDIR:-$(cd "$here/.." && pwd)}}
if [ $# -ge 1 ]; then
	BUILDDIR=$1
elif [ -n "${TCPCHAT_BUILDDIR:-}" ]; then
	BUILDDIR=$TCPCHAT_BUILDDIR
elif [ -d examples ] && [ -f config.status ]; then
	BUILDDIR=$PWD
else
	BUILDDIR=$SRCDIR
fi
BUILDDIR=$(cd "$BUILDDIR" && pwd) || exit 1
SRCDIR=$(cd "$SRCDIR" && pwd) || exit 1

ROUNDS=${BENCH_ROUNDS:-3}
DUR=${BENCH_DURATION:-3}
WARM=${BENCH_WARMUP:-1}
COUNT=${BENCH_COUNT:-20000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=${BENCH_ROUNDS:-1}
	DUR=${BENCH_DURATION:-1}
	WARM=${BENCH_WARMUP:-0.3}
	COUNT=${BENCH_COUNT:-5000}
fi
ONLY=${BENCH_ONLY:-}
IDLE_CONNS=10000
WINDOW=8

OUT=$BUILDDIR/bench
B=$OUT/build
RAW=$B/raw
mkdir -p "$B" "$RAW" || exit 1
RESULTS=$RAW/runs.txt
COUNTS=$RAW/counts.txt
NOTES=$RAW/notes.txt
REPORT_ONLY=${BENCH_REPORT_ONLY:-0}
if [ "$REPORT_ONLY" != 1 ]; then
	: > "$RESULTS"
	: > "$COUNTS"
	: > "$RAW/failures.txt"
	: > "$NOTES"
fi
t_start=$(date +%s)

say() { printf 'bench: %s\n' "$*" >&2; }
note() { printf '%s\n' "$*" >> "$NOTES"; say "note: $*"; }

# ------------------------------------------------------------ tools
have_header() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }

install_missing() {
	local need=() sudo=
	have_header uv.h || need+=(libuv1-dev)
	have_header event2/event.h || need+=(libevent-dev)
	command -v gnuplot >/dev/null || need+=(gnuplot-nox)
	command -v strace >/dev/null || need+=(strace)
	command -v valgrind >/dev/null || need+=(valgrind)
	command -v taskset >/dev/null || need+=(util-linux)
	[ ${#need[@]} -eq 0 ] && return 0
	if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
		note "missing and not installed (BENCH_NO_INSTALL=1): ${need[*]}"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo="sudo -n"
		else
			note "missing, and neither root nor sudo to install them: ${need[*]}"
			return 0
		fi
	fi
	say "installing ${need[*]}"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" \
		> "$RAW/apt.log" 2>&1 || note "apt-get install ${need[*]} failed (see $RAW/apt.log)"
}
install_missing

# ------------------------------------------------------------ build
CC=${CC:-cc}
CFLAGS_BENCH="-O2 -g -Wall"
LIBDIR=$BUILDDIR/lib/.libs
export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

build() { # output, then cc arguments
	local out=$1
	shift
	# shellcheck disable=SC2086  # CC and the flags are words
	if ! $CC $CFLAGS_BENCH -o "$B/$out" "$@" > "$RAW/cc-$out.log" 2>&1; then
		note "could not build $out: $(head -c 300 "$RAW/cc-$out.log" | tr '\n' ' ')"
		rm -f "$B/$out"
		return 1
	fi
}
say "building into $B"
build tcpchat-bench "$here/tcpchat-bench.c" || { say "cannot build the load generator"; exit 1; }
build echo-epoll "$here/peers/echo-epoll.c"
build chat-epoll "$here/peers/chat-epoll.c"
have_header uv.h && build echo-uv "$here/peers/echo-uv.c" -luv
have_header uv.h && build chat-uv "$here/peers/chat-uv.c" -luv
have_header event2/event.h && build echo-event "$here/peers/echo-event.c" -levent
if [ -e "$LIBDIR/libtcpchat.so" ]; then
	build chat-tcpchat-plain "$here/peers/chat-tcpchat-plain.c" -I"$SRCDIR/include" \
		-L"$LIBDIR" -ltcpchat -Wl,-rpath,"$LIBDIR"
elif [ -e "$LIBDIR/libtcpchat.a" ]; then
	build chat-tcpchat-plain "$here/peers/chat-tcpchat-plain.c" -I"$SRCDIR/include" \
		"$LIBDIR/libtcpchat.a" -lpthread
else
	note "no built libtcpchat in $LIBDIR: run make first"
fi

# The real program behind a libtool wrapper script, so that the PID we
# measure, strace and valgrind are the server's own.
real_prog() {
	local d=$BUILDDIR/examples name=$1
	if [ -x "$d/.libs/$name" ] && grep -q libtool "$d/$name" 2>/dev/null; then
		echo "$d/.libs/$name"
	elif [ -x "$d/.libs/lt-$name" ] && grep -q libtool "$d/$name" 2>/dev/null; then
		echo "$d/.libs/lt-$name"
	elif [ -x "$d/$name" ]; then
		echo "$d/$name"
	fi
}
TC_ECHO=$(real_prog tcpchat-echo-server)
TC_CHAT=$(real_prog tcpchat-chat-server)
[ -n "$TC_ECHO" ] || note "examples/tcpchat-echo-server is not built"
[ -n "$TC_CHAT" ] || note "examples/tcpchat-chat-server is not built"

# ------------------------------------------------------------ cores, limits
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN_SRV="taskset -c ${BENCH_SERVER_CPU:-0}"
	PIN_CLI="taskset -c ${BENCH_CLIENT_CPU:-1}"
else
	PIN_SRV='' PIN_CLI=''
	note "fewer than 2 cores (or no taskset): server and client are not pinned"
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 100)) ]; then
	note "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)): the $IDLE_CONNS idle connections case is skipped"
	IDLE_CONNS=0
fi

# ------------------------------------------------------------ servers
# server_cmd KIND NAME: the command of server NAME for a case of KIND
# (echo, chat, idle), empty when it does not take part or is not built.
server_cmd() {
	local kind=$1 name=$2 p=
	case $kind:$name in
	echo:epoll|idle:epoll) p="$B/echo-epoll" ;;
	echo:libuv|idle:libuv) p="$B/echo-uv" ;;
	echo:libevent|idle:libevent) p="$B/echo-event" ;;
	echo:libtcpchat) [ -n "$TC_ECHO" ] && echo "$TC_ECHO -k"; return ;;
	idle:tcpchat-echo-server) [ -n "$TC_ECHO" ] && echo "$TC_ECHO -k"; return ;;
	chat:epoll) p="$B/chat-epoll" ;;
	chat:libuv) p="$B/chat-uv" ;;
	chat:libtcpchat|idle:libtcpchat) p="$B/chat-tcpchat-plain" ;;
	chat:chat-server|idle:chat-server)
		[ -n "$TC_CHAT" ] && echo "$TC_CHAT --max-clients 20000"; return ;;
	*) return ;;
	esac
	[ -x "${p%% *}" ] && echo "$p"
}

SRV_PID=
BENCH_PID=
STRACE_PID=
cleanup() {   # only the processes this script started, by their PID
	[ -n "$STRACE_PID" ] && kill -INT "$STRACE_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null
	[ -n "$BENCH_PID" ] && kill -KILL "$BENCH_PID" 2>/dev/null
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# start_server WAIT_S CMD...: start it on the server core, wait for its
# "listening on" line; sets SRV_PID and SRV_PORT (returns 1 on failure).
start_server() {
	local wait_s=$1 i
	shift
	rm -f "$RAW/server.out"   # never read the port of the previous server
	: > "$RAW/server.out"
	$PIN_SRV "$@" -p 0 > "$RAW/server.out" 2> "$RAW/server.err" &
	SRV_PID=$!
	SRV_PORT=
	for ((i = 0; i < wait_s * 10; i++)); do
		SRV_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$RAW/server.out")
		[ -n "$SRV_PORT" ] && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "server $* did not start: $(tail -c 300 "$RAW/server.err")"
	stop_server
	return 1
}

# start_server, and once more after a pause if it fails (a library being
# relinked by a concurrent make, say); a failure is recorded.
start_server_retry() {
	start_server "$@" && return 0
	sleep 3
	start_server "$@" && return 0
	shift
	echo "server $* did not start: $(tail -c 200 "$RAW/server.err" | tr '\n' ' ')" >> "$RAW/failures.txt"
	failed=1
	return 1
}

# What the run measures: when it changes during the run (a concurrent
# make), the report says so.
lib_stamp() {
	stat -L -c '%s %Y %n' "$LIBDIR"/libtcpchat.so* "$TC_ECHO" "$TC_CHAT" 2>/dev/null | cksum
}
LIB_STAMP=$(lib_stamp)

stop_server() {
	local i
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}

# ------------------------------------------------------------ cases
# name | kind | tcpchat-bench arguments | servers
CASES=(
	"echo-c1-s64|echo|echo -c 1 -s 64|epoll libuv libevent libtcpchat"
	"echo-c100-s64|echo|echo -c 100 -s 64|epoll libuv libevent libtcpchat"
	"echo-c100-s4096|echo|echo -c 100 -s 4096|epoll libuv libevent libtcpchat"
	"echo-c1000-s64|echo|echo -c 1000 -s 64|epoll libuv libevent libtcpchat"
	"chat-c100-k1|chat|chat -c 100 -k 1 -s 64 -f $WINDOW|epoll libuv libtcpchat chat-server"
	"chat-c1000-k10|chat|chat -c 1000 -k 10 -s 64 -f $WINDOW|epoll libuv libtcpchat chat-server"
)
if [ "$IDLE_CONNS" -gt 0 ]; then
	CASES+=("idle-c$IDLE_CONNS|idle|idle -c $IDLE_CONNS|epoll libuv libevent libtcpchat chat-server tcpchat-echo-server")
fi

failed=0
# run_case ROUND NAME KIND ARGS SERVER
run_case() {
	local round=$1 name=$2 kind=$3 args=$4 server=$5 cmd extra='' rc line limit
	cmd=$(server_cmd "$kind" "$server")
	[ -n "$cmd" ] || return 0
	[ "$server" = chat-server ] && extra="--proto tcpchat"
	# shellcheck disable=SC2086
	start_server_retry 15 $cmd || return 0
	limit=$(awk -v d="$DUR" -v w="$WARM" 'BEGIN { printf "%d", d + w + 120 }')
	# shellcheck disable=SC2086
	timeout "$limit" $PIN_CLI "$B/tcpchat-bench" $args $extra -d "$DUR" -w "$WARM" \
		-p "$SRV_PORT" --server-pid "$SRV_PID" --label "$server" \
		> "$RAW/bench.out" 2> "$RAW/bench.err"
	rc=$?
	stop_server
	line=$(grep '^result ' "$RAW/bench.out" | tail -1)
	if [ -n "$line" ]; then
		echo "round=$round case=$name server=$server rc=$rc ${line#result }" >> "$RESULTS"
	fi
	if [ "$rc" != 0 ] && ! { [ "$kind" = idle ] && [ "$rc" = 1 ] && [ -n "$line" ]; }; then
		# (an idle server that holds fewer connections is reported, not failed)
		echo "round $round $name $server: exit $rc: $(head -c 600 "$RAW/bench.err" | tr '\n' ' ')" \
			>> "$RAW/failures.txt"
		failed=1
	fi
	say "round $round $name $server: $(tail -1 "$RAW/bench.out" 2>/dev/null)"
}

ncases=0
if [ "$REPORT_ONLY" = 1 ]; then
	ROUNDS=0   # only write the report of the last run, with its settings
	# shellcheck disable=SC1091
	[ -f "$RAW/config.txt" ] && . "$RAW/config.txt"
else
	printf 'DUR=%s\nWARM=%s\nCOUNT=%s\nWINDOW=%s\nIDLE_CONNS=%s\n' \
		"$DUR" "$WARM" "$COUNT" "$WINDOW" "$IDLE_CONNS" > "$RAW/config.txt"
fi
for ((round = 1; round <= ROUNDS; round++)); do
	for c in "${CASES[@]}"; do
		IFS='|' read -r name kind args servers <<< "$c"
		if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then
			continue
		fi
		# The servers in turn, starting one further each round, so that a
		# drift of the machine hits them all alike.
		read -r -a list <<< "$servers"
		n=${#list[@]}
		for ((i = 0; i < n; i++)); do
			run_case "$round" "$name" "$kind" "$args" "${list[(i + round - 1) % n]}"
			ncases=$((ncases + 1))
		done
	done
done

# ------------------------------------------------------------ fixed counts
# The figures that do not drift: the server's system calls (strace -c) and
# user-space instructions (callgrind) per message, counted after a warm-up
# with the connections already open, over exactly COUNT echoed messages
# (echo C=100, 1 KiB) or every line delivered in a DUR-second window (chat
# C=100, K=1: the fan-out of one line to 99 members).
COUNT_CASES=(
	"echo-c100-s1024|echo|echo -c 100 -s 1024 -n $COUNT -w 0.5|epoll libuv libevent libtcpchat"
	"chat-c100-k1|chat|chat -c 100 -k 1 -s 64 -f $WINDOW -d $DUR -w 0.5|epoll libuv libtcpchat chat-server"
)

wait_line() { # WORD SECONDS: wait for a line WORD in bench.out
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -qx "$1" "$RAW/bench.out" 2>/dev/null && return 0
		kill -0 "$BENCH_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# controlled_run MEASURE BENCH-ARGS...: the bench in --control mode against
# the started server, talking through a FIFO (its stdin) and a file (its
# stdout); MEASURE start|stop is called around the counted messages.  Sets
# MSGS to the messages the bench counted.
controlled_run() {
	local measure=$1 rc ctl
	shift
	MSGS=0
	rm -f "$RAW/control.fifo" "$RAW/bench.out"
	: > "$RAW/bench.out"   # never read the READY of the previous run
	mkfifo "$RAW/control.fifo" || return 1
	# shellcheck disable=SC2086
	$PIN_CLI "$B/tcpchat-bench" "$@" --control --setup-timeout 120 -p "$SRV_PORT" \
		< "$RAW/control.fifo" > "$RAW/bench.out" 2> "$RAW/bench.err" &
	BENCH_PID=$!
	exec {ctl}<> "$RAW/control.fifo"   # read-write: never blocks
	if ! wait_line READY 180; then
		say "the bench did not get ready: $(head -c 300 "$RAW/bench.err")"
		kill "$BENCH_PID" 2>/dev/null
	else
		$measure start
		echo go >&"$ctl"
		wait_line DONE 900 || say "the counted messages did not end"
		$measure stop
		echo go >&"$ctl"
	fi
	wait "$BENCH_PID"
	rc=$?
	exec {ctl}>&-
	BENCH_PID=
	rm -f "$RAW/control.fifo"
	MSGS=$(sed -n 's/^result .* msgs=\([0-9]*\) .*/\1/p' "$RAW/bench.out")
	[ "$rc" = 0 ] && [ "${MSGS:-0}" -gt 0 ]
}

strace_measure() {
	local i t
	if [ "$1" = start ]; then
		strace -c -f -o "$TAG.strace.txt" -p "$SRV_PID" 2> "$RAW/strace.err" &
		STRACE_PID=$!
		for ((i = 0; i < 100; i++)); do
			t=$(awk '/^TracerPid/ { print $2 }' "/proc/$SRV_PID/status" 2>/dev/null)
			[ -n "$t" ] && [ "$t" != 0 ] && break
			sleep 0.05
		done
	else
		kill -INT "$STRACE_PID" 2>/dev/null
		wait "$STRACE_PID" 2>/dev/null
		STRACE_PID=
	fi
}

callgrind_measure() {
	if [ "$1" = start ]; then
		callgrind_control -z "$SRV_PID" > /dev/null 2>&1
	else
		callgrind_control -d "$SRV_PID" > /dev/null 2>&1
	fi
}

if [ "$REPORT_ONLY" != 1 ] && { [ -z "$ONLY" ] || [[ counts =~ $ONLY ]]; }; then
	for c in "${COUNT_CASES[@]}"; do
		IFS='|' read -r name kind args servers <<< "$c"
		for CUR in $servers; do
			cmd=$(server_cmd "$kind" "$CUR")
			[ -n "$cmd" ] || continue
			extra=
			[ "$CUR" = chat-server ] && extra="--proto tcpchat"
			TAG=$RAW/count-$name-$CUR
			rm -f "$TAG".*
			# shellcheck disable=SC2086
			if command -v strace >/dev/null && start_server_retry 15 $cmd; then
				if controlled_run strace_measure $args $extra --label "$CUR"; then
					calls=$(awk '$NF == "total" { print $4 }' "$TAG.strace.txt")
					per=$(grep -v -e '^%' -e '^-' -e 'total$' "$TAG.strace.txt" |
						awk -v n="$MSGS" '{ printf "%s%s:%.3f", sep, $NF, $4 / n; sep = "," }')
					echo "case=$name server=$CUR what=syscalls total=${calls:-0} msgs=$MSGS detail=$per" >> "$COUNTS"
					say "$name $CUR: ${calls:-?} system calls for $MSGS messages ($per)"
				else
					echo "strace $name $CUR: the controlled run failed" >> "$RAW/failures.txt"
					failed=1
				fi
				stop_server
			fi
			# shellcheck disable=SC2086
			if command -v callgrind_control >/dev/null && start_server_retry 60 valgrind \
				--tool=callgrind --compress-strings=no --callgrind-out-file="$TAG.callgrind" $cmd; then
				if controlled_run callgrind_measure $args $extra --label "$CUR" &&
				   [ -f "$TAG.callgrind.1" ]; then
					ir=$(sed -n 's/^summary: //p' "$TAG.callgrind.1")
					echo "case=$name server=$CUR what=instructions total=${ir:-0} msgs=$MSGS" >> "$COUNTS"
					say "$name $CUR: ${ir:-?} user-space instructions for $MSGS messages"
					callgrind_annotate --threshold=100 --auto=no "$TAG.callgrind.1" \
						> "$TAG.callgrind.txt" 2>/dev/null
				else
					echo "callgrind $name $CUR: the controlled run failed" >> "$RAW/failures.txt"
					failed=1
				fi
				stop_server
			fi
		done
	done
fi

# ------------------------------------------------------------ report
if [ "$REPORT_ONLY" != 1 ]; then
	echo $(( $(date +%s) - t_start )) > "$RAW/elapsed.txt"
	[ "$(lib_stamp)" = "$LIB_STAMP" ] ||
		note "libtcpchat or its example programs were rebuilt during the run: the results may mix two versions"
fi
ROUNDS=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^round=/) { r = substr($i, 7) + 0; if (r > m) m = r } }
	END { print m + 0 }' "$RESULTS")
MD=$OUT/results.md
SVG=$OUT/results.svg
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
rev=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null)
[ -n "$rev" ] && ! git -C "$SRCDIR" diff --quiet HEAD 2>/dev/null && rev="$rev (with uncommitted changes)"
uv_v=$(pkg-config --modversion libuv 2>/dev/null || echo '?')
ev_v=$(pkg-config --modversion libevent 2>/dev/null || echo '?')

# Medians, in-round ratios to epoll, memory, counts, targets: one awk.
awk -v rounds="$ROUNDS" -v dur="$DUR" -v warm="$WARM" -v window="$WINDOW" \
    -v count="$COUNT" -v plotdir="$RAW" -v idle_conns="$IDLE_CONNS" '
function kv(line, arr,    n, i, f, p) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++) {
		p = index(f[i], "=")
		if (p) arr[substr(f[i], 1, p - 1)] = substr(f[i], p + 1)
	}
}
function median(list,    n, v, i, j, t) {
	n = split(list, v, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++) {
		t = v[i] + 0
		for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
		v[j + 1] = t
	}
	if (n % 2) return v[(n + 1) / 2] + 0
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(key, val) { vals[key] = (key in vals) ? vals[key] " " val : val }
function fmt(v, d) { return v == "" ? "–" : sprintf("%." d "f", v) }
function med(c, s, m) { return ((c SUBSEP s SUBSEP m) in vals) ? median(vals[c SUBSEP s SUBSEP m]) : "" }
function rat(c, s, m) { return ((c SUBSEP s SUBSEP m) in ratios) ? median(ratios[c SUBSEP s SUBSEP m]) : "" }
function vsr(c, o, m) { return ((c SUBSEP o SUBSEP m) in vs) ? median(vs[c SUBSEP o SUBSEP m]) : "" }
function spread(list,    n, v, i, lo, hi) {
	n = split(list, v, " ")
	if (n < 2) return ""
	lo = hi = v[1] + 0
	for (i = 2; i <= n; i++) { if (v[i] + 0 < lo) lo = v[i] + 0; if (v[i] + 0 > hi) hi = v[i] + 0 }
	return sprintf(" (rounds: %.2f–%.2f)", lo, hi)
}
FILENAME ~ /runs.txt$/ {
	delete r
	kv($0, r)
	c = r["case"]; s = r["server"]
	if (!(c in seen_case)) { seen_case[c] = 1; cases[++ncases] = c }
	if (!((c, s) in seen_srv)) { seen_srv[c, s] = 1; srvs[c] = srvs[c] " " s }
	if (r["mode"] == "idle") {
		add(c SUBSEP s SUBSEP "bpc", r["bytes_per_conn"])
		add(c SUBSEP s SUBSEP "held", r["held"])
		next
	}
	if (r["errors"] != 0 || r["rc"] != 0) bad[c, s]++
	for (m in metric) if (m in r) {
		add(c SUBSEP s SUBSEP m, r[m])
		byround[r["round"], c, s, m] = r[m]
	}
	nrounds[r["round"]] = 1
	next
}
FILENAME ~ /counts.txt$/ {
	delete r
	kv($0, r)
	counts[r["case"], r["server"], r["what"]] = r["total"] / r["msgs"]
	if (r["what"] == "syscalls") detail[r["case"], r["server"]] = r["detail"]
	next
}
BEGIN {
	metric["msgs_per_s"]; metric["mb_per_s"]; metric["p50_us"]; metric["p99_us"]
	metric["srv_cpu_us_per_msg"]; metric["srv_sched_us_per_msg"]; metric["cli_cpu_pct"]
	metric["srv_cpu_pct"]; metric["srv_user_pct"]
	order = "epoll libuv libevent libtcpchat chat-server tcpchat-echo-server"
	nord = split(order, ord, " ")
	desc["echo-c1-s64"] = "echo C=1 S=64"
	desc["echo-c100-s64"] = "echo C=100 S=64"
	desc["echo-c100-s4096"] = "echo C=100 S=4096"
	desc["echo-c1000-s64"] = "echo C=1000 S=64"
	desc["chat-c100-k1"] = "chat C=100 K=1 S=64"
	desc["chat-c1000-k10"] = "chat C=1000 K=10 S=64"
}
function in_case(c, s) { return index(srvs[c] " ", " " s " ") > 0 }
END {
	# In-round ratios to the hand-written epoll server (ratios), and of
	# libtcpchat to each other server (vs).
	for (k in byround) {
		split(k, p, SUBSEP)
		if (p[3] != "epoll" && ((p[1], p[2], "epoll", p[4]) in byround)) {
			b = byround[p[1], p[2], "epoll", p[4]]
			if (b + 0 > 0) {
				key = p[2] SUBSEP p[3] SUBSEP p[4]
				ratios[key] = (key in ratios) ? ratios[key] " " byround[k] / b : byround[k] / b
			}
		}
		if (p[3] == "libtcpchat")
			for (j = 1; j <= 3; j++) {
				o = ord[j]
				if (!((p[1], p[2], o, p[4]) in byround)) continue
				b = byround[p[1], p[2], o, p[4]]
				if (b + 0 <= 0) continue
				key = p[2] SUBSEP o SUBSEP p[4]
				vs[key] = (key in vs) ? vs[key] " " byround[k] / b : byround[k] / b
			}
	}

	print "## Medians over the rounds"
	print ""
	print "Echo: a message is one S-byte round trip. Chat: a message is one line delivered to one member;"
	print "latency is the send-to-delivery delay. CPU/msg is the server'"'"'s utime+stime (from /proc/PID/stat)"
	print "over the measured window divided by the messages, \"user %\" the share of it spent outside the"
	print "kernel (where a library'"'"'s own code runs); \"client CPU\" shows whether the single-core client,"
	print "not the server, set the pace (near 100 %: the throughput is the client'"'"'s)."
	print ""
	print "| case | server | msgs/s | MB/s | p50 µs | p99 µs | server CPU µs/msg | server CPU % | of it user % | client CPU % |"
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= ncases; i++) {
		c = cases[i]
		if (c ~ /^idle/) continue
		for (j = 1; j <= nord; j++) {
			s = ord[j]
			if (!in_case(c, s)) continue
			printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", desc[c], s, \
			    ((c, s) in bad) ? " (**failed**)" : "", \
			    fmt(med(c, s, "msgs_per_s"), 0), fmt(med(c, s, "mb_per_s"), 2), \
			    fmt(med(c, s, "p50_us"), 1), fmt(med(c, s, "p99_us"), 1), \
			    fmt(med(c, s, "srv_cpu_us_per_msg"), 3), fmt(med(c, s, "srv_cpu_pct"), 0), \
			    fmt(med(c, s, "srv_user_pct"), 0), fmt(med(c, s, "cli_cpu_pct"), 0)
			if (c ~ /^echo/) plot_echo[c, s] = med(c, s, "srv_cpu_us_per_msg")
			else plot_chat[c, s] = med(c, s, "srv_cpu_us_per_msg")
		}
	}
	print ""
	print "## Ratios to the hand-written epoll server"
	print ""
	print "Each ratio is taken within one round (the same minute of the machine), then the median over"
	print "the rounds is shown. Below 1 is better for CPU/msg and p99, above 1 is better for msgs/s."
	print ""
	print "| case | server | msgs/s | p50 | p99 | server CPU/msg |"
	print "|---|---|---:|---:|---:|---:|"
	for (i = 1; i <= ncases; i++) {
		c = cases[i]
		if (c ~ /^idle/) continue
		for (j = 2; j <= nord; j++) {
			s = ord[j]
			if (!in_case(c, s)) continue
			printf "| %s | %s | %s | %s | %s | %s |\n", desc[c], s, \
			    fmt(rat(c, s, "msgs_per_s"), 2), fmt(rat(c, s, "p50_us"), 2), \
			    fmt(rat(c, s, "p99_us"), 2), fmt(rat(c, s, "srv_cpu_us_per_msg"), 2)
		}
	}
	print ""
	if (idle_conns > 0) {
		c = "idle-c" idle_conns
		print "## Memory: " idle_conns " idle connections"
		print ""
		print "Resident memory (VmRSS) of a fresh server holding " idle_conns " idle connections, minus its RSS with"
		print "none, divided by the connections it holds (median over the rounds). Kernel socket memory is"
		print "not in RSS and is the same for every server."
		print ""
		print "| server | held | bytes of RSS per connection |"
		print "|---|---:|---:|"
		for (j = 1; j <= nord; j++) {
			s = ord[j]
			if (!in_case(c, s)) continue
			name = s
			if (s == "epoll") name = "epoll (echo-epoll)"
			if (s == "libuv") name = "libuv (echo-uv)"
			if (s == "libevent") name = "libevent (echo-event)"
			if (s == "libtcpchat") name = "libtcpchat (chat-tcpchat-plain, no client limit)"
			if (s == "chat-server") name = "tcpchat-chat-server --max-clients 20000"
			if (s == "tcpchat-echo-server") name = "tcpchat-echo-server -k"
			h = med(c, s, "held")
			printf "| %s | %s%s | %s |\n", name, fmt(h, 0), \
			    (h != "" && h < idle_conns) ? " of " idle_conns : "", fmt(med(c, s, "bpc"), 0)
			mem[s] = med(c, s, "bpc"); memheld[s] = h
		}
		print ""
	}
	print "## Figures that do not drift: system calls and instructions per message"
	print ""
	print "Counted on the server after a warm-up, the connections already open: for echo C=100 S=1024 over"
	print "exactly " count " messages; for chat C=100 K=1 S=64 over every line delivered in a " dur " s window (a"
	print "message is a delivered line). System calls from `strace -c -f -p PID`; user-space instructions"
	print "(libc included) from `valgrind --tool=callgrind`, counters zeroed before and dumped after. Both"
	print "tools slow the server down, so it finds more ready events per epoll_wait than at full speed:"
	print "compare the servers with each other, not with an untraced run."
	print ""
	print "| case | server | system calls / msg | of which | instructions / msg |"
	print "|---|---|---:|---|---:|"
	split("echo-c100-s1024 chat-c100-k1", cc, " ")
	cdesc["echo-c100-s1024"] = "echo C=100 S=1024"; cdesc["chat-c100-k1"] = "chat C=100 K=1 S=64"
	for (i = 1; i <= 2; i++) {
		c = cc[i]
		for (j = 1; j <= nord; j++) {
			s = ord[j]
			if (!((c, s, "syscalls") in counts) && !((c, s, "instructions") in counts)) continue
			d = detail[c, s]; gsub(/:/, " ", d); gsub(/,/, ", ", d)
			printf "| %s | %s | %s | %s | %s |\n", cdesc[c], s, \
			    ((c, s, "syscalls") in counts) ? sprintf("%.3f", counts[c, s, "syscalls"]) : "–", d, \
			    ((c, s, "instructions") in counts) ? sprintf("%.0f", counts[c, s, "instructions"]) : "–"
		}
	}
	print ""

	# Targets for libtcpchat.
	print "## Where libtcpchat stands against its targets"
	print ""
	print "| target | now | met? |"
	print "|---|---|---|"
	for (i = 1; i <= ncases; i++) {
		c = cases[i]
		if (c !~ /^echo/ || !in_case(c, "libtcpchat")) continue
		m = "srv_cpu_us_per_msg"
		q = rat(c, "libtcpchat", m); u = vsr(c, "libuv", m); e = vsr(c, "libevent", m)
		ok = (q != "" && q <= 1.05 && (u == "" || u < 1) && (e == "" || e < 1))
		printf "| %s: server CPU/msg ≤ 1.05× epoll, below libuv and libevent | %s× epoll%s; %s× libuv, %s× libevent | %s |\n", \
		    desc[c], fmt(q, 2), spread(ratios[c SUBSEP "libtcpchat" SUBSEP m]), fmt(u, 2), fmt(e, 2), ok ? "yes" : "**no**"
	}
	c = "chat-c1000-k10"
	if (in_case(c, "libtcpchat")) {
		m = "srv_cpu_us_per_msg"
		q = rat(c, "libtcpchat", m); u = vsr(c, "libuv", m)
		ok = (q != "" && q <= 1.0 && (u == "" || u < 1))
		printf "| chat C=1000 K=10: CPU per delivered line ≤ 1.0× epoll, below libuv (plain peer) | %s× epoll%s; %s× libuv | %s |\n", \
		    fmt(q, 2), spread(ratios[c SUBSEP "libtcpchat" SUBSEP m]), fmt(u, 2), ok ? "yes" : "**no**"
		if (in_case(c, "chat-server")) {
			q = rat(c, "chat-server", m); t = med(c, "chat-server", m); u = med(c, "libuv", m)
			ok = (q != "" && q <= 1.0 && (u == "" || t < u))
			printf "| (the same for tcpchat-chat-server, names and notices) | %s× epoll%s; %s µs vs libuv %s µs | %s |\n", \
			    fmt(q, 2), spread(ratios[c SUBSEP "chat-server" SUBSEP m]), fmt(t, 3), fmt(u, 3), ok ? "yes" : "**no**"
		}
	}
	if (idle_conns > 0) {
		ok = (mem["libtcpchat"] != "" && mem["libtcpchat"] <= 1024 && memheld["libtcpchat"] >= idle_conns)
		printf "| idle connections ≤ 1 KiB of RSS each | %s B (libtcpchat plain peer), %s B (tcpchat-chat-server); tcpchat-echo-server -k holds %s of %d | %s |\n", \
		    fmt(mem["libtcpchat"], 0), fmt(mem["chat-server"], 0), fmt(memheld["tcpchat-echo-server"], 0), idle_conns, ok ? "yes" : "**no**"
	}
	c = "echo-c1-s64"
	if (in_case(c, "libtcpchat")) {
		q = rat(c, "libtcpchat", "p99_us")
		printf "| echo C=1: p99 within 10 %% of epoll | %s× epoll%s (%s µs vs %s µs) | %s |\n", fmt(q, 2), \
		    spread(ratios[c SUBSEP "libtcpchat" SUBSEP "p99_us"]), \
		    fmt(med(c, "libtcpchat", "p99_us"), 1), fmt(med(c, "epoll", "p99_us"), 1), (q != "" && q <= 1.10) ? "yes" : "**no**"
	}
	c = "echo-c100-s1024"
	if ((c, "libtcpchat", "syscalls") in counts)
		printf "| system calls per echoed 1 KiB message (C=100) ≤ 2.2 | %.3f (epoll %.3f) | %s |\n", \
		    counts[c, "libtcpchat", "syscalls"], counts[c, "epoll", "syscalls"], \
		    counts[c, "libtcpchat", "syscalls"] <= 2.2 ? "yes" : "**no**"
	if ((c, "libtcpchat", "instructions") in counts)
		printf "| user-space instructions per echoed message < 300 | %.0f (epoll %.0f, libuv %.0f) | %s |\n", \
		    counts[c, "libtcpchat", "instructions"], counts[c, "epoll", "instructions"], \
		    counts[c, "libuv", "instructions"], counts[c, "libtcpchat", "instructions"] < 300 ? "yes" : "**no**"
	print ""
	print "Ratios are medians of ratios taken within a round (their range over the rounds in brackets)."
	print "On a shared 2-core machine the CPU-per-message ratio of two servers that make the same system"
	print "calls moves by 10-20 % from round to round: a 5 % target is settled by the counts above (the"
	print "same system calls as epoll, and the difference in user-space instructions) rather than by the"
	print "timing of one run; more rounds (BENCH_ROUNDS) narrow the range."
	print ""

	# Plot data: rows are cases, columns servers ("?" = missing).
	f = plotdir "/plot-echo.dat"
	print "case epoll libuv libevent libtcpchat" > f
	for (i = 1; i <= ncases; i++) {
		c = cases[i]
		if (c !~ /^echo/) continue
		lab = substr(desc[c], 6); gsub(/ /, "\\\\n", lab)
		line = "\"" lab "\""
		for (j = 1; j <= 4; j++) line = line " " (((c, ord[j]) in plot_echo) && plot_echo[c, ord[j]] != "" ? plot_echo[c, ord[j]] : "?")
		print line > f
	}
	close(f)
	f = plotdir "/plot-chat.dat"
	print "case epoll libuv libtcpchat tcpchat-chat-server" > f
	for (i = 1; i <= ncases; i++) {
		c = cases[i]
		if (c !~ /^chat/) continue
		lab = substr(desc[c], 6); gsub(/ /, "\\\\n", lab)
		line = "\"" lab "\""
		split("epoll libuv libtcpchat chat-server", cs, " ")
		for (j = 1; j <= 4; j++) line = line " " (((c, cs[j]) in plot_chat) && plot_chat[c, cs[j]] != "" ? plot_chat[c, cs[j]] : "?")
		print line > f
	}
	close(f)
}' "$RESULTS" "$COUNTS" > "$RAW/tables.md"

# The plot.
plot_ok=0
if command -v gnuplot >/dev/null; then
	gnuplot > "$RAW/gnuplot.log" 2>&1 <<EOF && plot_ok=1
set terminal svg size 1200,480 dynamic font "sans,11" background rgb "white"
set output "$SVG"
set datafile missing "?"
set datafile columnheaders
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside bottom center horizontal
set yrange [0:*]
set multiplot layout 1,2 title "Server CPU time per message (µs, lower is better; median of $ROUNDS rounds)"
set bmargin 7
set title "echo: per echoed message"
set ylabel "µs CPU per message"
plot "$RAW/plot-echo.dat" using 2:xtic(1) title "epoll" lc rgb "#7b3294", \\
     "" using 3 title "libuv" lc rgb "#1b9e77", \\
     "" using 4 title "libevent" lc rgb "#56b4e9", \\
     "" using 5 title "libtcpchat" lc rgb "#e69f00"
set title "chat: per delivered line"
set ylabel "µs CPU per delivered line"
plot "$RAW/plot-chat.dat" using 2:xtic(1) title "epoll" lc rgb "#7b3294", \\
     "" using 3 title "libuv" lc rgb "#1b9e77", \\
     "" using 4 title "libtcpchat (plain)" lc rgb "#e69f00", \\
     "" using 5 title "tcpchat-chat-server" lc rgb "#d55e00"
unset multiplot
EOF
fi
plot_note=
[ "$plot_ok" = 1 ] || plot_note="no plot: gnuplot missing or failed (see bench/build/raw/gnuplot.log)"

# Top self costs of libtcpchat in the counted windows.
top_costs() { # CALLGRIND-TXT MESSAGES
	awk -v n="$2" '
		/file:function/ { go = 1; next }
		go && /^ *[0-9,]+ *\(/ {
			ir = $1; gsub(",", "", ir)
			if ($2 ~ /100\.0%/ || $3 ~ /100\.0%/) next   # callers of the loop: inclusive
			fn = $0; sub(/^ *[0-9,]+ *\( *[0-9.]+%\) */, "", fn); sub(/ \[.*\]$/, "", fn)
			if (++k <= 15) printf "| %.1f | `%s` |\n", ir / n, fn
		}' "$1"
}
msgs_of() { # CASE SERVER
	sed -n "s/^case=$1 server=$2 what=instructions total=[0-9]* msgs=\([0-9]*\).*/\1/p" "$COUNTS" | tail -1
}
profile_echo='' profile_chat=''
f=$RAW/count-echo-c100-s1024-libtcpchat.callgrind.txt
[ -s "$f" ] && profile_echo=$(top_costs "$f" "$(msgs_of echo-c100-s1024 libtcpchat)")
f=$RAW/count-chat-c100-k1-libtcpchat.callgrind.txt
[ -s "$f" ] && profile_chat=$(top_costs "$f" "$(msgs_of chat-c100-k1 libtcpchat)")

elapsed=$(cat "$RAW/elapsed.txt" 2>/dev/null || echo '?')
{
	echo "# libtcpchat benchmark results"
	echo
	echo "Written by \`bench/run.sh\` (\`make bench\`); see \`bench/README.md\` for what the figures mean."
	echo
	echo "- machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $(free -g 2>/dev/null | awk '/^Mem/ { print $2 " GiB" }'), Linux $(uname -r)"
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took ${elapsed} s"
	echo "- libtcpchat ${rev:-(not a git checkout)}; libuv $uv_v; libevent $ev_v; $($CC --version | head -1)"
	echo "- rounds: $ROUNDS; each case ${WARM} s warm-up + ${DUR} s measured; chat window F=$WINDOW lines per sender;"
	echo "  server pinned with \`${PIN_SRV:-no pinning}\`, client with \`${PIN_CLI:-no pinning}\`; every server started fresh for every run"
	echo "- servers: **epoll** = bench/peers/echo-epoll.c or chat-epoll.c (no library); **libuv** = echo-uv.c or chat-uv.c;"
	echo "  **libevent** = echo-event.c; **libtcpchat** = examples/tcpchat-echo-server -k (echo) or"
	echo "  bench/peers/chat-tcpchat-plain.c (chat: plain broadcast on the public API, like for like);"
	echo "  **chat-server** = examples/tcpchat-chat-server (names, \"NAME: \" prefixes, notices: the bench speaks its protocol)"
	echo
	if [ -s "$NOTES" ] || [ -n "$plot_note" ]; then
		echo "Notes:"
		echo
		sed 's/^/- /' "$NOTES"
		[ -n "$plot_note" ] && echo "- $plot_note"
		echo
	fi
	if [ -s "$RAW/failures.txt" ]; then
		echo "**Failed runs:**"
		echo
		sed 's/^/- /' "$RAW/failures.txt"
		echo
	fi
	cat "$RAW/tables.md"
	if [ "$plot_ok" = 1 ]; then
		echo "![server CPU per message](results.svg)"
		echo
	fi
	if [ -n "$profile_echo" ] || [ -n "$profile_chat" ]; then
		echo "## Where libtcpchat spends its user-space instructions"
		echo
		echo "Self cost per message in the counted windows above (callgrind), largest first."
		echo
	fi
	if [ -n "$profile_echo" ]; then
		echo "examples/tcpchat-echo-server -k, echo C=100 S=1024:"
		echo
		echo "| Ir / msg | function |"
		echo "|---:|---|"
		echo "$profile_echo"
		echo
	fi
	if [ -n "$profile_chat" ]; then
		echo "bench/peers/chat-tcpchat-plain, chat C=100 K=1 S=64 (per delivered line):"
		echo
		echo "| Ir / line | function |"
		echo "|---:|---|"
		echo "$profile_chat"
		echo
	fi
	echo "Raw data: \`bench/build/raw/\` (runs.txt: one line per run; counts.txt; count-CASE-SERVER.strace.txt,"
	echo "count-CASE-SERVER.callgrind.1 for \`callgrind_annotate\`)."
} > "$MD"

[ "$plot_ok" = 1 ] && say "wrote $SVG"
say "wrote $MD in ${elapsed} s ($ncases runs)"
if [ -s "$RAW/failures.txt" ]; then
	say "some runs failed:"
	cat "$RAW/failures.txt" >&2
	failed=1
fi
exit $failed
