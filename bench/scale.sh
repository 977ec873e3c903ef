#!/usr/bin/env bash
# The control plane at scale (make scale, SPEC §11): gims-capd -simulate
# runs $SCALE_DEVICES simulated devices (and a second process of 10 that
# is stopped during a start), gims-am drives them, and bench/scale.py
# measures: adding the devices, start and stop of one experiment on all of
# them, the time until every device counts in the status, the AM's CPU,
# RSS and poll cycle while polling them every second, GetExperimentStatus
# under `ab -k -c 50`, 100 experiments of 10 devices, and the rollback of a
# start on which 10 devices hang (fault 5 naming them). The figures go to
# stdout and, unless SCALE_RECORD=0, into the "## Scale (make scale)"
# section of bench/RESULTS.md.
#
# Knobs: SCALE_DEVICES (1000), SCALE_PPS (100 packets/s per job),
# SCALE_STEADY (20 s of polling measured), SCALE_SMALL (100 experiments of
# 10 devices), SCALE_AB (20000 status calls), SCALE_DEVICE_TIMEOUT (5s),
# SCALE_RECORD (1), SCALE_KEEP (0: 1 keeps the folder with the logs),
# SCALE_PROFILE (0: 1 saves a CPU profile of gims-am while it polls every
# device, am.cpu.pprof in the kept folder), GO (go).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DEVICES=${SCALE_DEVICES:-1000}
PPS=${SCALE_PPS:-100}
STEADY=${SCALE_STEADY:-20}
SMALL=${SCALE_SMALL:-100}
AB=${SCALE_AB:-20000}
TIMEOUT=${SCALE_DEVICE_TIMEOUT:-5s}
RECORD=${SCALE_RECORD:-1}
KEEP=${SCALE_KEEP:-0}
PROFILE=${SCALE_PROFILE:-0}
BIN=bin

say() { printf 'scale.sh: %s\n' "$*" >&2; }
rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

if ! command -v ab >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing apache2-utils (ab)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils >/dev/null
	else
		say "need ab (apt-get install apache2-utils)"
		exit 1
	fi
fi
# 1,000 devices, their kept-alive connections and the AM's: more than the
# usual 1,024 descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

"$GO" build -o "$BIN/" ./cmd/gims-am ./cmd/gims-capd

DIR=$(mktemp -d /tmp/gims-scale.XXXXXX)
TOKEN=$(rand)
PASSWORD=scale-$(rand)

pids=()
cleanup() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then say "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup INT TERM EXIT

# free_base N: a first port with N free ports after it.
free_base() {
	python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); sys.exit(0)
sys.exit("no free port range")
PY
}

# listen_addr LOG PATTERN: wait (60 s at most) for a daemon's line.
wait_log() {
	for _ in $(seq 600); do
		grep -q "$2" "$1" 2>/dev/null && return
		sleep 0.1
	done
	say "no \"$2\" in $1:"
	tail -n 20 "$1" >&2
	return 1
}

BASE=$(free_base $((DEVICES + 10)))
HANG=$((BASE + DEVICES))
GIMS_DEVICE_TOKEN=$TOKEN "$BIN/gims-capd" -simulate "$DEVICES" -simulate-pps "$PPS" -listen "127.0.0.1:$BASE" \
	-data "$DIR/sim" -min-free 0 2>"$DIR/sim.log" &
sim_pid=$!
pids+=($sim_pid)
GIMS_DEVICE_TOKEN=$TOKEN "$BIN/gims-capd" -simulate 10 -simulate-pps "$PPS" -listen "127.0.0.1:$HANG" \
	-data "$DIR/hang" -min-free 0 2>"$DIR/hang.log" &
hang_pid=$!
pids+=($hang_pid)
UNLIMITED="-rate-limit 1e9 -rate-burst 1000000000 -admin-rate-limit 1e9 -admin-rate-burst 1000000000
	-rate-concurrent 100000 -admin-rate-concurrent 100000
	-http-max-connections 4096 -http-max-client-connections 4096"
