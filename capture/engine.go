package capture

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/gimsproject/gims/internal/check"
)

// Engine names the code that reads a live interface.
type Engine string

// Engines.
const (
	// EngineAFPacket reads the interface through a TPACKET_V3 ring of
	// our own (ring_linux.go): block-level reads from memory the kernel
	// shares, no system call and no cgo call per packet, the BPF filter
	// in the kernel. What it cannot open (a link type other than
	// Ethernet or loopback, the "any" device, a kernel without
	// TPACKET_V3, a ring the kernel refuses) is opened with libpcap
	// instead: Source.Engine says which engine a source got and
	// Source.Fallback why.
	EngineAFPacket Engine = "afpacket"
	// EnginePcap reads the interface through libpcap.
	EnginePcap Engine = "pcap"
)

// Defaults of EngineConfiguration: a ring of 64 blocks of 1 MiB. 64 MiB
// hold about 0.4 s of 142-byte packets at 1 Mpps (the ring stores each
// with about 80 bytes of header and alignment), twice libpcap's buffer
// here (LiveConfiguration.BufferSize, 32 MiB), so that a burst or a slow
// moment of the meter (a flow export, a file flush) does not drop.
const (
	DefaultRingBlockSize = 1 << 20
	DefaultRingBlocks    = 64
)

// EngineConfiguration selects the engine of live captures and sizes the
// afpacket ring. Start from DefaultEngineConfiguration: OpenLive refuses
// invalid values (see Validate).
type EngineConfiguration struct {
	// Engine is EngineAFPacket (the default on Linux, with libpcap as
	// fallback) or EnginePcap.
	Engine Engine
	// RingBlockSize is the size of one block of the afpacket ring in
	// bytes: a multiple of 4096 between 64 KiB and 64 MiB, default 1 MiB.
	// The kernel hands the ring over a block at a time (when it is full
	// or LiveConfiguration.ReadTimeout after its first packet).
	RingBlockSize int
	// RingBlocks is the number of blocks of the ring, between 2 and
	// 65536, default 64; the ring takes RingBlockSize × RingBlocks bytes
	// of locked kernel memory per capture.
	RingBlocks int
}

// DefaultEngineConfiguration returns the documented defaults.
func DefaultEngineConfiguration() EngineConfiguration {
	return EngineConfiguration{Engine: EngineAFPacket, RingBlockSize: DefaultRingBlockSize, RingBlocks: DefaultRingBlocks}
}

// Validate names the field that is wrong, the rule and the value given.
func (c EngineConfiguration) Validate() error {
	var engine, pages error
	if c.Engine != EngineAFPacket && c.Engine != EnginePcap {
		engine = &check.FieldError{Field: "Engine", Rule: fmt.Sprintf("%q or %q", EngineAFPacket, EnginePcap), Value: string(c.Engine)}
	}
	if c.RingBlockSize%4096 != 0 {
		pages = &check.FieldError{Field: "RingBlockSize", Rule: "a multiple of 4096", Value: c.RingBlockSize}
	}
	return check.First(
		engine,
		check.Between("RingBlockSize", c.RingBlockSize, 64<<10, 64<<20),
		pages,
		check.Between("RingBlocks", c.RingBlocks, 2, 65536),
	)
}

// RingBytes is the size of the afpacket ring.
func (c EngineConfiguration) RingBytes() int64 {
	return int64(c.RingBlockSize) * int64(c.RingBlocks)
}

// RegisterFlags adds the daemon flags of c's fields to fs, with c's
// values as defaults: -capture-engine and -ring-mb (the ring's size in
// MiB, in blocks of RingBlockSize).
func (c *EngineConfiguration) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("capture-engine", fmt.Sprintf("live capture engine: %s (TPACKET_V3 ring; libpcap for what it cannot open) or %s (default %s)",
		EngineAFPacket, EnginePcap, c.Engine), func(s string) error {
		if e := Engine(s); e != EngineAFPacket && e != EnginePcap {
			return fmt.Errorf("%q is neither %s nor %s", s, EngineAFPacket, EnginePcap)
		}
		c.Engine = Engine(s)
		return nil
	})
	fs.Func("ring-mb", fmt.Sprintf("size of the afpacket ring of each live capture, in MiB (default %d)", c.RingBytes()>>20),
		func(s string) error {
			mb, err := strconv.Atoi(s)
			if err != nil || mb <= 0 {
				return fmt.Errorf("%q is not a positive number of MiB", s)
			}
			blocks := int64(mb) << 20 / int64(c.RingBlockSize)
			if blocks < 2 || blocks > 65536 {
				return fmt.Errorf("%d MiB makes %d blocks of %d KiB, want 2 to 65536", mb, blocks, c.RingBlockSize>>10)
			}
			c.RingBlocks = int(blocks)
			return nil
		})
}
