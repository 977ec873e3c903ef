#!/usr/bin/env bash
# Live capture benchmark (issue 14, `make bench-live`; run as root): how
# much of what reaches a tapped link each tool captures, at full speed and
# at fixed rates, with 142-byte and 64-byte UDP frames.
#
# Two network namespaces of our own joined by a veth pair; trafgen
# (netsniff-ng) in the first sends the same packets for every run (1000
# flows: source ports 1024–2023), and in the second one tool at a time
# captures on its end of the pair:
#   tcpdump          tcpdump -i … -w /dev/null -s 256
#   softflowd        softflowd -i … (flows, exported nowhere)
#   flows/ENGINE     a gims-capd job with flows only (snaplen 256)
#   full/ENGINE      a gims-capd job with a key, counters and pcap (snaplen 256)
# where ENGINE is afpacket or pcap (gims-capd -capture-engine). Captured
# % is of the packets that reached the capturing side (the veth's
# rx_packets), which is what any tool could see; the sending rate is
# trafgen's count over its own time.
#
# It prints a table (sent rate vs captured % per tool) and appends it to
# bench/RESULTS.md, section "Live capture". No traffic leaves the
# namespaces; they are removed on exit.
#
# Knobs: LIVE_PACKETS (1000000 per run: well beyond what the 64 MiB ring
# holds, about 300,000 142-byte frames, so that the meter's speed shows),
# LIVE_RATES ("full 100000 300000", packets per second; full = trafgen at
# full speed), LIVE_SIZES ("142 64", frame bytes), LIVE_TOOLS (all of the
# above), LIVE_RING_MB (gims-capd -ring-mb, 64), LIVE_RESULTS
# (bench/RESULTS.md; empty: print only).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
PACKETS=${LIVE_PACKETS:-1000000}
RATES=${LIVE_RATES:-"full 100000 300000"}
SIZES=${LIVE_SIZES:-"142 64"}
TOOLS=${LIVE_TOOLS:-"tcpdump softflowd flows/afpacket flows/pcap full/afpacket full/pcap"}
RING_MB=${LIVE_RING_MB:-64}
RESULTS=${LIVE_RESULTS-bench/RESULTS.md}
OUT=bench/out/live
TOKEN=bench-live-token
A=gimslive$$a B=gimslive$$b
VA=glv$$a VB=glv$$b

say() { printf '%s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { say "bench/live.sh needs root (network namespaces, packet sockets)"; exit 1; }

# Tools: installed when missing.
missing=""
for t in trafgen:netsniff-ng softflowd:softflowd softflowctl:softflowd tcpdump:tcpdump python3:python3; do
	command -v "${t%%:*}" >/dev/null || missing="$missing ${t#*:}"
done
if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq $missing >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $missing >/dev/null; }
fi

mkdir -p "$OUT" bin
"$GO" build -o bin/ ./cmd/gims-capd
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
for ns in "$A" "$B"; do
	ip -n "$ns" link set lo up
	# No IPv6 neighbour discovery: only trafgen's packets cross the pair.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up

# trafgen configurations: Ethernet + IPv4 + UDP + payload = the frame size.
for size in $SIZES; do
	cat >"$work/udp$size.cfg" <<EOF
{
  eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01),
  ipv4(saddr=10.99.0.1, daddr=10.99.0.2, ttl=64),
  udp(sport=dinc(1024, 2023, 1), dport=5000),
  fill(0x00, $((size - 42)))
}
EOF
done

# rpc PORT METHOD JSON_ARGS: a device API call in $B; prints the JSON reply.
cat >"$work/rpc.py" <<'PY'
import base64, json, sys, xmlrpc.client
port, token, method, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
class T(xmlrpc.client.Transport):
    def send_headers(self, conn, headers):
        super().send_headers(conn, headers)
        conn.putheader("Authorization", "Bearer " + token)
for a in args:
    if isinstance(a, dict) and "key" in a:
        a["key"] = xmlrpc.client.Binary(base64.b64decode(a["key"]))
p = xmlrpc.client.ServerProxy("http://127.0.0.1:%s/RPC2" % port, transport=T())
print(json.dumps(getattr(p, method)(*args), default=str))
PY
rpc() { ip netns exec "$B" python3 "$work/rpc.py" "$1" "$TOKEN" "$2" "$3"; }

# One daemon per engine, in $B.
declare -A port=([afpacket]=18191 [pcap]=18192)
for engine in afpacket pcap; do
	GIMS_DEVICE_TOKEN=$TOKEN ip netns exec "$B" bin/gims-capd -listen "127.0.0.1:${port[$engine]}" -data "$work/data-$engine" \
		-capture-engine "$engine" -ring-mb "$RING_MB" 2>"$OUT/capd-$engine.log" &
	pids+=($!)
done
for engine in afpacket pcap; do
	for _ in $(seq 100); do
		grep -q "capture daemon listening" "$OUT/capd-$engine.log" && break
		sleep 0.1
	done
done

rx() { ip netns exec "$B" cat "/sys/class/net/$VB/statistics/rx_packets"; }

# send SIZE RATE: trafgen sends PACKETS frames; prints "pps delivered".
send() {
	local size=$1 rate=$2 before after limit=()
	[ "$rate" = full ] || limit=(-b "${rate}pps")
	before=$(rx)
	ip netns exec "$A" trafgen --dev "$VA" --conf "$work/udp$size.cfg" --num "$PACKETS" --cpus 1 "${limit[@]}" \
		>"$work/trafgen.log" 2>&1
	after=$(rx)
	local pps
	# trafgen ends its lines with carriage returns.
	pps=$(tr -d '\r' <"$work/trafgen.log" | awk -v n="$PACKETS" '/usec on CPU/ {t = $1 + $3 / 1e6} END {if (t > 0) printf "%d", n / t; else print "?"}')
	echo "$pps $((after - before))"
}

