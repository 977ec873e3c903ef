// Package capture opens packet sources: live interfaces, through a
// TPACKET_V3 ring of our own (the afpacket engine, ring_linux.go) or
// libpcap, and pcap/pcapng files, with BPF filters compiled by libpcap
// itself. It is the only package that uses cgo; everything downstream
// reads packets through the Source type.
//
// Classic pcap files read without a filter are the exception: libpcap reads
// a file with a cgo call and stdio reads of a few KiB per packet, which
// costs more than decoding the packet and metering its flow, so Source
// reads them itself, with large buffered reads or through a mapping of the
// file (see fileReader, Source.MapFile). Everything
// else (pcapng, unusual pcap variants, link types the decoder does not
// know, standard input, files with a BPF filter) goes through libpcap.
package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/prefetch"
	"github.com/gimsproject/gims/packet"
)

// ErrTimeout is returned by ZeroCopyReadPacketData on a live source when no
// packet arrived within the read timeout (packet.ErrTimeout, so that readers
// need not link libpcap to recognise it).
var ErrTimeout = packet.ErrTimeout

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

// LiveConfiguration describes a live capture. Start from
// DefaultLiveConfiguration and set Interface: OpenLive refuses invalid
// values (see Validate).
type LiveConfiguration struct {
	// Interface is the libpcap device name (e.g. "eth0", "lo"). Required.
	Interface string
	// Filter is a BPF expression; empty captures everything.
	Filter string
	// Snaplen is the capture length; default 65535, at most MaxSnaplen.
	Snaplen int
	// Promiscuous puts the interface in promiscuous mode.
	Promiscuous bool
	// ReadTimeout bounds how long ZeroCopyReadPacketData waits; default
	// 100ms; it must be positive.
	ReadTimeout time.Duration
	// BufferSize is libpcap's kernel capture buffer in bytes (the pcap
	// engine); default 32 MiB; it must be positive.
	BufferSize int
	// Engine selects the engine and sizes the afpacket ring; default
	// DefaultEngineConfiguration (afpacket, libpcap as fallback).
	Engine EngineConfiguration
}

// MaxSnaplen is the largest capture length libpcap accepts.
const MaxSnaplen = 262144

// DefaultLiveConfiguration returns the documented defaults (Interface still
// to set).
func DefaultLiveConfiguration() LiveConfiguration {
	return LiveConfiguration{
		Snaplen:     DefaultSnaplen,
		ReadTimeout: 100 * time.Millisecond,
		BufferSize:  32 << 20,
		Engine:      DefaultEngineConfiguration(),
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c LiveConfiguration) Validate() error {
	return check.First(
		check.Set("Interface", c.Interface != "", "set"),
		check.Between("Snaplen", c.Snaplen, 1, MaxSnaplen),
		check.Positive("ReadTimeout", c.ReadTimeout),
		check.Positive("BufferSize", c.BufferSize),
		check.Nested("Engine", c.Engine.Validate()),
	)
}

// DefaultSnaplen is the capture length used when none is given.
const DefaultSnaplen = packet.DefaultSnaplen

// Source is a packet source: a live interface or a capture file. A Source
// is read by one goroutine; Close may be called from another to unblock it.
type Source struct {
	handle *pcap.Handle // nil when file or ring reads
	file   *fileReader
	ring   *ring // the afpacket engine's ring
	// fallback is why an afpacket capture was opened with libpcap.
	fallback error
	linkType layers.LinkType
	snaplen  int
	live     bool
	// gen makes the packets of a FromGenerator source (nil otherwise);
	// genFilter is its filter, run in Go.
	gen       Generator
	genFilter *generatedFilter
	// size is the file's size for progress (0 for live and stdin); read
	// counts the bytes consumed so far (record headers + captured bytes).
	size, read int64
	// statsBase is what libpcap had counted when SetFilter set the filter,
	// left out of Stats (the afpacket engine: ring.discardKernelStats).
	statsBase pcap.Stats
}

// pcapRecordHeader is the per-packet overhead of a pcap file record.
const pcapRecordHeader = 16

// OpenLive activates a live capture on an interface, with the afpacket
// engine when cfg.Engine asks for it and it can open the interface, else
// with libpcap (Engine and Fallback tell which, and why).
func OpenLive(cfg LiveConfiguration) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid live capture configuration: %w", err)
	}
	var fallback error
	if cfg.Engine.Engine == EngineAFPacket {
		var insns []pcap.BPFInstruction
		if cfg.Filter != "" {
			var err error
			if insns, err = pcap.CompileBPFFilter(layers.LinkTypeEthernet, cfg.Snaplen, cfg.Filter); err != nil {
				return nil, &FilterError{Expr: cfg.Filter, Msg: err.Error()}
			}
		}
		r, err := openRing(cfg, insns)
		if err == nil {
			return &Source{ring: r, linkType: layers.LinkTypeEthernet, snaplen: cfg.Snaplen, live: true}, nil
		}
		fallback = err
	}
	s, err := openLivePcap(cfg)
	if err != nil {
		return nil, err
	}
	s.fallback = fallback
	return s, nil
}

