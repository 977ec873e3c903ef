//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The afpacket engine: a PACKET_RX_RING of TPACKET_V3 blocks mapped into
// this process, read a block at a time. The kernel fills a block with
// packets and hands it over whole (when it is full, or ReadTimeout after
// its first packet); reading its packets costs no system call and no cgo
// call, and a poll(2) is made only when the ring is empty.
//
// gopacket's afpacket package (v1.1.19) was the first candidate and is
// not used: it binds its socket to the interface before a filter can be
// attached, so packets the filter should refuse (the daemon's own API,
// SPEC §9) reach the ring in between; it hands the VLAN tag that the
// kernel took out of a frame (VLAN offload, veth included) either not at
// all or in a new slice per packet, and only the VID; it has no snapshot
// length, and it locks a mutex and boxes ancillary data per packet. This
// reader is gopacket's design with those fixed, on golang.org/x/sys/unix:
//
//   - The socket is made with protocol 0 (it receives nothing), given its
//     filter (or a filter that keeps the snapshot length), its ring and,
//     on loopback, PACKET_IGNORE_OUTGOING (the kernel shows each packet
//     on lo twice; libpcap drops the outgoing copy), and only then bound
//     to the interface. A filter set later (SetFilter) is attached to the
//     kernel and also run here, with golang.org/x/net/bpf, on the blocks
//     filled before it, as libpcap does.
//   - The snapshot length is the return value of the filter (libpcap
//     compiles "ret #snaplen"), so the kernel copies only that much.
//   - A VLAN tag taken out by the kernel is put back into the frame in
//     place, in the headroom PACKET_RESERVE keeps in front of it, as
//     libpcap does: the meter and the pcap files see the frame as it was
//     on the wire.

// ringHeader is the length of a TPACKET_V3 packet header with the
// sockaddr_ll that follows it: the packet's MAC header starts after it,
// at least vlanTagLen bytes later thanks to PACKET_RESERVE.
const (
	ringHeader = 48 + 20 // TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll)
	vlanTagLen = 4
	ringFrame  = 4096 // tp_frame_size: unused by TPACKET_V3 beyond its checks
	// blockStatus is the offset of block_status in a block descriptor
	// (version, offset_to_priv, then tpacket_hdr_v1).
	blockStatus = 8
)

// errRingUnsupported is why an interface is left to libpcap.
var errRingUnsupported = errors.New("afpacket: unsupported")

// ring is a live source read through a TPACKET_V3 ring.
type ring struct {
	iface   string
	fd      int
	mem     []byte
	bsize   int // block size
	nblocks int
	snaplen int
	timeout int // poll timeout in milliseconds

	// mu is held by a read and by Close, so that Close never unmaps
	// the ring under a read.
	mu     sync.Mutex
	closed bool
	blk    int    // the block being read (or waited for)
	inBlk  bool   // blk is ours: the kernel handed it over
	left   uint32 // packets of blk not yet read
	off    int    // offset in mem of the next packet of blk
	pfd    [1]unix.PollFd

	// The packets of userBlocks blocks from blk on are filtered here
	// with vm (nil: all refused): they were filled, at least in part,
	// before SetFilter attached the filter they must pass.
	userBlocks int
	vm         *bpf.VM

	// statsMu guards the counters below, and fd against Close.
	statsMu                sync.Mutex
	received, dropped      uint64 // the kernel's counters, summed (each read resets them)
	ifDropBase, ifDropLast uint64 // the interface's drops when opened, and at the last Stats
}

