#!/bin/bash
# postern-milter's cost inside Postfix (issue 9): smtp-source sends the
# same message to three private Postfix instances that relay to one
# smtp-sink - one without a milter, one with postern-milter, one with
# OpenDKIM's milter - in the same run, rounds alternated, best round of
# each kept.  Both milters do comparable work: they DKIM-sign every
# message (rsa-sha256, the same 2048-bit key); postern-milter also runs
# a small rule set (regexes on the subject and body, an added header)
# and writes Authentication-Results.  A round's time runs from the
# first connection until Postfix has delivered every message to the
# sink (maillog "status=sent"); reported as msgs/s and as the ratio to
# the instance without a milter.  The messages that arrive are checked
# to carry the milter's DKIM-Signature.
#
# Usage: bench/milter.sh [PATH-TO-POSTERND]  (postern-milter next to it;
#   default /tmp/build-lead/posternd)
# Environment: BENCH_MESSAGES (default 2000), BENCH_CONC ("1 10"),
#   BENCH_ROUNDS (3), BENCH_THREADS (filter threads, 4), BENCH_SOCKET
#   (inet or unix: how Postfix reaches both milters; default unix).
#
# Over TCP every message through a milter waits for delayed ACKs (the
# MTA and libmilter write a request or reply as several small packets
# and Nagle holds the later ones): postern-milter sets TCP_NODELAY on
# its side, which halves that, but Postfix's side still waits about
# 40 ms per message, for any milter - the TCP figures measure that
# wait, not the milters.  Unix sockets have no such wait.
# Runs as root in private net + mount namespaces (queues on a tmpfs).
set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "milter.sh: run as root" >&2; exit 1; }
	export POSTERN_BENCH_NS=1
	exec unshare --net --mount --propagation private -- /bin/bash "$0" "$@"
fi

POSTERND=$(readlink -f "${1:-/tmp/build-lead/posternd}")
MILTER=$(dirname "$POSTERND")/postern-milter
N=${BENCH_MESSAGES:-2000}
CONC=${BENCH_CONC:-"1 10"}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-4}
SOCKET=${BENCH_SOCKET:-unix}
DOMAIN=bench.test

ip link set lo mtu 1500 up || exit 1
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null
T=$(mktemp -d /tmp/postern-bench-milter.XXXXXX) || exit 1
chmod 755 "$T"
. "$(dirname "$0")/lib.sh"
bench_init milter.sh
PFS=()
milter_cleanup()
{
	local c
	for c in "${PFS[@]}"; do postfix -c "$c" stop >/dev/null 2>&1; done
	bench_cleanup
}
trap milter_cleanup EXIT
for p in postfix smtp-source smtp-sink opendkim opendkim-genkey; do
	command -v "$p" >/dev/null || fail "$p not installed"
done
[ -x "$MILTER" ] || fail "$MILTER not built"

mkdir -p "$T/fs"
mount -t tmpfs -o size=1024m,mode=755 bench "$T/fs" || fail "mount tmpfs"

# The signing key, readable by opendkim and by postern-milter (root at
# load time).
mkdir -p "$T/keys"
opendkim-genkey --bits=2048 --domain=$DOMAIN --selector=s1 \
	--directory="$T/keys" || fail "opendkim-genkey"
chown -R opendkim "$T/keys"
chmod 600 "$T/keys/s1.private"

# A message of a few kilobytes; LF line ends (smtp-source adds CR).
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
} >"$T/msg.eml"

SINK_PORT=$(free_port)
smtp-sink -u postfix 127.0.0.1:"$SINK_PORT" 1000 >"$T/sink.log" 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT" "${PIDS[-1]}" || fail "smtp-sink did not start"

# --- the milters
MPORT=$(free_port)
OPORT=$(free_port)
if [ "$SOCKET" = unix ]; then
	mkdir -p "$T/sock"
	chmod 777 "$T/sock"
	M_SOCK="unix:$T/sock/postern.sock"
	M_PF="unix:$T/sock/postern.sock"
	O_SOCK="local:$T/sock/opendkim.sock"
	O_PF="unix:$T/sock/opendkim.sock"
