#!/usr/bin/env bash
# Live-capture drop benchmark (run as root): at which packet rate does a
# gims-capd job on a veth pair start dropping, with and without
# anonymization + flows?
#
# Two network namespaces of our own (gimsbench-a, gimsbench-b) joined by a
# veth pair; tcpreplay in gimsbench-a replays a generated trace into the
# pair at increasing rates (then --topspeed); gims-capd runs in
# gimsbench-b and captures on its end. No traffic leaves the namespaces.
# Knobs: BENCH_PACKETS (200000), RATES ("50000 100000 200000 400000 topspeed").
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
PACKETS=${BENCH_PACKETS:-200000}
RATES=${RATES:-"50000 100000 200000 400000 topspeed"}
OUT=bench/out
A=gimsbench-a B=gimsbench-b
KEY_B64=$(printf '%064x' 0 | xxd -r -p | base64 -w0)
TOKEN=bench-token
mkdir -p "$OUT" bin
command -v tcpreplay >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null
"$GO" build -o bin/ ./cmd/gims-capd ./cmd/gims-tracegen
trace=$OUT/veth-trace.pcap
[ -s "$trace" ] || bin/gims-tracegen -o "$trace" -packets "$PACKETS" -flows $((PACKETS / 10)) -snaplen 1514 2>/dev/null

cleanup() {
	[ -n "${capd_pid:-}" ] && kill "$capd_pid" 2>/dev/null && wait "$capd_pid" 2>/dev/null || true
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add $A
ip netns add $B
for ns in $A $B; do
	ip -n $ns link set lo up
	# No IPv6 neighbour discovery: only the replayed packets cross the pair.
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add gb-va netns $A type veth peer name gb-vb netns $B
ip -n $A link set gb-va up mtu 9000
ip -n $B link set gb-vb up mtu 9000

data=$(mktemp -d)
GIMS_DEVICE_TOKEN=$TOKEN ip netns exec $B bin/gims-capd -listen 127.0.0.1:18081 -data "$data" 2>"$OUT/veth-capd.log" &
capd_pid=$!
sleep 1

# job ARGS_JSON: start a job in gimsbench-b, replay, wait, print "packets dropped".
job() {
	ip netns exec $B python3 - "$1" "$TOKEN" <<'PY'
import json, sys, time, xmlrpc.client
spec, token = json.loads(sys.argv[1]), sys.argv[2]
class T(xmlrpc.client.Transport):
    def send_headers(self, conn, headers):
        super().send_headers(conn, headers)
        conn.putheader("Authorization", "Bearer " + token)
p = xmlrpc.client.ServerProxy("http://127.0.0.1:18081/RPC2", transport=T())
if spec.get("key"):
    spec["key"] = xmlrpc.client.Binary(__import__("base64").b64decode(spec["key"]))
print(p.StartJob(spec))
PY
}
status() {
	ip netns exec $B python3 - "$1" "$TOKEN" <<'PY'
import sys, xmlrpc.client
job, token = sys.argv[1], sys.argv[2]
class T(xmlrpc.client.Transport):
    def send_headers(self, conn, headers):
        super().send_headers(conn, headers)
        conn.putheader("Authorization", "Bearer " + token)
p = xmlrpc.client.ServerProxy("http://127.0.0.1:18081/RPC2", transport=T())
p.StopJob(job)
s = p.JobStatus(job)
print(s["packets"], s["dropped"], s.get("if_dropped", 0))
PY
}

sent=$(capinfos -M -c "$trace" | awk '/Number of packets/ {print $NF}')
echo "### Live capture on a veth pair: $sent packets per run"
echo
echo "| rate asked (pps) | rate achieved (pps) | transforms | sent | captured | kernel drops | loss |"
echo "|---|---:|---|---:|---:|---:|---:|"
for mode in plain anonymized; do
	for rate in $RATES; do
		spec='{"interface":"gb-vb","snaplen":1514,"flows":{"active_timeout_s":1800,"idle_timeout_s":300,"biflow":true}'
		[ $mode = anonymized ] && spec="$spec,\"key\":\"$KEY_B64\",\"counters\":{\"interval_ms\":1000}"
		spec="$spec}"
		id=$(job "$spec")
		sleep 0.5
		if [ "$rate" = topspeed ]; then speed=--topspeed; else speed="--pps=$rate"; fi
		ip netns exec $A tcpreplay -q -i gb-va $speed "$trace" >"$OUT/veth-replay.log" 2>&1
		sleep 1
		read -r got dropped ifdropped < <(status "$id")
		loss=$(awk -v s="$sent" -v g="$got" 'BEGIN{printf "%.2f%%", 100*(s-g)/s}')
		achieved=$(sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' "$OUT/veth-replay.log" | head -1)
		echo "| $rate | ${achieved:-?} | $mode | $sent | $got | $dropped | $loss |"
	done
done
