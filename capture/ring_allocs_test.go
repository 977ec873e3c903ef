//go:build !race

// Allocation tests build only without the race detector (see
// capture/meter/allocs_test.go).

package capture

import (
	"errors"
	"fmt"
	"testing"
)

// TestRingReadAllocs: reading a packet from the afpacket ring allocates
// nothing, VLAN tags put back and filters run in user space included
// (the packets of this test reach the ring before its filter is set).
func TestRingReadAllocs(t *testing.T) {
	needRoot(t)
	a := newUDPTarget(t)
	cfg := DefaultLiveConfiguration()
	cfg.Interface = "lo"
	src := openEngine(t, cfg, EngineAFPacket)
	a.send(t, 400, 100)
	insns, err := mustCompiler(t).Compile(t.Context(), src.LinkType(), 200, fmt.Sprintf("udp and dst port %d", a.port))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.SetFilter("udp", insns); err != nil {
		t.Fatal(err)
	}
	a.send(t, 400, 100)
	read := 0
	allocs := testing.AllocsPerRun(500, func() {
		for {
			_, _, err := src.ZeroCopyReadPacketData()
			if err == nil {
				read++
				return
			}
			if !errors.Is(err, ErrTimeout) {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet, want 0", allocs)
	}
	if read != 501 {
		t.Errorf("read %d packets, want 501", read)
	}
}
