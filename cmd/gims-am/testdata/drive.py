#!/usr/bin/env python3
"""Drive a whole GIMS experiment with Python's stock xmlrpc.client.

usage: drive.py AM_URL DEVICE_HOST DEVICE_PORT DEVICE_TOKEN INTERFACE

AM_URL carries the admin's credentials (http://user:pass@host:port/RPC2).
Prints one JSON object summarizing what the AM answered.
"""
import base64
import json
import sys
import time
import urllib.parse
import urllib.request
import xmlrpc.client


def main():
    url, host, port, token, iface = sys.argv[1:6]
    am = xmlrpc.client.ServerProxy(url)
    methods = am.system.listMethods()
    am.AddDevice({"name": "pytap", "location": "lab", "type": "gims-capd", "hostname": host,
                  "port": int(port), "description": "from python", "token": token,
                  "policy": {"require_anonymization": False, "payload": "keep", "key_holder": "experimenter"}})
    caps = am.GetDeviceCapabilities("pytap")
    assert any(i["name"] == iface for i in caps["interfaces"]), caps
    exp = am.CreateExperiment({"name": "py", "description": "python", "devices": ["pytap:" + iface]})
    fault = 0
    try:
        am.ConfigureExperiment(exp, {"filter": "not a filter ((("})
    except xmlrpc.client.Fault as f:
        fault = f.faultCode
    settings = am.ConfigureExperiment(exp, {
        "counters": {"interval_ms": 1000},
        "flows": {"active_timeout_s": 1800, "idle_timeout_s": 300, "biflow": True},
        "anonymize": {"secret": "py-secret-phrase"},
        "pcap": True, "storage": "remote"})
    assert "secret" not in settings["config"]["anonymize"], settings
    # The whole lifecycle on a slow replay, then a run to the end.
    slow = am.CreateExperiment({"name": "py-slow", "devices": ["pytap:" + iface]})
    am.ConfigureExperiment(slow, {"replay_speed": 0.1, "counters": {}})
    assert am.StartExperiment(slow)["state"] == "running"
    assert am.PauseExperiment(slow)["state"] == "paused"
    assert am.StartExperiment(slow)["state"] == "running"
    assert am.StopExperiment(slow)["state"] == "done"
    history = [(t["from"], t["to"]) for t in am.GetExperimentSettings(slow)["transitions"]]
    assert history[-1] == ("running", "done"), history
    am.StartExperiment(exp)
    status = am.GetExperimentStatus(exp)
    deadline = time.time() + 30
    while not (status["state"] == "done" and status["results_pulled"]):
        if time.time() > deadline:
            raise SystemExit("experiment did not end: %r" % status)
        time.sleep(0.1)
        status = am.GetExperimentStatus(exp)
    flows = am.GetExperimentResults(exp, {"kind": "flows", "offset": 0, "limit": 10000})
    files = am.GetExperimentResults(exp, {"kind": "files"})
    # QueryFlows: the groups by protocol hold every flow; a bad filter is
    # fault 3 naming its position.
    q = am.QueryFlows(exp, {"group_by": ["proto"], "order_by": "-packets"})
    assert q["total"] == len(q["rows"]) and sum(r["flows"] for r in q["rows"]) == len(flows), (q, len(flows))
    assert sum(r["packets"] for r in q["rows"]) == sum(f["packets"] + f["rev_packets"] for f in flows), q
    try:
        am.QueryFlows(exp, {"filter": "host 10.0.0.256"})
        raise SystemExit("QueryFlows accepted a bad address")
    except xmlrpc.client.Fault as f:
        assert f.faultCode == 3 and "position 6" in f.faultString, f
    pcap = [f for f in files if f["name"] == "packets.pcap"][0]
    parts = urllib.parse.urlsplit(url)
    req = urllib.request.Request(pcap["url"])
    cred = base64.b64encode(("%s:%s" % (urllib.parse.unquote(parts.username),
                                        urllib.parse.unquote(parts.password))).encode()).decode()
    req.add_header("Authorization", "Basic " + cred)
    with urllib.request.urlopen(req) as resp:
        data = resp.read()
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"), data[:4]
    # Administration.
    am.AddUser({"name": "pyuser", "password": "py-password-1", "role": "experimenter"})
    assert "pyuser" in [u["name"] for u in am.ListUsers()]
    assert am.SetUserRole("pyuser", "admin")["role"] == "admin"
    try:
        am.SetUserRole("pyuser", "root")
        raise AssertionError("SetUserRole took the role root")
    except xmlrpc.client.Fault as f:
        assert f.faultCode == 3, f
    assert "password" not in am.DeleteUser("pyuser")
    dev = am.EditDevice("pytap", {"location": "rack 7"})
    assert dev["location"] == "rack 7" and "token" not in dev, dev
    act = am.CreateActivation({"expires_s": 600, "uses": 1})
    assert act["code"] and act["uses_left"] == 1, act
    assert "code" not in am.ListActivations()[0], "ListActivations shows a code"
    am.RegisterDevice({"name": "pyreg", "hostname": "127.0.0.1", "port": 9, "token": "reg-token",
                       "activation": act["code"]})
    devices = {d["name"]: d for d in am.ListDevices()}
    assert devices["pyreg"]["pending"] and devices["pytap"]["reachable"], devices
    assert am.DeleteDevice("pyreg")["name"] == "pyreg"
    assert "ConfigureExperiment" in am.system.methodHelp("ConfigureExperiment")
    multi = xmlrpc.client.MultiCall(am)
    multi.ListExperiments()
    multi.GetExperimentSettings(exp)
    multi.GetExperimentSettings(9999)
    results = []
    try:
        for r in multi():
            results.append(r["name"] if isinstance(r, dict) else len(r))
    except xmlrpc.client.Fault as f:
        results.append(f.faultCode)
    print(json.dumps({
        "state": status["state"], "packets": status["packets"], "flows": len(flows),
        "files": sorted(f["name"] for f in files), "pcap_bytes": len(data),
        "fingerprint": settings["config"]["anonymize"]["secret_fingerprint"],
        "bad_filter_fault": fault, "methods": len(methods), "multicall": results,
    }))


if __name__ == "__main__":
    main()