// openLivePcap activates a live capture through libpcap.
func openLivePcap(cfg LiveConfiguration) (*Source, error) {
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
		if filter == "" {
			fr, ok, err := openPcapFile(path)
			if err != nil {
				return nil, fmt.Errorf("unable to open %s: %w", path, err)
			}
			if ok {
				return &Source{file: fr, linkType: fr.linkType, snaplen: fr.snaplen, size: size}, nil
			}
		}
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

// ErrNotRegular is returned by OpenRegularFile for a symbolic link or
// anything else than a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegularFile is OpenFile for a path that must name a regular file
// itself, not through a symbolic link (a capture daemon's pcap directory,
// whose listing hides links: a link there must not let a job read a file
// elsewhere). The file is opened once with O_NOFOLLOW and checked with
// fstat, and what is read is that file whatever the path names later:
// libpcap, when it reads it, reopens it through /proc/self/fd, the same
// inode. With forFilter the file is read through libpcap (never the fast
// reader), so that SetFilter can apply a filter compiled within the
// FilterCompiler's limits; nothing is compiled here.
func OpenRegularFile(path string, forFilter bool) (*Source, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("unable to open %s: %w (a symbolic link)", path, ErrNotRegular)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to open %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("unable to open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("unable to open %s: %w (%v)", path, ErrNotRegular, info.Mode().Type())
	}
	if !forFilter {
		if fr, ok := pcapFileReader(f); ok {
			return &Source{file: fr, linkType: fr.linkType, snaplen: fr.snaplen, size: info.Size()}, nil
		}
	}
	handle, err := pcap.OpenOffline(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("unable to read %s as pcap or pcapng: %w", path, err)
	}
	return &Source{handle: handle, linkType: handle.LinkType(), snaplen: handle.SnapLen(), size: info.Size()}, nil
}

func (s *Source) setFilter(expr string) error {
	if expr == "" {
		return nil
	}
	if err := s.applyPcapFilter(func() error { return s.handle.SetBPFFilter(expr) }); err != nil {
		return &FilterError{Expr: expr, Msg: err.Error()}
	}
	return nil
}

// applyPcapFilter gives the libpcap handle a filter with apply. On a live
// handle, Stats counts from that filter on, as the ring's do
// (ring.discardKernelStats): dropAll is set while the counters are read
// (after filterSettle), so that a packet is counted before (the old
// filter's) or after.
func (s *Source) applyPcapFilter(apply func() error) error {
	if s.live {
		if err := s.handle.SetBPFInstructionFilter(dropAll()); err != nil {
			return err
		}
		time.Sleep(filterSettle)
		if st, err := s.handle.Stats(); err == nil {
			s.statsBase = *st
		}
	}
	return apply()
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

// Engine is the engine that reads a live source (EngineAFPacket or
// EnginePcap); empty for a file.
func (s *Source) Engine() Engine {
	switch {
	case s.ring != nil:
		return EngineAFPacket
	case s.live:
		return EnginePcap
	}
	return ""
}

// Fallback is why a live source asked of the afpacket engine was opened
// with libpcap instead; nil when it was not.
func (s *Source) Fallback() error { return s.fallback }

// LinkType is the source's data link type.
func (s *Source) LinkType() layers.LinkType { return s.linkType }

// Snaplen is the source's capture length.
func (s *Source) Snaplen() int { return s.snaplen }

// ZeroCopyReadPacketData returns the next packet. The data is only valid
// until the next call, and the caller may modify it until then: it lies in
// the source's own buffer (the file reader's block or mapping, the ring,
// or libpcap's buffer), which the source does not read again (a write to
// a mapped file's packet copies its page, see MapFile). It returns io.EOF
// at the end of a file, ErrTimeout when a live read timed out, and
// libpcap's message for anything else (a truncated file).
func (s *Source) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if s.file != nil {
		var ci gopacket.CaptureInfo
		data, err := s.ReadPacket(&ci)
		return data, ci, err
	}
	if s.gen != nil {
		return s.readGenerated()
	}
	if s.ring != nil {
		return s.ring.next()
	}
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

// ReadPacket is ZeroCopyReadPacketData with the capture info written to
// *ci (the meter's, reused for every packet) instead of returned: for a
// pcap file read by the source itself, this spares the copies of a 72-byte
// struct through two returns, a tenth of the cost of metering a small
// packet.
func (s *Source) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	fr := s.file
	if fr == nil {
		data, c, err := s.ZeroCopyReadPacketData()
		*ci = c
		return data, err
	}
	// The common case inline: a whole record in the buffer, no longer
	// than the snapshot length (which is at most pcapMaxSnaplen).
	if r := fr.r; fr.w-r >= pcapRecordHeader && !fr.closed.Load() {
		if r >= fr.releaseAt {
			fr.release(r)
		}
		h := fr.buf[r : r+pcapRecordHeader]
		var sec, frac, caplen, length uint32
		if fr.big {
			sec, frac = binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[4:])
			caplen, length = binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:])
		} else {
			sec, frac = binary.LittleEndian.Uint32(h[0:]), binary.LittleEndian.Uint32(h[4:])
			caplen, length = binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
		}
		if size := pcapRecordHeader + int(caplen); int(caplen) <= fr.snaplen && fr.w-r >= size {
			fr.r = r + size
			s.read += int64(size)
			nsec := int64(int32(frac)) // signed, as libpcap reads both fields
			if !fr.nanos {
				nsec *= 1000
			}
			ci.Timestamp = time.Unix(int64(int32(sec)), nsec)
			ci.CaptureLength, ci.Length = int(caplen), int(length)
			if ci.InterfaceIndex != 0 || ci.AncillaryData != nil {
				ci.InterfaceIndex, ci.AncillaryData = 0, nil
			}
			data := fr.buf[r+pcapRecordHeader : r+size : r+size]
			if fr.inMap && len(data) >= prefetchAfter {
				// The next record's header and its packet's first
				// bytes, loaded while this packet is metered: in a
				// mapping they come from memory, not from the copy
				// read(2) left in the cache. (Last: a call spills
				// every value live across it.)
				next := uintptr(unsafe.Pointer(unsafe.SliceData(data))) + uintptr(len(data))
				prefetch.Lines(next, next+64)
			}
			return data, nil
		}
	}
	data, n, err := fr.next(ci)
	switch err {
	case nil:
		s.read += n
		return data, nil
	case io.EOF:
		s.read = s.size
		return nil, err
	}
	return nil, fmt.Errorf("read packet: %w", err)
}

