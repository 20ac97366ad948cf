#!/bin/sh
# Run each libFuzzer target for a bounded time on a copy of its seed
# corpus (tests/fuzz/corpus/NAME), with its dictionary (tests/fuzz/NAME.dict)
# when there is one, as many at once as there are processors (FUZZ_JOBS
# to choose).  A crash is kept in tests/fuzz/crashes/ of the build
# directory.  Prints PASS/FAIL per target and "N passed, N failed".
#   run.sh SECONDS SRCDIR TARGET...
set -u
seconds=$1
src=$2
shift 2
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p tests/fuzz/crashes

# run_one TARGET: fuzz it; its verdict line goes to tests/fuzz/NAME.result.
run_one() {
	name=$(basename "$1")
	name=${name#fuzz_}
	work=$(mktemp -d)
	[ -d "$src/tests/fuzz/corpus/$name" ] &&
		cp -r "$src/tests/fuzz/corpus/$name/." "$work/"
	dict=""
	[ -f "$src/tests/fuzz/$name.dict" ] && dict="-dict=$src/tests/fuzz/$name.dict"
	if "./$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix=tests/fuzz/crashes/"$name"- \
		$dict "$work" >"tests/fuzz/$name.log" 2>&1; then
		echo "PASS fuzz_$name ($seconds s)" >"tests/fuzz/$name.result"
	else
		echo "FAIL fuzz_$name (see tests/fuzz/$name.log)" \
			>"tests/fuzz/$name.result"
	fi
	rm -rf "$work"
}

running=0
for target in "$@"; do
	name=$(basename "$target")
	rm -f "tests/fuzz/${name#fuzz_}.result"
	run_one "$target" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

passed=0
failed=0
for target in "$@"; do
	name=$(basename "$target")
	name=${name#fuzz_}
	line=$(cat "tests/fuzz/$name.result" 2>/dev/null ||
		echo "FAIL fuzz_$name (no result)")
	echo "$line"
	case $line in
	PASS*) passed=$((passed + 1)) ;;
	*)
		failed=$((failed + 1))
		tail -n 20 "tests/fuzz/$name.log" 2>/dev/null
		;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
