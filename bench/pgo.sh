#!/usr/bin/env bash
# Regenerates cmd/gims-capd/default.pgo, the CPU profile the Go toolchain
# uses for profile-guided optimization of gims-capd (`go build` picks up a
# default.pgo in the main package's folder by itself, -pgo=auto): hot calls
# are inlined across packages (the flow table's Add takes its lookup, hash,
# canonical ordering and LRU touch inline; the decoder its fast path), which
# the inliner's plain budget refuses.
#
# The profile is capture/meter's BenchmarkTrace (the offline meter's path:
# read, decode, biflows, IPFIX) over every trace of the suite (bench/suite.sh
# generates it when a trace is missing), plain, plus the keyed run with a packet sink
# (-anonymize-key with -w) on mix and samples, so that the sanitizer's hot
# calls count too. Each trace gets a few passes; the profiles are merged
# with `go tool pprof -proto`. Regenerate it after changes to the per-packet
# path (stale profiles still apply where functions kept their shape, and
# lose the rest). About a minute of CPU; wrap it in the bench lock on a
# shared machine: `flock /work/wt/bench.lock make pgo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/suite.sh
GO=${GO:-go}
passes=${PGO_PASSES:-8}
# PGO_KEYED names the traces also profiled keyed with -w ("" for none).

dir=$(suite_dir)
for name in $(suite_names); do
	[ -f "$dir/$name.pcap" ] || { bash bench/suite.sh; break; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GO" test -c -o "$tmp/meter.test" ./capture/meter

profiles=()
run() { # name, extra environment...
	local name=$1
	shift
	env GIMS_BENCH_TRACE="$dir/$name.pcap" "$@" "$tmp/meter.test" -test.run '^$' \
		-test.bench '^BenchmarkTrace$' -test.benchtime "${passes}x" \
		-test.cpuprofile "$tmp/$name$#.pprof" >/dev/null
	profiles+=("$tmp/$name$#.pprof")
}
for name in $(suite_names); do
	run "$name"
done
for name in ${PGO_KEYED-mix samples tiny icmp ipv6}; do
	run "$name" GIMS_BENCH_KEY=1 GIMS_BENCH_WRITE=1
done
"$GO" tool pprof -proto "${profiles[@]}" >"$tmp/merged.pgo" 2>/dev/null
mv "$tmp/merged.pgo" cmd/gims-capd/default.pgo
echo "cmd/gims-capd/default.pgo: $(wc -c <cmd/gims-capd/default.pgo) bytes from ${#profiles[@]} profiles"
