#!/bin/bash
# Rules benchmark: 1,000 regex rules against the headers and body of a
# 100 KB message, messages/s and MB/s, with a no-rules baseline and PCRE2
# alone (no prefilter) in the same run (see bench/README.md).
#
# Usage: bench/rules_bench.sh BUILD_DIR
#   BUILD_DIR: a configured build of postern (the script runs
#   `make libpstrules.a libpstmail.a libpstutil.a` there).
# Environment:
#   BENCH_ROUNDS       rounds per figure, best kept (default 3)
#   BENCH_SECONDS      seconds per round (default 1)
#   RULES_BENCH_RULES  number of rules (default 1000)
#   CC                 compiler (default cc)
#
# A measurement, never pass/fail: exit 1 only when something is wrong
# (a build failure, rules that do not compile, or the prefilter changing
# which rules fire).

set -eu

BUILD=${1:?usage: bench/rules_bench.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}

make -C "$BUILD" libpstrules.a libpstmail.a libpstutil.a >/dev/null

WORK=$(mktemp -d /tmp/postern-rules-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

# shellcheck disable=SC2046 # pkg-config output is a word list
$CC -O2 -std=gnu11 -I"$BUILD" -I"$SRC/util" -I"$SRC/mail" -I"$SRC/rules" \
	"$SRC/bench/rules_bench.c" "$BUILD/libpstrules.a" \
	"$BUILD/libpstmail.a" "$BUILD/libpstutil.a" \
	$(pkg-config --libs libpcre2-8) -o "$WORK/rules_bench"

echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "PCRE2 $(pkg-config --modversion libpcre2-8), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
"$WORK/rules_bench"
