#!/usr/bin/env python3
"""The scale benchmark's driver (bench/scale.sh runs it; SPEC §11).

It drives a gims-am that knows nothing yet, against simulated devices of
gims-capd -simulate: adds the devices in batches (system.multicall), runs
one experiment across all of them and then 100 experiments of 10 devices,
measures the times of the transitions and of the status, the AM's CPU and
memory while it polls, GetExperimentStatus under `ab -k -c 50`, and a start
on which 10 devices hang (their process stopped): the rollback and fault 5.
It prints one JSON object of figures on stdout; progress goes to stderr.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

p = argparse.ArgumentParser()
p.add_argument("--am", required=True, help="host:port of gims-am")
p.add_argument("--user", default="admin")
p.add_argument("--password", required=True)
p.add_argument("--token", required=True, help="the simulated devices' token")
p.add_argument("--first-port", type=int, required=True)
p.add_argument("--devices", type=int, default=1000)
p.add_argument("--hang-port", type=int, help="first port of the devices of --hang-pid")
p.add_argument("--hang-devices", type=int, default=10)
p.add_argument("--hang-pid", type=int, help="gims-capd -simulate process stopped during a start")
p.add_argument("--am-pid", type=int, required=True)
p.add_argument("--steady", type=float, default=20, help="seconds of polling measured")
p.add_argument("--small", type=int, default=100, help="experiments of 10 devices")
p.add_argument("--ab-requests", type=int, default=20000)
p.add_argument("--device-timeout", type=float, default=10)
p.add_argument("--pprof", help="host:port of gims-am -pprof-listen: profile the AM while it polls every device")
p.add_argument("--pprof-out", help="where the CPU profile goes")
a = p.parse_args()

URL = "http://%s:%s@%s/RPC2" % (a.user, a.password, a.am)
local = threading.local()
HZ = os.sysconf("SC_CLK_TCK")
out = {}


def say(*msg):
    print("scale.py:", *msg, file=sys.stderr, flush=True)


def am():
    """A keep-alive client per thread."""
    if not hasattr(local, "c"):
        local.c = xmlrpc.client.ServerProxy(URL, allow_none=False)
    return local.c


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0


def metric(name):
    """A gauge of the AM's /metrics (None when absent)."""
    import urllib.request, base64
    req = urllib.request.Request("http://%s/metrics" % a.am)
    req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (a.user, a.password)).encode()).decode())
    body = urllib.request.urlopen(req, timeout=30).read().decode()
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else None


def timed(fn, *args):
    t = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - t


def add_devices(names_ports):
    """AddDevice in batches of 100 calls (system.multicall), 4 batches at once."""
    def batch(chunk):
        mc = xmlrpc.client.MultiCall(am())
        for name, port in chunk:
            mc.AddDevice({"name": name, "location": "bench", "type": "gims-capd -simulate", "hostname": "127.0.0.1",
                          "port": port, "description": "simulated", "token": a.token,
                          # Synthetic traffic: nothing to anonymize (SPEC §9's default requires it).
                          "policy": {"require_anonymization": False}})
        for r in mc():
            pass
    chunks = [names_ports[i:i + 100] for i in range(0, len(names_ports), 100)]
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(batch, chunks))


def experiment(name, devices, config):
    eid = am().CreateExperiment({"name": name, "devices": [d + ":sim0" for d in devices]})
    am().ConfigureExperiment(eid, config)
    return eid


def wait_counting(eid, n, limit=60):
    """Seconds until every device of eid is reachable and counting."""
    t = time.monotonic()
    while time.monotonic() - t < limit:
        st = am().GetExperimentStatus(eid)
        devs = st["devices"]
        if len(devs) == n and all(d["reachable"] and d["packets"] > 0 for d in devs):
            return time.monotonic() - t
        time.sleep(0.05)
    raise SystemExit("experiment %d: not every device counting within %d s" % (eid, limit))


def ab(eid, concurrency, requests):
    """GetExperimentStatus(eid) under ab -k: calls/s, p50, p99 (ms), failures."""
    body = "/tmp/gims-scale-status-%d.xml" % os.getpid()
    with open(body, "w") as f:
        f.write(xmlrpc.client.dumps((eid,), "GetExperimentStatus"))
    r = subprocess.run(["ab", "-q", "-k", "-c", str(concurrency), "-n", str(requests), "-p", body, "-T", "text/xml",
                        "-A", "%s:%s" % (a.user, a.password), "http://%s/RPC2" % a.am],
                       capture_output=True, text=True)
    os.remove(body)
    txt = r.stdout
    def grab(pattern, default=None):
        m = re.search(pattern, txt, re.M)
        return float(m.group(1)) if m else default
    # ab counts an answer whose length differs from the first one's as
    # failed (Length): a status's counters and elapsed_s change. Only the
    # others are failures.
    bad = sum([int(grab(r"\(Connect: (\d+)", 0)), int(grab(r"Receive: (\d+)", 0)), int(grab(r"Exceptions: (\d+)", 0))])
    res = {"calls_per_s": grab(r"Requests per second:\s+([\d.]+)"), "p50_ms": grab(r"^\s+50%\s+(\d+)"),
           "p99_ms": grab(r"^\s+99%\s+(\d+)"), "failed": bad,
           "non_2xx": int(grab(r"Non-2xx responses:\s+(\d+)", 0)), "concurrency": concurrency, "requests": requests}
    if res["calls_per_s"] is None:
        say("ab failed:", r.stdout[-2000:], r.stderr[-2000:])
    return res


