#!/usr/bin/env bash
# Instructions per packet of gims-capd -r on every trace of the suite
# (issue 14, the cost of -anonymize-key and -w over the plain run), with
# valgrind's cachegrind (--cache-sim=no): the counts do not depend on the
# machine's load, so before/after comparisons hold on a shared machine.
#
#   bash bench/keycost.sh [gims-capd binary ...]
#
# For each binary (default: bin/gims-capd, built here) and each trace of
# $BENCH_SUITE_DIR (default bench/out/suite, made by bench/suite.sh), runs
#
#   plain  gims-capd -r trace -ipfix out
#   key    … -anonymize-key KEY
#   w      … -w /dev/null
#   key+w  … -anonymize-key KEY -w /dev/null
#
# and prints a markdown row: instructions per packet, and key, w and key+w
# as a multiple of plain. BENCH_TRACES limits the traces (names, spaces
# between). About 40× slower than the runs themselves (~8 min for the
# whole suite). Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
command -v valgrind >/dev/null || { say "keycost.sh: valgrind is not installed"; exit 1; }
dir=${BENCH_SUITE_DIR:-bench/out/suite}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
	build_gims
	bins=("$capd")
fi
traces=${BENCH_TRACES:-"mix clustered ports ipv6 icmp tiny samples"}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
count() { # binary trace args...: instructions of the whole run
	# The file is mapped (-mmap, where the binary has it; older ones always
	# map): reading with read(2) under valgrind, a run mostly dies of
	# SIGILL (the Go runtime, spinning on a lock contended around the
	# system calls, reads the time stamp counter with RDTSCP, which
	# valgrind 3.19 does not know). A failed run is tried again.
	local b=$1 t=$2 try
	shift 2
	if "$b" -h 2>&1 | grep -q -- -mmap; then
		set -- "$@" -mmap
	fi
	for try in 1 2 3 4 5; do
		if valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$W/cg" "$b" -r "$t" -ipfix "$W/out.ipfix" "$@" >/dev/null 2>&1; then
			awk '/^summary:/ {print $2}' "$W/cg"
			return
		fi
	done
	say "keycost.sh: $b -r $t $*: no run under valgrind succeeded"
	echo 0
}
echo "| binary | trace | packets | plain instr/packet | key | w | key+w |"
echo "|---|---|---:|---:|---:|---:|---:|"
for b in "${bins[@]}"; do
	for name in $traces; do
		t="$dir/$name.pcap"
		[ -f "$t" ] || { say "keycost.sh: no $t (run bash bench/suite.sh)"; continue; }
		n=$(tcpdump -r "$t" -nn -q 2>/dev/null | wc -l)
		p=$(count "$b" "$t")
		k=$(count "$b" "$t" -anonymize-key "$KEY")
		w=$(count "$b" "$t" -w /dev/null)
		kw=$(count "$b" "$t" -anonymize-key "$KEY" -w /dev/null)
		awk -v b="$b" -v name="$name" -v n="$n" -v p="$p" -v k="$k" -v w="$w" -v kw="$kw" 'BEGIN {
			printf "| %s | %s | %d | %.0f | %.3f× | %.3f× | %.3f× |\n", b, name, n, p/n, k/p, w/p, kw/p }'
	done
done