else
	M_SOCK="inet:$MPORT@127.0.0.1"
	M_PF="inet:127.0.0.1:$MPORT"
	O_SOCK="inet:$OPORT@127.0.0.1"
	O_PF="inet:127.0.0.1:$OPORT"
fi
# wait_sock SOCKSPEC PID: until the milter listens
wait_sock()
{
	case $1 in
	unix:* | local:*)
		for _ in $(seq 100); do
			kill -0 "$2" 2>/dev/null || return 1
			[ -S "${1#*:}" ] && return 0
			sleep 0.1
		done
		return 1 ;;
	*) p=${1#inet:}; wait_port "${p%@*}" "$2" ;;
	esac
}
mkdir -p "$T/fs/milter/spool" "$T/fs/milter/mail"
chown -R nobody "$T/fs/milter"
cat >"$T/bench.rules" <<'EOF'
rule money { when subject matches /free money|lottery|winner/i  add-header "X-Spam-Flag" "YES" }
rule casino { when body contains "casino"  reject 554 5.7.1 "Body refused" }
rule nobody { when envelope.rcpt.local is "nobody"  reject 550 5.1.1 "No such user" }
rule mark { when subject contains "benchmark"  add-header "X-Bench" "seen" }
EOF
cat >"$T/milter.conf" <<EOF
hostname = "mx.bench.invalid"; user = "nobody";
spool_dir = "$T/fs/milter/spool";
smtp { listen = "127.0.0.1:$(free_port)"; trusted_networks = ["127.0.0.0/8"]; }
route default { upstream = "maildir:$T/fs/milter/mail"; }
filters { threads = $THREADS; }
filter dkim { sign = ["$DOMAIN:s1:$T/keys/s1.private"]; }
rules = ["$T/bench.rules"];
milter { socket = "$M_SOCK"; socket_mode = "0666"; }
EOF
"$MILTER" -t -c "$T/milter.conf" >"$T/milter-t.log" 2>&1 ||
	{ cat "$T/milter-t.log" >&2; fail "postern-milter config refused"; }
"$MILTER" -f -c "$T/milter.conf" >"$T/milter.log" 2>&1 &
MILTER_PID=$!
PIDS+=($MILTER_PID)
wait_sock "$M_SOCK" "$MILTER_PID" || fail "postern-milter did not start"

cat >"$T/opendkim.conf" <<EOF
Mode s
Domain $DOMAIN
Selector s1
KeyFile $T/keys/s1.private
SignatureAlgorithm rsa-sha256
Canonicalization relaxed/relaxed
Socket $O_SOCK
UMask 000
Background no
Syslog no
UserID opendkim
RequireSafeKeys false
EOF
opendkim -f -x "$T/opendkim.conf" >"$T/opendkim.log" 2>&1 &
ODKIM_PID=$!
PIDS+=($ODKIM_PID)
wait_sock "$O_SOCK" "$ODKIM_PID" || fail "opendkim did not start"

# --- three Postfix instances, all relaying to the sink
declare -A PORT CONF LOG
postfix_start()
{
	local name=$1 milter=$2 d="$T/fs/pf-$1"
	mkdir -p "$d/conf" "$d/queue" "$d/data"
	chown root "$d/queue"
	chown postfix "$d/data"
	PORT[$name]=$(free_port)
	CONF[$name]=$d/conf
	LOG[$name]=$d/maillog
	cat >"$d/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
myhostname = postfix-$name.bench.invalid
mydomain = bench.invalid
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
maillog_file = $d/maillog
maillog_file_prefixes = $d
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 100
EOF
	if [ -n "$milter" ]; then
		cat >>"$d/conf/main.cf" <<EOF
smtpd_milters = $milter
milter_default_action = tempfail
milter_protocol = 6
EOF
	fi
	cat >"$d/conf/master.cf" <<EOF
127.0.0.1:${PORT[$name]} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
	postfix -c "$d/conf" check >/dev/null 2>&1 &&
		postfix -c "$d/conf" start >/dev/null 2>&1 ||
		{ cat "$d/maillog" >&2; fail "postfix $name did not start"; }
	PFS+=("$d/conf")
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/${PORT[$name]}") 2>/dev/null && return 0
		sleep 0.1
	done
	fail "postfix $name does not listen"
}
postfix_start none ""
postfix_start postern "$M_PF"
postfix_start opendkim "$O_PF"

