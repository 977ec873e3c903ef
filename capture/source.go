// Package capture opens packet sources over libpcap: live interfaces and
// pcap/pcapng files, with BPF filters compiled by libpcap itself. It is the
// only package that uses cgo; everything downstream reads packets through
// the Source type.
package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// ErrTimeout is returned by ReadPacket on a live source when no packet
// arrived within the read timeout; callers use it to do periodic work.
var ErrTimeout = errors.New("capture: read timeout")

// FilterError is a BPF expression libpcap refused; Msg is libpcap's own
// message, so the user sees exactly what pcap objects to.
type FilterError struct {
	Expr string
	Msg  string
}

// Error implements error.
func (e *FilterError) Error() string {
	return fmt.Sprintf("bad filter %q: %s", e.Expr, e.Msg)
}

// LiveConfig describes a live capture. The zero value of each field means
// its documented default.
type LiveConfig struct {
	// Interface is the libpcap device name (e.g. "eth0", "lo").
	Interface string
	// Filter is a BPF expression; empty captures everything.
	Filter string
	// Snaplen is the capture length; default 65535.
	Snaplen int
	// Promiscuous puts the interface in promiscuous mode.
	Promiscuous bool
	// ReadTimeout bounds how long ReadPacket waits; default 100ms.
	ReadTimeout time.Duration
	// BufferSize is the kernel capture buffer in bytes; default 32 MiB.
	BufferSize int
}

// DefaultSnaplen is the capture length used when none is given.
const DefaultSnaplen = 65535

// Source is a packet source: a live interface or a capture file. A Source
// is read by one goroutine; Close may be called from another to unblock it.
type Source struct {
	handle   *pcap.Handle
	linkType layers.LinkType
	snaplen  int
	live     bool
	// size is the file's size for progress (0 for live and stdin); read
	// counts the bytes consumed so far (record headers + captured bytes).
	size, read int64
}

// pcapRecordHeader is the per-packet overhead of a pcap file record.
const pcapRecordHeader = 16

// OpenLive activates a live capture on an interface.
func OpenLive(cfg LiveConfig) (*Source, error) {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 100 * time.Millisecond
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 32 << 20
	}
	inactive, err := pcap.NewInactiveHandle(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("unable to open interface %q: %w", cfg.Interface, err)
	}
	defer inactive.CleanUp()
	for _, set := range []error{
		inactive.SetSnapLen(cfg.Snaplen),
		inactive.SetPromisc(cfg.Promiscuous),
		inactive.SetTimeout(cfg.ReadTimeout),
		inactive.SetBufferSize(cfg.BufferSize),
	} {
		if set != nil {
			return nil, fmt.Errorf("unable to configure interface %q: %w", cfg.Interface, set)
		}
	}
	handle, err := inactive.Activate()
	if err != nil {
		return nil, fmt.Errorf("unable to activate capture on %q: %w", cfg.Interface, err)
	}
	s := &Source{handle: handle, linkType: handle.LinkType(), snaplen: cfg.Snaplen, live: true}
	if err := s.setFilter(cfg.Filter); err != nil {
		handle.Close()
		return nil, err
	}
	return s, nil
}

// OpenFile opens a pcap or pcapng file ("-" reads standard input) and
// applies a BPF filter to it.
func OpenFile(path, filter string) (*Source, error) {
	var (
		handle *pcap.Handle
		size   int64
		err    error
	)
	if path == "-" {
		// libpcap takes the descriptor over and closes it with the handle.
		handle, err = pcap.OpenOfflineFile(os.Stdin)
	} else {
		info, statErr := os.Stat(path)
		if statErr != nil {
			return nil, fmt.Errorf("unable to open %s: %w", path, statErr)
		}
		size = info.Size()
		handle, err = pcap.OpenOffline(path)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read %s as pcap or pcapng: %w", path, err)
	}
	s := &Source{handle: handle, linkType: handle.LinkType(), snaplen: handle.SnapLen(), size: size}
	if err := s.setFilter(filter); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) setFilter(expr string) error {
	if expr == "" {
		return nil
	}
	if err := s.handle.SetBPFFilter(expr); err != nil {
		return &FilterError{Expr: expr, Msg: err.Error()}
	}
	return nil
}

// CompileFilter checks a BPF expression against a link type without an
// interface or privileges, so a filter can be refused before a job starts.
func CompileFilter(linkType layers.LinkType, snaplen int, expr string) error {
	if expr == "" {
		return nil
	}
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	if _, err := pcap.CompileBPFFilter(linkType, snaplen, expr); err != nil {
		return &FilterError{Expr: expr, Msg: err.Error()}
	}
	return nil
}

// LinkType is the source's data link type.
func (s *Source) LinkType() layers.LinkType { return s.linkType }

// Snaplen is the source's capture length.
func (s *Source) Snaplen() int { return s.snaplen }

// ReadPacket returns the next packet. The data is only valid until the next
// call. It returns io.EOF at the end of a file, ErrTimeout when a live read
// timed out, and libpcap's message for anything else (a truncated file).
func (s *Source) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.handle.ZeroCopyReadPacketData()
	switch err {
	case nil:
		s.read += pcapRecordHeader + int64(ci.CaptureLength)
		return data, ci, nil
	case io.EOF:
		s.read = s.size
		return data, ci, err
	case pcap.NextErrorTimeoutExpired:
		return nil, ci, ErrTimeout
	}
	if msg := s.handle.Error(); msg != nil {
		return nil, ci, fmt.Errorf("read packet: %w", msg)
	}
	return nil, ci, fmt.Errorf("read packet: %v", err)
}

// Progress is how far through a file source reading is, in percent (0 for
// live sources and standard input). It is exact for pcap files and close
// for pcapng, whose blocks carry a little more framing.
func (s *Source) Progress() float64 {
	if s.size <= 0 {
		return 0
	}
	return min(100, 100*float64(s.read)/float64(s.size))
}

// Stats are the capture counters libpcap keeps for live sources.
type Stats struct {
	// Received counts packets the kernel handed to the capture.
	Received uint64
	// Dropped counts packets the kernel dropped for lack of buffer space.
	Dropped uint64
	// IfDropped counts packets the interface or driver dropped.
	IfDropped uint64
}

// Stats returns libpcap's counters (zero for files).
func (s *Source) Stats() (Stats, error) {
	if !s.live {
		return Stats{}, nil
	}
	st, err := s.handle.Stats()
	if err != nil {
		return Stats{}, fmt.Errorf("capture stats: %w", err)
	}
	return Stats{Received: uint64(st.PacketsReceived), Dropped: uint64(st.PacketsDropped), IfDropped: uint64(st.PacketsIfDropped)}, nil
}

// Close releases the handle; a blocked ReadPacket returns io.EOF.
func (s *Source) Close() {
	s.handle.Close()
}
