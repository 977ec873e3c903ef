#!/usr/bin/env bash
# Offline flow meter against its peers, run by `make bench-peers`.
#
# Every run reads the same seeded trace (bench/lib.sh's make_trace) from the
# page cache:
#
#   floor      tcpdump -r trace -w /dev/null    (libpcap reading the file)
#   meter      gims-capd -r trace -ipfix out    (decode, biflows, IPFIX file)
#   anonymized gims-capd … -anonymize-key KEY   (the same with Crypto-PAn)
#   softflowd  softflowd -r trace -v 10 -b      (IPFIX biflows to nfcapd on 127.0.0.1)
#   nfpcapd    nfpcapd -r trace -w dir          (nfdump files)
#   pmacctd    pmacctd, nfprobe plugin          (IPFIX to nfcapd on 127.0.0.1)
#
# with the same timeouts (active 1800 s, idle 300 s) and room for every
# flow. The runs are interleaved ($BENCH_RUNS rounds of every command) so
# that a slower moment of a shared machine hits all of them alike; the
# table gives medians of wall time, CPU time (user + system), peak RSS,
# packets/s and the ratios to the floor and to gims-capd. The collectors
# (nfcapd) are started before and stopped after each timed run.
#
# Then the outputs are checked against each other: every meter's flows are
# read with nfdump (gims-capd's through one more, untimed, run exporting to
# nfcapd) and their packet and byte totals must agree within
# $BENCH_TOLERANCE percent (default 0.5). They differ by what each meter
# leaves out (nfpcapd and pmacctd drop a few hundred to a few thousand
# packets they do not account, e.g. ICMPv6 or fragments) and by byte
# conventions; flow counts are printed but not compared, since the meters
# split flows differently: nfpcapd and pmacctd export one flow per
# direction, softflowd and gims-capd biflows, and gims-capd ends a TCP
# flow on FIN from both sides or RST where the others wait for a timeout.
#
# Missing peers are installed from Debian (softflowd, nfdump, pmacct) when
# running as root; a peer that cannot run is reported as such. Knobs: those
# of bench/lib.sh, and BENCH_TOLERANCE.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
TOLERANCE=${BENCH_TOLERANCE:-0.5}

build_gims
setup_time
make_trace

# --- peers --------------------------------------------------------------
missing=()
command -v softflowd >/dev/null || missing+=(softflowd)
command -v nfpcapd >/dev/null && command -v nfcapd >/dev/null || missing+=(nfdump)
command -v pmacctd >/dev/null || missing+=(pmacct)
command -v tcpdump >/dev/null || missing+=(tcpdump)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "peers.sh: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$OUT/apt.log" 2>&1 ||
		say "peers.sh: apt-get install failed (see $OUT/apt.log)"
fi

PEERS=$OUT/peers
rm -rf "$PEERS"
mkdir -p "$PEERS"
SF_PORT=29995
PM_PORT=29996
GIMS_PORT=29997
TIMEOUTS="tcp=300:tcp.rst=300:tcp.fin=300:udp=300:icmp=300:general=300:maxlife=1800:expint=60"
cat >"$PEERS/pmacctd.conf" <<CONF
daemonize: false
pcap_savefile: $PWD/$TRACE
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:$PM_PORT
nfprobe_version: 10
nfprobe_timeouts: $TIMEOUTS
nfprobe_maxflows: 1048576
plugin_buffer_size: 65536
plugin_pipe_size: 67108864
CONF

