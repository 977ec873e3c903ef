#!/usr/bin/env bash
# Offline flow-meter benchmark over the trace suite (issue 14), run by
# `make bench` after the Go benchmarks.
#
# Generates the suite once (bench/suite.sh: mix, clustered, ports, ipv6,
# icmp, tiny, samples; cached in bench/out/suite), then on every trace
# times, $BENCH_RUNS interleaved runs (default 3), medians:
#
#   floor      tcpdump -r trace -w /dev/null   (libpcap reading the file)
#   plain      gims-capd -r trace -ipfix out (one core; the file read with
#              read(2))
#   mmap       the same with -mmap (the file read through a mapping)
#   read-ahead the same with -read-ahead (the file read on a second core)
#   key        gims-capd -r trace -ipfix out -anonymize-key KEY
#   written    gims-capd -r trace -ipfix out -w /dev/null
#   key+w      gims-capd -r trace -ipfix out -anonymize-key KEY -w /dev/null
#              (every packet sanitized before it is written, SPEC §8)
#   softflowd  softflowd -r trace → nfcapd on loopback
#   nfpcapd    nfpcapd -r trace -w dir
#
# (softflowd and nfdump are installed with apt-get when missing and this
# runs as root; a peer that is not there is left out of the table.) For
# each trace it prints a markdown table: wall time, CPU time (user +
# system to the µs, from wait4 through bench/cputime.c: the steadier
# figure on a shared machine), packets/s, peak RSS,
# the ratios to the floor; then the issue's targets on the CPU column
# (plain ≤ 1.3× floor, key ≤ 1.2× plain, key+w ≤ 1.3× plain, softflowd
# and nfpcapd ≥ 2× plain), each a ratio of medians followed, in brackets,
# by the range of the ratios of the runs paired by round; the second core
# is judged by wall time, read-ahead against the plain run (it pays when
# it takes less; its CPU time, two cores', is shown without a verdict)
# and, from a CPU profile of BenchmarkTrace over the same trace
# (capture/meter, plain meter on one core), where the time goes, with the
# CPU time of the reading stage alone (what read-ahead moves to the other
# core).
#
# With BENCH_RECORD=1 (default) the whole report replaces the section
# "## Offline trace suite (make bench, issue 14)" of bench/RESULTS.md.
# Knobs (environment): BENCH_RUNS (3), BENCH_SUITE (names, default all),
# BENCH_PROFILE (1: profile each trace), BENCH_RECORD (1), GO (go);
# BENCH_TRACE (time one given capture instead of the suite);
# BENCH_SOFTFLOWD_M (softflowd's -m, 1048576: see below); the suite's own
# knobs (bench/suite.sh).
#
# Exit status: 0 when every run succeeded, 1 otherwise (the tables still
# show what could be measured).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/suite.sh
. bench/suite.sh
RUNS=${BENCH_RUNS:-3}
PROFILE=${BENCH_PROFILE:-1}
RECORD=${BENCH_RECORD:-1}
W=$OUT/offline
rm -rf "$W"
mkdir -p "$W"

build_gims
setup_time

missing=()
command -v softflowd >/dev/null || missing+=(softflowd)
command -v nfpcapd >/dev/null && command -v nfcapd >/dev/null || missing+=(nfdump)
command -v tcpdump >/dev/null || missing+=(tcpdump)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "offline.sh: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$W/apt.log" 2>&1 ||
		say "offline.sh: apt-get install failed (see $W/apt.log)"
fi

declare -A tracefile
if [ -n "${BENCH_TRACE:-}" ]; then
	names_suite=$(basename "$BENCH_TRACE" .pcap)
	tracefile[$names_suite]=$BENCH_TRACE
else
	make_suite
	names_suite=$(suite_names)
	for t in $names_suite; do tracefile[$t]=$(suite_dir)/$t.pcap; done
fi

