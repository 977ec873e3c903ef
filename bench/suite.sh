#!/usr/bin/env bash
# The offline trace suite (issue 14): generates, once, every shape of
# traffic the offline meter is measured on, into a cache folder that is not
# committed ($BENCH_SUITE_DIR, default bench/out/suite):
#
#   mix        gims-tracegen's default mix: 1M packets, 120k flows, 30 % IPv6
#   clustered  400k packets, 20k flows, every address in one IPv4 /16 and
#              one IPv6 /48, differing only in the last 16 bits
#   ports      400k packets, 40k flows between 4 clients and 2 servers
#   ipv6       400k packets, 48k flows, 90 % IPv6
#   icmp       400k packets, 60k flows, 80 % of the short flows pings
#   tiny       1M packets, 120k flows, 60-byte frames
#   samples    the repository's sample captures (capture/testdata/pcaps and
#              the pcapng of packet/testdata/pcaps; extra files or folders
#              in $BENCH_SAMPLES), concatenated $BENCH_SAMPLES_REPEAT times
#              (default 1200, about 1M packets) with gims-tracegen -concat
#
# A trace is generated again only when gims-tracegen's sources or its
# arguments changed (the generator is deterministic); each is named
# SUITE_DIR/NAME.pcap. `bash bench/suite.sh` alone generates the suite
# (`make suite`); bench/offline.sh sources it. BENCH_SUITE limits the suite
# to some names ("clustered tiny").
set -euo pipefail

suite_dir() { echo "${BENCH_SUITE_DIR:-bench/out/suite}"; }

# suite_names prints the names of the traces, in order.
suite_names() {
	echo "${BENCH_SUITE:-mix clustered ports ipv6 icmp tiny samples}"
}

# suite_samples prints the sample capture files, sorted.
suite_samples() {
	local extra=()
	for p in ${BENCH_SAMPLES:-}; do
		if [ -d "$p" ]; then
			extra+=("$p"/*.pcap "$p"/*.pcapng)
		else
			extra+=("$p")
		fi
	done
	printf '%s\n' capture/testdata/pcaps/*.pcap packet/testdata/pcaps/*.pcapng "${extra[@]}" |
		grep -v '\*' | sort -u
}

# make_suite generates whatever trace of the suite is missing or stale, with
# bin/gims-tracegen (built here if missing).
make_suite() {
	local dir src name args path params
	dir=$(suite_dir)
	mkdir -p "$dir" bin
	"${GO:-go}" build -o bin/ ./cmd/gims-tracegen
	src=$(cat cmd/gims-tracegen/*.go | sha256sum | cut -c1-16)
	for name in $(suite_names); do
		path=$dir/$name.pcap
		if [ "$name" = samples ]; then
			mapfile -t files < <(suite_samples)
			args=(-concat -repeat "${BENCH_SAMPLES_REPEAT:-1200}" "${files[@]}")
			params="src=$src args=${args[*]} sums=$(cat "${files[@]}" | sha256sum | cut -c1-16)"
		else
			args=(-shape "$name")
			params="src=$src args=${args[*]}"
		fi
		if [ -f "$path" ] && [ "$(cat "$path.params" 2>/dev/null)" = "$params" ]; then
			printf 'suite.sh: reusing %s\n' "$path" >&2
			continue
		fi
		rm -f "$path" "$path.params"
		bin/gims-tracegen -o "$path" "${args[@]}"
		echo "$params" >"$path.params"
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cd "$(dirname "$0")/.."
	make_suite
	ls -l "$(suite_dir)"/*.pcap
fi