# collector DIR PORT: start nfcapd on 127.0.0.1:PORT writing to DIR (fresh).
collector_pid=""
collector() {
	rm -rf "$1"
	mkdir -p "$1"
	nfcapd -b 127.0.0.1 -p "$2" -w "$1" -B 33554432 >"$1.log" 2>&1 &
	collector_pid=$!
	sleep 0.5
}
# collector_stop: let the collector take the last datagrams, then stop it
# (nfcapd writes its file on SIGTERM).
collector_stop() {
	[ -n "$collector_pid" ] || return 0
	sleep 1
	kill "$collector_pid" 2>/dev/null || true
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=""
}
# UDP export to a local collector loses datagrams when the collector's
# socket buffer is small and the machine busy: nfcapd asks for 32 MiB,
# which Linux caps at net.core.rmem_max. As root, raise the cap for the
# run and put it back afterwards.
rmem_old=""
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/net/core/rmem_max ]; then
	rmem_old=$(cat /proc/sys/net/core/rmem_max)
	[ "$rmem_old" -ge 33554432 ] && rmem_old="" || echo 33554432 >/proc/sys/net/core/rmem_max
fi
cleanup() {
	collector_stop
	[ -z "$rmem_old" ] || echo "$rmem_old" >/proc/sys/net/core/rmem_max
}
trap cleanup EXIT

names=(floor)
declare -A label cmd pre post flowdir
label[floor]='`tcpdump -r trace -w /dev/null` (libpcap read floor)'
cmd[floor]="tcpdump -r $TRACE -w /dev/null"
if [ -n "$capd" ]; then
	names+=(meter anonymized)
	label[meter]='`gims-capd -r trace -ipfix flows.ipfix`'
	cmd[meter]="$capd -r $TRACE -ipfix $PEERS/flows.ipfix"
	label[anonymized]='`gims-capd -r trace -ipfix flows.ipfix -anonymize-key KEY`'
	cmd[anonymized]="$capd -r $TRACE -ipfix $PEERS/flows-anon.ipfix -anonymize-key $KEY"
