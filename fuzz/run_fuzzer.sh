#!/bin/sh
# run_fuzzer.sh NAME SECONDS TOP_SRCDIR [LIBFUZZER-OPTION]... - run
# fuzz/libfuzzer-NAME (built by `make fuzz`) for SECONDS from the build
# tree, on the seed corpus and the regressions.  New inputs go to
# fuzz/work/NAME/; a crash, leak or timeout is copied to
# TOP_SRCDIR/fuzz/regressions/NAME/ (replayed by `make check` from then on)
# and the run fails.  Prints the number of executions.
set -u
name=$1 seconds=$2 top=$3
shift 3
bin=./fuzz/libfuzzer-$name
log=fuzz/fuzz-$name.log
mkdir -p "fuzz/work/$name" "fuzz/artifacts/$name" || exit 1
echo "fuzz-$name: fuzzing for $seconds s (log: $log)"
set -- -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
	-artifact_prefix="fuzz/artifacts/$name/" "$@" \
	"fuzz/work/$name" "$top/fuzz/corpus/$name"
[ -d "$top/fuzz/regressions/$name" ] && set -- "$@" "$top/fuzz/regressions/$name"
if "$bin" "$@" >"$log" 2>&1; then
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\).* ft: \([0-9]*\).* corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p')
	echo "fuzz-$name: ${execs:-?} executions in ${secs:-?} s, no failure (${cov:-coverage ?})"
	exit 0
fi
tail -n 40 "$log"
mkdir -p "$top/fuzz/regressions/$name"
for a in "fuzz/artifacts/$name"/*; do
	[ -f "$a" ] || continue
	cp "$a" "$top/fuzz/regressions/$name/" &&
		echo "fuzz-$name: kept $a as $top/fuzz/regressions/$name/${a##*/}"
done
echo "fuzz-$name: FAILED; replay one input: $bin FILE (or fuzz/replay_$name FILE)"
exit 1
