#!/usr/bin/env bash
# The issue 20 attacks at full size (make abuse): the TestAbuse* tests of
# cmd/gims-am with GIMS_ABUSE=full, against a real gims-am and gims-capd on
# loopback in temporary folders; every loop is bounded and the daemons stop
# with the tests.
#
#   multicall memory  40 × GetExperimentResults(flows, 10000) in one
#                     system.multicall, then 64 such requests at once: peak
#                     RSS of the AM, answers vs faults
#   slow clients      2,000 connections from 127.0.0.2 sending one byte per
#                     100 ms, against each daemon with its default limits:
#                     how long the slowest was held, the worst latency of a
#                     legitimate call from 127.0.0.1 meanwhile
#   huge filters      1,000 "host" terms (79 s to compile before): refused
#                     beyond the limit; with the limit raised, killed after
#                     -filter-timeout while "udp" is configured meanwhile;
#                     StartJob on the device answers in time, no job left
#   rate limits       one experimenter floods for 10 s: accepted vs refused,
#                     another user's worst latency
#
# The figures go to stdout and, unless ABUSE_RECORD=0, under a dated
# heading of the "## Abuse (make abuse, issue 20)" section of
# bench/RESULTS.md. Knobs: ABUSE_RECORD (1), GO (go).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RECORD=${ABUSE_RECORD:-1}
OUT=bench/out
mkdir -p "$OUT"
LOG=$OUT/abuse.log

say() { printf 'abuse.sh: %s\n' "$*" >&2; }

say "running the TestAbuse tests at full size (a few minutes)"
status=0
GIMS_ABUSE=full "$GO" test -count=1 -timeout 20m -run '^TestAbuse' -v ./cmd/gims-am >"$LOG" 2>&1 || status=$?
grep -E -- '^(--- |ok|FAIL)' "$LOG" >&2 || true
if [ "$status" != 0 ]; then
	say "a test failed (see $LOG)"
fi

# fig NAME: the value an "ABUSE NAME=value" line of the log gives.
fig() { sed -n "s/.*ABUSE $1=\([^ ]*\).*/\1/p" "$LOG" | tail -1; }
secs() { printf '%.2f s' "$(fig "$1")"; }

table=$(cat <<TABLE
| attack | figure |
|---|---|
| multicall: $(fig multicall_calls) × GetExperimentResults(flows, 10000) | $(fig multicall_answered) answered, the rest fault 3 "response too large"; AM RSS $(fig multicall_rss_before) before, peak $(fig multicall_peak_rss); $(secs multicall_seconds) |
| $(fig parallel_requests) × GetExperimentResults(flows, 10000) at once, one admin | $(fig parallel_answered) answered, $(fig parallel_refused) fault 4 (requests in progress); AM peak RSS $(fig parallel_peak_rss); $(secs parallel_seconds) |
| slow clients: $(fig gims-am_slow_connections) connections on gims-am | slowest held $(secs gims-am_slow_longest_held_s); worst legitimate call $(secs gims-am_legit_worst_latency_s) |
| slow clients: $(fig gims-capd_slow_connections) connections on gims-capd | slowest held $(secs gims-capd_slow_longest_held_s); worst legitimate call $(secs gims-capd_legit_worst_latency_s) |
| filter of $(fig filter_terms) host terms, limit raised, -filter-timeout 4s | ConfigureExperiment fault 3 after $(secs filter_slow_configure_s); "udp" configured meanwhile in $(secs filter_udp_configure_meanwhile_s); StartJob fault 3 after $(secs filter_startjob_s), no job left |
| one experimenter floods (rate 5/s, burst 10) | $(fig rate_flood_accepted) accepted, $(fig rate_flood_refused) refused (fault 4); other user's worst latency $(secs rate_legit_worst_latency_s) |
TABLE
)
printf '%s\n' "$table"

if [ "$RECORD" = 1 ] && [ "$status" = 0 ]; then
	heading="### $(date -u +%Y-%m-%d) (commit $(git rev-parse --short HEAD))"
	machine="$(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $("$GO" env GOVERSION); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	section="## Abuse (make abuse, issue 20)"
	python3 - "$section" "$heading" "$machine" "$table" <<'PY'
import sys
section, heading, machine, table = sys.argv[1:5]
path = "bench/RESULTS.md"
text = open(path).read()
entry = f"{heading}\n\n{machine}\n\n{table}\n"
if section not in text:
    text = text.rstrip("\n") + f"\n\n{section}\n\n{entry}"
else:
    head, rest = text.split(section, 1)
    # The newest run first, right under the section's heading and intro.
    body = rest.lstrip("\n")
    i = body.find("### ")
    nxt = body.find("\n## ")
    if i < 0 or (0 <= nxt < i):
        i = nxt + 1 if nxt >= 0 else len(body)
    text = head + section + "\n\n" + body[:i] + entry + "\n" + body[i:]
open(path, "w").write(text)
PY
	say "figures recorded in bench/RESULTS.md"
fi
exit "$status"
