package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/internal/advcap"
	"github.com/gimsproject/gims/xmlrpc"
)

// advIface is the adversarial capture's interface on the devices.
const advIface = "file:adv.pcap"

// sanitizedFile is one result file of GetExperimentResults kind files.
type sanitizedFile struct {
	Name   string `xmlrpc:"name"`
	Size   int64  `xmlrpc:"size"`
	URL    string `xmlrpc:"url"`
	Device string `xmlrpc:"device"`
}

// TestSanitizeThroughAM is issue 11's check through the whole system: two
// capture daemons replay the adversarial capture (every protocol the
// sanitizer knows or must cut, full of distinctive addresses, MACs and a
// host name) in one anonymized experiment with pcap, flows to a UDP
// collector and counters; no identifier is found, as raw bytes or as text,
// in the AM's answers (status, settings, results of every kind), the
// devices' own answers (JobStatus, JobResults), the downloaded files, the
// collector's datagrams, or either daemon's log. The two devices, given
// the same secret, write byte-identical pcaps.
func TestSanitizeThroughAM(t *testing.T) {
	t.Parallel()
	ids := advcap.Identifiers()
	c1 := startCapd(t, "tok-san-1")
	c2 := startCapd(t, "tok-san-2")
	for _, c := range []*capd{c1, c2} {
		if err := advcap.WritePcap(filepath.Join(c.pcapDir, "adv.pcap"), 3); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := startAM(t)
	a.addDevice(t, "d1", c1)
	a.addDevice(t, "d2", c2)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "sanitized", "devices": []string{"d1:" + advIface, "d2:" + advIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"pcap": true, "counters": map[string]any{},
		"flows":     map[string]any{"collector": "udp://" + conn.LocalAddr().String()},
		"anonymize": map[string]any{"secret": "am sanitize secret"}})
	a.admin(t, "StartExperiment", nil, id)
	a.waitStatus(t, adminName, adminPass, id, "done and pulled", func(s status) bool { return s.State == "done" && s.ResultsPulled })

	var leaks []string
	scan := func(where string, data []byte) {
		for _, hit := range advcap.Find(data, ids) {
			leaks = append(leaks, where+": "+hit)
		}
	}
	answer := func(where string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		scan(where, raw)
	}

	// The AM's answers.
	var st, settings any
	a.admin(t, "GetExperimentStatus", &st, id)
	answer("GetExperimentStatus", st)
	a.admin(t, "GetExperimentSettings", &settings, id)
	answer("GetExperimentSettings", settings)
	if s := fmt.Sprint(settings); !strings.Contains(s, "payload:strip") || !strings.Contains(s, "mac:keyed") {
		t.Errorf("settings do not show the default modes: %s", s)
	}
	for _, kind := range []string{"counters", "flows"} {
		var rows any
		a.admin(t, "GetExperimentResults", &rows, id, map[string]any{"kind": kind, "limit": 10000})
		answer("GetExperimentResults "+kind, rows)
	}
	var files []sanitizedFile
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	answer("GetExperimentResults files", files)
	pcaps := map[string][]byte{}
	for _, f := range files {
		code, body := download(t, f.URL, adminName, adminPass)
		if code != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s: HTTP %d, %d bytes", f.URL, code, len(body))
		}
		scan(f.Device+"/"+f.Name, body)
		if f.Name == "packets.pcap" {
			pcaps[f.Device] = body
		}
	}
	if len(pcaps) != 2 {
		t.Fatalf("pcaps of %d devices, want 2: %+v", len(pcaps), files)
	}
	if !bytes.Equal(pcaps["d1"], pcaps["d2"]) {
		t.Errorf("two devices with the same secret wrote different pcaps")
	}

	// The devices' own answers.
	var status struct {
		Devices []struct {
			Device string `xmlrpc:"device"`
			Job    string `xmlrpc:"job"`
		} `xmlrpc:"devices"`
	}
	a.admin(t, "GetExperimentStatus", &status, id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range status.Devices {
		c := map[string]*capd{"d1": c1, "d2": c2}[d.Device]
		url, hdr := "http://"+c.addr+"/RPC2", http.Header{"Authorization": {"Bearer " + c.token}}
		for _, call := range []struct {
			method string
			args   []any
		}{
			{"JobStatus", []any{d.Job}},
			{"JobResults", []any{d.Job, map[string]any{"kind": "flows", "limit": 10000}}},
			{"JobResults", []any{d.Job, map[string]any{"kind": "counters", "limit": 10000}}},
			{"JobResults", []any{d.Job, map[string]any{"kind": "files"}}},
			{"ListJobs", nil},
		} {
			var v any
			if err := xmlrpc.Call(ctx, nil, url, hdr, call.method, call.args, &v); err != nil {
				t.Fatalf("%s %s: %v", d.Device, call.method, err)
			}
			answer(d.Device+" "+call.method, v)
		}
	}

	// The collector's datagrams: both devices exported there.
	buf := make([]byte, 65536)
	datagrams := 0
	for {
		if err := conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break
		}
		datagrams++
		scan(fmt.Sprintf("collector datagram %d", datagrams), buf[:n])
	}
	if datagrams == 0 {
		t.Errorf("the collector got nothing")
	}

	// The logs, and what the AM keeps on disk (database and copies).
	scan("AM log", []byte(a.logText()))
	scan("d1 log", []byte(c1.logText()))
	scan("d2 log", []byte(c2.logText()))
	// What the AM (database, pulled copies) and the devices (jobs) keep
	// on disk; the devices' pcap directories hold the original.
	for where, dir := range map[string]string{"AM": a.dir, "d1": filepath.Join(filepath.Dir(c1.pcapDir), "data"),
		"d2": filepath.Join(filepath.Dir(c2.pcapDir), "data")} {
		err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			scan(where+" file "+strings.TrimPrefix(path, dir), data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(leaks)
	if len(leaks) > 0 {
		t.Errorf("identifiers left:\n%s", strings.Join(slices.Compact(leaks), "\n"))
	}
	// The devices were given the effective modes and keep them with the
	// job (job.json: a restarted daemon resumes with them).
	jobs, _ := filepath.Glob(filepath.Join(filepath.Dir(c1.pcapDir), "data", "jobs", "*", "job.json"))
	if len(jobs) != 1 {
		t.Fatalf("d1 has %d job.json files, want 1", len(jobs))
	}
	if raw, err := os.ReadFile(jobs[0]); err != nil || !bytes.Contains(raw, []byte(`"payload": "strip"`)) ||
		!bytes.Contains(raw, []byte(`"mac": "keyed"`)) {
		t.Errorf("d1's job.json does not keep payload strip and mac keyed (%v)", err)
	}
	// The capture itself was seen: every frame was counted.
	if n := pcapRecords(t, pcaps["d1"]); n != 3*len(advcap.Frames()) {
		t.Errorf("d1's pcap holds %d packets, want %d", n, 3*len(advcap.Frames()))
	}
}

// pcapRecords counts the records of a pcap file (little-endian, as the
// daemons write them).
func pcapRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for off := 24; off+16 <= len(b); n++ {
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return n
}
