#!/usr/bin/env bash
# The aggregate manager's load test (make load): a capture daemon and the
# AM on loopback in a temporary folder, then bin/gims-load runs
# $LOAD_CLIENTS concurrent XML-RPC clients for $LOAD_DURATION against
# $LOAD_EXPERIMENTS live experiments on lo. It fails when a call failed or
# when the AM log shows SQLite busy ("database is locked", SQLITE_BUSY).
# The table goes to stdout and, unless LOAD_RECORD=0, into the
# "## Load (make load)" section of bench/RESULTS.md.
#
# Knobs: LOAD_CLIENTS (100), LOAD_DURATION (60s), LOAD_EXPERIMENTS (5),
# LOAD_PPS (500), LOAD_SLOTS (0: gims-load's default, 32 - experiments - 2,
# the capture daemon's job limit), LOAD_RECORD (1), LOAD_KEEP (0; 1 keeps
# the temporary folder with the logs), LOAD_PROFILE (0; 1 serves the AM's
# profiler on loopback and keeps, in the kept folder, a CPU profile of the
# run's middle (am.cpu.pprof) and two goroutine dumps (goroutines-*.txt):
# `go tool pprof bin/gims-am DIR/am.cpu.pprof`, and a CPU profile of
# gims-load's whole run, DIR/load.cpu.pprof; implies LOAD_KEEP=1),
# LOAD_CAPD_ARGS (-ring-mb 4: more arguments of the capture daemon), GO (go).
#
# The daemon's ring is 4 MiB here, not its 64 MiB default: the kernel
# allocates and clears a job's ring at every start, and the short-lived
# experiments start about ten a second; with 64 MiB that took the device
# from a quarter to more than half of a core, on the two cores the AM and
# gims-load need (a real device is another machine; 500 datagrams/s need
# no more than a few blocks).
#
# gims-load's table has, per method, the client-observed latency and,
# from the AM's Server-Timing header, the time the AM waited on the
# device and the latency without it ("excl. device"): issue 15's target is
# the lifecycle calls' p99 without device time < 250 ms at 100 clients.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
CLIENTS=${LOAD_CLIENTS:-100}
DURATION=${LOAD_DURATION:-60s}
EXPERIMENTS=${LOAD_EXPERIMENTS:-5}
PPS=${LOAD_PPS:-500}
SLOTS=${LOAD_SLOTS:-0}
RECORD=${LOAD_RECORD:-1}
KEEP=${LOAD_KEEP:-0}
PROFILE=${LOAD_PROFILE:-0}
CAPD_ARGS=${LOAD_CAPD_ARGS:--ring-mb 4}
[ "$PROFILE" = 1 ] && KEEP=1
BIN=bin

say() { printf 'load.sh: %s\n' "$*" >&2; }
rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

"$GO" build -o "$BIN/" ./cmd/gims-am ./cmd/gims-capd ./cmd/gimsctl ./cmd/gims-load

DIR=$(mktemp -d /tmp/gims-load.XXXXXX)
mkdir -p "$DIR/pcaps"
TOKEN=$(rand)
PASSWORD=load-$(rand)
printf '%s\n' "$TOKEN" >"$DIR/device.token"
chmod 600 "$DIR/device.token"

