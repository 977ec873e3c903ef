# Shared helpers of the offline benchmarks (bench/offline.sh,
# bench/peers.sh); sourced, not run. It sets the knobs from the
# environment, and defines:
#
#   say MSG              print on stderr
#   build_gims           build bin/gims-tracegen and bin/gims-capd; sets capd
#                        (empty when gims-capd does not build) and status
#   setup_time           build bench/out/cputime (bench/cputime.c), or pick
#                        GNU time or python3, to read the peak RSS and CPU
#   measure FILE CMD...  run CMD once; append "<wall µs> <peak RSS KiB>
#                        <user+sys ms, to the µs>" to FILE; output in FILE.out
#   median FILE COL      the median of a column of FILE
#   make_trace           generate (or reuse) the seeded trace $TRACE
#   machine              one line describing this machine
#
# Knobs: BENCH_PACKETS (1000000), BENCH_FLOWS (120000), BENCH_SEED (1),
# BENCH_IPV6_SHARE (0.3), BENCH_RUNS (5), GO (go); BENCH_TRACE and
# BENCH_REPEAT (a given capture instead of a generated one, see make_trace).

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PACKETS=${BENCH_PACKETS:-1000000}
FLOWS=${BENCH_FLOWS:-120000}
SEED=${BENCH_SEED:-1}
IPV6_SHARE=${BENCH_IPV6_SHARE:-0.3}
RUNS=${BENCH_RUNS:-5}
OUT=bench/out
TRACE=$OUT/trace.pcap
# A fixed Crypto-PAn key: the benchmark measures cost, not secrecy.
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

status=0
mkdir -p "$OUT" bin

say() { printf '%s\n' "$*" >&2; }

build_gims() {
	"$GO" build -o bin/ ./cmd/gims-tracegen
	capd=bin/gims-capd
	if ! "$GO" build -o bin/ ./cmd/gims-capd 2>"$OUT/build-capd.log"; then
		say "$(basename "$0"): gims-capd does not build (see $OUT/build-capd.log)"
		capd=""
		status=1
	fi
}

# The CPU time of a run is read with bench/cputime.c (built here with cc):
# wait4's user + system, which Linux keeps to the task's exact runtime,
# printed to the microsecond. GNU time prints the same figure with two
# decimals, so a table built on it came in 10 ms steps (a tenth of the
# ratio on a 100 ms trace). `perf stat -e task-clock` gives the same
# figure (within its own fork, about 0.5 ms) but cannot give the peak RSS.
# Without a C compiler: GNU time (%M, %U, %S; 10 ms steps), then python3's
# wait4 (Linux then counts the interpreter's pages the child held before
# exec, about 8 MiB more, in the peak RSS).
setup_time() {
	CPUTIME=$OUT/cputime
	if [ ! -x "$CPUTIME" ] || [ bench/cputime.c -nt "$CPUTIME" ]; then
		cc -O2 -o "$CPUTIME" bench/cputime.c 2>"$OUT/cputime.log" || CPUTIME=""
	fi
	[ -z "$CPUTIME" ] || return 0
	say "$(basename "$0"): bench/cputime.c does not build (see $OUT/cputime.log); CPU times in 10 ms steps"
	TIME=/usr/bin/time
	if [ ! -x "$TIME" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || true
	fi
	if [ ! -x "$TIME" ] || ! "$TIME" -f %M -o /dev/null true 2>/dev/null; then
		TIME=""
		command -v python3 >/dev/null || { say "need cc, GNU time or python3 for the CPU time"; exit 1; }
	fi
}

# measure FILE CMD...: runs CMD once (stdout and stderr to FILE.out), and
# appends "<wall µs> <peak RSS KiB> <CPU ms>" to FILE (the CPU time with
# three decimals). Returns the status of CMD.
measure() {
	local file=$1
	shift
	local start end stats rc=0
	if [ -n "${CPUTIME:-}" ]; then
		start=$(date +%s%N)
		"$CPUTIME" -o "$file.rss" "$@" >"$file.out" 2>&1 || rc=$?
		end=$(date +%s%N)
		[ "$rc" != 0 ] || stats=$(awk '{printf "%d %.3f", $1, $2 / 1e6}' "$file.rss")
	elif [ -n "$TIME" ]; then
		start=$(date +%s%N)
		"$TIME" -f '%M %U %S' -o "$file.rss" "$@" >"$file.out" 2>&1 || rc=$?
		end=$(date +%s%N)
		stats=$(tail -n 1 "$file.rss" | awk '{printf "%d %d", $1, ($2+$3)*1000}')
	else
		start=$(date +%s%N)
		stats=$(python3 -c '
import os, sys
fa = [(os.POSIX_SPAWN_OPEN, 1, sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
      (os.POSIX_SPAWN_DUP2, 1, 2)]
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ, file_actions=fa)
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss, "%.3f" % ((ru.ru_utime + ru.ru_stime) * 1000))
sys.exit(os.waitstatus_to_exitcode(status))' "$file.out" "$@") || rc=$?
		end=$(date +%s%N)
	fi
	[ "$rc" = 0 ] || return "$rc"
	echo "$(( (end - start) / 1000 )) $stats" >>"$file" # µs, KiB, ms
}

# median FILE COLUMN: the median of a column of numbers.
median() {
	awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{v[NR]=$1} END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2 }'
}