// MapFile has a pcap file that the source reads itself (without a filter;
// not libpcap's files) read through a private memory mapping instead of
// read(2) into a buffer: there is no copy of every byte out of the page
// cache, and a reader that needs only the headers touches only them; but
// every page is walked in the process's page tables, which on some hosts
// costs more than the copy (bench/RESULTS.md, "Issue 14, round 7"), so
// callers map only when asked (gims-capd -mmap, job MapFiles).
// A write to a packet copies its page: the reader had better not write
// (Meter.Run does not). Call it before the first read; it tells whether
// the file is now mapped (when not, it is read as before). Bytes
// appended to the file after MapFile are read, with read(2), once the
// mapping is read through.
//
// A file that shrinks while mapped makes the next touch of a packet past
// its new end fault (SIGBUS): the reading goroutine must run with
// debug.SetPanicOnFault(true), and MappedFault turns the fault into an
// error (Meter.Run does both). Close unmaps the file: call it from the
// reading goroutine, or once that has stopped reading.
func (s *Source) MapFile() bool {
	return s.file != nil && s.file.mapFile()
}

// HoldMapped has the pages of a mapped file (MapFile) released only by
// ReleaseTo, not as reading goes through them: for a reader that reads
// ahead of the packets' user and hands out the packets where they lie in
// the mapping (meter.Prefetcher), to be released once used. It tells
// whether the file is mapped. Call it after MapFile, before the first
// read.
func (s *Source) HoldMapped() bool {
	fr := s.file
	if fr == nil || !fr.inMap || fr.r != pcapFileHeader {
		return false
	}
	fr.held, fr.releaseAt = true, math.MaxInt
	return true
}