def steady(seconds):
    """The AM's CPU share, RSS and poll cycle over `seconds` of polling."""
    t0, c0 = time.monotonic(), cpu_ticks(a.am_pid)
    cycles = []
    end = t0 + seconds
    while time.monotonic() < end:
        time.sleep(1)
        v = metric("gims_am_poll_cycle_seconds")
        if v is not None:
            cycles.append(v)
    t1, c1 = time.monotonic(), cpu_ticks(a.am_pid)
    cycles.sort()
    return {"cpu_percent": round(100 * (c1 - c0) / HZ / (t1 - t0), 1), "rss_mib": round(rss_mib(a.am_pid), 1),
            "poll_cycle_s_median": cycles[len(cycles) // 2] if cycles else None,
            "poll_cycle_s_max": cycles[-1] if cycles else None}


names = ["sim%04d" % i for i in range(a.devices)]
say("adding %d devices" % a.devices)
_, out["add_devices_s"] = timed(add_devices, [(n, a.first_port + i) for i, n in enumerate(names)])
out["am_idle"] = steady(5)
say("idle AM with %d devices: %s" % (a.devices, out["am_idle"]))

counters = {"counters": {"interval_ms": 1000}, "flows": {}, "storage": "remote"}
# The API's own capacity first: one 10-device experiment running alone.
alone = experiment("alone", names[:10], counters)
am().StartExperiment(alone)
wait_counting(alone, 10)
out["status_alone"] = ab(alone, 50, a.ab_requests)
say("GetExperimentStatus of a 10-device experiment running alone: %s" % out["status_alone"])
am().StopExperiment(alone)
big = experiment("all", names, counters)
_, out["start_all_s"] = timed(am().StartExperiment, big)
out["counting_all_s"] = wait_counting(big, a.devices)
say("started %d devices in %.2f s, all counting %.2f s later" % (a.devices, out["start_all_s"], out["counting_all_s"]))
if a.pprof:
    import urllib.request
    def profile():
        data = urllib.request.urlopen("http://%s/debug/pprof/profile?seconds=%d" % (a.pprof, max(1, a.steady - 2)),
                                      timeout=a.steady + 60).read()
        open(a.pprof_out, "wb").write(data)
    prof = threading.Thread(target=profile)
    prof.start()
out["polling_all"] = steady(a.steady)
if a.pprof:
    prof.join()
say("polling %d running devices: %s" % (a.devices, out["polling_all"]))
out["status_all"] = ab(big, 50, max(500, a.ab_requests // 20))
say("GetExperimentStatus of the %d-device experiment: %s" % (a.devices, out["status_all"]))

# 100 experiments of 10 devices (other devices than the big one's jobs:
# a device takes several jobs), started and stopped 10 at a time.
small = []
for k in range(a.small):
    devs = [names[(k * 10 + j) % a.devices] for j in range(10)]
    small.append(experiment("small-%03d" % k, devs, counters))
def run_all(method, ids):
    with ThreadPoolExecutor(10) as ex:
        return list(ex.map(lambda i: timed(getattr(am(), method), i)[1], ids))
lat = sorted(run_all("StartExperiment", small))
out["small_start_s"] = {"p50": lat[len(lat) // 2], "max": lat[-1]}
wait_counting(small[-1], 10)
out["polling_all_and_small"] = steady(a.steady)
say("polling %d + %d×10 running devices: %s" % (a.devices, a.small, out["polling_all_and_small"]))
out["status_small"] = ab(small[0], 50, a.ab_requests)
say("GetExperimentStatus of a 10-device experiment: %s" % out["status_small"])
lat = sorted(run_all("StopExperiment", small))
out["small_stop_s"] = {"p50": lat[len(lat) // 2], "max": lat[-1]}

_, out["stop_all_s"] = timed(am().StopExperiment, big)
say("stopped %d devices in %.2f s" % (a.devices, out["stop_all_s"]))

if a.hang_pid:
    hang = ["hang%02d" % i for i in range(a.hang_devices)]
    add_devices([(n, a.hang_port + i) for i, n in enumerate(hang)])
    mixed = experiment("hang", names[:a.devices - a.hang_devices] + hang, counters)
    # The 10 devices' process stops answering (SIGSTOP: connections are
    # accepted by the kernel, never answered) just before the start.
    os.kill(a.hang_pid, signal.SIGSTOP)
    t = time.monotonic()
    try:
        am().StartExperiment(mixed)
        fault = None
    except xmlrpc.client.Fault as f:
        fault = f
    out["hang_start_s"] = time.monotonic() - t
    os.kill(a.hang_pid, signal.SIGKILL)
    named = [n for n in hang if fault is not None and n in fault.faultString]
    st = am().GetExperimentStatus(mixed)
    out["hang"] = {"fault_code": fault.faultCode if fault else None, "devices_named": len(named),
                   "state_after": st["state"], "rollback_s": round(out["hang_start_s"], 2),
                   "device_timeout_s": a.device_timeout}
    say("start with %d hanging devices: %s" % (a.hang_devices, out["hang"]))

print(json.dumps(out, indent=1))
