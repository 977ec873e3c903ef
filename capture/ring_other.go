//go:build !linux

package capture

import (
	"errors"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
)

// errRingUnsupported is why an interface is left to libpcap: the
// afpacket engine exists on Linux only.
var errRingUnsupported = errors.New("afpacket: Linux only")

// ring is the afpacket engine's source, absent here.
type ring struct{}

func openRing(LiveConfiguration, []pcap.BPFInstruction) (*ring, error) {
	return nil, errRingUnsupported
}
func (*ring) setFilter([]pcap.BPFInstruction) error { return errRingUnsupported }
func (*ring) next() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, errRingUnsupported
}
func (*ring) stats() (Stats, error) { return Stats{}, errRingUnsupported }
func (*ring) close()                {}