# softflowd exports to an nfcapd on loopback, as in bench/peers.sh, with
# gims-capd's idle timeout (300 s). Offline, softflowd expires flows only
# between two pcap_dispatch calls of -m packets each: with -m 1048576
# (so that no suite trace fills its table) it reads each trace in one
# call and exports every flow at the end. That is the same flows as
# gims-capd on the generated traces, which span less than the timeout,
# but not on samples (23 days of packet time): there softflowd merges what
# gims-capd expires. The table's "flows out" column shows it.
# BENCH_SOFTFLOWD_M=1024 has softflowd expire flows every 1,024 packets,
# closer to what gims-capd does on samples (54,343 flows out; round 8 of
# bench/RESULTS.md); on a trace of more live flows than that it also
# forces expiries, which makes it more work than gims-capd's there.
SF_MAX=${BENCH_SOFTFLOWD_M:-1048576}
SF_PORT=29985
TIMEOUTS="tcp=300:tcp.rst=300:tcp.fin=300:udp=300:icmp=300:general=300:maxlife=1800:expint=60"
collector_pid=""
collector() {
	rm -rf "$1"
	mkdir -p "$1"
	nfcapd -b 127.0.0.1 -p "$2" -w "$1" -B 33554432 >"$1.log" 2>&1 &
	collector_pid=$!
	sleep 0.5 # nfcapd has no readiness signal; the runs are not timed from here
}
collector_stop() {
	[ -n "$collector_pid" ] || return 0
	kill "$collector_pid" 2>/dev/null || true
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=""
}
trap collector_stop EXIT

names=(floor)
declare -A label
label[floor]='`tcpdump -r trace -w /dev/null` (libpcap floor)'
if [ -n "$capd" ]; then
	names+=(plain mmap ahead key written keyw)
	label[plain]='`gims-capd -r trace -ipfix out`'
	label[mmap]='`gims-capd … -mmap`'
	label[ahead]='`gims-capd … -read-ahead` (two cores)'
	label[key]='`gims-capd … -anonymize-key KEY`'
	label[written]='`gims-capd … -w /dev/null`'
	label[keyw]='`gims-capd … -anonymize-key KEY -w /dev/null`'
fi
if command -v softflowd >/dev/null && command -v nfcapd >/dev/null; then
	names+=(softflowd)
	label[softflowd]='`softflowd -r trace` → nfcapd'
	[ "$SF_MAX" = 1048576 ] || label[softflowd]="\`softflowd -r trace -m $SF_MAX\` → nfcapd"
fi
if command -v nfpcapd >/dev/null; then
	names+=(nfpcapd)
	label[nfpcapd]='`nfpcapd -r trace -w dir`'
fi

# command_of NAME TRACE prints the command line of a run.
command_of() {
	local t=$2
	case $1 in
	floor) echo "tcpdump -r $t -w /dev/null" ;;
	plain) echo "$capd -r $t -ipfix $W/flows.ipfix" ;;
	mmap) echo "$capd -r $t -ipfix $W/flows.ipfix -mmap" ;;
	ahead) echo "$capd -r $t -ipfix $W/flows.ipfix -read-ahead" ;;
	key) echo "$capd -r $t -ipfix $W/flows.ipfix -anonymize-key $KEY" ;;
	written) echo "$capd -r $t -ipfix $W/flows.ipfix -w /dev/null" ;;
	keyw) echo "$capd -r $t -ipfix $W/flows.ipfix -anonymize-key $KEY -w /dev/null" ;;
	softflowd)
		local c="softflowd -r $t -n 127.0.0.1:$SF_PORT -v 10 -b -6 -d -m $SF_MAX"
		for x in ${TIMEOUTS//:/ }; do c+=" -t $x"; done
		echo "$c"
		;;
	nfpcapd) echo "nfpcapd -r $t -w $W/nfpcapd -e 1800,300" ;;
	esac
}