// openRing opens cfg.Interface through a TPACKET_V3 ring; it returns an
// error wrapping errRingUnsupported for what libpcap should open instead.
func openRing(cfg LiveConfiguration, insns []pcap.BPFInstruction) (_ *ring, err error) {
	if cfg.Interface == "any" {
		return nil, fmt.Errorf("%w: the \"any\" device (cooked link type)", errRingUnsupported)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: packet socket: %w", errRingUnsupported, err)
	}
	r := &ring{iface: cfg.Interface, fd: fd, bsize: cfg.Engine.RingBlockSize, nblocks: cfg.Engine.RingBlocks,
		snaplen: cfg.Snaplen, timeout: max(1, int(cfg.ReadTimeout/time.Millisecond))}
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	ifr, err := unix.NewIfreq(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("unable to open interface %q: %w", cfg.Interface, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return nil, fmt.Errorf("unable to open interface %q: %w", cfg.Interface, err)
	}
	ifindex := int(ifr.Uint32())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return nil, fmt.Errorf("unable to open interface %q: %w", cfg.Interface, err)
	}
	hatype := ifr.Uint16() // sa_family of the hardware address: ARPHRD_*
	if hatype != unix.ARPHRD_ETHER && hatype != unix.ARPHRD_LOOPBACK {
		return nil, fmt.Errorf("%w: interface %q has link type ARPHRD %d, not Ethernet", errRingUnsupported, cfg.Interface, hatype)
	}
	for _, o := range []struct {
		name       string
		level, opt int
		v          int
		when       bool
	}{
		{"PACKET_VERSION", unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3, true},
		{"PACKET_RESERVE", unix.SOL_PACKET, unix.PACKET_RESERVE, vlanTagLen, true},
		{"PACKET_IGNORE_OUTGOING", unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, hatype == unix.ARPHRD_LOOPBACK},
	} {
		if o.when {
			if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", errRingUnsupported, o.name, err)
			}
		}
	}
	if len(insns) == 0 {
		// Keep everything, cut to the snapshot length.
		insns = bpfReturn(uint32(cfg.Snaplen))
	}
	if err := r.attach(insns); err != nil {
		return nil, err
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(r.bsize),
		Block_nr:       uint32(r.nblocks),
		Frame_size:     ringFrame,
		Frame_nr:       uint32(r.bsize / ringFrame * r.nblocks),
		Retire_blk_tov: uint32(r.timeout),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("%w: a ring of %d blocks of %d bytes: %w", errRingUnsupported, r.nblocks, r.bsize, err)
	}
	// The ring is kernel memory: mapped at once (MAP_POPULATE), it costs
	// no page fault while packets come.
	r.mem, err = unix.Mmap(fd, 0, r.bsize*r.nblocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("%w: mapping the ring: %w", errRingUnsupported, err)
	}
	if cfg.Promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, fmt.Errorf("unable to configure interface %q: promiscuous mode: %w", cfg.Interface, err)
		}
	}
	r.ifDropBase = ifDrops(cfg.Interface)
	r.ifDropLast = r.ifDropBase
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return nil, fmt.Errorf("unable to activate capture on %q: %w", cfg.Interface, err)
	}
	r.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}
	return r, nil
}

// htons is the network byte order of a protocol number.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// attach gives the socket a filter.
func (r *ring) attach(insns []pcap.BPFInstruction) error {
	if len(insns) > 0xffff {
		return fmt.Errorf("filter of %d instructions, at most 65535", len(insns))
	}
	prog := make([]unix.SockFilter, len(insns))
	for i, in := range insns {
		prog[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("the kernel refused the filter: %w", err)
	}
	return nil
}

// setFilter attaches a filter to a ring that already captures. The
// blocks the kernel handed over or is filling were filled (in part)
// under the previous filter: their packets are filtered here.
func (r *ring) setFilter(insns []pcap.BPFInstruction) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("capture closed")
	}
	// Nothing is taken while the counters are read: counted before, a
	// packet belongs to the old filter; after, to the new one.
	if err := r.attach(dropAll()); err != nil {
		return err
	}
	time.Sleep(filterSettle)
	r.discardKernelStats()
	if err := r.attach(insns); err != nil {
		return err
	}
	raw := make([]bpf.RawInstruction, len(insns))
	for i, in := range insns {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, ok := bpf.Disassemble(raw)
	r.vm = nil
	if ok {
		// A program NewVM refuses leaves vm nil: the blocks concerned
		// are dropped whole rather than let through unfiltered.
		r.vm, _ = bpf.NewVM(prog)
	}
	// The blocks handed over from the one being read on, and the one
	// the kernel fills now.
	n := 1
	for i := 0; i < r.nblocks-1; i++ {
		if atomic.LoadUint32(r.status((r.blk+i)%r.nblocks))&unix.TP_STATUS_USER == 0 {
			break
		}
		n++
	}
	r.userBlocks = n
	return nil
}

// status points at the status word of block b.
func (r *ring) status(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[b*r.bsize+blockStatus]))
}

