#!/bin/bash
# Run every postern benchmark and print their summary lines at the end.
#
# Usage: bench/run-all.sh [PATH-TO-POSTERND]   (default /tmp/build-lead/posternd)
# Sizes come from the environment (see bench/README.md); defaults:
#   BENCH_MESSAGES=10000 (throughput), BENCH_SESSIONS=5000 (idle sessions),
#   BENCH_BIG_MB=100 (big message). A quick run:
#   BENCH_MESSAGES=1000 BENCH_SESSIONS=1000 BENCH_BIG_MB=20 bench/run-all.sh
# Runs as root (each benchmark enters its own private namespaces).
# Exit status: 0 if every benchmark completed, 1 otherwise.

set -u

POSTERND=${1:-/tmp/build-lead/posternd}
HERE=$(cd "$(dirname "$0")" && pwd)
export BENCH_MESSAGES=${BENCH_MESSAGES:-10000}
OUT=$(mktemp /tmp/postern-bench-all.XXXXXX) || exit 1
trap 'rm -f "$OUT"' EXIT

rc=0
for b in throughput.sh idle_sessions.py big_message.py filter_chain.sh auth_filters.sh attachment.sh \
	milter.sh mailbox_proxy.sh; do
	echo "=== $b"
	case $b in
	*.sh) cmd=(bash "$HERE/$b") ;;
	*.py) cmd=(python3 "$HERE/$b") ;;
	esac
	"${cmd[@]}" "$POSTERND" 2>&1 | tee -a "$OUT"
	st=${PIPESTATUS[0]}
	if [ "$st" != 0 ]; then
		echo "=== $b exited $st"
		rc=1
	fi
	echo
done

echo "=== summary (posternd: $POSTERND)"
grep '^SUMMARY ' "$OUT"
exit $rc
