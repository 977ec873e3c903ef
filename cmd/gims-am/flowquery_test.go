package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// queryResult is QueryFlows' reply as the tests read it.
type queryResult struct {
	Rows []struct {
		Src        string `xmlrpc:"src"`
		Dst        string `xmlrpc:"dst"`
		SrcPort    *int   `xmlrpc:"sport"`
		DstPort    *int   `xmlrpc:"dport"`
		Proto      *int   `xmlrpc:"proto"`
		Device     string `xmlrpc:"device"`
		Flows      int64  `xmlrpc:"flows"`
		Packets    int64  `xmlrpc:"packets"`
		Bytes      int64  `xmlrpc:"bytes"`
		FwdPackets int64  `xmlrpc:"fwd_packets"`
		RevPackets int64  `xmlrpc:"rev_packets"`
	} `xmlrpc:"rows"`
	Total int64 `xmlrpc:"total"`
}

// tsharkIPBytes sums the IP lengths (the octets IPFIX counts) of the
// packets of a trace matching a display filter, as tshark reads them.
func tsharkIPBytes(t *testing.T, path, filter string) int64 {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-Y", filter, "-T", "fields", "-e", "ip.len", "-e", "ipv6.plen").Output()
	if err != nil {
		t.Fatalf("tshark -Y %q: %v", filter, err)
	}
	var sum int64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if v, err := strconv.ParseInt(strings.Split(f[0], ",")[0], 10, 64); err == nil && f[0] != "" {
			sum += v
		} else if len(f) > 1 && f[1] != "" {
			v, _ := strconv.ParseInt(strings.Split(f[1], ",")[0], 10, 64)
			sum += v + 40
		}
	}
	return sum
}