PPROF=""
[ "$PROFILE" = 1 ] && PPROF="-pprof-listen 127.0.0.1:0"
GIMS_ADMIN_PASSWORD=$PASSWORD "$BIN/gims-am" $PPROF -listen 127.0.0.1:0 -db "$DIR/gims.db" -data "$DIR/am-data" \
	-init-admin admin -poll-interval 1s -device-timeout "$TIMEOUT" -bcrypt-cost 4 $UNLIMITED 2>"$DIR/am.log" &
am_pid=$!
pids+=($am_pid)
wait_log "$DIR/sim.log" "simulated capture devices listening"
wait_log "$DIR/hang.log" "simulated capture devices listening"
wait_log "$DIR/am.log" "gims-am serving"
AM_ADDR=$(grep -o 'address=[0-9.:]*' "$DIR/am.log" | head -n 1 | cut -d= -f2)
sim_idle_rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$sim_pid/status")

PPROF_ARGS=""
if [ "$PROFILE" = 1 ]; then
	KEEP=1
	# A CPU profile of the AM once it polls every device (after the start).
	wait_log "$DIR/am.log" "profiler serving"
	PPROF_ADDR=$(grep 'profiler serving' "$DIR/am.log" | grep -o 'address=[0-9.:]*' | cut -d= -f2)
	PPROF_ARGS="--pprof $PPROF_ADDR --pprof-out $DIR/am.cpu.pprof"
fi

say "$DEVICES simulated devices on 127.0.0.1:$BASE…, gims-am on $AM_ADDR, logs in $DIR"
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
hz=$(getconf CLK_TCK)
sim_cpu0=$(awk '{print $14 + $15}' "/proc/$sim_pid/stat")
t0=$(date +%s)
python3 bench/scale.py --am "$AM_ADDR" --password "$PASSWORD" --token "$TOKEN" --first-port "$BASE" \
	--devices "$DEVICES" --hang-port "$HANG" --hang-pid "$hang_pid" --am-pid "$am_pid" --steady "$STEADY" \
	--small "$SMALL" --ab-requests "$AB" --device-timeout "${TIMEOUT%s}" $PPROF_ARGS >"$DIR/figures.json"
t1=$(date +%s)
sim_cpu1=$(awk '{print $14 + $15}' "/proc/$sim_pid/stat")
sim_rss=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$sim_pid/status")
am_peak=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$am_pid/status")
locked=$(grep -c -i -e 'database is locked' -e 'SQLITE_BUSY' "$DIR/am.log" || true)
python3 - "$DIR/figures.json" "$sim_idle_rss" "$sim_rss" "$(( (sim_cpu1 - sim_cpu0) * 100 / hz / (t1 - t0 + 1) ))" \
	"$am_peak" "$locked" "$DEVICES" "$PPS" >"$DIR/section.md" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
sim_idle, sim_peak, sim_cpu, am_peak, locked, n, pps = sys.argv[2:]
def ms(s): return "%.0f ms" % (1000 * s)
pa, ps, st, ss = f["polling_all"], f["polling_all_and_small"], f["status_all"], f["status_small"]
print("| what | figure | target |")
print("|---|---|---|")
print("| add %s devices (AddDevice, system.multicall of 100, 4 at once) | %.1f s | |" % (n, f["add_devices_s"]))
print("| StartExperiment on %s devices | %s | < 5 s |" % (n, ms(f["start_all_s"])))
print("| every device counting in the status, after the start | %s | < 3 s |" % ms(f["counting_all_s"]))
print("| StopExperiment on %s devices | %s | < 5 s |" % (n, ms(f["stop_all_s"])))
print("| AM idle with %s devices: CPU, RSS | %.1f %% of a core, %.0f MiB | |" % (n, f["am_idle"]["cpu_percent"], f["am_idle"]["rss_mib"]))
print("| AM polling %s running devices every second: CPU, RSS | %.1f %% of a core, %.0f MiB | < 60 %%, < 500 MiB |" % (n, pa["cpu_percent"], pa["rss_mib"]))
print("| poll cycle (%s devices): median, max | %s, %s | < 1 s |" % (n, ms(pa["poll_cycle_s_median"] or 0), ms(pa["poll_cycle_s_max"] or 0)))
print("| AM polling %s + 100×10 running jobs: CPU, RSS, poll cycle median | %.1f %%, %.0f MiB, %s | |" % (n, ps["cpu_percent"], ps["rss_mib"], ms(ps["poll_cycle_s_median"] or 0)))
print("| 100 experiments of 10 devices, 10 at once: StartExperiment p50 / StopExperiment p50, then their max | %s / %s, %s / %s | |" % (
    ms(f["small_start_s"]["p50"]), ms(f["small_stop_s"]["p50"]), ms(f["small_start_s"]["max"]), ms(f["small_stop_s"]["max"])))
