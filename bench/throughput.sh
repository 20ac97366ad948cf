#!/bin/bash
# Throughput benchmark: smtp-source -> posternd (maildir on tmpfs) against
# smtp-source -> smtp-sink (discarding), measured in the same run, reported
# as messages per second and as the ratio posternd / smtp-sink.
#
# Usage: bench/throughput.sh [PATH-TO-POSTERND]   (default /tmp/build-lead/posternd)
# Environment:
#   BENCH_MESSAGES  messages per measured run (default 10000)
#   BENCH_SIZE      message payload in bytes (default 4096)
#   BENCH_CONC      concurrency levels, space separated (default "1 50")
#   BENCH_REUSE     1 = also measure with connection reuse (smtp-source -d)
#                   (default 1)
#   BENCH_ROUNDS    rounds per mode, alternating the servers; the best
#                   round of each is reported (default 3)
#   BENCH_THREADS   posternd's "threads" (default 2; smtp-sink has one)
#   BENCH_LO_MTU    MTU of the namespace's loopback (default 1500)
#   BENCH_KEEP      1 = keep the work dir (logs, config) afterwards
#
# Runs as root. Re-executes itself inside a private network namespace (only
# loopback) and a private mount namespace (for the tmpfs), so nothing here
# can reach the network or leave a mount behind. posternd is started as root
# with user = "nobody", as in production.
#
# Exit status: 0 = figures printed and every message accounted for;
# 1 = a run failed or posternd lost mail (a benchmark that loses mail failed).

set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "throughput.sh: must run as root (namespaces, tmpfs, user = nobody)" >&2
		exit 1
	fi
	export POSTERN_BENCH_NS=1
	exec unshare --net --mount --propagation private -- /bin/bash "$0" "$@"
fi

