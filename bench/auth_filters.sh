#!/bin/bash
# Sender-authentication cost (issue 7): smtp-source sends one
# DKIM-signed message (rsa-sha256, 2048-bit key, signed by OpenDKIM's
# own opendkim-testmsg) again and again to two posternd instances: one
# with no filters, one with `filter spf`, `filter dkim` and
# `filter dmarc` on a dnsmasq started here (the sender's SPF record,
# the DKIM key and the DMARC record).  The cache is warm (a warm-up run
# goes first), so what is measured is the evaluation: SPF check_host()
# from the cache, one RSA verification and body hash per message,
# DMARC alignment, the Authentication-Results field.  Same run, rounds
# alternated, best round of each kept; reported as msgs/s and as the
# ratio to the no-filter instance.  Every delivered message is checked
# to carry "spf=pass", "dkim=pass" and "dmarc=pass".
#
# Usage: bench/auth_filters.sh [PATH-TO-POSTERND]  (default /tmp/build-lead/posternd)
# Environment: BENCH_MESSAGES (default 5000), BENCH_CONC ("1 20"),
#   BENCH_ROUNDS (3), BENCH_THREADS (2).
# Runs as root in private net + mount namespaces (maildirs on a tmpfs).
set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "auth_filters.sh: run as root" >&2; exit 1; }
	export POSTERN_BENCH_NS=1
	exec unshare --net --mount --propagation private -- /bin/bash "$0" "$@"
fi

POSTERND=$(readlink -f "${1:-/tmp/build-lead/posternd}")
N=${BENCH_MESSAGES:-5000}
CONC=${BENCH_CONC:-"1 20"}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
DOMAIN=bench.test

ip link set lo mtu 1500 up || exit 1
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null
T=$(mktemp -d /tmp/postern-bench-auth.XXXXXX) || exit 1
chmod 755 "$T"
. "$(dirname "$0")/lib.sh"
bench_init auth_filters.sh
for p in dnsmasq opendkim-testmsg openssl smtp-source; do
	command -v "$p" >/dev/null || fail "$p not installed"
done

mkdir -p "$T/fs"
mount -t tmpfs -o "size=$(( N * 3 * 16384 / 1048576 + 256 ))m,mode=755" bench "$T/fs" ||
	fail "mount tmpfs"

# The key, its TXT record (split in 255-byte strings) and the signed
# message: LF line ends, as smtp-source -F wants them.
openssl genrsa -out "$T/key.pem" 2048 2>/dev/null || fail "openssl genrsa"
pub=$(openssl rsa -in "$T/key.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
txt="v=DKIM1; k=rsa; p=$pub"
dkim_strings=$(printf '%s' "$txt" | fold -w 250 | sed 's/.*/"&"/' | paste -sd,)
{
	echo "From: Sender <a@$DOMAIN>"
	echo "To: <rcpt@example.org>"
	echo "Subject: benchmark message"
	echo "Date: Thu, 26 Nov 2026 12:00:00 +0000"
	echo "Message-ID: <bench.1@$DOMAIN>"
	echo "MIME-Version: 1.0"
	echo "Content-Type: text/plain; charset=us-ascii"
	echo
	for i in $(seq 50); do
		echo "Line $i of a message of a few kilobytes, like most mail is."
	done
} >"$T/plain.eml"
opendkim-testmsg -d "$DOMAIN" -s bench -k "$T/key.pem" <"$T/plain.eml" \
	>"$T/signed.raw" || fail "opendkim-testmsg"
# smtp-source appends CRLF to each line itself.
tr -d '\r' <"$T/signed.raw" >"$T/signed.eml"
grep -q '^DKIM-Signature:' "$T/signed.eml" || fail "message not signed"

DNS_PORT=$(free_port)
cat >"$T/dnsmasq.conf" <<EOF
port=$DNS_PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
txt-record=$DOMAIN,"v=spf1 ip4:127.0.0.0/8 -all"
txt-record=_dmarc.$DOMAIN,"v=DMARC1; p=reject"
txt-record=bench._domainkey.$DOMAIN,$dkim_strings
EOF
dnsmasq --keep-in-foreground --conf-file="$T/dnsmasq.conf" \
	--pid-file="$T/dnsmasq.pid" >"$T/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 0.3
kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$T/dnsmasq.log" >&2; fail "dnsmasq"; }

declare -A PORT PID
start()
{
	local name=$1 filters=$2 d="$T/fs/$1"
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
		if [ "$filters" = yes ]; then
			echo "dns { nameserver = [\"127.0.0.1:$DNS_PORT\"]; timeout = 3s; }"
			echo "filter spf { }"
			echo "filter dkim { }"
			echo "filter dmarc { }"
		fi
	} >"$T/$name.conf"
	"$POSTERND" -t -c "$T/$name.conf" >"$T/$name-t.log" 2>&1 ||
		{ cat "$T/$name-t.log" >&2; fail "$name: config refused"; }
	"$POSTERND" -f -c "$T/$name.conf" >"$T/$name.log" 2>&1 &
	PID[$name]=$!
	PIDS+=("${PID[$name]}")
	wait_port "${PORT[$name]}" "${PID[$name]}" || fail "$name did not start"
}
start none no
start auth yes

