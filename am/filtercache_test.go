package am

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/capture"
)

// TestFilterVerdictsKept: a filter that compiles and one libpcap refuses
// are each compiled once, their verdicts answered again from memory, and
// the verdicts kept stay under maxFilterVerdicts.
func TestFilterVerdictsKept(t *testing.T) {
	ctx := context.Background()
	store, cfg := newTestStore(t)
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pos    string
		filter string
		bad    bool
	}{
		{"#0", "udp and dst port 4000", false},
		{"#1", "udp and dst port 4000", false}, // kept
		{"#2", "udp and nonsense here", true},
		{"#3", "udp and nonsense here", true}, // kept
	} {
		err := m.checkFilter(ctx, layers.LinkTypeEthernet, 262144, tc.filter)
		var fe *capture.FilterError
		if tc.bad != errors.As(err, &fe) {
			t.Errorf("%s: checkFilter(%q) = %v, want a FilterError %v", tc.pos, tc.filter, err, tc.bad)
		}
		kept, ok := m.verdicts.kept[filterKey{lt: layers.LinkTypeEthernet, snaplen: 262144, filter: tc.filter}]
		if !ok || (kept != nil) != tc.bad {
			t.Errorf("%s: verdict kept %v (%v)", tc.pos, ok, kept)
		}
	}
	if n := len(m.verdicts.kept); n != 2 {
		t.Errorf("%d verdicts kept, want 2", n)
	}
	for i := range maxFilterVerdicts + 1 {
		if err := m.checkFilter(ctx, layers.LinkTypeEthernet, 65535, fmt.Sprintf("udp port %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.verdicts.kept); n > maxFilterVerdicts {
		t.Errorf("%d verdicts kept, at most %d wanted", n, maxFilterVerdicts)
	}
}