// InMapping tells whether data, a packet this source returned, lies in
// the mapping of a file (MapFile): such a packet stays readable until
// Close, where the next read may overwrite any other. (A packet past the
// mapping's end, in a file that grew, is in the source's buffer.)
func (s *Source) InMapping(data []byte) bool {
	return s.file != nil && s.file.inMapping(data) >= 0
}

// ReleaseTo releases the mapping's pages (HoldMapped) that lie wholly
// before the end of data, a packet in the mapping (InMapping) which its
// user is done with, as with every packet before it. It releases them by
// steps of 8 MiB. Call it from the goroutine that reads the source.
func (s *Source) ReleaseTo(data []byte) {
	if s.file == nil || !s.file.held {
		return
	}
	if end := s.file.inMapping(data); end >= 0 {
		s.file.releaseTo(end)
	}
}

// MappedFault returns the error to report for a memory fault at addr
// (the Addr of the runtime error a fault raises under
// debug.SetPanicOnFault) when addr lies in the file mapped by MapFile, or
// nil when the fault is not the mapping's.
func (s *Source) MappedFault(addr uintptr) error {
	if s.file == nil {
		return nil
	}
	return s.file.mappedFault(addr)
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

// Stats are the capture counters the kernel keeps for live sources (the
// same for both engines).
type Stats struct {
	// Received counts packets the kernel handed to the capture, dropped
	// ones included.
	Received uint64
	// Dropped counts packets the kernel dropped for lack of buffer space.
	Dropped uint64
	// IfDropped counts packets the interface or driver dropped.
	IfDropped uint64
}

// Stats returns the kernel's counters since the source was opened (zero
// for files).
func (s *Source) Stats() (Stats, error) {
	if s.ring != nil {
		return s.ring.stats()
	}
	if !s.live || s.gen != nil {
		return Stats{}, nil
	}
	st, err := s.handle.Stats()
	if err != nil {
		return Stats{}, fmt.Errorf("capture stats: %w", err)
	}
	b := &s.statsBase
	return Stats{Received: since(st.PacketsReceived, b.PacketsReceived), Dropped: since(st.PacketsDropped, b.PacketsDropped),
		IfDropped: uint64(st.PacketsIfDropped)}, nil
}

// since is a libpcap count n less its value base at SetFilter, or n
// whole should libpcap have restarted it.
func since(n, base int) uint64 {
	if n < base {
		return uint64(n)
	}
	return uint64(n - base)
}

// Close releases the handle; a blocked ZeroCopyReadPacketData returns io.EOF.
func (s *Source) Close() {
	if s.gen != nil {
		s.gen.Close()
		return
	}
	if s.ring != nil {
		s.ring.close()
		return
	}
	if s.file != nil {
		s.file.close()
		return
	}
	s.handle.Close()
}

// prefetchAfter is the shortest packet after which ReadPacket prefetches
// the next record of a mapped file: after a minimum-size frame the next
// record is in the lines the processor's own prefetcher streams in, and
// the call cost a trace of 60-byte frames 15 instructions a packet (the
// prefetch made a trace of 700-byte frames a quarter faster).
const prefetchAfter = 64

// releaseEvery is how many bytes of a mapped file ReadPacket reads between
// two releases of the pages read (MADV_DONTNEED): mapped pages count in
// the process's resident size, which would grow to the file's (the kernel
// keeps them in its page cache all the same).
const releaseEvery = 8 << 20

// Classic pcap file format (pcap-savefile(5)): a 24-byte file header, then
// per packet a 16-byte record header and the captured bytes.
const (
	pcapFileHeader   = 24
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapMaxSnaplen   = 262144  // libpcap's MAXIMUM_SNAPLEN for the link types below
	fileReaderBuffer = 1 << 17 // bytes read at a time: the buffer stays in the L2 cache
)

// pcapLinkType maps the LINKTYPE_ values of the files fileReader reads to
// the link type libpcap reports for them on Linux (LINKTYPE_RAW becomes
// DLT_RAW, 12), truncated to 8 bits as gopacket v1.1.19 does (276, SLL2,
// becomes 20). Files of other link types are left to libpcap (ok false).
func pcapLinkType(lt uint32) (layers.LinkType, bool) {
	switch lt {
	case 0, 1, 108, 113, 228, 229: // NULL, Ethernet, LOOP, SLL, IPV4, IPV6
		return layers.LinkType(lt), true
	case 101: // LINKTYPE_RAW
		return 12, true
	case 276: // LINKTYPE_LINUX_SLL2
		return layers.LinkType(276 & 0xff), true
	}
	return 0, false
}

// fileReader reads a classic pcap file (version 2.4, microsecond or
// nanosecond timestamps, either byte order) the way libpcap does: same
// link type and snapshot length, same packets and capture info, same
// errors on a damaged file. It reads the file in 128 KiB blocks, or maps
// it (MapFile), and hands out packets in place, so reading costs a header
// parse per packet.
type fileReader struct {
	f *os.File
	// big says the file is big-endian: the record headers are read with
	// direct calls of binary's LittleEndian or BigEndian (a call through
	// the binary.ByteOrder interface per field cost as much as the
	// rest of the header's parse).
	big      bool
	nanos    bool
	linkType layers.LinkType
	snaplen  int
	buf      []byte
	r, w     int   // unread bytes are buf[r:w]
	err      error // error of the last fill (io.EOF at the end of the file)
	closed   atomic.Bool
	// mapped is the file's private mapping (Source.MapFile), nil when
	// the file is read with read(2); inMap says buf is still mapped.
	mapped []byte
	inMap  bool
	// released is where the mapping's pages not yet released begin;
	// ReadPacket releases them up to the record it reads once that is at
	// releaseAt or later (never, when not mapped or held).
	released, releaseAt int
	// held says the pages are released only by releaseTo (HoldMapped).
	held bool
}

// openPcapFile opens path with a fileReader when it is a pcap file the
// reader handles; ok is false (and the file closed) when libpcap should
// read it instead. Only open errors are returned.
func openPcapFile(path string) (fr *fileReader, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	fr, ok = pcapFileReader(f)
	if !ok {
		f.Close()
	}
	return fr, ok, nil
}

// pcapFileReader reads f's header from its start and returns a fileReader
// of f when it is a pcap file the reader handles (the reader owns f); ok
// is false when libpcap should read it instead.
func pcapFileReader(f *os.File) (fr *fileReader, ok bool) {
	var hdr [pcapFileHeader]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return nil, false // too short: libpcap says what is wrong
	}
	fr = &fileReader{f: f, releaseAt: math.MaxInt}
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == pcapMagicMicro:
	case binary.LittleEndian.Uint32(hdr[:]) == pcapMagicNano:
		fr.nanos = true
	case binary.BigEndian.Uint32(hdr[:]) == pcapMagicMicro:
		fr.big = true
	case binary.BigEndian.Uint32(hdr[:]) == pcapMagicNano:
		fr.big, fr.nanos = true, true
	default:
		return nil, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	if fr.big {
		order = binary.BigEndian
	}
	major, minor := order.Uint16(hdr[4:]), order.Uint16(hdr[6:])
	lt, known := pcapLinkType(order.Uint32(hdr[20:]))
	snap := order.Uint32(hdr[16:])
	if major != 2 || minor != 4 || !known || snap > pcapMaxSnaplen {
		// Older versions may have caplen and len swapped, the upper bits
		// of the link type field carry extensions, and libpcap has its
		// own idea of absurd snapshot lengths: libpcap knows.
		return nil, false
	}
	fr.linkType = lt
	fr.snaplen = int(snap)
	if snap == 0 {
		fr.snaplen = pcapMaxSnaplen // as libpcap does
	}
	return fr, true // buf is allocated by the first fill, unless the file is mapped
}