# make_trace generates the trace once; it is reused while the flags and the
# generator's sources are the same, since the generator is deterministic.
# With BENCH_TRACE set, the trace is that capture file instead (a pcap,
# microsecond or nanosecond), repeated BENCH_REPEAT times (default 1) with
# the timestamps of each copy shifted after the previous one's, so that a
# short capture (the repository's packet/testdata/pcaps/tcpreplay__test.pcap:
# 259 packets) lasts long enough to time.
make_trace() {
	if [ -n "${BENCH_TRACE:-}" ]; then
		TRACE=$OUT/given.pcap
		PACKETS=$(python3 - "$BENCH_TRACE" "${BENCH_REPEAT:-1}" "$TRACE" <<'PY'
import struct, sys
src, n, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(src, 'rb').read()
magic = data[:4]
e = {b'\xd4\xc3\xb2\xa1': '<', b'\x4d\x3c\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\xa1\xb2\x3c\x4d': '>'}.get(magic)
if e is None:
    sys.exit(f"{src}: not a pcap file")
frac = 10**9 if magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d') else 10**6
recs, off = [], 24
while off + 16 <= len(data):
    sec, sub, incl, orig = struct.unpack(e + 'IIII', data[off:off+16])
    recs.append((sec * frac + sub, data[off+8:off+16+incl]))
    off += 16 + incl
span = recs[-1][0] - recs[0][0] + frac if recs else 0
with open(dst, 'wb') as out:
    out.write(data[:24])
    for i in range(n):
        for t, rest in recs:
            t += i * span
            out.write(struct.pack(e + 'II', t // frac, t % frac) + rest)
print(len(recs) * n)
PY
)
		cat "$TRACE" >/dev/null
		return
	fi
	local params
	params="packets=$PACKETS flows=$FLOWS seed=$SEED ipv6-share=$IPV6_SHARE src=$(cat cmd/gims-tracegen/*.go | sha256sum | cut -c1-16)"
	if [ -f "$TRACE" ] && [ "$(cat "$TRACE.params" 2>/dev/null)" = "$params" ]; then
		say "$(basename "$0"): reusing $TRACE ($params)"
	else
		rm -f "$TRACE" "$TRACE.params"
		bin/gims-tracegen -o "$TRACE" -packets "$PACKETS" -flows "$FLOWS" -seed "$SEED" -ipv6-share "$IPV6_SHARE"
		echo "$params" >"$TRACE.params"
	fi
	cat "$TRACE" >/dev/null # warm the page cache so every run reads from memory
}

# machine describes the CPU, memory, OS and toolchain in one line.
machine() {
	local cpu mem os
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
	os=$(. /etc/os-release && echo "$PRETTY_NAME")
	echo "$(nproc) vCPU ${cpu:-unknown CPU}, $mem, $os, $("$GO" env GOVERSION), libpcap $(dpkg-query -W -f '${Version}' libpcap0.8 2>/dev/null || echo '?')"
}
