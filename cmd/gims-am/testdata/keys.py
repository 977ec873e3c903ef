#!/usr/bin/env python3
"""Operator-held keys through Python's stock xmlrpc.client (SPEC section 9).

usage: keys.py AM_URL_ADMIN AM_URL_ALICE AM_URL_BOB DEVICE

The admin makes two keys: "lab" for alice and "shared" for everyone.
alice sees only the keys she may use, configures three experiments on
DEVICE (two with "lab", one with "shared") and runs them to the end; bob
may not use "lab"; "lab" cannot be deleted while an experiment that may
still start uses it, and can once they are done. Prints one JSON object:
the experiments' ids, their flows' addresses, the faults seen, and every
reply received (to search them for the key).
"""
import json
import sys
import time
import xmlrpc.client

replies = []


def keep(v):
    replies.append(v)
    return v


def fault_of(call, *args):
    try:
        keep(call(*args))
    except xmlrpc.client.Fault as f:
        replies.append(f.faultString)
        return f.faultCode, f.faultString
    return 0, ""


def wait_done(am, exp):
    deadline = time.time() + 60
    status = keep(am.GetExperimentStatus(exp))
    while not (status["state"] == "done" and status["results_pulled"]):
        if time.time() > deadline:
            raise SystemExit("experiment %d did not end: %r" % (exp, status))
        time.sleep(0.1)
        status = keep(am.GetExperimentStatus(exp))


def main():
    admin_url, alice_url, bob_url, device = sys.argv[1:5]
    admin = xmlrpc.client.ServerProxy(admin_url)
    alice = xmlrpc.client.ServerProxy(alice_url)
    bob = xmlrpc.client.ServerProxy(bob_url)
    out = {"faults": {}}

    lab = keep(admin.CreateKey({"name": "lab", "users": ["alice"]}))
    shared = keep(admin.CreateKey({"name": "shared", "users": ["*"]}))
    assert set(lab) == {"name", "fingerprint", "users", "created_by", "created"}, lab
    assert lab["users"] == ["alice"] and len(lab["fingerprint"]) == 8, lab
    out["fingerprints"] = {"lab": lab["fingerprint"], "shared": shared["fingerprint"]}
    out["faults"]["duplicate"] = fault_of(admin.CreateKey, {"name": "lab", "users": ["*"]})[0]
    out["faults"]["alice_create"] = fault_of(alice.CreateKey, {"name": "mine", "users": ["alice"]})[0]
    listed = keep(admin.ListKeys())
    assert [k["name"] for k in listed] == ["lab", "shared"], listed
    assert [k["name"] for k in keep(alice.ListKeys())] == ["lab", "shared"]
    bobs = keep(bob.ListKeys())
    assert [k["name"] for k in bobs] == ["shared"] and "users" not in bobs[0], bobs

    def experiment(who, name, key):
        exp = keep(who.CreateExperiment({"name": name, "devices": [device]}))
        settings = keep(who.ConfigureExperiment(exp, {"flows": {}, "anonymize": {"key": key}}))
        anon = settings["config"]["anonymize"]
        assert anon["key"] == key and "secret" not in anon, anon
        return exp, anon["secret_fingerprint"]

    e1, fp1 = experiment(alice, "lab-1", "lab")
    e2, fp2 = experiment(alice, "lab-2", "lab")
    e3, fp3 = experiment(alice, "shared-1", "shared")
    assert fp1 == fp2 == lab["fingerprint"] and fp3 == shared["fingerprint"], (fp1, fp2, fp3)
    b1 = keep(bob.CreateExperiment({"name": "bob-1", "devices": [device]}))
    code, msg = fault_of(bob.ConfigureExperiment, b1, {"anonymize": {"key": "lab"}})
    out["faults"]["bob_lab"], out["bob_lab_message"] = code, msg
    out["faults"]["missing_key"] = fault_of(alice.ConfigureExperiment, e1, {"anonymize": {"key": "nope"}})[0]
    out["faults"]["secret_and_key"] = fault_of(alice.ConfigureExperiment, e1,
                                               {"anonymize": {"key": "lab", "secret": "s"}})[0]
    out["faults"]["alice_delete"] = fault_of(alice.DeleteKey, "lab")[0]
    code, msg = fault_of(admin.DeleteKey, "lab")
    out["faults"]["delete_in_use"], out["delete_in_use_message"] = code, msg

    flows = {}
    for exp in (e1, e2, e3):
        keep(alice.StartExperiment(exp))
        wait_done(alice, exp)
        rows = keep(alice.GetExperimentResults(exp, {"kind": "flows", "limit": 10000}))
        flows[str(exp)] = sorted("%s %s" % (r["src"], r["dst"]) for r in rows)
    out["flows"] = flows
    out["ids"] = [e1, e2, e3]
    # Done experiments no longer hold the key back.
    out["deleted"] = keep(admin.DeleteKey("lab"))["name"]
    out["after_delete"] = [k["name"] for k in keep(admin.ListKeys())]
    keep(admin.GetAuditLog({"limit": 10000}))
    keep(alice.GetExperimentSettings(e1))
    out["replies"] = repr(replies)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
