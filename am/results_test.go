package am

import (
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/xmlrpc"
)

// wire is v's XML-RPC struct as natural Go values.
func wire(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := xmlrpc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := xmlrpc.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestResultRows checks that the API's result rows carry every member of
// the device's entries, under the same names, plus the device and its
// interface.
func TestResultRows(t *testing.T) {
	pair := &db.Pairing{Device: "tap1", Interface: "eth0"}
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	c := device.CounterEntry{Time: at, Packets: 1, Bytes: 2, TCPPackets: 3, UDPPackets: 4, ICMPPackets: 5,
		OtherPackets: 6, TCPBytes: 7, UDPBytes: 8, ICMPBytes: 9, OtherBytes: 10}
	f := device.FlowEntry{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1, DstPort: 2, Proto: 6, VLAN: 3, Packets: 4,
		Bytes: 5, RevPackets: 6, RevBytes: 7, Start: at, End: at.Add(time.Second), StartMS: at.UnixMilli(),
		EndMS: at.Add(time.Second).UnixMilli(), EndReason: "idle"}
	cases := []struct {
		name       string
		entry, row any
	}{
		{"counters", c, counterRow(c, pair)},
		{"flows", f, flowRow(f, pair)},
	}
	for _, tc := range cases {
		want := wire(t, tc.entry)
		want["device"], want["interface"] = "tap1", "eth0"
		if got := wire(t, tc.row); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: row %v, want %v", tc.name, got, want)
		}
	}
}
