#!/usr/bin/env bash
# Flow-query benchmark (issue 16), run by `make bench-flowquery`.
#
# Generates a synthetic trace with FQ_FLOWS flows (bin/gims-tracegen,
# bench/lib.sh's make_trace), meters it once with gims-capd -r into an
# IPFIX file, then measures on those same flows:
#
#   ours    the AM's flow store (flowstore, SQLite): the Go benchmarks
#           BenchmarkIngest (every flow of the IPFIX file into a new store),
#           BenchmarkReadFlows (decoding alone), BenchmarkTopSources
#           (top 10 sources by bytes), BenchmarkTopSourcesFiltered (of TCP
#           flows, from the snapshot; ...SQL: in SQL), BenchmarkSnapshotLoad
#           and
#           BenchmarkOneHost (the first page of one host's flows), with
#           FLOWQUERY_IPFIX pointing at the file;
#           and BenchmarkPcapCut in am (one flow's packets out of the
#           trace, as query.pcap cuts them, with the heap in use);
#   nfdump  the same flows exported by gims-capd -collector to nfcapd over
#           UDP on 127.0.0.1, then `nfdump -R dir -s srcip/bytes -n 10` and
#           `nfdump -R dir 'host X'` (X the busiest source), median of
#           FQ_RUNS runs.
#
# Prints a markdown table. Knobs: FQ_FLOWS (200000; the issue's target is
# 10,000,000: `FQ_FLOWS=10000000 bash bench/flowquery.sh` on a quiet
# machine), FQ_PACKETS (5 × FQ_FLOWS), FQ_RUNS (3), GO.
set -euo pipefail
FQ_FLOWS=${FQ_FLOWS:-200000}
export BENCH_FLOWS=$FQ_FLOWS BENCH_PACKETS=${FQ_PACKETS:-$((FQ_FLOWS * 5))}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
FQ_RUNS=${FQ_RUNS:-3}

build_gims
[ -n "$capd" ] || exit 1
setup_time
make_trace
IPFIX=$OUT/fq.ipfix
rm -f "$IPFIX"
"$capd" -r "$TRACE" -ipfix "$IPFIX" >"$OUT/fq-meter.log" 2>&1

# --- ours -------------------------------------------------------------------
say "flowquery.sh: Go benchmarks of the flow store over $IPFIX"
FLOWQUERY_IPFIX=$(pwd)/$IPFIX "$GO" test -run '^$' -bench 'Ingest|ReadFlows|TopSources|OneHost|SnapshotLoad' -benchtime "${FQ_RUNS}x" \
	./flowstore >"$OUT/fq-go.txt" 2>&1 || { cat "$OUT/fq-go.txt" >&2; exit 1; }
say "flowquery.sh: the cut of one flow's packets out of $TRACE (query.pcap)"
FLOWQUERY_PCAP=$(pwd)/$TRACE "$GO" test -run '^$' -bench 'PcapCut' -benchtime "${FQ_RUNS}x" ./am >"$OUT/fq-cut.txt" 2>&1 ||
	{ cat "$OUT/fq-cut.txt" >&2; exit 1; }
ms() { awk -v b="$1" '$1 ~ "^"b"(-[0-9]+)?$" {printf "%.2f", $3 / 1e6}' "$OUT/fq-go.txt"; }
flows=$(python3 - "$IPFIX" <<'PY'
import struct, sys
# Count the data records by walking the IPFIX messages: sets 256+ hold
# records of the exporter's templates; read each template's length.
data = open(sys.argv[1], 'rb').read()
off, tl, n = 0, {}, 0
while off + 16 <= len(data):
    ver, ln = struct.unpack('>HH', data[off:off+4])
    if ver != 10 or ln < 16: break
    s = off + 16
    while s + 4 <= off + ln:
        sid, sl = struct.unpack('>HH', data[s:s+4])
        body = data[s+4:s+sl]
        if sid == 2:
            p = 0
            while p + 4 <= len(body):
                tid, fc = struct.unpack('>HH', body[p:p+4]); p += 4; size = 0
                for _ in range(fc):
                    ie, fl = struct.unpack('>HH', body[p:p+4]); p += 4
                    if ie & 0x8000: p += 4
                    size += fl
                tl[tid] = size
        elif sid >= 256 and tl.get(sid):
            n += len(body) // tl[sid]
        s += sl
    off += ln
print(n)
PY
)

