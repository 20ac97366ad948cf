#!/bin/bash
# Relay benchmark (issue 3): what does a hop through posternd cost?
#
# smtp-source sends BENCH_MESSAGES (20000) messages of BENCH_SIZE (4096)
# octets at each concurrency of BENCH_CONC ("1 50") into one smtp-sink
# (discarding, counting), along four paths measured in the same run:
#   (a) direct          smtp-source -> smtp-sink
#   (b) haproxy         smtp-source -> HAProxy (mode tcp) -> smtp-sink
#   (c) posternd        smtp-source -> posternd (no filters, route default
#                       smtp://sink) -> smtp-sink
#   (d) postfix         smtp-source -> private Postfix (relayhost = sink);
#                       timed until Postfix's queue has drained into the sink
# and prints msgs/s, the ratios, and per-message latency at concurrency 1
# measured by a small Python client of our own: the time from sending the
# final "." to receiving the reply, p50 and p99 for each path and what each
# hop adds over (a).  Target (issue 3): (c) >= 0.8 x (b) at concurrency 50,
# added p50 latency of (c) under 1 ms.
#
# Usage: bench/relay_throughput.sh [PATH-TO-POSTERND]  (default /tmp/build-lead/posternd)
# Environment:
#   BENCH_MESSAGES  messages per measured run (default 20000)
#   BENCH_SIZE      payload octets per message, smtp-source -l (default 4096)
#   BENCH_CONC      concurrency levels (default "1 50")
#   BENCH_LAT_MSGS  messages for the latency client per path (default 2000)
#   BENCH_THREADS   posternd's threads and HAProxy's nbthread (default 2)
#   BENCH_PATHS     paths to measure (default "direct haproxy posternd postfix")
#   BENCH_LO_MTU    MTU of the namespace's loopback (default 1500)
#   BENCH_KEEP      1 = keep the work dir (configs, logs)
#
# Runs as root in a private network namespace (only loopback): nothing
# here can reach the network.  Needs smtp-sink, smtp-source and postfix
# (package postfix), haproxy (package haproxy), python3.
# Exit status: 0 = figures printed and every message accounted for at the
# sink; 1 = a run failed or a message went missing.

set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "relay_throughput.sh: must run as root (namespace, Postfix, user = nobody)" >&2
		exit 1
	fi
	export POSTERN_BENCH_NS=1
	exec unshare --net -- /bin/bash "$0" "$@"
fi

POSTERND=${1:-/tmp/build-lead/posternd}
N=${BENCH_MESSAGES:-20000}
SIZE=${BENCH_SIZE:-4096}
CONC=${BENCH_CONC:-"1 50"}
LAT_N=${BENCH_LAT_MSGS:-2000}
THREADS=${BENCH_THREADS:-2}
PATHS=${BENCH_PATHS:-"direct haproxy posternd postfix"}
SENDER=bench@postern.test
RCPT=rcpt@example.org

ip link set lo mtu "${BENCH_LO_MTU:-1500}" up || exit 1
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null

T=$(mktemp -d /tmp/postern-bench-relay.XXXXXX) || exit 1
chmod 755 "$T"
PIDS=()
PF_CONF=

