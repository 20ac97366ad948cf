#!/bin/bash
# Attachment and content inspection cost (issue 8): posternd with no
# filters ("off") against the same with `filter attachment {}`,
# `filter content {}` and the attachment rules of default.rules ("on").
#   1. messages without attachments (smtp-source, BENCH_SIZE bytes):
#      msgs/s off and on, and their ratio;
#   2. messages carrying a zip of BENCH_ZIP_MB MiB (half random, half
#      text, so it decompresses to about 1.5 times that): msgs/s off
#      and on, and the inspection cost in ms per MiB of archive.
# Same run, rounds alternated, best round of each kept.
#
# Usage: bench/attachment.sh [PATH-TO-POSTERND]  (default /tmp/build-lead/posternd)
# Environment: BENCH_MESSAGES (default 2000), BENCH_SIZE (4096),
#   BENCH_ZIP_MESSAGES (40), BENCH_ZIP_MB (1), BENCH_ROUNDS (3),
#   BENCH_THREADS (2).
# Runs as root in private net + mount namespaces (maildirs on a tmpfs).
set -u

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "attachment.sh: run as root" >&2; exit 1; }
	export POSTERN_BENCH_NS=1
	exec unshare --net --mount --propagation private -- /bin/bash "$0" "$@"
fi

POSTERND=$(readlink -f "${1:-/tmp/build-lead/posternd}")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
N=${BENCH_MESSAGES:-2000}
SIZE=${BENCH_SIZE:-4096}
ZN=${BENCH_ZIP_MESSAGES:-40}
ZMB=${BENCH_ZIP_MB:-1}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}

ip link set lo mtu 1500 up || exit 1
T=$(mktemp -d /tmp/postern-bench-att.XXXXXX) || exit 1
chmod 755 "$T"
. "$(dirname "$0")/lib.sh"
bench_init attachment.sh

mkdir -p "$T/fs"
mount -t tmpfs -o "size=$(( (N * (SIZE + 8192) + ZN * ZMB * 3 * 1048576) / 1048576 + 256 ))m,mode=755" \
	bench "$T/fs" || fail "mount tmpfs"
# the attachment rules of default.rules, without the DNS-based ones
sed -n '/^list dangerous_extensions/,/^# ---- sender authentication/p' \
	"$SRC/contrib/rules/default.rules" | grep -v '^# ----' >"$T/att.rules"

declare -A PORT PID
start()
{
	local name=$1 d="$T/fs/$1"
	mkdir -p "$d/mail/new" "$d/mail/cur" "$d/mail/tmp" "$d/spool"
	chown -R nobody "$d"
	PORT[$name]=$(free_port)
	{
		echo "hostname = \"mx.bench.invalid\"; user = \"nobody\";"
		echo "threads = $THREADS; spool_dir = \"$d/spool\";"
		echo "smtp { listen = [\"127.0.0.1:${PORT[$name]}\"];"
		echo "  max_connections_per_ip = 1000; relay_domains = [\"example.org\"];"
		echo "  max_message_size = 100M; }"
		echo "route default { upstream = \"maildir:$d/mail\"; }"
		echo "quarantine { dir = \"$d/quarantine\"; }"
		if [ "$name" = on ]; then
			echo "filter attachment { }"
			echo "filter content { }"
			echo "rules = [\"$T/att.rules\"];"
		fi
	} >"$T/$name.conf"
	"$POSTERND" -t -c "$T/$name.conf" >"$T/$name-t.log" 2>&1 ||
		{ cat "$T/$name-t.log" >&2; fail "$name: config refused"; }
	"$POSTERND" -f -c "$T/$name.conf" >"$T/$name.log" 2>&1 &
	PID[$name]=$!
	PIDS+=("${PID[$name]}")
	wait_port "${PORT[$name]}" "${PID[$name]}" || fail "$name did not start"
}
start off
start on

# The message with the zip, made once.
python3 - "$ZMB" >"$T/zip.eml" 2>"$T/zip.size" <<'PY' || fail "zip message"
import base64, io, os, sys, zipfile
mb = int(sys.argv[1])
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("random.bin", os.urandom(mb << 19))
    z.writestr("report.txt", (b"quarterly numbers, nothing to see\n" * 40000)[: mb << 20])