POSTERND=${1:-/tmp/build-lead/posternd}
N=${BENCH_MESSAGES:-10000}
SIZE=${BENCH_SIZE:-4096}
CONC=${BENCH_CONC:-"1 50"}
REUSE=${BENCH_REUSE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
SENDER=bench@postern.test
RCPT=rcpt@example.org

# Ethernet-sized MTU on loopback (BENCH_LO_MTU): Postfix sizes its stream
# buffers from the TCP MSS, and 64 KiB loopback packets are not what a real
# client sends.
ip link set lo mtu "${BENCH_LO_MTU:-1500}" up || exit 1
# Per-connection runs open 2*N connections per level: use a wide ephemeral
# range (this namespace's own setting, not the host's).
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null

T=$(mktemp -d /tmp/postern-bench-tp.XXXXXX) || exit 1
chmod 755 "$T"
PIDS=()

cleanup()
{
	local p
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
	umount "$T/fs" 2>/dev/null
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
	echo "throughput.sh: FAILED: $*" >&2
	if [ -s "$T/posternd.log" ]; then
		echo "--- last lines of posternd's log:" >&2
		tail -n 20 "$T/posternd.log" >&2
	fi
	echo "SUMMARY throughput: FAILED ($*)"
	exit 1
}

free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PORT PID: until PORT answers (and PID is still alive).
wait_port()
{
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			kill -0 "$2" 2>/dev/null
			return
		fi
		sleep 0.1
	done
	return 1
}

now() { date +%s.%N; }

# Maildir and spool go on a tmpfs: the benchmark measures posternd, not the
# disk (fsync on tmpfs is nearly free). Delivered files are counted and
# removed after each run, so the tmpfs holds at most one run's messages
# (each rounded up to 4 KiB pages, plus headers) and every run starts with
# an empty maildir.
FS_MB=$(( N * (SIZE + 8192) / 1048576 + 256 ))
mkdir -p "$T/fs"
mount -t tmpfs -o "size=${FS_MB}m,mode=755" bench "$T/fs" || fail "mount tmpfs"
mkdir -p "$T/fs/mail/new" "$T/fs/mail/cur" "$T/fs/mail/tmp" "$T/fs/spool"
chown -R nobody "$T/fs/mail" "$T/fs/spool"

# --- baseline: smtp-sink, discarding everything (no -d dump) ---
SINK_PORT=$(free_port)
smtp-sink -u nobody -m 1000 127.0.0.1:"$SINK_PORT" 1024 \
	>"$T/smtp-sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT" "$SINK_PID" || fail "smtp-sink did not start"

# --- posternd ---
HAVE_POSTERND=0
if [ -x "$POSTERND" ]; then
	HAVE_POSTERND=1
	P_PORT=$(free_port)
	cat >"$T/postern.conf" <<EOF
hostname = "mx.bench.invalid";
user = "nobody";
threads = $THREADS;
spool_dir = "$T/fs/spool";
smtp {
  listen = ["127.0.0.1:$P_PORT"];
  max_connections = 10000;
  max_connections_per_ip = 1000;
  max_message_size = 50M;
  relay_domains = ["example.org"];
  trusted_networks = ["127.0.0.0/8"];
}
route default { upstream = "maildir:$T/fs/mail"; }
EOF
	"$POSTERND" -c "$T/postern.conf" -t >"$T/posternd-t.log" 2>&1 ||
		{ cat "$T/posternd-t.log" >&2; fail "posternd -t rejected the config"; }
	"$POSTERND" -c "$T/postern.conf" -f >"$T/posternd.log" 2>&1 &
	P_PID=$!
	PIDS+=("$P_PID")
	wait_port "$P_PORT" "$P_PID" || fail "posternd did not start"
else
	echo "throughput.sh: $POSTERND not found: measuring smtp-sink only" >&2
fi

count_mail()
{
	find "$T/fs/mail/new" -type f | wc -l
}

clear_mail()
{
	find "$T/fs/mail/new" -type f -delete
}

TOTAL=0

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID: user + system CPU of the process (all its threads), ticks.
cpu_ticks()
{
	# Fields after "(comm) ": state is $1, utime $12, stime $13.
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# run_source PORT PID SESSIONS MESSAGES [-d]: prints "msgs/s CPU-us/msg"
# (CPU of the server process PID); non-zero on failure.
run_source()
{
	local port=$1 pid=$2 s=$3 m=$4 t0 t1 c0 c1
	shift 4
	c0=$(cpu_ticks "$pid")
	t0=$(now)
	smtp-source "$@" -s "$s" -m "$m" -l "$SIZE" -M bench.test \
		-f "$SENDER" -t "$RCPT" 127.0.0.1:"$port" \
		>"$T/source.log" 2>&1 || { cat "$T/source.log" >&2; return 1; }
	t1=$(now)
	c1=$(cpu_ticks "$pid")
	awk -v m="$m" -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v hz="$CLK_TCK" \
		'BEGIN { printf "%.0f %.0f\n", m / (b - a), c * 1e6 / hz / m }'
}

# Warm up both servers (page faults, thread start, first maildir files).
run_source "$SINK_PORT" "$SINK_PID" 4 200 >/dev/null || fail "smtp-sink warm-up"
if [ "$HAVE_POSTERND" = 1 ]; then
	before=$(count_mail)
	run_source "$P_PORT" "$P_PID" 4 200 >/dev/null || fail "posternd warm-up"
	after=$(count_mail)
	[ $((after - before)) = 200 ] ||
		fail "posternd warm-up: $((after - before)) of 200 messages in the maildir"
	clear_mail
fi

MODES=()
for c in $CONC; do
	MODES+=("$c:")
done
if [ "$REUSE" = 1 ]; then
	for c in $CONC; do
		MODES+=("$c:-d")
	done
fi

FMT='%-32s %10s %10s %6s %10s %10s %6s\n'
# shellcheck disable=SC2059
printf "$FMT" "$N msgs of $SIZE B, best of $ROUNDS" smtp-sink posternd ratio smtp-sink posternd ratio
# shellcheck disable=SC2059
printf "$FMT" "" msgs/s msgs/s "" "CPU us/msg" "CPU us/msg" ""
SUMMARY=""
LOST=0
for mode in "${MODES[@]}"; do
	c=${mode%%:*}
	flag=${mode#*:}
	if [ -n "$flag" ]; then
		label="conc $c, reused (-d)"
		tag="c${c}d"
	else
		label="conc $c, 1 conn per msg"
		tag="c$c"
	fi
	# Alternate the two servers ROUNDS times and keep each one's best
	# round (highest msgs/s, lowest CPU per message): interference from the
	# rest of the machine only ever makes a round slower.
	sink=0 sink_cpu=""
	pd=0 pd_cpu=""
	for _ in $(seq "$ROUNDS"); do
		# $flag is empty or -d: unquoted on purpose.
		# shellcheck disable=SC2086
		out=$(run_source "$SINK_PORT" "$SINK_PID" "$c" "$N" $flag) ||
			fail "smtp-source -> smtp-sink ($label)"
		read -r rate cpu <<<"$out"
		[ "$rate" -gt "$sink" ] && sink=$rate
		[ -z "$sink_cpu" ] || [ "$cpu" -lt "$sink_cpu" ] && sink_cpu=$cpu
		[ "$HAVE_POSTERND" = 1 ] || continue
		before=$(count_mail)
		# shellcheck disable=SC2086
		out=$(run_source "$P_PORT" "$P_PID" "$c" "$N" $flag) ||
			fail "smtp-source -> posternd ($label)"
		read -r rate cpu <<<"$out"
		[ "$rate" -gt "$pd" ] && pd=$rate
		[ -z "$pd_cpu" ] || [ "$cpu" -lt "$pd_cpu" ] && pd_cpu=$cpu
		after=$(count_mail)
		got=$((after - before))
		if [ "$got" != "$N" ]; then
			echo "posternd LOST MAIL ($label): $got of $N messages in the maildir" >&2
			LOST=1
		fi
		TOTAL=$((TOTAL + got))
		clear_mail
	done
	ratio="-"
	cpu_ratio="-"
	if [ "$HAVE_POSTERND" = 0 ]; then
		pd="-"
		pd_cpu="-"
	else
		ratio=$(awk -v a="$pd" -v b="$sink" 'BEGIN { printf "%.2f", a / b }')
		cpu_ratio=$(awk -v a="$pd_cpu" -v b="$sink_cpu" \
			'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')
	fi
	# shellcheck disable=SC2059
	printf "$FMT" "$label" "$sink" "$pd" "$ratio" "$sink_cpu" "$pd_cpu" "$cpu_ratio"
	if [ "$HAVE_POSTERND" = 1 ]; then
		SUMMARY="$SUMMARY $tag $ratio ($pd/$sink, cpu x$cpu_ratio),"
	else
		SUMMARY="$SUMMARY $tag $sink,"
	fi
done

if [ "$HAVE_POSTERND" = 1 ]; then
	left=$(find "$T/fs/mail/tmp" -type f | wc -l)
	[ "$left" = 0 ] || echo "posternd left $left files in maildir tmp/" >&2
	kill -0 "$P_PID" 2>/dev/null || fail "posternd died during the run"
	[ "$LOST" = 0 ] || fail "posternd lost mail"
	# posternd must exit 0 on SIGTERM (a note, not a failure).
	kill "$P_PID"
	for _ in $(seq 100); do
		kill -0 "$P_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$P_PID" 2>/dev/null; then
		echo "throughput.sh: note: posternd still running 10 s after SIGTERM" >&2
	else
		wait "$P_PID"
		st=$?
		[ "$st" = 0 ] ||
			echo "throughput.sh: note: posternd exited $st after SIGTERM" >&2
	fi
	echo "posternd delivered every message: $TOTAL files in the maildir (plus 200 warm-up)"
	echo "SUMMARY throughput: ratio posternd/smtp-sink (msgs/s):${SUMMARY%,}; $N msgs of $SIZE B, best of $ROUNDS"
else
	echo "SUMMARY throughput: posternd not measured (no $POSTERND); smtp-sink msgs/s:${SUMMARY%,}"
	exit 2
fi