// TestQueryFlows runs a file experiment to its end, then checks
// QueryFlows' aggregations, the exports and query.pcap against counts
// that tcpdump and tshark make from the trace itself.
func TestQueryFlows(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-query")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "q", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "tcp or udp", "pcap": true,
		"flows": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id)
	done := a.waitStatus(t, adminName, adminPass, id, "done and pulled", func(s status) bool {
		return s.State == "done" && s.ResultsPulled
	})

	// By protocol: packets as tcpdump counts them, bytes as tshark sums
	// the IP lengths.
	var byProto queryResult
	a.admin(t, "QueryFlows", &byProto, id, map[string]any{"group_by": []string{"proto"}})
	if byProto.Total != 2 || len(byProto.Rows) != 2 {
		t.Fatalf("group_by proto: %+v, want tcp and udp", byProto)
	}
	var flows int64
	for _, r := range byProto.Rows {
		name := map[int]string{6: "tcp", 17: "udp"}[*r.Proto]
		if want := tcpdumpCount(t, trace, name); r.Packets != int64(want) {
			t.Errorf("proto %s: %d packets, tcpdump counts %d", name, r.Packets, want)
		}
		if want := tsharkIPBytes(t, trace, name+" && !icmp && !icmpv6"); r.Bytes != want {
			t.Errorf("proto %s: %d bytes, tshark sums %d", name, r.Bytes, want)
		}
		if r.Src != "" || r.SrcPort != nil {
			t.Errorf("group row %+v has keys it was not grouped by", r)
		}
		flows += r.Flows
	}
	if flows != done.FlowsExported {
		t.Errorf("groups hold %d flows, status says %d exported", flows, done.FlowsExported)
	}

	// The top sources; every host's flows hold exactly its packets.
	var bySrc queryResult
	a.admin(t, "QueryFlows", &bySrc, id, map[string]any{"group_by": []string{"src"}, "order_by": "-packets", "limit": 2})
	if len(bySrc.Rows) != 2 || bySrc.Total != 2 {
		t.Fatalf("group_by src: %+v", bySrc)
	}
	for i, r := range bySrc.Rows {
		if i > 0 && r.Packets > bySrc.Rows[i-1].Packets {
			t.Errorf("rows not by packets descending: %+v", bySrc.Rows)
		}
		var host queryResult
		a.admin(t, "QueryFlows", &host, id, map[string]any{"filter": "host " + r.Src, "group_by": []string{"device"}})
		want := tcpdumpCount(t, trace, "(tcp or udp) and host "+r.Src)
		if len(host.Rows) != 1 || host.Rows[0].Packets != int64(want) || host.Rows[0].Device != "tap1" {
			t.Errorf("host %s: %+v, tcpdump counts %d packets", r.Src, host.Rows, want)
		}
		// query.pcap of the host holds its packets.
		code, body := download(t, fmt.Sprintf("http://%s/files/%d/query.pcap?filter=%s", a.addr, id,
			url.QueryEscape("host "+r.Src)), adminName, adminPass)
		if code != 200 {
			t.Fatalf("query.pcap: HTTP %d: %s", code, body)
		}
		cut := filepath.Join(t.TempDir(), "cut.pcap")
		if err := os.WriteFile(cut, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, all := tcpdumpCount(t, cut, ""), tcpdumpCount(t, cut, "host "+r.Src); got != want || all != want {
			t.Errorf("query.pcap of host %s: %d packets (%d of the host), tcpdump counts %d in the trace", r.Src, got, all, want)
		}
	}

	// One flow: its packets, both directions, and nothing else.
	var one queryResult
	a.admin(t, "QueryFlows", &one, id, map[string]any{"filter": "tcp and packets > 4", "limit": 1})
	if len(one.Rows) != 1 {
		t.Fatalf("no tcp flow of more than 4 packets: %+v", one)
	}
	f := one.Rows[0]
	filter := fmt.Sprintf("proto tcp and src host %s and dst host %s and src port %d and dst port %d", f.Src, f.Dst, *f.SrcPort, *f.DstPort)
	code, body := download(t, fmt.Sprintf("http://%s/files/%d/query.pcap?filter=%s", a.addr, id, url.QueryEscape(filter)), adminName, adminPass)
	cut := filepath.Join(t.TempDir(), "flow.pcap")
	if err := os.WriteFile(cut, body, 0o600); err != nil || code != 200 {
		t.Fatalf("query.pcap: HTTP %d, %v", code, err)
	}
	bpf := fmt.Sprintf("tcp and host %s and host %s and port %d and port %d", f.Src, f.Dst, *f.SrcPort, *f.DstPort)
	if got, want := tcpdumpCount(t, cut, ""), tcpdumpCount(t, trace, bpf); int64(got) != f.Packets || got != want {
		t.Errorf("query.pcap of one flow: %d packets; the flow has %d, tcpdump counts %d in the trace", got, f.Packets, want)
	}

	// Exports: every flow, as CSV and Parquet.
	code, body = download(t, fmt.Sprintf("http://%s/files/%d/flows.csv", a.addr, id), adminName, adminPass)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || err != nil || int64(len(rows)) != done.FlowsExported+1 || rows[0][0] != "device" {
		t.Errorf("flows.csv: HTTP %d, %d lines, %v; want %d flows", code, len(rows), err, done.FlowsExported)
	}
	code, body = download(t, fmt.Sprintf("http://%s/files/%d/flows.parquet?filter=udp", a.addr, id), adminName, adminPass)
	if code != 200 || !bytes.HasPrefix(body, []byte("PAR1")) || !bytes.HasSuffix(body, []byte("PAR1")) {
		t.Errorf("flows.parquet: HTTP %d, %d bytes, not a Parquet file", code, len(body))
	}

	// Bad input.
	err = a.call(adminName, adminPass, "QueryFlows", nil, id, map[string]any{"filter": "proto tcp and port x"})
	if faultCode(err) != 3 || !strings.Contains(err.Error(), "position 20") {
		t.Errorf("bad filter: %v, want fault 3 naming position 20", err)
	}
	err = a.call(adminName, adminPass, "QueryFlows", nil, id, map[string]any{"group_by": []string{"colour"}})
	if faultCode(err) != 3 {
		t.Errorf("bad group_by: %v, want fault 3", err)
	}
	if code, body := download(t, fmt.Sprintf("http://%s/files/%d/query.pcap?filter=port+x", a.addr, id), adminName, adminPass); code != 400 ||
		!strings.Contains(string(body), "position 6") {
		t.Errorf("query.pcap with a bad filter: HTTP %d %s, want 400 naming position 6", code, body)
	}
	if code, _ := download(t, fmt.Sprintf("http://%s/files/%d/flows.csv", a.addr, id), "", ""); code != 401 {
		t.Errorf("flows.csv without credentials: HTTP %d, want 401", code)
	}
	if code, _ := download(t, fmt.Sprintf("http://%s/files/%d/flows.xlsx", a.addr, id), adminName, adminPass); code != 404 {
		t.Errorf("flows.xlsx: HTTP %d, want 404", code)
	}
}
