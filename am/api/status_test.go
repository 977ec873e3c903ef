package api

import (
	"bytes"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestStatusReplyEncoding checks that a status answered from its kept
// encoding is, byte for byte, what the codec writes for the status
// itself, whatever its elapsed_s, and that a new stamp (a changed status)
// is encoded anew, not served from the old one.
func TestStatusReplyEncoding(t *testing.T) {
	srv, err := xmlrpc.NewServer(xmlrpc.DefaultConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	cache := newStatusEncodings(srv)
	dev := amapi.DeviceStatus{Device: "tap<1>", Interface: "eth0", Job: "j1", State: "running", Reachable: true,
		Packets: 1 << 40, Bytes: 17, Errors: []string{"a & b"}, Updated: time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)}
	first := amapi.Status{ID: 7, State: "running", Packets: 1 << 40, Errors: []string{"tap<1>:eth0: a & b"},
		Devices: []amapi.DeviceStatus{dev, dev}, CPUPercent: 12.5}
	changed := first
	changed.Packets, changed.State = 99, "paused"
	for _, tc := range []struct {
		pos     string
		status  amapi.Status
		stamp   uint64
		elapsed float64
	}{
		{"#0", first, 1, 0},
		{"#1", first, 1, 1}, // the sentinels the split is made with
		{"#2", first, 1, 2},
		{"#3", first, 1, 3600.123456789},
		{"#4", first, 1, 1e21},
		{"#5", changed, 2, 12.5}, // a new stamp: not the old bytes
		{"#6", changed, 2, 13},
		{"#7", first, 0, 4}, // not kept by the manager: encoded for this call only
		{"#8", changed, 0, 5},
	} {
		for _, admin := range []bool{false, true} {
			s := tc.status
			s.ElapsedS = tc.elapsed
			want, err := srv.AppendValue(nil, &s)
			if err != nil {
				t.Fatal(err)
			}
			r := &StatusReply{status: s, key: statusKey{id: 7, admin: admin}, stamp: tc.stamp, cache: cache}
			got, err := r.AppendXMLRPCValue([]byte("prefix"))
			if err != nil {
				t.Fatalf("%s admin %v: %v", tc.pos, admin, err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Errorf("%s admin %v: encoded\n%s\nwant prefix then\n%s", tc.pos, admin, got, want)
			}
		}
	}
	if got := cache.get(statusKey{id: 7}, 2); got == nil {
		t.Errorf("no encoding kept for stamp 2")
	}
	if got := cache.get(statusKey{id: 7}, 1); got != nil {
		t.Errorf("the encoding of stamp 1 is still served after stamp 2")
	}
}