# flows_of NAME prints how many flow records the last run of NAME on the
# current trace exported ("–" for the floor): gims-capd's summary line,
# softflowd's "Flows exported" (biflows, -b), the records of nfpcapd's
# files (one per direction).
flows_of() {
	local out=$W/$tr.$1.times.out n=""
	case $1 in
	floor) ;;
	softflowd) n=$(awk '/Flows exported:/ {print $3}' "$out" 2>/dev/null | tail -n 1) ;;
	nfpcapd) n=$(nfdump -R "$W/nfpcapd" -I 2>/dev/null | awk '/^Flows:/ {print $2}') ;;
	*) n=$(tail -n 1 "$out" 2>/dev/null | grep -o '[0-9]* flows' | cut -d' ' -f1) ;;
	esac
	echo "${n:-–}"
}

# spread NUM DEN prints "[min–max]" of the CPU time of run i of NUM over
# that of run i of DEN, the runs being interleaved (nothing for fewer than
# two pairs): how far a ratio moves from round to round, against the
# margin to its target.
spread() {
	paste -d' ' "$W/$tr.$1.times" "$W/$tr.$2.times" 2>/dev/null | awk '
		NF >= 6 && $6 > 0 { x = $3 / $6; if (!n || x < lo) lo = x; if (!n || x > hi) hi = x; n++ }
		END { if (n > 1) printf "[%.2f–%.2f]", lo, hi }'
}