pids=()
cleanup() {
	trap - INT TERM EXIT
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then say "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup INT TERM EXIT

# listen_addr LOG PATTERN [LINE]: wait (10 s at most) for the daemon to
# log the address it listens on (it picks a free port), on a line
# matching LINE if given, and print it.
listen_addr() {
	local addr=""
	for _ in $(seq 100); do
		addr=$(grep -e "${3:-.}" "$1" 2>/dev/null | grep -o "$2=[0-9.:]*" | head -n 1 | cut -d= -f2) || true
		[ -n "$addr" ] && { echo "$addr"; return; }
		sleep 0.1
	done
	say "no listening address in $1:"
	cat "$1" >&2
	return 1
}

"$BIN/gims-capd" -listen 127.0.0.1:0 -data "$DIR/capd-data" -pcap-dir "$DIR/pcaps" \
	-token-file "$DIR/device.token" $CAPD_ARGS 2>"$DIR/capd.log" &
capd_pid=$!
pids+=($capd_pid)
# The load test measures throughput: the per-user rate limits and the
# per-address connection limit (all clients come from 127.0.0.1) are
# lifted; make abuse measures them.
UNLIMITED="-rate-limit 1e9 -rate-burst 1000000000 -admin-rate-limit 1e9 -admin-rate-burst 1000000000
	-rate-concurrent 100000 -admin-rate-concurrent 100000
	-http-max-connections 4096 -http-max-client-connections 4096"
PPROF=""
[ "$PROFILE" = 1 ] && PPROF="-pprof-listen 127.0.0.1:0"
# shellcheck disable=SC2086 # UNLIMITED and PPROF are lists of flags
GIMS_ADMIN_PASSWORD=$PASSWORD "$BIN/gims-am" -listen 127.0.0.1:0 -db "$DIR/gims.db" -data "$DIR/am-data" \
	-init-admin admin -poll-interval 1s $UNLIMITED $PPROF 2>"$DIR/am.log" &
am_pid=$!
pids+=($am_pid)
CAPD_ADDR=$(listen_addr "$DIR/capd.log" addr)
AM_ADDR=$(listen_addr "$DIR/am.log" address 'gims-am serving')
PPROF_ADDR=""
[ "$PROFILE" = 1 ] && PPROF_ADDR=$(listen_addr "$DIR/am.log" address 'profiler serving')

export GIMS_URL="http://$AM_ADDR/RPC2" GIMS_USER=admin GIMS_PASSWORD=$PASSWORD
"$BIN/gimsctl" add-device -name local -hostname "${CAPD_ADDR%:*}" -port "${CAPD_ADDR##*:}" -location "this machine" \
	-type gims-capd -description "make load" -token-file "$DIR/device.token" \
	-require-anonymization=false >/dev/null

# cpu_ticks PID: user + system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

say "$CLIENTS clients for $DURATION against gims-am on $AM_ADDR (device on $CAPD_ADDR, logs in $DIR)"
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
cpu0=$(cpu_ticks "$am_pid")
ccpu0=$(cpu_ticks "$capd_pid")
t0=$(date +%s%N)
status=0
prof_pid=""
if [ -n "$PPROF_ADDR" ]; then
	# The middle of the run: from a quarter of it, for half of it.
	# DURATION in seconds (gims-load takes Go durations; 90s, 2m, 1m30s).
	secs=$(python3 -c 'import re, sys
print(sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([hms])", sys.argv[1])))' "$DURATION")
	(
		sleep $((secs / 4))
		curl -fsS "http://$PPROF_ADDR/debug/pprof/goroutine?debug=1" -o "$DIR/goroutines-1.txt" || true
		curl -fsS "http://$PPROF_ADDR/debug/pprof/profile?seconds=$((secs / 2))" -o "$DIR/am.cpu.pprof" || true
		curl -fsS "http://$PPROF_ADDR/debug/pprof/goroutine?debug=1" -o "$DIR/goroutines-2.txt" || true
	) &
	prof_pid=$!
fi
# gims-load's own CPU (it shares the machine): bash's time, in seconds.
TIMEFORMAT='%U %S'
LOADPROF=()
[ "$PROFILE" = 1 ] && LOADPROF=(-cpuprofile "$DIR/load.cpu.pprof")
{ time "$BIN/gims-load" "${LOADPROF[@]}" -url "http://admin:$PASSWORD@$AM_ADDR/RPC2" -device local -clients "$CLIENTS" \
	-duration "$DURATION" -experiments "$EXPERIMENTS" -pps "$PPS" -lifecycle-slots "$SLOTS" >"$DIR/table.md" 2>&3 || status=$?; } 3>&2 2>"$DIR/load.time"
t1=$(date +%s%N)
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "$prof_pid" ] && wait "$prof_pid"
cpu1=$(cpu_ticks "$am_pid")
ccpu1=$(cpu_ticks "$capd_pid")
# cpu_use TICKS: CPU seconds and share of one core over the run.
cpu_use() {
	awk -v t="$1" -v hz="$hz" -v ns="$((t1 - t0))" \
		'BEGIN {printf "%.1f s CPU, %.0f %% of one core", t / hz, 100 * t / hz / (ns / 1e9)}'
}
am_cpu=$(cpu_use $((cpu1 - cpu0)))
capd_cpu=$(cpu_use $((ccpu1 - ccpu0)))
rss=$(awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$am_pid/status")

cat "$DIR/table.md"
echo
locked=$(grep -c -i -e 'database is locked' -e 'SQLITE_BUSY' "$DIR/am.log" || true)
warns=$(grep -c -e 'level=WARN' -e 'level=ERROR' "$DIR/am.log" || true)
echo "gims-am during the run: $am_cpu, peak RSS $rss; log: $locked 'database is locked'/SQLITE_BUSY lines, $warns WARN/ERROR lines"
echo "gims-capd during the run: $capd_cpu"
load_cpu=$(awk -v ns="$((t1 - t0))" '{t = $1 + $2; printf "%.1f s CPU, %.0f %% of one core", t, 100 * t / (ns / 1e9)}' "$DIR/load.time")
echo "gims-load (the 100 clients, same machine): $load_cpu"
echo "load average: $loadavg at the start, $loadavg1 at the end"
# CPU per call: each process's CPU seconds over the calls of the run, a
# figure that depends much less on the machine's load than latency does.
calls=$(awk -F'|' '/\*\*all\*\*/ {gsub(/ /, "", $3); print $3; exit}' "$DIR/table.md")
per_call() { awk -v t="$1" -v n="${calls:-0}" 'BEGIN {if (n > 0) printf "%.2f", 1000 * t / n; else printf "?"}'; }
am_pc=$(per_call "$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" 'BEGIN {print t / hz}')")
capd_pc=$(per_call "$(awk -v t=$((ccpu1 - ccpu0)) -v hz="$hz" 'BEGIN {print t / hz}')")
load_pc=$(per_call "$(awk '{print $1 + $2}' "$DIR/load.time")")
cpu_line="CPU per call (ms, over ${calls:-?} calls): gims-am $am_pc, gims-capd $capd_pc, gims-load $load_pc"
echo "$cpu_line"
if [ "$warns" != 0 ]; then
	say "WARN/ERROR lines of the AM log (first 10):"
	grep -e 'level=WARN' -e 'level=ERROR' "$DIR/am.log" | head -n 10 >&2
fi
if [ "$locked" != 0 ]; then
	say "FAIL: SQLite reported busy:"
	grep -i -e 'database is locked' -e 'SQLITE_BUSY' "$DIR/am.log" | head -n 10 >&2
	status=1
fi

# machine describes the CPU, memory, OS and toolchain in one line.
machine() {
	local cpu mem os
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
	os=$(. /etc/os-release && echo "$PRETTY_NAME")
	echo "$(nproc) vCPU ${cpu:-unknown CPU}, $mem, $os, $("$GO" env GOVERSION)"
}

if [ "$RECORD" = 1 ] && [ -s "$DIR/table.md" ]; then
	{
		echo "## Load (make load)"
		echo
		echo "Machine: $(machine); load average $loadavg when the run started, $loadavg1 when it ended (a shared"
		echo "machine: other work competes for the CPUs). $(date -u +%Y-%m-%d), commit $(git describe --always --dirty 2>/dev/null || echo '?')."
		echo "\`bench/load.sh\`: gims-am and gims-capd on loopback, $EXPERIMENTS live experiments on \`lo\` (counters + flows,"
		echo "$PPS UDP datagrams/s to their ports), $CLIENTS closed-loop XML-RPC clients for $DURATION mixing"
		echo "GetExperimentStatus 40 %, GetExperimentResults 25 %, ListExperiments 10 %, GetExperimentSettings 10 %"
		echo "and 15 % whole lifecycles of a short-lived experiment (create, configure, start, pause, start, stop)."
		echo "Columns: client-observed latency; the AM's device time from its \`Server-Timing\` header (wall time"
		echo "waiting on the device, its connection pool included); \"excl. device\": the client-observed latency minus"
		echo "it (the issue 15 target: lifecycle p99 < 250 ms); \"AM\": the AM's own handler time (Server-Timing am)."
		echo
		cat "$DIR/table.md"
		echo
		echo "gims-am during the run: $am_cpu, peak RSS $rss; $locked \`database is locked\`/SQLITE_BUSY lines in its log."
		echo "gims-capd (the device, same machine, \`$CAPD_ARGS\`): $capd_cpu."
		echo "gims-load (the clients, same machine): $load_cpu."
		echo "$cpu_line."
	} >"$DIR/section.md"
	# Replace the section (up to the next "## " heading), or append it.
	python3 - bench/RESULTS.md "$DIR/section.md" <<'PY'
import re, sys
path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmark results\n"
m = re.search(r"^## Load \(make load\)\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	say "bench/RESULTS.md: section \"## Load (make load)\" updated"
fi
exit "$status"
