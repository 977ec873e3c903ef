#!/usr/bin/env bash
# Offline flow-meter benchmark, run by `make bench` after the Go benchmarks.
#
# Builds bin/gims-capd and bin/gims-tracegen, generates a synthetic trace
# once (bench/out/trace.pcap, reused while the parameters and the
# generator's sources are unchanged), then times, median of $BENCH_RUNS runs:
#
#   floor      tcpdump -r trace -w /dev/null   (libpcap reading the file)
#   meter      gims-capd -r trace -ipfix out
#   anonymized gims-capd -r trace -ipfix out -anonymize-key KEY -counters csv
#
# and prints a markdown table: wall time, packets/s, peak RSS and the ratio
# to the floor. Knobs (environment): BENCH_PACKETS (1000000), BENCH_FLOWS
# (120000), BENCH_SEED (1), BENCH_IPV6_SHARE (0.3), BENCH_RUNS (5), GO (go).
#
# Exit status: 0 when every run succeeded, 1 otherwise (the table still shows
# what could be measured, e.g. the floor when gims-capd does not build).
set -euo pipefail

cd "$(dirname "$0")/.."
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

# --- build --------------------------------------------------------------
"$GO" build -o bin/ ./cmd/gims-tracegen
capd=bin/gims-capd
if ! "$GO" build -o bin/ ./cmd/gims-capd 2>"$OUT/build-capd.log"; then
	say "offline.sh: gims-capd does not build (see $OUT/build-capd.log); only the floor is measured"
	capd=""
	status=1
fi

# --- peak RSS -------------------------------------------------------------
# GNU time (package `time`) reports the peak RSS in KiB with %M. Without it,
# python3 reads the same number from wait4(); Linux then counts the
# interpreter's pages the child held before exec (about 8 MiB more).
TIME=/usr/bin/time
if [ ! -x "$TIME" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || true
fi
if [ ! -x "$TIME" ] || ! "$TIME" -f %M -o /dev/null true 2>/dev/null; then
	TIME=""
	command -v python3 >/dev/null || { say "offline.sh: need GNU time or python3 for the peak RSS"; exit 1; }
fi

# measure FILE CMD...: runs CMD once (stdout and stderr to FILE.out), and
# appends "<wall µs> <peak RSS KiB>" to FILE. Returns the status of CMD.
measure() {
	local file=$1
	shift
	local start end rss rc=0
	if [ -n "$TIME" ]; then
		start=$(date +%s%N)
		"$TIME" -f %M -o "$file.rss" "$@" >"$file.out" 2>&1 || rc=$?
		end=$(date +%s%N)
		rss=$(tail -n 1 "$file.rss")
	else
		start=$(date +%s%N)
		rss=$(python3 -c '
import os, sys
fa = [(os.POSIX_SPAWN_OPEN, 1, sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
      (os.POSIX_SPAWN_DUP2, 1, 2)]
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ, file_actions=fa)
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))' "$file.out" "$@") || rc=$?
		end=$(date +%s%N)
	fi
	[ "$rc" = 0 ] || return "$rc"
	echo "$(( (end - start) / 1000 )) $rss" >>"$file" # µs, KiB
}

# median FILE COLUMN: the median of a column of numbers.
median() {
	awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{v[NR]=$1} END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2) }'
}

# --- trace ----------------------------------------------------------------
# The trace is reused while the flags and the generator's sources are the
# same, since the generator is deterministic.
params="packets=$PACKETS flows=$FLOWS seed=$SEED ipv6-share=$IPV6_SHARE src=$(cat cmd/gims-tracegen/*.go | sha256sum | cut -c1-16)"
if [ -f "$TRACE" ] && [ "$(cat "$TRACE.params" 2>/dev/null)" = "$params" ]; then
	say "offline.sh: reusing $TRACE ($params)"
else
	rm -f "$TRACE" "$TRACE.params"
	bin/gims-tracegen -o "$TRACE" -packets "$PACKETS" -flows "$FLOWS" -seed "$SEED" -ipv6-share "$IPV6_SHARE"
	echo "$params" >"$TRACE.params"
fi
cat "$TRACE" >/dev/null # warm the page cache so every run reads from memory

# --- runs -----------------------------------------------------------------
names=(floor)
declare -A label cmd
label[floor]='`tcpdump -r trace -w /dev/null` (libpcap floor)'
cmd[floor]="tcpdump -r $TRACE -w /dev/null"
if [ -n "$capd" ]; then
	names+=(meter anonymized)
	label[meter]='`gims-capd -r trace -ipfix flows.ipfix`'
	cmd[meter]="$capd -r $TRACE -ipfix $OUT/flows.ipfix"
	label[anonymized]='`gims-capd … -anonymize-key KEY -counters out.csv`'
	cmd[anonymized]="$capd -r $TRACE -ipfix $OUT/flows-anon.ipfix -anonymize-key $KEY -counters $OUT/counters.csv"
fi

for n in "${names[@]}"; do
	: >"$OUT/$n.times"
	for i in $(seq "$RUNS"); do
		# shellcheck disable=SC2086 # the commands are word lists
		if ! measure "$OUT/$n.times" ${cmd[$n]}; then
			say "offline.sh: run $i of $n failed: ${cmd[$n]}"
			tail -n 5 "$OUT/$n.times.out" >&2
			status=1
			break
		fi
	done
done

# --- report ---------------------------------------------------------------
size=$(stat -c %s "$TRACE")
echo
echo "### Offline flow meter: $PACKETS packets, $FLOWS flows, IPv6 share $IPV6_SHARE, $((size / 1048576)) MiB trace"
echo
echo "| run | wall (median of $RUNS) | packets/s | peak RSS | × floor |"
echo "|---|---:|---:|---:|---:|"
floor=""
for n in "${names[@]}"; do
	if [ "$(wc -l <"$OUT/$n.times")" -lt "$RUNS" ]; then
		echo "| ${label[$n]} | failed | | | |"
		continue
	fi
	us=$(median "$OUT/$n.times" 1)
	rss=$(median "$OUT/$n.times" 2)
	[ -n "$floor" ] || floor=$us
	awk -v us="$us" -v rss="$rss" -v p="$PACKETS" -v f="$floor" -v l="${label[$n]}" 'BEGIN {
		printf "| %s | %.3f s | %.0f | %.1f MiB | %.2f |\n", l, us/1e6, p/(us/1e6), rss/1024, us/f }'
done
if [ -n "$capd" ] && [ -s "$OUT/meter.times.out" ]; then
	echo
	echo "gims-capd summary (last run): $(tail -n 1 "$OUT/meter.times.out")"
fi
exit "$status"
