#!/bin/bash
# Filter-chain overhead (issue 5): smtp-source -> posternd with no
# filters, with a chain of 10 no-op filters loaded as shared objects
# (called on the worker threads, the default), and with the same 10
# marked PF_FILTER_NONBLOCKING (called on the event loop).  Same run,
# rounds alternated, best round of each kept; reported as msgs/s and as
# the ratio to the no-filter instance (target >= 0.95).
#
# Usage: bench/filter_chain.sh [PATH-TO-POSTERND]  (default /tmp/build-lead/posternd)
# Environment: BENCH_MESSAGES (default 5000), BENCH_SIZE (4096),
#   BENCH_CONC ("1 20"), BENCH_ROUNDS (3), BENCH_THREADS (2).
# Runs as root in private net + mount namespaces (maildirs on a tmpfs).
set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "filter_chain.sh: run as root" >&2; exit 1; }
	export POSTERN_BENCH_NS=1
	exec unshare --net --mount --propagation private -- /bin/bash "$0" "$@"
fi

POSTERND=$(readlink -f "${1:-/tmp/build-lead/posternd}")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
N=${BENCH_MESSAGES:-5000}
SIZE=${BENCH_SIZE:-4096}
CONC=${BENCH_CONC:-"1 20"}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}

ip link set lo mtu 1500 up || exit 1
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null
T=$(mktemp -d /tmp/postern-bench-fc.XXXXXX) || exit 1
chmod 755 "$T"
. "$(dirname "$0")/lib.sh"
bench_init filter_chain.sh

mkdir -p "$T/fs"
mount -t tmpfs -o "size=$(( N * 3 * (SIZE + 8192) / 1048576 + 256 ))m,mode=755" bench "$T/fs" ||
	fail "mount tmpfs"
cc -O2 -I"$SRC/include" -shared -fPIC -o "$T/noop.so" \
	"$SRC/tests/integration/filters/noop.c" || fail "building noop.so"
cc -O2 -DNOOP_NONBLOCKING -I"$SRC/include" -shared -fPIC -o "$T/noop_nb.so" \
	"$SRC/tests/integration/filters/noop.c" || fail "building noop_nb.so"

# start NAME SO: a posternd with 10 copies of SO (none when SO is "").
declare -A PORT PID
start()
{
	local name=$1 so=$2 d="$T/fs/$1"
	mkdir -p "$d/mail/new" "$d/mail/cur" "$d/mail/tmp" "$d/spool"
	chown -R nobody "$d"
	PORT[$name]=$(free_port)
	{
		echo "hostname = \"mx.bench.invalid\"; user = \"nobody\";"
		echo "threads = $THREADS; spool_dir = \"$d/spool\";"
		echo "smtp { listen = [\"127.0.0.1:${PORT[$name]}\"];"
		echo "  max_connections_per_ip = 1000; relay_domains = [\"example.org\"]; }"
		echo "route default { upstream = \"maildir:$d/mail\"; }"
		echo "quarantine { dir = \"$d/quarantine\"; }"
		if [ -n "$so" ]; then
			for i in $(seq 10); do
				echo "filter noop$i { module = \"$so\"; }"
			done
		fi
	} >"$T/$name.conf"
	"$POSTERND" -t -c "$T/$name.conf" >"$T/$name-t.log" 2>&1 ||
		{ cat "$T/$name-t.log" >&2; fail "$name: config refused"; }
	"$POSTERND" -f -c "$T/$name.conf" >"$T/$name.log" 2>&1 &
	PID[$name]=$!
	PIDS+=("${PID[$name]}")
	wait_port "${PORT[$name]}" "${PID[$name]}" || fail "$name did not start"
}
start none ""
start pool "$T/noop.so"
start loop "$T/noop_nb.so"

now() { date +%s.%N; }
# run NAME CONC MSGS: prints msgs/s; checks every message arrived.
run()
{
	local d="$T/fs/$1/mail/new" t0 t1 got
	t0=$(now)
	smtp-source -s "$2" -m "$3" -l "$SIZE" -M bench.test -f b@bench.test \
		-t rcpt@example.org 127.0.0.1:"${PORT[$1]}" >"$T/source.log" 2>&1 ||
		{ cat "$T/source.log" >&2; return 1; }
	t1=$(now)
	got=$(find "$d" -type f | wc -l)
	find "$d" -type f -delete
	[ "$got" = "$3" ] || { echo "$1 delivered $got of $3" >&2; return 1; }
	awk -v m="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", m / (b - a) }'
}

for n in none pool loop; do run "$n" 4 200 >/dev/null || fail "warm-up $n"; done
printf '%-26s %10s %10s %10s %8s %8s\n' "$N msgs of $SIZE B" none "10 pool" "10 loop" "pool" "loop"
SUMMARY=""
for c in $CONC; do
	declare -A best=([none]=0 [pool]=0 [loop]=0)
	for _ in $(seq "$ROUNDS"); do
		for n in none pool loop; do
			r=$(run "$n" "$c" "$N") || fail "run $n conc $c"
			[ "$r" -gt "${best[$n]}" ] && best[$n]=$r
		done
	done
	rp=$(awk -v a="${best[pool]}" -v b="${best[none]}" 'BEGIN { printf "%.2f", a / b }')
	rl=$(awk -v a="${best[loop]}" -v b="${best[none]}" 'BEGIN { printf "%.2f", a / b }')
	printf '%-26s %10s %10s %10s %8s %8s\n' "conc $c" "${best[none]}" \
		"${best[pool]}" "${best[loop]}" "$rp" "$rl"
	SUMMARY="$SUMMARY c$c pool $rp loop $rl (${best[pool]}/${best[loop]}/${best[none]}),"
done
for n in none pool loop; do
	kill -0 "${PID[$n]}" 2>/dev/null || fail "posternd $n died"
done
echo "SUMMARY filter_chain:${SUMMARY%,}"