# --- nfdump -------------------------------------------------------------------
NFDIR=$OUT/nfcapd
rm -rf "$NFDIR"
mkdir -p "$NFDIR"
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nfcapd -b 127.0.0.1 -p "$port" -w "$NFDIR" -t 3600 -B "$(cat /proc/sys/net/core/rmem_max)" >"$OUT/nfcapd.log" 2>&1 &
nfpid=$!
trap 'kill "$nfpid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q Startup "$OUT/nfcapd.log" 2>/dev/null && break; sleep 0.1; done
grep -q Startup "$OUT/nfcapd.log" || { say "flowquery.sh: nfcapd did not start:"; cat "$OUT/nfcapd.log" >&2; exit 1; }
"$capd" -r "$TRACE" -collector "udp://127.0.0.1:$port" >"$OUT/fq-export.log" 2>&1
sleep 1 # the last datagrams reach nfcapd
kill -TERM "$nfpid"
wait "$nfpid" || true
grep -q Terminating "$OUT/nfcapd.log" || { say "flowquery.sh: nfcapd did not end cleanly:"; cat "$OUT/nfcapd.log" >&2; exit 1; }
nf_flows=$(nfdump -R "$NFDIR" -q -o 'fmt:%pr' 2>/dev/null | wc -l)
rm -f "$OUT"/nf-top.times "$OUT"/nf-toptcp.times "$OUT"/nf-host.times
for _ in $(seq "$FQ_RUNS"); do
	measure "$OUT/nf-top.times" nfdump -R "$NFDIR" -q -n 10 -s srcip/bytes
	measure "$OUT/nf-toptcp.times" nfdump -R "$NFDIR" -q -n 10 -s srcip/bytes 'proto tcp'
done
host=$(nfdump -R "$NFDIR" -q -6 -n 1 -s srcip/bytes 2>/dev/null | awk 'NF {print $5; exit}')
for _ in $(seq "$FQ_RUNS"); do
	measure "$OUT/nf-host.times" nfdump -R "$NFDIR" -q -c 100 "host $host"
done
nfms() { awk -v v="$(median "$1" 1)" 'BEGIN {printf "%.1f", v / 1000}'; }

cat <<EOT

### Flow queries: $flows flows ($(machine))

| step | GIMS flow store (SQLite) | nfdump 1.7 ($nf_flows flows received by nfcapd) |
|---|---|---|
| ingest of every flow | $(ms BenchmarkIngest) ms ($(awk '/^BenchmarkIngest/ {printf "%.2f", $5}' "$OUT/fq-go.txt") s of CPU; of which decoding the IPFIX file $(ms BenchmarkReadFlows) ms) | (nfcapd writes as it receives) |
| top 10 sources by bytes | $(ms BenchmarkTopSources) ms (rollup) | $(nfms "$OUT/nf-top.times") ms (\`nfdump -s srcip/bytes -n 10\`) |
| top 10 sources by bytes of TCP flows | $(ms BenchmarkTopSourcesFiltered) ms (a pass over the in-memory snapshot; in SQL: $(ms BenchmarkTopSourcesFilteredSQL) ms; loading the snapshot once: $(ms BenchmarkSnapshotLoad) ms) | $(nfms "$OUT/nf-toptcp.times") ms (\`nfdump -s srcip/bytes -n 10 'proto tcp'\`) |
| query.pcap: one flow's packets out of the $(( $(stat -c %s "$TRACE") / 1048576 )) MiB trace | $(awk '/^BenchmarkPcapCut/ {printf "%.0f ms (%s MB/s, heap %s MiB)", $3 / 1e6, $5, $7}' "$OUT/fq-cut.txt") | |
| one host's flows (first 100) | $(ms BenchmarkOneHost) ms | $(nfms "$OUT/nf-host.times") ms (\`nfdump 'host $host' -c 100\`) |

Ours: the mean of $FQ_RUNS Go benchmark runs; nfdump: the median of $FQ_RUNS runs. $(awk '/^BenchmarkIngest/ {printf "Ingest: %s flows/s.", $7}' "$OUT/fq-go.txt")
EOT
exit "$status"