sa = f["status_alone"]
print("| GetExperimentStatus, 10-device experiment running alone, `ab -k -c 50 -n %d` | %.0f calls/s, p50 %d ms, p99 %d ms, %d failed | ≥ 5,000/s, p99 < 20 ms |" % (
    sa["requests"], sa["calls_per_s"] or 0, sa["p50_ms"] or 0, sa["p99_ms"] or 0, sa["failed"] + sa["non_2xx"]))
print("| same, while 1000 + 100×10 jobs run on this machine's simulator | %.0f calls/s, p50 %d ms, p99 %d ms, %d failed | |" % (
    ss["calls_per_s"] or 0, ss["p50_ms"] or 0, ss["p99_ms"] or 0, ss["failed"] + ss["non_2xx"]))
print("| GetExperimentStatus, %s-device experiment, `ab -k -c 50 -n %d` | %.0f calls/s, p50 %d ms, p99 %d ms, %d failed | |" % (
    n, st["requests"], st["calls_per_s"] or 0, st["p50_ms"] or 0, st["p99_ms"] or 0, st["failed"] + st["non_2xx"]))
if "hang" in f:
    h = f["hang"]
    print("| start with 10 of %s devices hanging (SIGSTOP): fault, devices named, rollback done | fault %s, %d of 10 named, %.2f s (state %s) | fault 5, < device timeout %.0f s + 1 s |" % (
        n, h["fault_code"], h["devices_named"], h["rollback_s"], h["state_after"], h["device_timeout_s"]))
print("| gims-capd -simulate %s: RSS idle, peak; CPU over the run (%s packets/s per job) | %s MiB, %s MiB; %s %% of a core | |" % (n, pps, sim_idle, sim_peak, sim_cpu))
print("| `database is locked`/SQLITE_BUSY in the AM log | %s | 0 |" % locked)
PY
cat "$DIR/section.md"

machine() {
	local cpu mem os
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
	os=$(. /etc/os-release && echo "$PRETTY_NAME")
	echo "$(nproc) vCPU ${cpu:-unknown CPU}, $mem, $os, $("$GO" env GOVERSION)"
}
if [ "$RECORD" = 1 ]; then
	{
		echo "## Scale (make scale)"
		echo
		echo "Machine: $(machine); load average $loadavg when the run started. **The machine was shared with"
		echo "other agents' builds and tests during the run**: the figures are disturbed upwards, not a clean measure."
		echo "$(date -u +%Y-%m-%d), commit $(git describe --always --dirty 2>/dev/null || echo '?')."
		echo "\`bench/scale.sh\`: \`gims-capd -simulate $DEVICES\` (one process, $PPS synthetic packets/s per job through the"
		echo "real meter: counters, flows) and gims-am (poll interval 1 s, device timeout $TIMEOUT) on loopback;"
		echo "experiments with counters and flows, storage remote (the AM pulls the result files)."
		echo
		cat "$DIR/section.md"
		echo
		echo "Before issue 15, GetExperimentStatus asked every device on every call (1,395 calls/s, p50 31 ms, p99"
		echo "118 ms under \`ab -k -c 50\` on one running experiment); it is now answered from memory. The AM's own CPU"
		echo "and RSS are the figures to read: the transitions and the poll cycle include the simulator's answers, and"
		echo "$DEVICES devices' jobs flushing in one process on the same vCPUs dominate them (its CPU share is the last"
		echo "row but one). The 100×10 phase runs 2,000 jobs at $PPS packets/s in that one process: its poll cycle is"
		echo "the simulator's, not the AM's."
	} >"$DIR/record.md"
	python3 - bench/RESULTS.md "$DIR/record.md" <<'PY'
import re, sys
path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read()
m = re.search(r"^## Scale \(make scale\)\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	say "bench/RESULTS.md: section \"## Scale (make scale)\" updated"
fi
