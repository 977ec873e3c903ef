package api

import (
	"bytes"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestListReplyEncoding checks that a list answered from kept entries is,
// byte for byte, what the codec writes for the list itself, and that an
// entry that changed (state, packets, elapsed time, devices) is encoded
// anew, not served from its old bytes.
func TestListReplyEncoding(t *testing.T) {
	srv, err := xmlrpc.NewServer(xmlrpc.DefaultConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	cache := newSummaryEncodings(srv)
	created := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	a := amapi.ExperimentSummary{ID: 1, Name: "a<&>", Owner: "alice", State: "done", Devices: []string{"tap1:eth0"}, Created: created}
	b := amapi.ExperimentSummary{ID: 2, Name: "b", Owner: "bob", State: "running", Devices: []string{"tap1:eth0", "tap2:eth1"},
		Created: created.In(time.FixedZone("x", 3600)), Packets: 1 << 40, ElapsedS: 1.5}
	running := func(s amapi.ExperimentSummary, elapsed float64) amapi.ExperimentSummary {
		s.ElapsedS = elapsed
		return s
	}
	renamed := a
	renamed.Devices = []string{"tap9:eth0"}
	stopped := b
	stopped.State, stopped.Packets = "done", 7
	for _, tc := range []struct {
		pos  string
		list []amapi.ExperimentSummary
	}{
		{"#0", nil},
		{"#1", []amapi.ExperimentSummary{}},
		{"#2", []amapi.ExperimentSummary{a, b}},
		{"#3", []amapi.ExperimentSummary{a, running(b, 2.25)}}, // kept a, b encoded anew
		{"#4", []amapi.ExperimentSummary{renamed, running(b, 3)}},
		{"#5", []amapi.ExperimentSummary{stopped}},
		{"#6", []amapi.ExperimentSummary{a, stopped}},
		{"#7", []amapi.ExperimentSummary{a, stopped}},
	} {
		want, err := srv.AppendValue(nil, tc.list)
		if err != nil {
			t.Fatal(err)
		}
		r := &ListReply{list: tc.list, cache: cache}
		got, err := r.AppendXMLRPCValue([]byte("prefix"))
		if err != nil {
			t.Fatalf("%s: %v", tc.pos, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%s: encoded\n%s\nwant prefix then\n%s", tc.pos, got, want)
		}
	}
}