data = buf.getvalue()
b = base64.b64encode(data).decode()
sys.stdout.write("From: b@bench.test\r\nTo: rcpt@example.org\r\nSubject: zip\r\n"
                 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                 "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
                 "Content-Type: application/zip\r\n"
                 "Content-Disposition: attachment; filename=\"data.zip\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n"
                 + "\r\n".join(b[i:i + 76] for i in range(0, len(b), 76))
                 + "\r\n--b--\r\n")
sys.stderr.write("%d\n" % len(data))
PY
ZIP_BYTES=$(cat "$T/zip.size")

now() { date +%s.%N; }
# count NAME MSGS: checks every message arrived, empties the maildir.
count()
{
	local d="$T/fs/$1/mail/new" got
	got=$(find "$d" -type f | wc -l)
	find "$d" -type f -delete
	[ "$got" = "$2" ] || { echo "$1 delivered $got of $2" >&2; return 1; }
}
# plain NAME MSGS: msgs/s of messages without attachments.
plain()
{
	local t0 t1
	t0=$(now)
	smtp-source -s 1 -m "$2" -l "$SIZE" -M bench.test -f b@bench.test \
		-t rcpt@example.org 127.0.0.1:"${PORT[$1]}" >"$T/source.log" 2>&1 ||
		{ cat "$T/source.log" >&2; return 1; }
	t1=$(now)
	count "$1" "$2" || return 1
	awk -v m="$2" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", m / (b - a) }'
}
# zipped NAME MSGS: msgs/s (x100) of the zip message, one at a time.
zipped()
{
	python3 - "${PORT[$1]}" "$2" "$T/zip.eml" <<'PY' || return 1
import smtplib, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msg = open(path, "rb").read()
t0 = time.monotonic()
s = smtplib.SMTP("127.0.0.1", port)
for _ in range(n):
    s.sendmail("b@bench.test", ["rcpt@example.org"], msg)
s.quit()
print("%.0f" % (100 * n / (time.monotonic() - t0)))
PY
	count "$1" "$2"
}

for n in off on; do
	plain "$n" 100 >/dev/null || fail "warm-up $n"
	zipped "$n" 2 >/dev/null || fail "warm-up zip $n"
done
declare -A bp=([off]=0 [on]=0) bz=([off]=0 [on]=0)
for _ in $(seq "$ROUNDS"); do
	for n in off on; do
		r=$(plain "$n" "$N") || fail "plain $n"
		[ "$r" -gt "${bp[$n]}" ] && bp[$n]=$r
		r=$(zipped "$n" "$ZN") || fail "zip $n"
		[ "$r" -gt "${bz[$n]}" ] && bz[$n]=$r
	done
done
for n in off on; do
	kill -0 "${PID[$n]}" 2>/dev/null || fail "posternd $n died"
done
ratio=$(awk -v a="${bp[on]}" -v b="${bp[off]}" 'BEGIN { printf "%.2f", a / b }')
# ms per MiB of archive: (1/on - 1/off) per message over its MiB
msmb=$(awk -v on="${bz[on]}" -v off="${bz[off]}" -v z="$ZIP_BYTES" \
	'BEGIN { printf "%.1f", (100000 / on - 100000 / off) / (z / 1048576) }')
printf '%-34s %10s %10s %8s\n' "" off on ratio
printf '%-34s %10s %10s %8s\n' "no attachment ($SIZE B), msgs/s" \
	"${bp[off]}" "${bp[on]}" "$ratio"
printf '%-34s %10.2f %10.2f %8s\n' "zip of $ZIP_BYTES B, msgs/s" \
	"$(awk -v x="${bz[off]}" 'BEGIN { print x / 100 }')" \
	"$(awk -v x="${bz[on]}" 'BEGIN { print x / 100 }')" ""
echo "inspection: $msmb ms per MiB of archive"
echo "SUMMARY attachment: plain ratio $ratio (${bp[on]}/${bp[off]} msgs/s), zip ${msmb} ms/MiB"