# settle CMD: runs CMD (which prints a count) every 0.5 s until the count
# stops moving; prints it.
settle() {
	local last=-1 now
	while :; do
		sleep 0.5
		now=$("$@")
		[ "$now" = "$last" ] && break
		last=$now
	done
	echo "$now"
}

# capture TOOL SIZE RATE: one run; prints "pps delivered captured dropped".
capture() {
	local tool=$1 size=$2 rate=$3 sent captured dropped=0 pid
	case $tool in
	tcpdump)
		ip netns exec "$B" tcpdump -i "$VB" -w /dev/null -s 256 -n 2>"$work/tcpdump.err" &
		pid=$!
		for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.err" && break; sleep 0.05; done
		sent=$(send "$size" "$rate")
		sleep 1.5 # tcpdump's buffer timeout is 1 s
		kill -INT "$pid"
		wait "$pid" || true
		captured=$(awk '/packets captured/ {print $1}' "$work/tcpdump.err")
		dropped=$(awk '/dropped by kernel/ {print $1}' "$work/tcpdump.err")
		;;
	softflowd)
		rm -f "$work/sf.ctl"
		ip netns exec "$B" softflowd -i "$VB" -d -c "$work/sf.ctl" -n 127.0.0.1:9995 >"$work/softflowd.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do [ -S "$work/sf.ctl" ] && break; sleep 0.05; done
		sent=$(send "$size" "$rate")
		sf() { ip netns exec "$B" softflowctl -c "$work/sf.ctl" statistics | awk -F': ' "/^$1/ {print \$2}"; }
		# softflowd leaves the last packets in libpcap's buffer until more
		# come: it counts as captured what libpcap received and did not
		# drop (it would process them).
		settle sf "Packets processed" >/dev/null
		dropped=$(sf "Packets dropped by libpcap")
		captured=$(($(sf "Packets received by libpcap") - dropped))
		ip netns exec "$B" softflowctl -c "$work/sf.ctl" shutdown >/dev/null 2>&1 || true
		wait "$pid" || true
		;;
	flows/* | full/*)
		local engine=${tool#*/} spec id
		spec="{\"interface\":\"$VB\",\"snaplen\":256"
		case $tool in
		flows/*) spec="$spec,\"flows\":{}}" ;;
		full/*) spec="$spec,\"key\":\"$(head -c 32 /dev/zero | base64 -w0)\",\"counters\":{},\"pcap\":true}" ;;
		esac
		id=$(rpc "${port[$engine]}" StartJob "[$spec]" | tr -d '"')
		sent=$(send "$size" "$rate")
		jp() { rpc "${port[$engine]}" JobStatus "[\"$id\"]" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
		captured=$(settle jp packets)
		rpc "${port[$engine]}" StopJob "[\"$id\"]" >/dev/null
		dropped=$(jp dropped)
		rpc "${port[$engine]}" DeleteJob "[\"$id\"]" >/dev/null 2>&1 || true
		;;
	*)
		say "unknown tool $tool"
		exit 2
		;;
	esac
	echo "$sent ${captured:-0} ${dropped:-0}"
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
runs=$OUT/runs.txt
: >"$runs"
declare -A cell pps
for size in $SIZES; do
	for rate in $RATES; do
		for tool in $TOOLS; do
			read -r sentpps delivered captured dropped < <(capture "$tool" "$size" "$rate")
			echo "$size $rate $tool $sentpps $delivered $captured $dropped" >>"$runs"
			say "$size B, $rate: $tool: sent at $sentpps pps, $delivered reached the veth, $captured captured, $dropped dropped (kernel)"
			cell[$size/$rate/$tool]=$(awk -v d="$delivered" -v c="$captured" 'BEGIN {if (d > 0) printf "%.1f %%", 100 * c / d; else print "–"}')
			pps[$size/$rate]="${pps[$size/$rate]:-} $sentpps"
		done
	done
done

table=$OUT/table.md
{
	echo "### $(date -u +%Y-%m-%d), commit $commit: $PACKETS packets per run, ring $RING_MB MiB"
	echo
	echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), kernel $(uname -r)." \
		"Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows trafgen and the captures alike)."
	echo "Captured % is of the packets that reached the capturing end of the veth; sent is trafgen's rate (min–max over the runs of the row)."
	echo
	header="| frame | rate asked | sent (kpps) |"
	sep="|---|---|---|"
	for tool in $TOOLS; do
		header="$header $tool |"
		sep="$sep---:|"
	done
	echo "$header"
	echo "$sep"
	for size in $SIZES; do
		for rate in $RATES; do
			range=$(echo "${pps[$size/$rate]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {printf "%.0f–%.0f", v[1] / 1000, v[NR] / 1000}')
			line="| $size B | $rate | $range |"
			for tool in $TOOLS; do line="$line ${cell[$size/$rate/$tool]} |"; done
			echo "$line"
		done
	done
} >"$table"
cat "$table"

if [ -n "$RESULTS" ]; then
	python3 - "$RESULTS" "$table" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read()
lines = open(path).read().rstrip("\n").split("\n")
head = "## Live capture (make bench-live, issue 14)"
if head not in lines:
    lines += ["", head, "", "Produced by `bench/live.sh`; newest first after this line.", ""]
i = lines.index(head) + 1
# After the section's introduction (up to its first ### table).
while i < len(lines) and not lines[i].startswith("### ") and not lines[i].startswith("## "):
    i += 1
block = table.rstrip("\n").split("\n") + [""]
if lines[i - 1] != "":
    block.insert(0, "")
lines[i:i] = block
open(path, "w").write("\n".join(lines) + "\n")
PY
	say "appended to $RESULTS"
fi
