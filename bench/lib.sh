# bench/lib.sh - shared by the benchmark scripts that drive posternd
# instances: sourced after T (the work dir) is set.
#   bench_init NAME   traps cleanup: stops every pid in PIDS, unmounts
#                     $T/fs, removes $T; defines fail for NAME
#   free_port         a free TCP port on 127.0.0.1
#   wait_port P PID   until 127.0.0.1:P accepts (1 if PID died first)

PIDS=()

bench_cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	umount "$T/fs" 2>/dev/null
	rm -rf "$T"
}

bench_init()
{
	BENCH_NAME=$1
	trap bench_cleanup EXIT
}

fail()
{
	echo "$BENCH_NAME: FAILED: $*" >&2
	echo "SUMMARY ${BENCH_NAME%.sh}: FAILED ($*)"
	exit 1
}

free_port()
{
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port()
{
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
