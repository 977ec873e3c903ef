package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// simDevices starts gims-capd -simulate n on free loopback ports and
// returns it with the address of each device, in order.
func simDevices(t *testing.T, n int, token string, extra ...string) (*proc, []string) {
	t.Helper()
	args := append([]string{"-simulate", strconv.Itoa(n), "-listen", "127.0.0.1:0", "-data", t.TempDir(),
		"-min-free", "0"}, extra...)
	p := start(t, bins["gims-capd"], []string{"GIMS_DEVICE_TOKEN=" + token},
		`msg="simulated capture devices listening" devices=\d+ first=(\S+)`, args...)
	// The devices log their addresses before the line start waits for.
	re := regexp.MustCompile(`msg="simulated device listening" device=(\d+) addr=(\S+)`)
	addrs := make([]string, n)
	for _, m := range re.FindAllStringSubmatch(p.logText(), -1) {
		i, _ := strconv.Atoi(m[1])
		addrs[i] = m[2]
	}
	for i, a := range addrs {
		if a == "" {
			t.Fatalf("simulated device %d logged no address:\n%s", i, p.logText())
		}
	}
	return p, addrs
}

// TestSimulatedDevices drives three simulated devices of one gims-capd
// -simulate process through a whole experiment: each is a device of its
// own to the AM, counts in the status, and its synthetic traffic reaches
// the results (counters, flows, pcap) through the real capture path.
func TestSimulatedDevices(t *testing.T) {
	t.Parallel()
	const token = "tok-simulated"
	sim, addrs := simDevices(t, 3, token, "-simulate-pps", "200")
	a := startAM(t)
	var devices []string
	for i, addr := range addrs {
		name := "sim" + strconv.Itoa(i)
		a.addDevice(t, name, &capd{proc: &proc{Proc: sim.Proc, addr: addr}, token: token})
		devices = append(devices, name+":sim0")
	}
	var caps struct {
		Interfaces []struct {
			Name     string `xmlrpc:"name"`
			LinkType string `xmlrpc:"link_type"`
		} `xmlrpc:"interfaces"`
	}
	a.admin(t, "GetDeviceCapabilities", &caps, "sim1")
	if len(caps.Interfaces) != 1 || caps.Interfaces[0].Name != "sim0" || caps.Interfaces[0].LinkType != "EN10MB" {
		t.Fatalf("simulated device capabilities: %+v, want the one interface sim0 (EN10MB)", caps.Interfaces)
	}
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "simulated", "devices": devices})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "tcp or udp", "pcap": true,
		"counters": map[string]any{"interval_ms": 200}, "flows": map[string]any{}})
	var st status
	a.admin(t, "StartExperiment", &st, id)
	if st.State != "running" {
		t.Fatalf("after StartExperiment: state %q", st.State)
	}
	a.waitStatus(t, adminName, adminPass, id, "every device counting", func(s status) bool {
		for _, d := range s.Devices {
			if !d.Reachable || d.Packets == 0 {
				return false
			}
		}
		return len(s.Devices) == 3
	})
	a.admin(t, "StopExperiment", &st, id)
	if st.State != "done" {
		t.Fatalf("after StopExperiment: state %q", st.State)
	}
	final := a.waitStatus(t, adminName, adminPass, id, "results pulled", func(s status) bool { return s.ResultsPulled })
	perDevice := map[string]int64{}
	for _, d := range final.Devices {
		if d.State != "done" || d.Packets == 0 {
			t.Errorf("device %s after the stop: state %s, %d packets", d.Device, d.State, d.Packets)
		}
		perDevice[d.Device] = d.Packets
	}

	var counters []counterRow
	a.admin(t, "GetExperimentResults", &counters, id, map[string]any{"kind": "counters", "limit": 10000})
	var sum, tcp, udp int64
	for _, r := range counters {
		sum, tcp, udp = sum+r.Packets, tcp+r.TCP, udp+r.UDP
		if r.Other != 0 || r.ICMP != 0 {
			t.Errorf("counter row %+v: the synthetic traffic is only TCP and UDP", r)
		}
	}
	if sum != final.Packets || tcp == 0 || udp == 0 {
		t.Errorf("counters: %d packets (%d TCP, %d UDP); status says %d", sum, tcp, udp, final.Packets)
	}
	var flows []flowRow
	a.admin(t, "GetExperimentResults", &flows, id, map[string]any{"kind": "flows", "limit": 10000})
	flowPackets := map[string]int64{}
	for _, f := range flows {
		flowPackets[f.Device] += f.Packets + f.RevPackets
		if !strings.HasPrefix(f.Src, "10.") && !strings.HasPrefix(f.Src, "198.18.") {
			t.Errorf("flow %+v: not the simulated addresses", f)
		}
	}
	for dev, n := range perDevice {
		if flowPackets[dev] != n {
			t.Errorf("device %s: flows hold %d packets, status %d", dev, flowPackets[dev], n)
		}
	}
	var files []fileRow
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	var pcapTotal int64
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".pcap") {
			continue
		}
		code, body := download(t, f.URL, adminName, adminPass)
		if code != 200 || int64(len(body)) != f.Size {
			t.Fatalf("GET %s: HTTP %d, %d bytes (listed %d)", f.URL, code, len(body), f.Size)
		}
		pcapTotal += int64(pcapPackets(t, body))
	}
	if pcapTotal != final.Packets {
		t.Errorf("the pcaps hold %d packets, status says %d (files %+v)", pcapTotal, final.Packets, files)
	}
}