now() { date +%s.%N; }
# run NAME CONC MSGS [CHECK]: prints msgs/s; checks every message
# arrived and, with CHECK, that the filters passed it.
run()
{
	local d="$T/fs/$1/mail/new" t0 t1 got bad
	t0=$(now)
	smtp-source -s "$2" -m "$3" -F "$T/signed.eml" -M bench.test \
		-f "a@$DOMAIN" -t rcpt@example.org 127.0.0.1:"${PORT[$1]}" \
		>"$T/source.log" 2>&1 || { cat "$T/source.log" >&2; return 1; }
	t1=$(now)
	got=$(find "$d" -type f | wc -l)
	if [ "${4:-}" = check ]; then
		bad=$(grep -L 'spf=pass.*' "$d"/* | wc -l)
		bad=$((bad + $(grep -L 'dkim=pass' "$d"/* | wc -l)))
		bad=$((bad + $(grep -L 'dmarc=pass' "$d"/* | wc -l)))
		[ "$bad" = 0 ] || { echo "$1: $bad results not pass:" >&2;
			grep -h -A3 '^Authentication-Results' "$(find "$d" -type f | head -1)" >&2; return 1; }
	fi
	find "$d" -type f -delete
	[ "$got" = "$3" ] || { echo "$1 delivered $got of $3" >&2; return 1; }
	awk -v m="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", m / (b - a) }'
}

run none 4 200 >/dev/null || fail "warm-up none"
run auth 4 200 check >/dev/null || fail "warm-up auth (results not pass)"
printf '%-30s %10s %10s %8s\n' "$N signed msgs" none "spf+dkim+dmarc" ratio
SUMMARY=""
for c in $CONC; do
	declare -A best=([none]=0 [auth]=0)
	for _ in $(seq "$ROUNDS"); do
		for n in none auth; do
			r=$(run "$n" "$c" "$N") || fail "run $n conc $c"
			[ "$r" -gt "${best[$n]}" ] && best[$n]=$r
		done
	done
	ratio=$(awk -v a="${best[auth]}" -v b="${best[none]}" 'BEGIN { printf "%.2f", a / b }')
	printf '%-30s %10s %10s %8s\n' "conc $c" "${best[none]}" "${best[auth]}" "$ratio"
	SUMMARY="$SUMMARY c$c $ratio (${best[auth]}/${best[none]} msgs/s),"
done
for n in none auth; do
	kill -0 "${PID[$n]}" 2>/dev/null || fail "posternd $n died"
done
echo "SUMMARY auth_filters:${SUMMARY%,}"
