#!/usr/bin/env python3
"""Before/after comparison of the plain offline meter on the trace suite.

    BEFORE=/path/to/old/gims-capd python3 bench/meter-ab.py   (make bench-meter-ab)

For every trace of the issue-14 suite (bench/suite.sh; $BENCH_SUITE_DIR,
default bench/out/suite; $BENCH_SUITE limits the names), it compares two
gims-capd binaries running `gims-capd -r TRACE -ipfix OUT`:

  - instructions: valgrind --tool=cachegrind --cache-sim=no, whole
    process, one run each (the count does not depend on the machine's
    load; skipped when valgrind is missing or AB_INSTRUCTIONS=0);
  - CPU (user+sys, from wait4) medians of $AB_RUNS (default 7) interleaved
    runs of the libpcap floor (`tcpdump -r TRACE -w /dev/null`), before,
    after and softflowd (as bench/offline.sh runs it, exporting to a
    closed UDP port), and the ratios the issue's targets are stated in;
  - outputs: the IPFIX data records of before and after, in file order
    (templates resolved, export times ignored), must be the same.

AFTER defaults to bin/gims-capd (built from this tree first). The table
goes to stdout in Markdown, for bench/RESULTS.md.
"""
import functools
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile


def ipfix_records(path):
    """The data records of an IPFIX file, as hex strings, in file order."""
    data = open(path, 'rb').read()
    sizes, out, off = {}, [], 0
    while off < len(data):
        ver, length, _, _, domain = struct.unpack_from('>HHIII', data, off)
        if ver != 10 or length < 16:
            raise ValueError('%s: not IPFIX at offset %d' % (path, off))
        msg, p = data[off + 16:off + length], 0
        while p + 4 <= len(msg):
            sid, slen = struct.unpack_from('>HH', msg, p)
            body = msg[p + 4:p + slen]
            if sid == 2:  # template set
                q = 0
                while q + 4 <= len(body):
                    tid, count = struct.unpack_from('>HH', body, q)
                    q += 4
                    size = 0
                    for _ in range(count):
                        ie, flen = struct.unpack_from('>HH', body, q)
                        q += 8 if ie & 0x8000 else 4
                        size += flen
                    sizes[(domain, tid)] = size
            elif sid >= 256:
                size, q = sizes[(domain, sid)], 0
                while q + size <= len(body):
                    out.append('%d:%s' % (sid, body[q:q + size].hex()))
                    q += size
            p += max(slen, 4)
        off += length
    return out


def cpu_ms(cmd):
    """Runs cmd; returns its user+sys CPU time in ms."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError('%s failed' % ' '.join(cmd))
    return (ru.ru_utime + ru.ru_stime) * 1000


@functools.lru_cache(maxsize=None)
def maps_files(binary):
    """Whether gims-capd binary has -mmap (reads files with read(2) unless
    told to map them)."""
    r = subprocess.run([binary, '-h'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return '-mmap' in r.stdout


def instructions(cmd, tries=5):
    """The instructions cachegrind counts for cmd (a gims-capd run). The
    file is mapped, as binaries without -mmap map it: a run reading with
    read(2) under valgrind mostly dies of SIGILL (the Go runtime, spinning
    on a lock contended around the system calls, reads the time stamp
    counter with RDTSCP, which valgrind 3.19 does not know; a failed run
    is tried again)."""
    if maps_files(cmd[0]):
        cmd = cmd + ['-mmap']
    for _ in range(tries):
        r = subprocess.run(['valgrind', '--tool=cachegrind', '--cache-sim=no',
                            '--cachegrind-out-file=/dev/null'] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            continue
        for line in r.stderr.splitlines():
            if 'I   refs:' in line or 'I refs:' in line:
                return int(line.split(':')[1].replace(',', '').strip())
    raise RuntimeError('no instruction count from valgrind after %d tries: %s' % (tries, ' '.join(cmd)))


def main():
    before = os.environ.get('BEFORE')
    if not before:
        sys.exit('meter-ab: set BEFORE to the gims-capd binary to compare with')
    after = os.environ.get('AFTER', 'bin/gims-capd')
    if 'AFTER' not in os.environ:
        subprocess.run(['go', 'build', '-o', 'bin/', './cmd/gims-capd'], check=True)
    runs = int(os.environ.get('AB_RUNS', '7'))
    suite_dir = os.environ.get('BENCH_SUITE_DIR', 'bench/out/suite')
    names = os.environ.get('BENCH_SUITE', 'mix clustered ports ipv6 icmp tiny samples').split()
    if any(not os.path.exists(os.path.join(suite_dir, n + '.pcap')) for n in names):
        subprocess.run(['bash', 'bench/suite.sh'], check=True)
    count = os.environ.get('AB_INSTRUCTIONS', '1') != '0' and shutil.which('valgrind')
    softflowd = shutil.which('softflowd')
    tmp = tempfile.mkdtemp(prefix='meter-ab-')
    out_b, out_a = os.path.join(tmp, 'before.ipfix'), os.path.join(tmp, 'after.ipfix')

    print('| trace | instructions before → after | floor CPU ms | plain before → after (× floor) | softflowd ms (× plain after) | IPFIX records |')
    print('|---|---:|---:|---:|---:|---|')
    for name in names:
        trace = os.path.join(suite_dir, name + '.pcap')
        cmd_b = [before, '-r', trace, '-ipfix', out_b]
        cmd_a = [after, '-r', trace, '-ipfix', out_a]
        cmds = {'floor': ['tcpdump', '-r', trace, '-w', '/dev/null'], 'before': cmd_b, 'after': cmd_a}
        if softflowd:
            cmds['softflowd'] = [softflowd, '-r', trace, '-n', '127.0.0.1:9', '-v', '10', '-b', '-6', '-d', '-m', '1048576']
        times = {k: [] for k in cmds}
        for _ in range(runs):
            for k, c in cmds.items():
                times[k].append(cpu_ms(c))
        med = {k: statistics.median(v) for k, v in times.items()}
        rb, ra = ipfix_records(out_b), ipfix_records(out_a)
        same = 'same (%d)' % len(ra) if rb == ra else (
            'same content, other order (%d)' % len(ra) if sorted(rb) == sorted(ra) else '**differ** (%d vs %d)' % (len(rb), len(ra)))
        ins = '–'
        if count:
            ib, ia = instructions(cmd_b), instructions(cmd_a)
            ins = '%dM → %dM (%+.0f %%)' % (ib // 10**6, ia // 10**6, 100 * (ia - ib) / ib)
        sf = '–'
        if softflowd:
            sf = '%.0f (%.2f×)' % (med['softflowd'], med['softflowd'] / med['after'])
        print('| %s | %s | %.0f | %.0f (%.2f×) → %.0f (%.2f×) | %s | %s |' % (
            name, ins, med['floor'], med['before'], med['before'] / med['floor'],
            med['after'], med['after'] / med['floor'], sf, same), flush=True)
    shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
