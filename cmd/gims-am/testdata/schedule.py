#!/usr/bin/env python3
"""Configures schedules the way a Python user would (xmlrpc.client, datetime)
and prints what the AM answered as JSON.

usage: schedule.py URL HOST PORT TOKEN INTERFACE
"""
import datetime
import json
import sys
import xmlrpc.client

url, host, port, token, iface = sys.argv[1:6]
am = xmlrpc.client.ServerProxy(url, use_datetime=True)
am.AddDevice({"name": "tap", "location": "lab", "type": "gims-capd", "hostname": host,
              "port": int(port), "description": "", "token": token,
              # Not about device policy (SPEC §9): a policy that allows
              # every experiment.
              "policy": {"require_anonymization": False, "payload": "keep", "key_holder": "experimenter"}})


def fault(call):
    try:
        call()
    except xmlrpc.client.Fault as f:
        return {"code": f.faultCode, "string": f.faultString}
    return None


now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
start = now + datetime.timedelta(hours=1)
first = am.CreateExperiment({"name": "hourly", "devices": ["tap:" + iface]})
# Python's datetime goes as dateTime.iso8601 (naive: UTC).
settings = am.ConfigureExperiment(first, {"counters": {}, "schedule": {
    "start_at": start.replace(tzinfo=None), "every_s": 600, "run_s": 60, "count": 3}})
status = am.GetExperimentStatus(first)
second = am.CreateExperiment({"name": "clash", "devices": ["tap:" + iface]})
# An ISO 8601 string works too; this one overlaps the second run of first.
overlap = fault(lambda: am.ConfigureExperiment(second, {"schedule": {
    "start_at": (start + datetime.timedelta(seconds=630)).isoformat(), "run_s": 60}}))
bad = fault(lambda: am.ConfigureExperiment(second, {"schedule": {"every_s": 60, "run_s": 60, "count": 2}}))
timeline = am.GetScheduleTimeline({})

print(json.dumps({
    "state": settings["state"],
    "schedule": {k: (v.isoformat() if isinstance(v, datetime.datetime) else v)
                 for k, v in settings["config"]["schedule"].items()},
    "next_start": status["next_start"].isoformat(),
    "expected_start": start.replace(tzinfo=None).isoformat(),
    "first": first,
    "overlap": overlap,
    "bad": bad,
    "timeline": [{"experiment": r["experiment"], "name": r["name"], "start": r["start"].isoformat(),
                  "end": r["end"].isoformat()} for r in timeline],
}))
