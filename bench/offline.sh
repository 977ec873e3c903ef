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
