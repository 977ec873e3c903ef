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
#   written    gims-capd -r trace -ipfix out -counters csv -w /dev/null
#   sanitized  the same with -anonymize-key KEY -payload strip -mac keyed:
#              every packet is sanitized (SPEC §8) before it is written,
#              not only the flow records
#
# and prints a markdown table: wall time, CPU time (user + system, the
# steadier figure on a shared machine), packets/s, peak RSS and the ratios
# to the floor; then the side-by-side ratio of sanitized to written (issue
# 11's target: at most 1.2). The written and sanitized runs alternate, so
# that a change of load on a shared machine weighs on both alike. Knobs (environment): BENCH_PACKETS (1000000), BENCH_FLOWS
# (120000), BENCH_SEED (1), BENCH_IPV6_SHARE (0.3), BENCH_RUNS (5), GO (go),
# BENCH_TRACE and BENCH_REPEAT (time a given capture, repeated, instead:
# BENCH_TRACE=packet/testdata/pcaps/tcpreplay__test.pcap BENCH_REPEAT=4000
# for the repository's trace).
#
# Exit status: 0 when every run succeeded, 1 otherwise (the table still shows
# what could be measured, e.g. the floor when gims-capd does not build).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

build_gims
setup_time
make_trace

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
	names+=(written sanitized)
	label[written]='`gims-capd … -counters out.csv -w /dev/null`'
	cmd[written]="$capd -r $TRACE -ipfix $OUT/flows.ipfix -counters $OUT/counters.csv -w /dev/null"
	label[sanitized]='`gims-capd … -anonymize-key KEY -payload strip -mac keyed -counters out.csv -w /dev/null`'
	cmd[sanitized]="$capd -r $TRACE -ipfix $OUT/flows-anon.ipfix -anonymize-key $KEY -payload strip -mac keyed -counters $OUT/counters.csv -w /dev/null"
fi

# run_one NAME I: the I-th run of NAME, 1 when it failed.
run_one() {
	# shellcheck disable=SC2086 # the commands are word lists
	if ! measure "$OUT/$1.times" ${cmd[$1]}; then
		say "offline.sh: run $2 of $1 failed: ${cmd[$1]}"
		tail -n 5 "$OUT/$1.times.out" >&2
		return 1
	fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${names[@]}"; do
	: >"$OUT/$n.times"
done
for n in "${names[@]}"; do
	case $n in written | sanitized) continue ;; esac
	for i in $(seq "$RUNS"); do
		run_one "$n" "$i" || { status=1; break; }
	done
done
# The side-by-side pair, interleaved.
if [ -n "$capd" ]; then
	for i in $(seq "$RUNS"); do
		run_one written "$i" || { status=1; break; }
		run_one sanitized "$i" || { status=1; break; }
	done
fi

# --- report ---------------------------------------------------------------
size=$(stat -c %s "$TRACE")
echo
if [ -n "${BENCH_TRACE:-}" ]; then
	echo "### Offline flow meter: $PACKETS packets, $(basename "$BENCH_TRACE") × ${BENCH_REPEAT:-1}, $((size / 1048576)) MiB trace"
else
	echo "### Offline flow meter: $PACKETS packets, $FLOWS flows, IPv6 share $IPV6_SHARE, $((size / 1048576)) MiB trace"
fi
echo
echo "Load average $load_start when the runs started, $(cut -d' ' -f1-3 /proc/loadavg) when they ended."
echo
echo "| run | wall (median of $RUNS) | CPU (user+sys) | packets/s | peak RSS | × floor (wall) | × floor (CPU) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
floor="" floorcpu=""
for n in "${names[@]}"; do
	if [ "$(wc -l <"$OUT/$n.times")" -lt "$RUNS" ]; then
		echo "| ${label[$n]} | failed | | | | | |"
		continue
	fi
	us=$(median "$OUT/$n.times" 1)
	rss=$(median "$OUT/$n.times" 2)
	cpu=$(median "$OUT/$n.times" 3)
	[ -n "$floor" ] || floor=$us floorcpu=$cpu
	awk -v us="$us" -v rss="$rss" -v cpu="$cpu" -v p="$PACKETS" -v f="$floor" -v fc="$floorcpu" -v l="${label[$n]}" 'BEGIN {
		printf "| %s | %.3f s | %.3f s | %.0f | %.1f MiB | %.2f | %s |\n", l, us/1e6, cpu/1e3, p/(us/1e6), rss/1024, us/f, (fc > 0 ? sprintf("%.2f", cpu/fc) : "–") }'
done
if [ -n "$capd" ] && [ "$(wc -l <"$OUT/written.times")" -ge "$RUNS" ] && [ "$(wc -l <"$OUT/sanitized.times")" -ge "$RUNS" ]; then
	echo
	awk -v w="$(median "$OUT/written.times" 1)" -v s="$(median "$OUT/sanitized.times" 1)" \
		-v wc="$(median "$OUT/written.times" 3)" -v sc="$(median "$OUT/sanitized.times" 3)" 'BEGIN {
		printf "Sanitization side by side (issue 11, target ≤ 1.20): sanitized / written = %.2f× wall, %s CPU.\n",
			s/w, (wc > 0 ? sprintf("%.2f×", sc/wc) : "–") }'
	echo
	echo "gims-capd summary of the sanitized run (last): $(tail -n 1 "$OUT/sanitized.times.out")"
fi
if [ -n "$capd" ] && [ -s "$OUT/meter.times.out" ]; then
	echo
	echo "gims-capd summary (last run): $(tail -n 1 "$OUT/meter.times.out")"
fi
exit "$status"
