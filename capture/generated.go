package capture

import (
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// Generator makes the packets of a source that is not libpcap's: the
// synthetic traffic of a simulated device (gims-capd -simulate, package
// capture/sim). It is read by one goroutine; Close may be called from
// another.
type Generator interface {
	// ReadPacket returns the next packet, which is the caller's until the
	// next call (the meter sanitizes it in place), ErrTimeout when none is
	// due yet (after a bounded wait, so that the reader does its periodic
	// work), or io.EOF once the generator is closed.
	ReadPacket() ([]byte, gopacket.CaptureInfo, error)
	// Close ends the generator; a blocked ReadPacket returns io.EOF.
	Close()
}

// FromGenerator is a Source whose packets g makes, of the given link type
// and capture length. It counts as a live source (no progress, no end of
// its own) with no kernel drop counters; SetFilter applies a compiled
// filter in Go (golang.org/x/net/bpf), since no libpcap handle exists.
func FromGenerator(g Generator, linkType layers.LinkType, snaplen int) *Source {
	return &Source{gen: g, linkType: linkType, snaplen: snaplen}
}

// generatedFilter is the filter state of a Source made by FromGenerator.
type generatedFilter struct {
	vm *bpf.VM
}

// setGeneratedFilter compiles insns for the Go BPF machine.
func (s *Source) setGeneratedFilter(expr string, insns []pcap.BPFInstruction) error {
	raw := make([]bpf.Instruction, len(insns))
	for i, in := range insns {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	vm, err := bpf.NewVM(raw)
	if err != nil {
		return &FilterError{Expr: truncateExpr(expr), Msg: fmt.Sprintf("filter program refused: %v", err)}
	}
	s.genFilter = &generatedFilter{vm: vm}
	return nil
}

// readGenerated returns the generator's next packet that passes the
// filter.
func (s *Source) readGenerated() ([]byte, gopacket.CaptureInfo, error) {
	for {
		data, ci, err := s.gen.ReadPacket()
		if err != nil || s.genFilter == nil {
			return data, ci, err
		}
		if n, err := s.genFilter.vm.Run(data); err == nil && n > 0 {
			if n < len(data) {
				data = data[:n]
				ci.CaptureLength = n
			}
			return data, ci, nil
		}
	}
}
