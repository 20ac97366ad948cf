#!/bin/sh
# Integration tests for posternd: real clients and peers (smtplib, swaks,
# smtp-source, a private Postfix) talking to posternd on loopback.
#
#   tests/integration/run.sh POSTERND_PATH [TEST-NAME-SUBSTRING...]
#
# Runs as root (posternd drops to "nobody", Postfix needs root).  The
# script re-executes itself in a private network namespace that has only
# a loopback interface, so no test can reach anything off this machine.
# POSTERN_IT_NO_NETNS=1 skips that step for containers that forbid
# unshare(CLONE_NEWNET) (the tests still use loopback only, but nothing
# then enforces it).  POSTERN_IT_KEEP=1 keeps the work directory.
# Prints a line per test and at the end exactly "N passed, N failed";
# exits non-zero when anything failed.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 POSTERND_PATH [TEST-NAME-SUBSTRING...]" >&2
	exit 2
fi
posternd=$1
shift
case $posternd in
/*) ;;
*) posternd=$(pwd)/$posternd ;;
esac
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "$0: the integration tests must run as root" >&2
	exit 1
fi
if [ ! -x "$posternd" ]; then
	echo "$0: $posternd is not an executable" >&2
	exit 1
fi

if [ -z "${POSTERN_IT_NETNS:-}" ] && [ -z "${POSTERN_IT_NO_NETNS:-}" ]; then
	if ! unshare --net true 2>/dev/null; then
		echo "$0: cannot create a network namespace (unshare --net);" \
			"set POSTERN_IT_NO_NETNS=1 to run without one" >&2
		exit 1
	fi
	POSTERN_IT_NETNS=1 exec unshare --net -- /bin/sh "$here/run.sh" \
		"$posternd" "$@"
fi

if [ -n "${POSTERN_IT_NETNS:-}" ]; then
	ip link set lo up
	# Only loopback exists here: check it, so a mistake cannot go unseen.
	if ip -o link show | grep -v ': lo:' | grep -q .; then
		echo "$0: network namespace has interfaces besides lo" >&2
		exit 1
	fi
fi

PYTHONDONTWRITEBYTECODE=1 exec python3 "$here/runner.py" "$posternd" "$@"
