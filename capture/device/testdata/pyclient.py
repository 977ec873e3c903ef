"""Drives the GIMS device API with Python's standard xmlrpc.client.

Usage: pyclient.py URL FILE_INTERFACE, token in GIMS_DEVICE_TOKEN.
Prints OK on success, else raises."""
import os
import sys
import time
import xmlrpc.client


class BearerTransport(xmlrpc.client.Transport):
    def __init__(self, token):
        super().__init__()
        self.token = token

    def send_headers(self, connection, headers):
        connection.putheader("Authorization", "Bearer " + self.token)
        super().send_headers(connection, headers)


def main():
    url, iface = sys.argv[1], sys.argv[2]
    token = os.environ["GIMS_DEVICE_TOKEN"]
    dev = xmlrpc.client.ServerProxy(url, transport=BearerTransport(token))

    caps = dev.Capabilities()
    names = [i["name"] for i in caps["interfaces"]]
    assert iface in names, names
    assert "flows" in caps["transforms"], caps

    job = dev.StartJob({"interface": iface, "filter": "tcp",
                        "flows": {"idle_timeout_s": 30},
                        "key": xmlrpc.client.Binary(bytes(range(32)))})
    deadline = time.time() + 20
    while True:
        st = dev.JobStatus(job)
        if st["state"] == "done":
            break
        assert time.time() < deadline, st
        time.sleep(0.05)
    assert st["packets"] > 0 and st["progress"] == 100, st

    flows = dev.JobResults(job, {"kind": "flows", "limit": 10})
    assert flows, flows
    f = flows[0]
    assert f["proto"] == 6 and f["packets"] > 0 and f["rev_packets"] > 0, f

    bad = xmlrpc.client.ServerProxy(url, transport=BearerTransport("wrong"))
    try:
        bad.ListJobs()
        raise AssertionError("wrong token accepted")
    except xmlrpc.client.Fault as e:
        assert e.faultCode == 4, e
    try:
        dev.JobStatus("0123456789abcdef")
        raise AssertionError("unknown job accepted")
    except xmlrpc.client.Fault as e:
        assert e.faultCode == 1, e
    print("OK")


main()