# where_time_goes TRACE prints one line: the CPU profile of BenchmarkTrace
# over TRACE, by part of the meter (flat time of each function, summed by
# package), and the top functions.
where_time_goes() {
	local prof=$PWD/$W/cpu.prof trace=$1
	case $trace in /*) ;; *) trace=$PWD/$trace ;; esac # go test runs in the package's folder
	if ! GIMS_BENCH_TRACE=$trace "$GO" test -run '^$' -bench '^BenchmarkTrace$' -benchtime 8x \
		-cpuprofile "$prof" -o "$W/meter.test" ./capture/meter >"$W/profile.out" 2>&1; then
		echo "(profile failed: $(tail -n 1 "$W/profile.out"))"
		return
	fi
	local nspp
	nspp=$(awk '/cpu-ns\/packet/ {for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/packet") print $i}' "$W/profile.out")
	"$GO" tool pprof -top -nodecount=2000 "$W/meter.test" "$prof" 2>/dev/null | awk -v nspp="$nspp" '
		function ms(v) { if (v ~ /ms$/) return v + 0; if (v ~ /us$/) return v / 1000; if (v ~ /s$/) return v * 1000; return 0 }
		/^ *[0-9.]+(s|ms|us)? +[0-9.]+%/ {
			f = ms($1); fn = $6; total += f
			sub(/^github\.com\/gimsproject\/gims\//, "", fn)
			if (fn ~ /^transform\/flow\./) c = "flow table"
			else if (fn ~ /^packet\.|gopacket/) c = "decode"
			else if (fn ~ /^transform\/(ipfix|counters)\./) c = "export"
			else if (fn ~ /^transform\/cryptopan\./) c = "anonymization"
			else if (fn ~ /^capture\.|syscall|internal\/poll|^os\./) c = "reading the file"
			else if (fn ~ /^capture\/meter\./) c = "meter loop"
			else if (fn ~ /^runtime\.(gc|mark|scan|sweep|findObject|greyobject|(.*[Gg][Cc].*))/) c = "GC"
			else if (fn ~ /^runtime\./) c = "runtime (scheduler, preemption)"
			else c = "other"
			if (!(c in cat)) order[++m] = c
			cat[c] += f
			if (n < 4 && f > 0) { top[++n] = fn; topv[n] = f } # pprof -top sorts by flat time
		}
		END {
			if (total == 0) { print "(empty profile)"; exit }
			# The parts, largest first (a selection sort: mawk has no sort).
			s = ""
			for (k = 1; k <= m; k++) {
				b = 0
				for (j = 1; j <= m; j++) if (!(order[j] in done) && (b == 0 || cat[order[j]] > cat[order[b]])) b = j
				done[order[b]] = 1
				s = s sprintf("%s%s %.0f %%", (s == "" ? "" : ", "), order[b], 100 * cat[order[b]] / total)
			}
			t = ""
			for (i = 1; i <= n; i++) t = t sprintf("%s`%s` %.0f %%", (t == "" ? "" : ", "), top[i], 100 * topv[i] / total)
			printf "%s CPU ns/packet in BenchmarkTrace (one core); %s. Top functions (flat): %s.", nspp, s, t
		}'
	# The reading stage alone: what read-ahead moves to the other core.
	local ro
	ro=$(GIMS_BENCH_READONLY=1 GIMS_BENCH_TRACE=$trace "$W/meter.test" -test.run '^$' -test.bench '^BenchmarkTrace$' \
		-test.benchtime 3x 2>/dev/null | awk '/cpu-ns\/packet/ {for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/packet") print $i}')
	if [ -n "$ro" ] && [ -n "$nspp" ]; then
		awk -v ro="$ro" -v all="$nspp" 'BEGIN {
			printf " Reading the file alone (no meter): %.0f CPU ns/packet, what -read-ahead moves to the other core; the rest, about %.0f, is the meter'"'"'s stage.", ro, all - ro }'
	fi
	echo
}

report=$W/report.md
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "## Offline trace suite (make bench, issue 14)"
	echo
	echo "Machine: $(machine). Produced by \`bench/offline.sh\` on $(date -u +%Y-%m-%d) (commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')); $RUNS interleaved runs per trace, medians; load average $load_start at the start."
	echo "Targets (issue 14, CPU column): plain ≤ 1.3× floor; key ≤ 1.2× plain; key+w ≤ 1.3× plain; softflowd and nfpcapd ≥ 2× plain."
} >"$report"

for tr in $names_suite; do
	trace=${tracefile[$tr]}
	cat "$trace" >/dev/null # page cache: every run reads from memory
	packets=$(capinfos -c -M "$trace" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}' || true)
	packets=${packets:-0}
	for n in "${names[@]}"; do : >"$W/$tr.$n.times"; done
	declare -A failed=()
	for i in $(seq "$RUNS"); do
		for n in "${names[@]}"; do
			[ -z "${failed[$n]:-}" ] || continue
			case $n in
			softflowd) collector "$W/softflowd" "$SF_PORT" ;;
			nfpcapd) rm -rf "$W/nfpcapd" && mkdir -p "$W/nfpcapd" ;;
			esac
			# shellcheck disable=SC2046 # the commands are word lists
			if ! measure "$W/$tr.$n.times" $(command_of "$n" "$trace"); then
				say "offline.sh: $tr: run $i of $n failed: $(command_of "$n" "$trace")"
				tail -n 5 "$W/$tr.$n.times.out" >&2
				failed[$n]=1
				status=1
			fi
			[ "$n" != softflowd ] || collector_stop
		done
	done
	size=$(stat -c %s "$trace")
	{
		echo
		echo "### $tr: $packets packets, $((size / 1048576)) MiB"
		echo
		echo "| run | wall | CPU (user+sys) | packets/s (CPU) | peak RSS | flows out | × floor (wall) | × floor (CPU) |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		fl="" flc=""
		declare -A cpu=() wall=()
		for n in "${names[@]}"; do
			if [ "$(wc -l <"$W/$tr.$n.times")" -lt "$RUNS" ]; then
				echo "| ${label[$n]} | failed | | | | | | |"
				continue
			fi
			us=$(median "$W/$tr.$n.times" 1)
			rss=$(median "$W/$tr.$n.times" 2)
			c=$(median "$W/$tr.$n.times" 3)
			cpu[$n]=$c wall[$n]=$us
			[ -n "$fl" ] || fl=$us flc=$c
			awk -v us="$us" -v rss="$rss" -v cpu="$c" -v p="$packets" -v f="$fl" -v fc="$flc" -v l="${label[$n]}" -v flows="$(flows_of "$n")" 'BEGIN {
				printf "| %s | %.3f s | %.3f s | %s | %.1f MiB | %s | %.2f | %s |\n", l, us/1e6, cpu/1e3,
					(cpu > 0 ? sprintf("%.0f", p/(cpu/1e3)) : "–"), rss/1024, flows, us/f, (fc > 0 ? sprintf("%.2f", cpu/fc) : "–") }'
		done
		echo
		awk -v f="${cpu[floor]:-0}" -v p="${cpu[plain]:-0}" -v s1="${cpu[ahead]:-0}" -v k="${cpu[key]:-0}" -v w="${cpu[written]:-0}" \
			-v fw="${wall[floor]:-0}" -v pw="${wall[plain]:-0}" -v sw="${wall[ahead]:-0}" \
			-v kw="${cpu[keyw]:-0}" -v sf="${cpu[softflowd]:-0}" -v nf="${cpu[nfpcapd]:-0}" -v mm="${cpu[mmap]:-0}" \
			-v sp="$(spread plain floor)" -v sk="$(spread key plain)" -v skw="$(spread keyw plain)" \
			-v ssf="$(spread softflowd plain)" -v snf="$(spread nfpcapd plain)" '
			function r(a, b, lim, more, rg,   x) { if (a <= 0 || b <= 0) return "–"; x = a / b
				return sprintf("%.2f×%s (%s)", x, (rg == "" ? "" : " " rg), (more ? x >= lim : x <= lim) ? "met" : "**not met**") }
			BEGIN {
			printf "Targets on CPU: plain/floor %s (read-ahead/floor %s); key/plain %s; key+w/plain %s (key+w/written %s); softflowd/plain %s; nfpcapd/plain %s. ",
				r(p, f, 1.3, 0, sp), (s1 > 0 && f > 0 ? sprintf("%.2f×, two cores", s1 / f) : "–"), r(k, p, 1.2, 0, sk), r(kw, p, 1.3, 0, skw),
				(w > 0 && kw > 0 ? sprintf("%.2f×", kw / w) : "–"), r(sf, p, 2, 1, ssf), r(nf, p, 2, 1, snf)
			printf "-mmap/plain %s. ", (mm > 0 && p > 0 ? sprintf("%.2f×", mm / p) : "–")
			printf "Wall: plain/floor %s, read-ahead/floor %s, read-ahead/plain %s.\n",
				(pw > 0 && fw > 0 ? sprintf("%.2f×", pw / fw) : "–"), (sw > 0 && fw > 0 ? sprintf("%.2f×", sw / fw) : "–"), (pw > 0 && sw > 0 ? sprintf("%.2f× (%s)", sw / pw, sw < pw ? "pays" : "does not pay") : "–") }'
		if [ "$PROFILE" = 1 ] && [ -n "$capd" ]; then
			echo
			echo "Where the time goes (plain meter): $(where_time_goes "$trace")"
		fi
		[ -s "$W/$tr.plain.times.out" ] && echo && echo "gims-capd summary (last plain run): $(tail -n 1 "$W/$tr.plain.times.out")"
	} >>"$report"
	say "offline.sh: $tr done"
done
echo >>"$report"
echo "Load average $(cut -d' ' -f1-3 /proc/loadavg) at the end." >>"$report"
cat "$report"

if [ "$RECORD" = 1 ] && [ -z "${BENCH_TRACE:-}" ]; then
	python3 - bench/RESULTS.md "$report" <<'PY'
import re, sys
path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmark results\n"
m = re.search(r"^## Offline trace suite \(make bench, issue 14\)\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	say "bench/RESULTS.md: section \"## Offline trace suite (make bench, issue 14)\" updated"
fi
exit "$status"