fi
if command -v softflowd >/dev/null && command -v nfcapd >/dev/null; then
	names+=(softflowd)
	label[softflowd]='`softflowd -r trace -v 10 -b` → nfcapd'
	# softflowd 1.1.0 blocks on its control socket when given -c or -p:
	# it keeps the defaults (/var/run), so one instance at a time.
	cmd[softflowd]="softflowd -r $TRACE -n 127.0.0.1:$SF_PORT -v 10 -b -6 -d -m 1048576"
	for t in ${TIMEOUTS//:/ }; do cmd[softflowd]+=" -t $t"; done
	pre[softflowd]="collector $PEERS/softflowd $SF_PORT"
	post[softflowd]=collector_stop
	flowdir[softflowd]=$PEERS/softflowd
fi
if command -v nfpcapd >/dev/null; then
	names+=(nfpcapd)
	label[nfpcapd]='`nfpcapd -r trace -w dir`'
	cmd[nfpcapd]="nfpcapd -r $TRACE -w $PEERS/nfpcapd -e 1800,300"
	pre[nfpcapd]="eval rm -rf $PEERS/nfpcapd && mkdir -p $PEERS/nfpcapd"
	flowdir[nfpcapd]=$PEERS/nfpcapd
fi
if command -v pmacctd >/dev/null && command -v nfcapd >/dev/null; then
	names+=(pmacctd)
	label[pmacctd]='`pmacctd` (savefile, nfprobe) → nfcapd'
	cmd[pmacctd]="pmacctd -f $PEERS/pmacctd.conf"
	pre[pmacctd]="collector $PEERS/pmacctd $PM_PORT"
	post[pmacctd]=collector_stop
	flowdir[pmacctd]=$PEERS/pmacctd
fi

declare -A failed
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${names[@]}"; do : >"$PEERS/$n.times"; done
for i in $(seq "$RUNS"); do
	for n in "${names[@]}"; do
		[ -z "${failed[$n]:-}" ] || continue
		${pre[$n]:-true}
		# shellcheck disable=SC2086 # the commands are word lists
		if ! measure "$PEERS/$n.times" ${cmd[$n]}; then
			say "peers.sh: run $i of $n failed: ${cmd[$n]}"
			tail -n 5 "$PEERS/$n.times.out" >&2
			failed[$n]=1
			status=1
		fi
		${post[$n]:-true}
	done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# gims-capd's flows for nfdump: one untimed run exporting to nfcapd.
if [ -n "$capd" ]; then
	collector "$PEERS/gims" "$GIMS_PORT"
	"$capd" -r "$TRACE" -collector "udp://127.0.0.1:$GIMS_PORT" 2>"$PEERS/gims.out" || status=1
	collector_stop
	flowdir[meter]=$PEERS/gims
fi

# --- report ---------------------------------------------------------------
size=$(stat -c %s "$TRACE")
echo
echo "### Offline flow meters side by side: $PACKETS packets, $FLOWS flows, IPv6 share $IPV6_SHARE, $((size / 1048576)) MiB trace"
echo
echo "Machine: $(machine). Produced by \`make bench-peers\` on $(date -u +%Y-%m-%d); $RUNS interleaved runs, medians; load average $load_start when the runs started, $load_end when they ended."
echo
echo "| run | wall | CPU (user+sys) | packets/s (wall) | peak RSS | × floor | × gims-capd |"
echo "|---|---:|---:|---:|---:|---:|---:|"
floor="" meter=""
[ -s "$PEERS/floor.times" ] && floor=$(median "$PEERS/floor.times" 1)
[ -n "$capd" ] && [ -s "$PEERS/meter.times" ] && meter=$(median "$PEERS/meter.times" 1)
for n in "${names[@]}"; do
	if [ "$(wc -l <"$PEERS/$n.times")" -lt "$RUNS" ]; then
		echo "| ${label[$n]} | failed | | | | | |"
		continue
	fi
	us=$(median "$PEERS/$n.times" 1)
	rss=$(median "$PEERS/$n.times" 2)
	cpu=$(median "$PEERS/$n.times" 3)
	awk -v us="$us" -v rss="$rss" -v cpu="$cpu" -v p="$PACKETS" -v f="${floor:-0}" -v m="${meter:-0}" -v l="${label[$n]}" 'BEGIN {
		fr = f > 0 ? sprintf("%.2f", us/f) : "–"; mr = m > 0 ? sprintf("%.2f", us/m) : "–"
		printf "| %s | %.3f s | %.3f s | %.0f | %.1f MiB | %s | %s |\n", l, us/1e6, cpu/1e3, p/(us/1e6), rss/1024, fr, mr }'
done

echo
echo "Outputs read back with nfdump (tolerance $TOLERANCE % on packets and bytes, against gims-capd):"
echo
echo "| meter | flows | packets | bytes | packets Δ | bytes Δ |"
echo "|---|---:|---:|---:|---:|---:|"
ref_p="" ref_b=""
for n in meter softflowd nfpcapd pmacctd; do
	dir=${flowdir[$n]:-}
	[ -n "$dir" ] && [ -d "$dir" ] || continue
	stats=$(nfdump -R "$dir" -q -I 2>/dev/null | awk -F': ' '/^Flows:/ {f=$2} /^Packets:/ {p=$2} /^Bytes:/ {b=$2} END {print f+0, p+0, b+0}')
	read -r f p b <<<"$stats"
	[ -n "$ref_p" ] || { ref_p=$p ref_b=$b; }
	line=$(awk -v n="$n" -v f="$f" -v p="$p" -v b="$b" -v rp="$ref_p" -v rb="$ref_b" -v tol="$TOLERANCE" 'BEGIN {
		dp = rp > 0 ? 100*(p-rp)/rp : 0; db = rb > 0 ? 100*(b-rb)/rb : 0
		ok = (dp <= tol && dp >= -tol && db <= tol && db >= -tol) ? "" : " **outside tolerance**"
		printf "| %s | %d | %d | %d | %+.3f %% | %+.3f %%%s |", (n == "meter" ? "gims-capd" : n), f, p, b, dp, db, ok }')
	echo "$line"
	case $line in *outside*) status=1 ;; esac
done
exit "$status"