// mapFile maps the file for Source.MapFile: buf becomes the mapping, and
// the file's offset its end, where fill goes on reading once the mapping
// is read through.
func (fr *fileReader) mapFile() bool {
	if fr.mapped != nil || fr.w != 0 || fr.err != nil || fr.closed.Load() {
		return false
	}
	info, err := fr.f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() <= pcapFileHeader || int64(int(info.Size())) != info.Size() {
		return false
	}
	m, err := syscall.Mmap(int(fr.f.Fd()), 0, int(info.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return false
	}
	if _, err := fr.f.Seek(int64(len(m)), io.SeekStart); err != nil {
		_ = syscall.Munmap(m)
		return false
	}
	fr.mapped, fr.inMap = m, true
	fr.buf, fr.r, fr.w = m, pcapFileHeader, len(m)
	fr.releaseAt = releaseEvery
	return true
}

// release releases the mapping's pages before offset r (those of the
// packets read before the one at r, whose data is no longer valid).
func (fr *fileReader) release(r int) {
	end := r &^ (os.Getpagesize() - 1)
	if fr.inMap && end > fr.released {
		_ = syscall.Madvise(fr.mapped[fr.released:end], syscall.MADV_DONTNEED)
		fr.released = end
	}
	fr.releaseAt = r + releaseEvery
	if !fr.inMap {
		fr.releaseAt = math.MaxInt
	}
}

// releaseTo releases the mapping's pages that end at or before offset
// end, by steps of releaseEvery (Source.ReleaseTo).
func (fr *fileReader) releaseTo(end int) {
	end &^= os.Getpagesize() - 1
	if fr.mapped != nil && end-fr.released >= releaseEvery {
		_ = syscall.Madvise(fr.mapped[fr.released:end], syscall.MADV_DONTNEED)
		fr.released = end
	}
}

// inMapping returns the offset in the mapping of the end of data, or -1
// when data does not lie in the mapping.
func (fr *fileReader) inMapping(data []byte) int {
	if len(fr.mapped) == 0 || len(data) == 0 {
		return -1
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(fr.mapped)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	if p < start || p-start+uintptr(len(data)) > uintptr(len(fr.mapped)) {
		return -1
	}
	return int(p-start) + len(data)
}

// mappedFault is Source.MappedFault.
func (fr *fileReader) mappedFault(addr uintptr) error {
	if len(fr.mapped) == 0 {
		return nil
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(fr.mapped)))
	if addr < start || addr-start >= uintptr(len(fr.mapped)) {
		return nil
	}
	return fmt.Errorf("read packet: %s changed while it was read (truncated?), or could not be read: a fault at byte %d of the %d mapped",
		fr.f.Name(), addr-start, len(fr.mapped))
}

// fill makes at least n bytes available in buf[r:w], reading the file; it
// returns false when the file ends (or fails) first.
func (fr *fileReader) fill(n int) bool {
	if fr.w-fr.r >= n {
		return true
	}
	if fr.inMap {
		// The mapping is read through: what the file got since it was
		// mapped is read with read(2), after the mapping's tail. (The
		// mapping stays: the packet handed out last lies in it.)
		rest := fr.buf[fr.r:fr.w]
		fr.buf = make([]byte, max(fileReaderBuffer, n))
		fr.w, fr.r, fr.inMap = copy(fr.buf, rest), 0, false
	}
	if fr.err != nil {
		return false
	}
	if fr.buf == nil {
		fr.buf = make([]byte, fileReaderBuffer)
	}
	if n > len(fr.buf) {
		// A record larger than the buffer (up to the maximum snapshot
		// length): grow once, for good.
		fr.buf = append(fr.buf, make([]byte, n-len(fr.buf))...)
	}
	fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
	fr.r = 0
	for fr.w < n {
		m, err := fr.f.Read(fr.buf[fr.w:])
		fr.w += m
		if err != nil {
			fr.err = err
			return fr.w >= n
		}
	}
	return true
}

// setInfo writes a record's capture info to *ci.
func (fr *fileReader) setInfo(ci *gopacket.CaptureInfo, sec, frac, caplen, length uint32) {
	nsec := int64(int32(frac)) // signed, as libpcap reads both fields (bpf_int32)
	if !fr.nanos {
		nsec *= 1000
	}
	*ci = gopacket.CaptureInfo{
		Timestamp:     time.Unix(int64(int32(sec)), nsec),
		CaptureLength: int(caplen),
		Length:        int(length),
	}
}

// next returns the next packet, valid until the next call, with the file
// bytes it took (record header included), and writes its capture info to
// *ci. Errors are libpcap's messages. Source.ReadPacket reads the records
// wholly in the buffer itself, and calls next for the others (to read,
// check or cut).
func (fr *fileReader) next(ci *gopacket.CaptureInfo) (data []byte, n int64, err error) {
	if fr.closed.Load() {
		return nil, 0, io.EOF
	}
	if !fr.fill(pcapRecordHeader) {
		return nil, 0, fr.endErr(pcapRecordHeader, "header bytes")
	}
	h := fr.buf[fr.r : fr.r+pcapRecordHeader]
	var order binary.ByteOrder = binary.LittleEndian
	if fr.big {
		order = binary.BigEndian
	}
	sec, frac := order.Uint32(h[0:]), order.Uint32(h[4:])
	caplen, length := order.Uint32(h[8:]), order.Uint32(h[12:])
	if caplen > pcapMaxSnaplen {
		if int64(caplen) > int64(fr.snaplen) {
			return nil, 0, fmt.Errorf("invalid packet capture length %d, bigger than snaplen of %d", caplen, fr.snaplen)
		}
		return nil, 0, fmt.Errorf("invalid packet capture length %d, bigger than maximum of %d", caplen, pcapMaxSnaplen)
	}
	size := pcapRecordHeader + int(caplen)
	if !fr.fill(size) {
		want := size
		if int(caplen) > fr.snaplen && fr.w-fr.r-pcapRecordHeader < fr.snaplen {
			// libpcap reads the snapshot length first, and names it
			// when even that is not there.
			want = pcapRecordHeader + fr.snaplen
		}
		return nil, 0, fr.endErr(want, "captured bytes")
	}
	data = fr.buf[fr.r+pcapRecordHeader : fr.r+size : fr.r+size]
	fr.r += size
	if int(caplen) > fr.snaplen {
		// libpcap reads the snapshot length and discards the rest.
		data = data[:fr.snaplen]
	}
	fr.setInfo(ci, sec, frac, uint32(len(data)), length)
	return data, int64(size), nil
}

// endErr is the error for a file that ended (or failed) before want bytes
// of a record could be read: io.EOF between records, libpcap's truncation
// message inside one.
func (fr *fileReader) endErr(want int, what string) error {
	if fr.closed.Load() {
		return io.EOF
	}
	if fr.err != io.EOF {
		return fmt.Errorf("error reading dump file: %w", fr.err)
	}
	got := fr.w - fr.r
	if got == 0 && what == "header bytes" {
		return io.EOF
	}
	if what == "captured bytes" {
		want, got = want-pcapRecordHeader, got-pcapRecordHeader
	}
	return fmt.Errorf("truncated dump file; tried to read %d %s, only got %d", want, what, got)
}

// close closes the file; a read in progress or the next one ends with
// io.EOF.
func (fr *fileReader) close() {
	fr.closed.Store(true)
	fr.f.Close()
	if fr.mapped != nil {
		if fr.inMap {
			fr.buf, fr.r, fr.w, fr.inMap = nil, 0, 0, false
		}
		_ = syscall.Munmap(fr.mapped)
		fr.mapped = nil
	}
}