cleanup()
{
	local p
	[ -n "$PF_CONF" ] && postfix -c "$PF_CONF" stop >/dev/null 2>&1
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "work dir kept: $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail()
{
	echo "relay_throughput.sh: FAILED: $*" >&2
	for f in posternd.log haproxy.log pf/maillog smtp-sink.err; do
		if [ -s "$T/$f" ]; then
			echo "--- last lines of $f:" >&2
			tail -n 15 "$T/$f" >&2
		fi
	done
	echo "SUMMARY relay_throughput: FAILED ($*)"
	exit 1
}

free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PORT [PID]: until PORT answers (and PID, if given, lives).
wait_port()
{
	for _ in $(seq 100); do
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

now() { date +%s.%N; }

# --- the sink: smtp-sink discarding, counting (-c: "mesg=N" counters) ---
SINK_PORT=$(free_port)
smtp-sink -u nobody -c -m 1000 127.0.0.1:"$SINK_PORT" 1024 \
	>"$T/smtp-sink.count" 2>"$T/smtp-sink.err" &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT" "$SINK_PID" || fail "smtp-sink did not start"

# Messages the sink has received so far (its last "mesg=" counter).
sink_count()
{
	tail -c 200 "$T/smtp-sink.count" | tr '\r' '\n' |
		sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1 | grep . || echo 0
}

declare -A PORT PID
PORT[direct]=$SINK_PORT
PID[direct]=$SINK_PID

want()
{
	case " $PATHS " in *" $1 "*) return 0 ;; esac
	return 1
}

# --- (b) HAProxy, mode tcp ---
if want haproxy; then
	command -v haproxy >/dev/null || fail "haproxy is not installed (apt-get install haproxy)"
	PORT[haproxy]=$(free_port)
	cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 4000
  nbthread $THREADS
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend smtp
  bind 127.0.0.1:${PORT[haproxy]}
  default_backend sink
backend sink
  server sink 127.0.0.1:$SINK_PORT
EOF
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	PID[haproxy]=$!
	PIDS+=("${PID[haproxy]}")
	wait_port "${PORT[haproxy]}" "${PID[haproxy]}" || fail "haproxy did not start"
fi

# --- (c) posternd, route default -> smtp-sink ---
if want posternd; then
	[ -x "$POSTERND" ] || fail "$POSTERND is not an executable"
	PORT[posternd]=$(free_port)
	mkdir -p "$T/spool" && chown nobody "$T/spool"
	cat >"$T/posternd.conf" <<EOF
hostname = "mx.bench.invalid";
user = "nobody";
threads = $THREADS;
spool_dir = "$T/spool";
smtp {
  listen = ["127.0.0.1:${PORT[posternd]}"];
  max_connections = 10000;
  max_connections_per_ip = 1000;
  relay_domains = ["example.org"];
}
route default {
  upstream = "smtp://127.0.0.1:$SINK_PORT";
}
EOF
	"$POSTERND" -c "$T/posternd.conf" -t >"$T/posternd-t.log" 2>&1 ||
		{ cat "$T/posternd-t.log" >&2; fail "posternd -t rejected the config"; }
	"$POSTERND" -c "$T/posternd.conf" -f >"$T/posternd.log" 2>&1 &
	PID[posternd]=$!
	PIDS+=("${PID[posternd]}")
	wait_port "${PORT[posternd]}" "${PID[posternd]}" || fail "posternd did not start"
fi

# --- (d) a private Postfix relaying everything to the sink ---
if want postfix; then
	command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || fail "postfix is not installed"
	PORT[postfix]=$(free_port)
	PF=$T/pf
	mkdir -p "$PF/conf" "$PF/queue" "$PF/data"
	chown postfix "$PF/data"
	PF_CONF=$PF/conf
	cat >"$PF/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
myhostname = postfix.bench.invalid
mydomain = bench.invalid
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
EOF
	cat >"$PF/conf/master.cf" <<EOF
127.0.0.1:${PORT[postfix]} inet n - n - - smtpd
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
	{ postfix -c "$PF_CONF" check && postfix -c "$PF_CONF" start; } \
		>"$T/postfix-start.log" 2>&1 || { cat "$T/postfix-start.log" >&2; fail "postfix did not start"; }
	wait_port "${PORT[postfix]}" || fail "postfix smtpd did not listen"
fi

# run_source PATH SESSIONS MESSAGES: smtp-source into PATH; prints msgs/s,
# timed until the sink has counted every message (for postfix: until
# Postfix's queue has drained into the sink).  Non-zero on failure.
run_source()
{
	local path=$1 s=$2 m=$3 t0 t1 before after
	before=$(sink_count)
	t0=$(now)
	smtp-source -s "$s" -m "$m" -l "$SIZE" -M bench.test \
		-f "$SENDER" -t "$RCPT" 127.0.0.1:"${PORT[$path]}" \
		>"$T/source.log" 2>&1 || { cat "$T/source.log" >&2; return 1; }
	# Everything acknowledged must reach the sink: at once through the
	# proxies (within 2 s), after its queue run for Postfix (5 min).
	local steps=200
	[ "$path" = postfix ] && steps=30000
	for _ in $(seq "$steps"); do
		after=$(sink_count)
		[ $((after - before)) -ge "$m" ] && break
		sleep 0.01
	done
	t1=$(now)
	after=$(sink_count)
	if [ $((after - before)) != "$m" ]; then
		echo "$path: the sink counted $((after - before)) of $m messages" >&2
		return 1
	fi
	awk -v m="$m" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", m / (b - a) }'
}

# Latency client: one connection, LAT_N messages one after the other;
# per message the time from sending the final "." to the reply.
cat >"$T/latency.py" <<'EOF'
import socket, sys, time
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""
def reply():
    global buf
    while True:
        while b"\r\n" not in buf:
            c = s.recv(65536)
            if not c:
                raise SystemExit("connection closed")
            buf += c
        ln, buf = buf.split(b"\r\n", 1)
        if ln[3:4] != b"-":
            return int(ln[:3])
def cmd(line, want):
    s.sendall(line + b"\r\n")
    c = reply()
    if c != want:
        raise SystemExit("%r -> %d" % (line, c))
assert reply() == 220
cmd(b"EHLO latency.bench.test", 250)
line = b"x" * 78 + b"\r\n"
body = b"Subject: latency\r\n\r\n" + line * max(1, size // len(line))
out = []
for i in range(n):
    cmd(b"MAIL FROM:<bench@postern.test>", 250)
    cmd(b"RCPT TO:<rcpt@example.org>", 250)
    cmd(b"DATA", 354)
    s.sendall(body)
    t0 = time.perf_counter()
    s.sendall(b".\r\n")
    c = reply()
    out.append(time.perf_counter() - t0)
    if c != 250:
        raise SystemExit("end of data -> %d" % c)
cmd(b"QUIT", 221)
out.sort()
print("%.1f %.1f" % (out[len(out) // 2] * 1e6, out[int(len(out) * 0.99)] * 1e6))
EOF

# Warm-up: each path gets 200 messages.
for p in direct haproxy posternd postfix; do
	want "$p" || [ "$p" = direct ] || continue
	run_source "$p" 4 200 >/dev/null || fail "warm-up of $p"
done

declare -A RATE
FMT='%-20s %12s %12s %12s %12s\n'
# shellcheck disable=SC2059
printf "$FMT" "msgs/s ($N x $SIZE B)" direct haproxy posternd postfix
for c in $CONC; do
	row=()
	for p in direct haproxy posternd postfix; do
		if ! want "$p" && [ "$p" != direct ]; then
			row+=("-")
			continue
		fi
		r=$(run_source "$p" "$c" "$N") || fail "smtp-source -> $p at concurrency $c"
		RATE[$p,$c]=$r
		row+=("$r")
	done
	# shellcheck disable=SC2059
	printf "$FMT" "concurrency $c" "${row[@]}"
done

ratio()
{
	local a=${RATE[$1,$3]:-} b=${RATE[$2,$3]:-}
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "-"
	else
		awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
	fi
}

echo
FMT2='%-20s %14s %14s %14s %14s\n'
# shellcheck disable=SC2059
printf "$FMT2" "ratio" "haproxy/direct" "posternd/direct" "postfix/direct" "posternd/haproxy"
SUMMARY=""
for c in $CONC; do
	# shellcheck disable=SC2059
	printf "$FMT2" "concurrency $c" "$(ratio haproxy direct "$c")" \
		"$(ratio posternd direct "$c")" "$(ratio postfix direct "$c")" \
		"$(ratio posternd haproxy "$c")"
	SUMMARY="$SUMMARY c$c posternd/haproxy $(ratio posternd haproxy "$c") ($(ratio posternd direct "$c") of direct; postfix $(ratio postfix direct "$c")),"
done

echo
FMT3='%-20s %12s %12s %12s %12s\n'
# shellcheck disable=SC2059
printf "$FMT3" "latency, c1 ($LAT_N)" "p50 us" "p99 us" "+p50 us" "+p99 us"
declare -A P50 P99
for p in direct haproxy posternd postfix; do
	want "$p" || [ "$p" = direct ] || continue
	out=$(python3 "$T/latency.py" "${PORT[$p]}" "$LAT_N" "$SIZE") ||
		fail "latency client -> $p"
	read -r P50[$p] P99[$p] <<<"$out"
	add50=$(awk -v a="${P50[$p]}" -v b="${P50[direct]}" 'BEGIN { printf "%.1f", a - b }')
	add99=$(awk -v a="${P99[$p]}" -v b="${P99[direct]}" 'BEGIN { printf "%.1f", a - b }')
	# shellcheck disable=SC2059
	printf "$FMT3" "$p" "${P50[$p]}" "${P99[$p]}" "$add50" "$add99"
	if [ "$p" != direct ]; then
		SUMMARY="$SUMMARY added latency $p p50 ${add50}us p99 ${add99}us,"
	fi
done

if want posternd; then
	kill -0 "${PID[posternd]}" 2>/dev/null || fail "posternd died during the run"
	sent=$(grep -c 'status=sent' "$T/posternd.log")
	echo
	echo "posternd logged status=sent for $sent messages"
fi
echo "SUMMARY relay_throughput:${SUMMARY%,}; $N msgs of $SIZE B"
