#!/bin/bash
# Build postern and run the whole test suite: unit and integration tests
# on a normal -Werror build, the same again built with ASan+UBSan, and
# every fuzz target for a bounded time.  Run as root (the integration
# tests start real peers inside a private network namespace).
#
#   tests/run-all.sh            everything
#   FUZZ_SECONDS=60 tests/run-all.sh
#
# The last line is "N passed, N failed"; the exit status is 0 only if
# nothing failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=$(nproc)
passed=0
failed=0
failures=()

# Each phase's heading says when it began (seconds since the start), so
# a slow CI run shows where its time went.
start=$SECONDS
note() { printf '\n==== %s  [%ds]\n' "$*" $((SECONDS - start)); }

# count LABEL LOG: add the "N passed, N failed" of a sub-suite.
count() {
	local label=$1 p=$2 f=$3
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$label: $f failed")
	printf '%s: %d passed, %d failed\n' "$label" "$p" "$f"
}

# tally LABEL FILE: count the last "N passed, N failed" line of FILE; a
# sub-suite that printed none counts as one failure.
tally() {
	local label=$1 out=$2 line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		tail -n 30 "$out"
		count "$label" 0 1
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed*}
	count "$label" "$p" "$f"
}

build() {
	local dir=$1
	shift
	note "build $dir ($*)"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-werror "$@" &&
		make -j"$jobs" >make.log 2>&1) || {
		tail -n 40 "$dir/make.log" 2>/dev/null
		count "build $dir" 0 1
		return 1
	}
}

unit() {
	local dir=$1 log p f
	note "unit tests ($dir)"
	make -C "$dir" -j"$jobs" check >"$dir/check.log" 2>&1
	log="$dir/test-suite.log"
	p=$(awk '/^# PASS:/ {print $3}' "$log" 2>/dev/null)
	f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s += $3} END {print s + 0}' "$log" 2>/dev/null)
	[ -n "$p" ] || { p=0; f=$((f + 1)); tail -n 30 "$dir/check.log"; }
	if [ "$f" -gt 0 ]; then
		grep -E '^(FAIL|ERROR)' "$dir/check.log"
		# the failing programs' own output, for the CI record
		grep -vE '^(ok|PASS|SKIP) ' "$log" | tail -n 60
	fi
	count "unit ($dir)" "$p" "$f"
}

integration() {
	local dir=$1 out="$1/integration.log"
	note "integration tests ($dir)"
	make -C "$dir" check-integration 2>&1 | tee "$out" |
		grep -E '^(FAIL|ERROR|PASS)' | tail -n 300
	tally "integration ($dir)" "$out"
}

# The MIME parser against Python's email package on tests/data/mime.
mime() {
	local dir=$1 out="$1/mime.log"
	note "MIME differential test ($dir)"
	tests/mime/run.sh "$dir" >"$out" 2>&1
	grep -E '^(FAIL|WARN)' "$out"
	tally "mime ($dir)" "$out"
}

fuzz() {
	local dir=$1 out="$1/fuzz.log"
	note "fuzzing ($dir, ${FUZZ_SECONDS:-20}s per target)"
	make -C "$dir" fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-20}" >"$out" 2>&1
	grep -E '^(PASS|FAIL)' "$out"
	tally "fuzz" "$out"
}

# STYLE.md: .clang-format (kernel style) holds for every C file.
format() {
	local bad
	note "clang-format"
	bad=$(git ls-files '*.c' '*.h' | while read -r f; do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
	done)
	if [ -n "$bad" ]; then
		echo "not formatted (run clang-format -i):" $bad
		count "clang-format" 0 1
	else
		count "clang-format" 1 0
	fi
}

"$top/contrib/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
format
note "autoreconf"
autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; echo "0 passed, 1 failed"; exit 1; }

if build build; then
	unit build
	integration build
	mime build
fi
if build build-san --enable-sanitizers; then
	unit build-san
	integration build-san
	mime build-san
fi
if build build-fuzz CC=clang --enable-fuzzing; then
	fuzz build-fuzz
fi

note "summary"
for f in "${failures[@]+"${failures[@]}"}"; do
	echo "  $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
