#!/usr/bin/env python3
"""Check the device policy (SPEC §9) with Python's stock xmlrpc.client.

usage: policy.py ADMIN_URL ALICE_URL DEVICE_ADDR DEVICE_TOKEN STRICT_ADDR STRICT_TOKEN INTERFACE

Every rule of policy_rules.json (next to this script) is refused (fault 4
naming the device and the rule) and allowed at ConfigureExperiment; a
device whose daemon runs with a stricter -policy is allowed by the AM and
refused by the daemon, which the AM reports as the device's refusal.
Prints one JSON object with what was checked; fails on any surprise.
"""
import json
import os
import sys
import xmlrpc.client

OPEN = {"users": ["*"], "require_anonymization": False, "payload": "keep",
        "outputs": ["counters", "flows", "pcap"], "max_snaplen": 0, "max_duration_s": 0,
        "max_storage_bytes": 0, "key_holder": "experimenter"}


def refused(what, call, code, *parts):
    """Call call() and return the fault string, checking code and parts."""
    try:
        call()
    except xmlrpc.client.Fault as f:
        assert f.faultCode == code, (what, f.faultCode, f.faultString)
        for p in parts:
            assert p in f.faultString, (what, p, f.faultString)
        return f.faultString
    raise AssertionError(what + ": no fault")


def main():
    admin_url, alice_url, addr, token, strict_addr, strict_token, iface = sys.argv[1:8]
    admin = xmlrpc.client.ServerProxy(admin_url)
    alice = xmlrpc.client.ServerProxy(alice_url)
    with open(os.path.join(os.path.dirname(__file__), "policy_rules.json")) as f:
        rules = json.load(f)

    host, port = addr.rsplit(":", 1)
    dev = admin.AddDevice({"name": "tap1", "hostname": host, "port": int(port), "token": token})
    pol = dev["policy"]
    assert pol["users"] == ["*"] and pol["require_anonymization"] and pol["payload"] == "strip" \
        and pol["outputs"] == ["counters", "flows", "pcap"] and pol["key_holder"] == "operator", pol

    checked_refused = checked_allowed = 0
    for i, r in enumerate(rules):
        admin.EditDevice("tap1", {"policy": OPEN})
        exp = alice.CreateExperiment({"name": "py-%d" % i, "devices": ["tap1:" + iface]})
        admin.EditDevice("tap1", {"policy": dict(OPEN, **r["policy"])})
        refused(r["rule"], lambda: alice.ConfigureExperiment(exp, r["refused"]), 4, r["message"])
        checked_refused += 1
        if "allowed_policy" in r:
            admin.EditDevice("tap1", {"policy": dict(OPEN, **r["allowed_policy"])})
        alice.ConfigureExperiment(exp, r["allowed"])
        checked_allowed += 1
    listed = {d["name"]: d for d in admin.ListDevices()}
    assert listed["tap1"]["policy"]["max_duration_s"] == 3600, listed["tap1"]["policy"]

    # The daemon's own limit is stricter than the AM's open policy.
    host, port = strict_addr.rsplit(":", 1)
    admin.AddDevice({"name": "tap2", "hostname": host, "port": int(port), "token": strict_token, "policy": OPEN})
    caps = alice.GetDeviceCapabilities("tap2")
    assert caps["device_policy"]["require_anonymization"] is True, caps
    assert caps["policy"]["require_anonymization"] is False, caps
    exp = alice.CreateExperiment({"name": "py-strict", "devices": ["tap2:" + iface]})
    alice.ConfigureExperiment(exp, {"counters": {}})
    why = refused("start on the strict daemon", lambda: alice.StartExperiment(exp), 5, "device tap2")
    assert alice.GetExperimentStatus(exp)["state"] == "configured"
    print(json.dumps({"refused": checked_refused, "allowed": checked_allowed, "device_refusal": why}))


if __name__ == "__main__":
    main()
