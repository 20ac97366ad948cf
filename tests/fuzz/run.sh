#!/bin/sh
# Run each libFuzzer target for a bounded time on a copy of its seed
# corpus (tests/fuzz/corpus/NAME), with its dictionary (tests/fuzz/NAME.dict)
# when there is one.  A crash is kept in tests/fuzz/crashes/ of the build
# directory.  Prints PASS/FAIL per target and "N passed, N failed".
#   run.sh SECONDS SRCDIR TARGET...
set -u
seconds=$1
src=$2
shift 2
passed=0
failed=0
mkdir -p tests/fuzz/crashes
for target in "$@"; do
	name=$(basename "$target")
	name=${name#fuzz_}
	work=$(mktemp -d)
	[ -d "$src/tests/fuzz/corpus/$name" ] &&
		cp -r "$src/tests/fuzz/corpus/$name/." "$work/"
	dict=""
	[ -f "$src/tests/fuzz/$name.dict" ] && dict="-dict=$src/tests/fuzz/$name.dict"
	if "./$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix=tests/fuzz/crashes/"$name"- \
		$dict "$work" >"tests/fuzz/$name.log" 2>&1; then
		echo "PASS fuzz_$name ($seconds s)"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz_$name (see tests/fuzz/$name.log)"
		tail -n 20 "tests/fuzz/$name.log"
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
