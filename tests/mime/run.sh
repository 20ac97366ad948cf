#!/bin/sh
# The MIME differential test: `postern mime --json` against Python's email
# package on every message of tests/data/mime (see differential.py).
#
#   tests/mime/run.sh BUILD_DIR [NAME-SUBSTRING...]
#
# BUILD_DIR is a configured build tree; postern is built there if it is
# missing.  Prints a line per message and at the end exactly
# "N passed, N failed"; exits non-zero when anything failed.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [NAME-SUBSTRING...]" >&2
	exit 2
fi
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -x "$build/postern" ]; then
	make -C "$build" postern >/dev/null 2>&1
fi
if [ ! -x "$build/postern" ]; then
	echo "$0: no postern in $build (make postern failed)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

PYTHONDONTWRITEBYTECODE=1 exec python3 "$here/differential.py" \
	"$build/postern" "$@"
