"""Drive the Go XML-RPC test server with Python's standard xmlrpc.client.

Usage: pyclient.py URL   (URL carries user:pass for Basic authentication)
Prints "OK" and exits 0 when every check passes; prints the failed check and
exits 1 otherwise.
"""

import base64
import datetime
import sys
import xmlrpc.client

failures = []


def check(name, got, want):
    if got != want:
        failures.append(f"{name}: got {got!r}, want {want!r}")


def expect_fault(name, fn, code, text):
    try:
        fn()
    except xmlrpc.client.Fault as f:
        check(name + " faultCode", f.faultCode, code)
        if text not in f.faultString:
            failures.append(f"{name}: faultString {f.faultString!r} lacks {text!r}")
    else:
        failures.append(f"{name}: no fault")


def main():
    url = sys.argv[1]
    p = xmlrpc.client.ServerProxy(url, use_builtin_types=True)
    # Legacy types (DateTime, Binary) too.
    legacy = xmlrpc.client.ServerProxy(url)

    check("Add", p.Add(2, 3), 5)
    check("qualified", p.Test.Add(20, 22), 42)
    check("other service", p.OtherService.Ping(), "pong")

    # Ints beyond 2^31 arrive as <i8>, which Python reads.
    check("Counters", p.Counters(), {"packets": 5000000000, "bytes": 1 << 40, "small": -7})

    when = datetime.datetime(2026, 11, 23, 8, 12, 0)
    sample = {
        "int": -1,
        "big": 2147483647,
        "unsigned": 7,
        "flag": True,
        "ratio": 0.125,
        "name": "<é & ✓>\n\tx",  # Python does not escape \r, XML then drops it
        "when": when,
        "blob": bytes(range(256)),
        "list": [3, 4],
        "extra": {"k": ["v", 1, False, 2.5]},
        "note": "n",
    }
    check("Echo", p.Echo(sample), sample)
    check("Echo booleans", p.Echo(dict(sample, flag=False))["flag"], False)

    got = legacy.Echo(dict(sample, when=xmlrpc.client.DateTime(when),
                           blob=xmlrpc.client.Binary(b"\x00\x01")))
    check("legacy DateTime", got["when"].value, "20261123T08:12:00")
    check("legacy Binary", got["blob"].data, b"\x00\x01")

    check("Any int", p.Any(5), {"type": "int", "value": 5})
    check("Any double", p.Any(1.5), {"type": "float64", "value": 1.5})
    check("Any struct", p.Any({"a": [1, "b"]}),
          {"type": "map[string]interface {}", "value": {"a": [1, "b"]}})

    # Basic auth from the URL reaches the method as a header.
    want_auth = "Basic " + base64.b64encode(b"user:pass").decode()
    check("Whoami", p.Whoami()["authorization"], want_auth)

    # Faults.
    expect_fault("method fault", lambda: p.Fail(7, "boom"), 7, "boom")
    expect_fault("plain error", lambda: p.Fail(0, "plain"), -32500, "plain")
    expect_fault("wrong type", lambda: p.Add(1, "2"), 3, "parameter 2 (B): expected int, got string")
    expect_fault("wrong count", lambda: p.Add(1), 3, "wrong number of parameters")
    expect_fault("unknown member", lambda: p.Configure(1, {"filtre": "tcp"}), 3, 'unknown member "filtre"')
    expect_fault("unknown method", lambda: p.Nope(), -32601, 'unknown method "Nope"')
    expect_fault("admin", lambda: p.Admin(), 4, "admin only")

    # Introspection.
    names = p.system.listMethods()
    for n in ("Add", "Echo", "OtherService.Ping", "system.listMethods", "system.methodHelp", "system.multicall"):
        if n not in names:
            failures.append(f"listMethods lacks {n}: {names}")
    check("methodHelp", p.system.methodHelp("Add"), "Add(a, b) returns a+b.")

    # MultiCall: results in order, a fault raises when reached.
    mc = xmlrpc.client.MultiCall(p)
    mc.Add(1, 2)
    mc.Counters()
    mc.Whoami()
    mc.Fail(9, "in multicall")
    mc.Add(1, 1)
    res = mc()
    check("multicall Add", res[0], 3)
    check("multicall Counters", res[1]["packets"], 5000000000)
    check("multicall Whoami", res[2]["authorization"], want_auth)
    expect_fault("multicall fault", lambda: res[3], 9, "in multicall")
    check("multicall after fault", res[4], 2)

    # A request that is not XML-RPC at all gets a fault, not a crash.
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.request("POST", u.path, body=b"<!DOCTYPE x><methodCall/>", headers={"Content-Type": "text/xml"})
    resp = conn.getresponse()
    check("DOCTYPE status", resp.status, 200)
    try:
        xmlrpc.client.loads(resp.read())
        failures.append("DOCTYPE: no fault")
    except xmlrpc.client.Fault as f:
        check("DOCTYPE faultCode", f.faultCode, -32700)

    if failures:
        for f in failures:
            print("FAIL", f)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
