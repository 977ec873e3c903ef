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
#   rewritten  the same with -anonymize-key KEY: every packet is rewritten
#              before it is written, not only the flow records
#
# and prints a markdown table: wall time, CPU time (user + system, the
# steadier figure on a shared machine), packets/s, peak RSS and the ratios
# to the floor. Knobs (environment): BENCH_PACKETS (1000000), BENCH_FLOWS
# (120000), BENCH_SEED (1), BENCH_IPV6_SHARE (0.3), BENCH_RUNS (5), GO (go).
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
	names+=(written rewritten)
	label[written]='`gims-capd … -counters out.csv -w /dev/null`'
	cmd[written]="$capd -r $TRACE -ipfix $OUT/flows.ipfix -counters $OUT/counters.csv -w /dev/null"
	label[rewritten]='`gims-capd … -anonymize-key KEY -counters out.csv -w /dev/null`'
	cmd[rewritten]="$capd -r $TRACE -ipfix $OUT/flows-anon.ipfix -anonymize-key $KEY -counters $OUT/counters.csv -w /dev/null"
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
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
if [ -n "$capd" ] && [ -s "$OUT/meter.times.out" ]; then
	echo
	echo "gims-capd summary (last run): $(tail -n 1 "$OUT/meter.times.out")"
fi
exit "$status"
