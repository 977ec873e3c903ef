//go:build !race

// Allocation tests build only without the race detector: under it sync.Pool
// drops items at random, so allocation counts mean nothing. `make test`
// runs the packages with such files a second time without -race.

package meter

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// TestProcessAllocs checks that a packet costs no allocation on the whole
// capture path, sanitization included: decode, counters, flows and a
// packet sink, with and without a key, in every sanitization mode, once
// the flows of the packets exist.
func TestProcessAllocs(t *testing.T) {
	files := []string{"zeek__http-get.pcap", "zeek__tunnels-6in4.pcap", "zeek__mixed-vlan-mpls.pcap",
		"zeek__communityid-icmp6.pcap", "tcpdump__802.1ad_QinQ.pcap"}
	for _, name := range files {
		lt, pkts := readCapture(t, filepath.Join("..", "..", "packet", "testdata", "pcaps", name))
		for _, mode := range []struct {
			key     bool
			payload packet.PayloadMode
			mac     packet.MACMode
		}{{false, 0, 0}, {true, packet.PayloadStrip, packet.MACKeyed}, {true, packet.PayloadZero, packet.MACZero},
			{true, packet.PayloadKeep, packet.MACKeep}} {
			t.Run(fmt.Sprintf("%s/key=%t/%s/%s", name, mode.key, mode.payload, mode.mac), func(t *testing.T) {
				cfg := Configuration{Counters: &counters.Configuration{Interval: time.Hour},
					Flows: ptr(flow.DefaultConfiguration()), Payload: mode.payload, MAC: mode.mac}
				if mode.key {
					cfg.Key = &testKey
				}
				m, err := New(cfg, lt, Sinks{Packets: discardWriter{}, Flows: func(*flow.Record) {}})
				if err != nil {
					t.Fatal(err)
				}
				bufs := make([][]byte, len(pkts))
				for i, p := range pkts {
					bufs[i] = slices.Clone(p.data)
					m.process(bufs[i], &p.ci) // the flows exist from now on
				}
				i := 0
				allocs := testing.AllocsPerRun(200, func() {
					p := pkts[i%len(pkts)]
					b := bufs[i%len(pkts)]
					copy(b, p.data)
					m.process(b, &p.ci) // Run's path: in place
					m.Process(p.data, p.ci)
					i++
				})
				if allocs != 0 {
					t.Errorf("%.1f allocations per packet, want 0", allocs)
				}
			})
		}
	}
}
