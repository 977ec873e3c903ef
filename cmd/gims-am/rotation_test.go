package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/ipfix"
)

// partRow is one entry of GetExperimentResults kind files, with the
// members rotation adds.
type partRow struct {
	Name     string `xmlrpc:"name"`
	Size     int64  `xmlrpc:"size"`
	URL      string `xmlrpc:"url"`
	Complete bool   `xmlrpc:"complete"`
}

// tsharkReads reads a capture file (pcap, or RFC 5655 IPFIX) with tshark
// and returns its frames; tshark failing or finding the file cut short
// or damaged fails the test.
func tsharkReads(t *testing.T, path string) int {
	t.Helper()
	cmd := exec.Command("tshark", "-n", "-r", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", filepath.Base(path), err, stderr.String())
	}
	for _, bad := range []string{"cut short", "damaged", "corrupt"} {
		if strings.Contains(stderr.String(), bad) {
			t.Errorf("tshark -r %s reports %q:\n%s", filepath.Base(path), bad, stderr.String())
		}
	}
	return bytes.Count(out, []byte("\n"))
}

// TestRotationLoopback captures about 4 s of traffic on lo through real
// daemons with rotate_s 1: the AM lists at least 3 pcap parts, in order
// and complete, serves each, and each part read alone by tcpdump and
// tshark holds its share of the packets, adding up to the live count;
// the IPFIX parts decode alone and their flows hold every packet.
func TestRotationLoopback(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-rotate")
	a := startAM(t)
	a.addDevice(t, "lo-tap", c)
	u := newUDPSink(t)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "rotated", "devices": []string{"lo-tap:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": u.filter(), "pcap": true,
		"flows": map[string]any{"active_timeout_s": 1}, "rotate_s": 1})
	a.admin(t, "StartExperiment", nil, id)
	sent := 0
	for begin := time.Now(); time.Since(begin) < 4200*time.Millisecond; sent += 10 {
		u.send(10) // 10 datagrams, 1 ms apart
		time.Sleep(10 * time.Millisecond)
	}
	a.waitStatus(t, adminName, adminPass, id, fmt.Sprintf("%d packets", sent), func(s status) bool { return s.Packets >= int64(sent) })
	var st status
	a.admin(t, "StopExperiment", &st, id)
	if st.Packets != int64(sent) {
		t.Fatalf("after stop: %d packets, want the %d sent", st.Packets, sent)
	}
	st = a.waitStatus(t, adminName, adminPass, id, "results pulled", func(s status) bool { return s.ResultsPulled })

	var files []partRow
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	dir := t.TempDir()
	var pcaps, flows int
	var packets, flowPackets int64
	for _, f := range files {
		if !f.Complete {
			t.Errorf("%s is not complete after the stop", f.Name)
		}
		code, body := download(t, f.URL, adminName, adminPass)
		if code != http.StatusOK || int64(len(body)) != f.Size {
			t.Fatalf("GET %s: %d, %d bytes; want 200, %d", f.URL, code, len(body), f.Size)
		}
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(f.Name, "packets"):
			pcaps++
			if want := fmt.Sprintf("packets-%05d.pcap", pcaps); f.Name != want {
				t.Errorf("pcap file %d is %s, want %s", pcaps, f.Name, want)
			}
			n := tcpdumpCount(t, path, "")
			if s := tsharkReads(t, path); s != n {
				t.Errorf("%s: tshark reads %d packets, tcpdump %d", f.Name, s, n)
			}
			if n == 0 {
				t.Errorf("%s holds no packet", f.Name)
			}
			packets += int64(n)
		case strings.HasPrefix(f.Name, "flows"):
			flows++
			if want := fmt.Sprintf("flows-%05d.ipfix", flows); f.Name != want {
				t.Errorf("IPFIX file %d is %s, want %s", flows, f.Name, want)
			}
			// ReadFlows decodes the part with a session of its own.
			if _, err := ipfix.ReadFlows(path, func(r ipfix.FlowRow) { flowPackets += int64(r.Packets + r.RevPackets) }); err != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
			if tsharkReads(t, path) == 0 {
				t.Errorf("tshark reads no message in %s", f.Name)
			}
		}
	}
	if pcaps < 3 || packets != st.Packets {
		t.Errorf("%d pcap parts holding %d packets; want 3 or more holding the %d counted", pcaps, packets, st.Packets)
	}
	if flows < 3 || flowPackets != st.Packets {
		t.Errorf("%d IPFIX parts with flows of %d packets; want 3 or more, of the %d counted", flows, flowPackets, st.Packets)
	}
}
