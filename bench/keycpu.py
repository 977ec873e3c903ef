#!/usr/bin/env python3
"""CPU cost of -anonymize-key and -w over the plain offline meter (issue 14).

For every trace of the suite and every gims-capd binary given, runs

    plain  gims-capd -r trace -ipfix out
    key    ... -anonymize-key KEY
    w      ... -w /dev/null
    key+w  ... -anonymize-key KEY -w /dev/null

RUNS times each, interleaved (binary by binary, variant by variant, round
after round, so that a change of the machine's load falls on all of
them alike), and prints a markdown table: the median user+sys CPU time
(from wait4) of each, and key, w and key+w as a multiple of the plain
run of the same binary. The targets are key <= 1.2x and key+w <= 1.3x.

    python3 bench/keycpu.py [gims-capd ...]      (default: bin/gims-capd)

Knobs: BENCH_SUITE_DIR (bench/out/suite, made by bench/suite.sh),
BENCH_TRACES (names, spaces between; default the whole suite),
KEYCPU_RUNS (7), KEYCPU_VARIANTS (names, spaces between: the variants
run besides plain, default "key w key+w"; the others print as -). CPU times move with the machine's load: run it on a
quiet machine (flock a lock file if others measure too), and compare
with bench/keycost.sh's instruction counts, which do not.
"""

import os
import statistics
import subprocess
import sys
import tempfile

KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
VARIANTS = [
    ("plain", []),
    ("key", ["-anonymize-key", KEY]),
    ("w", ["-w", "/dev/null"]),
    ("key+w", ["-anonymize-key", KEY, "-w", "/dev/null"]),
]


def cpu_ms(argv):
    """Runs argv and returns its user+sys CPU time in milliseconds."""
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(argv, stdout=null, stderr=null)
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"keycpu.py: {' '.join(argv)} failed ({status})")
    return (ru.ru_utime + ru.ru_stime) * 1000


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    suite = os.environ.get("BENCH_SUITE_DIR", os.path.join(root, "bench/out/suite"))
    traces = os.environ.get("BENCH_TRACES", "mix clustered ports ipv6 icmp tiny samples").split()
    runs = int(os.environ.get("KEYCPU_RUNS", "7"))
    chosen = set(os.environ.get("KEYCPU_VARIANTS", "key w key+w").split()) | {"plain"}
    variants = [(v, args) for v, args in VARIANTS if v in chosen]
    bins = sys.argv[1:]
    if not bins:
        subprocess.run(["go", "build", "-o", os.path.join(root, "bin/"), "./cmd/gims-capd"], cwd=root, check=True)
        bins = [os.path.join(root, "bin/gims-capd")]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.ipfix")
        print("| binary | trace | plain ms | key | w | key+w |")
        print("|---|---|---:|---:|---:|---:|")
        for name in traces:
            trace = os.path.join(suite, name + ".pcap")
            if not os.path.exists(trace):
                print(f"keycpu.py: no {trace} (run bash bench/suite.sh)", file=sys.stderr)
                continue
            times = {(b, v): [] for b in bins for v, _ in variants}
            for _ in range(runs):
                for b in bins:
                    for v, args in variants:
                        times[(b, v)].append(cpu_ms([b, "-r", trace, "-ipfix", out] + args))
            for b in bins:
                med = {v: statistics.median(times[(b, v)]) for v, _ in variants}
                p = med["plain"]
                cells = " | ".join(f"{med[v]:.0f} ({med[v] / p:.2f}×)" if v in med else "-" for v in ("key", "w", "key+w"))
                print(f"| {b} | {name} | {p:.0f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