// next returns the next packet; its data stays valid until the next call.
func (r *ring) next() ([]byte, gopacket.CaptureInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	woken := false // poll said readable
	for {
		if r.closed {
			return nil, gopacket.CaptureInfo{}, io.EOF
		}
		if r.inBlk && r.left == 0 {
			// The last packet of the block was handed out by the
			// previous call: the block goes back to the kernel.
			atomic.StoreUint32(r.status(r.blk), unix.TP_STATUS_KERNEL)
			r.inBlk = false
			r.blk = (r.blk + 1) % r.nblocks
			if r.userBlocks > 0 {
				r.userBlocks--
			}
		}
		if !r.inBlk {
			if atomic.LoadUint32(r.status(r.blk))&unix.TP_STATUS_USER == 0 {
				n, err := unix.Poll(r.pfd[:], r.timeout)
				switch {
				case err == unix.EINTR:
				case err != nil:
					return nil, gopacket.CaptureInfo{}, fmt.Errorf("read packet: poll: %w", err)
				case n == 0:
					return nil, gopacket.CaptureInfo{}, ErrTimeout
				case r.pfd[0].Revents&unix.POLLERR != 0:
					// The interface went down or away (libpcap ends
					// the same way).
					if e, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && e != 0 {
						return nil, gopacket.CaptureInfo{}, fmt.Errorf("read packet: interface %q: %w", r.iface, unix.Errno(e))
					}
					return nil, gopacket.CaptureInfo{}, fmt.Errorf("read packet: interface %q: error on the packet socket", r.iface)
				case woken:
					// Readable twice, yet our block is not handed
					// over: the caller gets its timeout rather than
					// a spin here.
					return nil, gopacket.CaptureInfo{}, ErrTimeout
				default:
					woken = true
				}
				continue
			}
			base := r.blk * r.bsize
			hdr := (*unix.TpacketHdrV1)(unsafe.Pointer(&r.mem[base+blockStatus]))
			r.inBlk, r.left, r.off = true, hdr.Num_pkts, base+int(hdr.Offset_to_first_pkt)
			continue
		}
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[r.off]))
		at := r.off
		r.left--
		r.off += int(h.Next_offset)
		mac, snap, wire := at+int(h.Mac), int(h.Snaplen), int(h.Len)
		data := r.mem[mac : mac+snap : mac+snap]
		if r.userBlocks > 0 && !r.userlandAccept(&data) {
			continue
		}
		if h.Status&unix.TP_STATUS_VLAN_VALID != 0 && len(data) >= 12 && int(h.Mac) >= ringHeader+vlanTagLen {
			// Put the tag the kernel took out back after the MAC
			// addresses, in the headroom before the frame.
			tpid := uint16(layers.EthernetTypeDot1Q)
			if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = h.Hv1.Vlan_tpid
			}
			mac -= vlanTagLen
			copy(r.mem[mac:mac+12], r.mem[mac+vlanTagLen:mac+vlanTagLen+12])
			binary.BigEndian.PutUint16(r.mem[mac+12:], tpid)
			binary.BigEndian.PutUint16(r.mem[mac+14:], uint16(h.Hv1.Vlan_tci))
			n := len(data) + vlanTagLen
			data = r.mem[mac : mac+n : mac+n]
			wire += vlanTagLen
		}
		if len(data) > r.snaplen {
			// A tag put back, or a filter set with a larger snapshot
			// length than the source's.
			data = data[:r.snaplen:r.snaplen]
		}
		ci := gopacket.CaptureInfo{
			Timestamp:     time.Unix(int64(h.Sec), int64(h.Nsec)),
			CaptureLength: len(data),
			Length:        wire,
		}
		return data, ci, nil
	}
}

// userlandAccept runs the filter set by SetFilter on a packet of a block
// filled before it, cutting it to the length the filter returns.
func (r *ring) userlandAccept(data *[]byte) bool {
	if r.vm == nil {
		return false
	}
	n, err := r.vm.Run(*data)
	if err != nil || n == 0 {
		return false
	}
	if n < len(*data) {
		*data = (*data)[:n:n]
	}
	return true
}

// stats returns the kernel's counters since the ring was opened.
func (r *ring) stats() (Stats, error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.fd < 0 {
		return Stats{}, errors.New("capture stats: capture closed")
	}
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return Stats{}, fmt.Errorf("capture stats: %w", err)
	}
	// Each read resets the kernel's counters; its packets include its
	// drops, as libpcap's ps_recv does.
	r.received += uint64(st.Packets)
	r.dropped += uint64(st.Drops)
	if d := ifDrops(r.iface); d >= r.ifDropLast {
		r.ifDropLast = d
	}
	return Stats{Received: r.received, Dropped: r.dropped, IfDropped: r.ifDropLast - r.ifDropBase}, nil
}

// discardKernelStats reads the kernel's counters, which resets them, and
// leaves them out of stats: setFilter calls it between the old filter and
// the new one, with dropAll attached, so that the counters are the new
// filter's. OpenLive opens the ring with none (it takes every packet), and
// a job's filter is compiled meanwhile, in a child process: what the
// kernel dropped in between, on a busy link, was traffic the job's filter
// refuses. (A job on lo counted 159 drops of what the tests beside it sent
// there, and every packet of its own; with lo flooded, 1.4 million.)
func (r *ring) discardKernelStats() {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	_, _ = unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
}

// ifDrops is what the interface itself dropped since it came up, as
// libpcap counts it (rx_dropped + rx_missed_errors); 0 when unknown.
func ifDrops(iface string) uint64 {
	var sum uint64
	for _, name := range []string{"rx_dropped", "rx_missed_errors"} {
		b, err := os.ReadFile("/sys/class/net/" + iface + "/statistics/" + name)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			sum += v
		}
	}
	return sum
}

// close unmaps the ring and closes the socket; a read in progress ends
// first (within the read timeout), and the next returns io.EOF.
func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.statsMu.Lock() // Stats may be called from another goroutine
	defer r.statsMu.Unlock()
	r.release()
}

// release frees the ring and the socket.
func (r *ring) release() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		_ = unix.Close(r.fd)
		r.fd = -1
	}
}