now() { date +%s.%N; }
sent()
{
	local n
	n=$(grep -c 'status=sent' "${LOG[$1]}" 2>/dev/null)
	echo "${n:-0}"
}

# run NAME CONC MSGS: msgs/s from the first connection until Postfix has
# delivered all of them to the sink.
run()
{
	local name=$1 before t0 t1 want i
	before=$(sent "$name")
	want=$((before + $3))
	t0=$(now)
	smtp-source -s "$2" -m "$3" -F "$T/msg.eml" -M bench.test \
		-f "a@$DOMAIN" -t rcpt@example.org 127.0.0.1:"${PORT[$name]}" \
		>"$T/source.log" 2>&1 || { cat "$T/source.log" >&2; return 1; }
	for i in $(seq 6000); do
		[ "$(sent "$name")" -ge "$want" ] && break
		sleep 0.02
	done
	t1=$(now)
	[ "$(sent "$name")" -ge "$want" ] ||
		{ echo "$name delivered $(( $(sent "$name") - before )) of $3" >&2;
		  tail -5 "${LOG[$name]}" >&2; return 1; }
	awk -v m="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", m / (b - a) }'
}

# Warm-up, and proof that each milter signs: one message through each,
# captured by a second sink that keeps what it gets.
CHECK_PORT=$(free_port)
mkdir -p "$T/check"
chown postfix "$T/check"
smtp-sink -u postfix -d "$T/check/%Y%m%d%H%M%S." 127.0.0.1:"$CHECK_PORT" 10 \
	>"$T/check-sink.log" 2>&1 &
PIDS+=($!)
wait_port "$CHECK_PORT" "${PIDS[-1]}" || fail "check sink did not start"
for n in postern opendkim; do
	postconf -c "${CONF[$n]}" -e "relayhost = [127.0.0.1]:$CHECK_PORT"
	postfix -c "${CONF[$n]}" reload >/dev/null 2>&1
done
sleep 1
for n in postern opendkim; do
	run "$n" 1 1 >/dev/null || fail "check run $n"
done
for n in postern opendkim; do
	postconf -c "${CONF[$n]}" -e "relayhost = [127.0.0.1]:$SINK_PORT"
	postfix -c "${CONF[$n]}" reload >/dev/null 2>&1
done
signed=$(grep -l '^DKIM-Signature: v=1; a=rsa-sha256' "$T/check"/* 2>/dev/null | wc -l)
[ "$signed" = 2 ] || fail "expected 2 signed messages, got $signed"
grep -q '^X-Bench: seen' "$T/check"/* || fail "postern-milter rules did not run"
sleep 1
for n in none postern opendkim; do
	run "$n" 4 200 >/dev/null || fail "warm-up $n"
done

printf '%-22s %10s %14s %14s %10s %10s\n' "$N msgs" none "postern-milter" \
	"opendkim" "postern" "opendkim"
SUMMARY=""
for c in $CONC; do
	declare -A best=([none]=0 [postern]=0 [opendkim]=0)
	for _ in $(seq "$ROUNDS"); do
		for n in none postern opendkim; do
			r=$(run "$n" "$c" "$N") || fail "run $n conc $c"
			[ "$r" -gt "${best[$n]}" ] && best[$n]=$r
		done
	done
	rp=$(awk -v a="${best[postern]}" -v b="${best[none]}" 'BEGIN { printf "%.2f", a / b }')
	ro=$(awk -v a="${best[opendkim]}" -v b="${best[none]}" 'BEGIN { printf "%.2f", a / b }')
	printf '%-22s %10s %14s %14s %10s %10s\n' "conc $c (msgs/s, ratio)" \
		"${best[none]}" "${best[postern]}" "${best[opendkim]}" "$rp" "$ro"
	SUMMARY="$SUMMARY c$c postern $rp opendkim $ro (${best[postern]}/${best[opendkim]}/${best[none]} msgs/s),"
done
kill -0 "$MILTER_PID" 2>/dev/null || fail "postern-milter died"
kill -0 "$ODKIM_PID" 2>/dev/null || fail "opendkim died"
echo "SUMMARY milter ($SOCKET):${SUMMARY%,}"
