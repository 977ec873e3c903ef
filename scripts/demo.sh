#!/usr/bin/env bash
# The newcomer's first run (make demo): a capture daemon and the aggregate
# manager on this machine, one experiment end to end, then the AM stays up
# for the web GUI until Ctrl-C.
#
#   - bin/gims-capd on $DEMO_CAPD (127.0.0.1:8081) with two file: sources
#     in demo/pcaps (a generated 20 s trace and a bundled sample) and lo;
#   - bin/gims-am on $DEMO_AM (127.0.0.1:8080), database demo/gims.db,
#     results in demo/am-data, admin "admin" (password $GIMS_ADMIN_PASSWORD
#     or a random one, printed);
#   - an operator-held Crypto-PAn key "demo-key" made by the admin (SPEC
#     §9: the key stays at the AM, sealed, never shown; only its
#     fingerprint is);
#   - an experiment on the generated trace with counters, flows (IPFIX) and
#     Crypto-PAn anonymization with that key, replayed 4x faster than
#     recorded.
#
# Everything lives in demo/ (git-ignored) and is made anew each run.
#
# Knobs (environment), used by the test that runs the demo
# (cmd/gims-am/demo_test.go): DEMO_AM and DEMO_CAPD (listen addresses; port
# 0 picks a free one, read back from the daemon's log), DEMO_DIR (demo),
# DEMO_BIN (bin), DEMO_EXIT=1 (stop both daemons at the end instead of
# serving until Ctrl-C), DEMO_TIMEOUT (seconds the experiment may take, 120).
set -euo pipefail
cd "$(dirname "$0")/.."

AM_ADDR=${DEMO_AM:-127.0.0.1:8080}
CAPD_ADDR=${DEMO_CAPD:-127.0.0.1:8081}
DIR=${DEMO_DIR:-demo}
BIN=${DEMO_BIN:-bin}
TIMEOUT=${DEMO_TIMEOUT:-120}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

# listening FILE REGEX: the address a daemon logged it listens on (the
# regex's group), once it has; fails after 20 s.
listening() {
	local a
	for _ in $(seq 400); do
		a=$(sed -nE "s/.*$2.*/\1/p" "$1" | head -n 1)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.05
	done
	return 1
}

for b in gims-am gims-capd gimsctl gims-tracegen; do
	[ -x "$BIN/$b" ] || { echo "demo.sh: $BIN/$b is missing; run make demo" >&2; exit 1; }
done

rm -rf "$DIR"
mkdir -p "$DIR/pcaps"
"$BIN/gims-tracegen" -o "$DIR/pcaps/demo-trace.pcap" -packets 20000 -flows 400 -duration 20s -seed 7 2>/dev/null
cp cmd/gims-capd/testdata/pcaps/tcpreplay__test.pcap "$DIR/pcaps/"

TOKEN=$(rand)
PASSWORD=${GIMS_ADMIN_PASSWORD:-demo-$(rand)}
printf '%s\n' "$TOKEN" >"$DIR/device.token"
chmod 600 "$DIR/device.token"

pids=()
cleanup() {
	trap - INT TERM EXIT
	if [ ${#pids[@]} -gt 0 ]; then
		echo; echo "stopping gims-am and gims-capd"
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}
trap cleanup INT TERM EXIT

"$BIN/gims-capd" -listen "$CAPD_ADDR" -data "$DIR/capd-data" -pcap-dir "$DIR/pcaps" \
	-token-file "$DIR/device.token" 2>"$DIR/capd.log" &
pids+=($!)
GIMS_ADMIN_PASSWORD=$PASSWORD "$BIN/gims-am" -listen "$AM_ADDR" -db "$DIR/gims.db" -data "$DIR/am-data" \
	-init-admin admin -pull-interval 2s 2>"$DIR/am.log" &
pids+=($!)
CAPD_ADDR=$(listening "$DIR/capd.log" 'msg="capture daemon listening" addr=([^ ]+)') ||
	{ echo "gims-capd did not start; see $DIR/capd.log" >&2; exit 1; }
AM_ADDR=$(listening "$DIR/am.log" 'msg="gims-am serving".* address=([^ ]+)') ||
	{ echo "gims-am did not start; see $DIR/am.log" >&2; exit 1; }

export GIMS_URL="http://$AM_ADDR/RPC2" GIMS_USER=admin GIMS_PASSWORD=$PASSWORD
ctl() { "$BIN/gimsctl" "$@"; }

for _ in $(seq 100); do
	ctl list-users >/dev/null 2>&1 && break
	sleep 0.1
done
ctl list-users >/dev/null || { echo "gims-am did not start; see $DIR/am.log" >&2; exit 1; }

say "device: the local capture daemon"
for _ in $(seq 100); do
	ctl add-device -name local -hostname "${CAPD_ADDR%:*}" -port "${CAPD_ADDR##*:}" -location "this machine" \
		-type gims-capd -description "make demo" -token-file "$DIR/device.token" >/dev/null 2>&1 && break
	sleep 0.1
done
ctl list-devices

say "key: an operator-held Crypto-PAn key, made and kept at the AM (only its fingerprint is ever shown)"
ctl create-key -name demo-key -users admin
ctl list-keys

say "experiment: counters, flows and sanitization (Crypto-PAn with demo-key, keyed MACs, payloads stripped) on file:demo-trace.pcap"
ID=$(ctl create-experiment -name demo -description "make demo" -devices local:file:demo-trace.pcap)
ctl configure-experiment "$ID" -counters -counter-interval-ms 1000 -flows -pcap \
	-anonymize-key demo-key -replay-speed 4 >/dev/null
ctl get-experiment-settings "$ID" | grep -E '^ *anonymize\.'
ctl start-experiment "$ID" >/dev/null
echo "experiment $ID started; replaying 20 s of traffic at 4x"
deadline=$((SECONDS + TIMEOUT))
until ctl -json get-experiment-status "$ID" | grep -q '"results_pulled": true'; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo; echo "demo.sh: the experiment did not end within ${TIMEOUT}s; see $DIR/am.log and $DIR/capd.log" >&2
		ctl get-experiment-status "$ID" >&2 || true
		exit 1
	fi
	printf '.'
	sleep 0.5
done
echo

say "status"
ctl get-experiment-status "$ID"
say "top flows (anonymized addresses)"
ctl get-experiment-results "$ID" -kind flows -limit 10
say "result files"
ctl get-experiment-results "$ID" -kind files
FILES="$DIR/am-data/experiments/$ID/0"
cat <<MSG

The AM pulled the results into $FILES/:
  packets.pcap  sanitized packets    (tcpdump -n -e -r $FILES/packets.pcap | head: headers only)
  flows.ipfix   RFC 5655 IPFIX flows (tshark -r $FILES/flows.ipfix)
  counters.csv  per-second counters  (column -ts, $FILES/counters.csv)

Web GUI:  http://$AM_ADDR/   login: admin   password: $PASSWORD
XML-RPC:  http://admin:$PASSWORD@$AM_ADDR/RPC2   (gimsctl: GIMS_URL, GIMS_USER, GIMS_PASSWORD)
Metrics:  http://$AM_ADDR/metrics (admin)
Logs:     $DIR/am.log, $DIR/capd.log
Keys:     http://$AM_ADDR/keys (gimsctl list-keys): demo-key anonymized the addresses; it never leaves the AM
Audit:    http://$AM_ADDR/audit (gimsctl audit): every change above, who made it and from where

MSG
if [ "${DEMO_EXIT:-0}" = 1 ]; then
	exit 0
fi
echo "The AM and the capture daemon keep running; Ctrl-C stops both."
wait "${pids[@]}"
