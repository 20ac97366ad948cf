#!/bin/bash
# MIME benchmark: postern's decoders and MIME parser against GMime 3, in
# the same run (see bench/README.md, "mime_bench.sh").
#
# Usage: bench/mime_bench.sh BUILD_DIR
#   BUILD_DIR: a configured build of postern where `make libpstmail.a
#   libpstutil.a` has run (the script runs it); e.g. /tmp/build-lead.
# Environment:
#   BENCH_ROUNDS           rounds per figure, best kept (default 3)
#   MIME_BENCH_B64_MB      base64 blob, MiB (default 20)
#   MIME_BENCH_BIG_MB      message of base64 attachments, MiB (default 20)
#   MIME_BENCH_SMALL_MSGS  small messages (default 10000)
#   MIME_BENCH_RSS_MB      message for the peak RSS figure, MiB (default 100)
#   CC                     compiler (default cc)
#
# GMime 3 (libgmime-3.0-dev) is a benchmark-only dependency: installed with
# apt-get when missing (needs root). Not run in CI, never pass/fail: exit 1
# only when something is functionally wrong (a build failure, or the two
# base64 decoders disagree).

set -eu

BUILD=${1:?usage: bench/mime_bench.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}

if ! pkg-config --exists gmime-3.0; then
	echo "mime_bench.sh: installing libgmime-3.0-dev (benchmark only)" >&2
	apt-get install -y libgmime-3.0-dev >/dev/null
fi

make -C "$BUILD" libpstmail.a libpstutil.a >/dev/null

WORK=$(mktemp -d /tmp/postern-mime-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

# The MIME parser may not be in the library yet: then only the decoders
# are measured and the parse figures print as TODO.
DEFS=
if nm "$BUILD/libpstmail.a" 2>/dev/null | grep -q ' T mime_parser_new$'; then
	DEFS=-DHAVE_MIME_PARSER
else
	echo "mime_bench.sh: TODO: libpstmail.a has no mime_parser_new;" \
		"measuring the decoders only" >&2
fi

# shellcheck disable=SC2046 # pkg-config output is a word list
$CC -O2 -std=gnu11 $DEFS -I"$BUILD" -I"$SRC/util" -I"$SRC/mail" \
	"$SRC/bench/mime_bench.c" "$BUILD/libpstmail.a" "$BUILD/libpstutil.a" \
	$(pkg-config --cflags --libs gmime-3.0 libcrypto) \
	-o "$WORK/mime_bench"

echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "GMime $(pkg-config --modversion gmime-3.0), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
"$WORK/mime_bench" "$WORK"
