// Package sim makes the synthetic traffic of simulated capture devices
// (gims-capd -simulate, SPEC §11): valid Ethernet/IPv4 frames of a few
// UDP and TCP flows in both directions, at a set rate per job, read
// through capture.FromGenerator by the real capture path (meter,
// counters, flows, files).
//
// Pacing is shared: one Pacer ticks for every generator of the process
// (a goroutine that exists only while some generator is open), and each
// generator hands out, at each tick, the packets due since the last one.
// A thousand simulated jobs at 100 packets/s cost ten wake-ups per second
// each, and an idle device costs nothing.
package sim

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/internal/check"
)

// Configuration sets the traffic of the generators of a Pacer. Start from
// DefaultConfiguration: NewPacer refuses invalid values (see Validate).
type Configuration struct {
	// PPS is the packets per second of each generator (one per job).
	// Default 100; at least 1, at most 1,000,000.
	PPS int
	// Tick is how often generators wake to hand out their due packets.
	// Default 100ms; between 1ms and 1s.
	Tick time.Duration
	// Flows is the number of flows each generator's packets belong to
	// (half UDP, half TCP, both directions). Default 8; 1 to 256.
	Flows int
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{PPS: 100, Tick: 100 * time.Millisecond, Flows: 8}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Between("PPS", c.PPS, 1, 1_000_000),
		check.Between("Tick", c.Tick, time.Millisecond, time.Second),
		check.Between("Flows", c.Flows, 1, 256),
	)
}

// LinkType is the link type of the generated frames (Ethernet).
const LinkType = layers.LinkTypeEthernet

// Pacer paces the generators of a process on one shared tick.
type Pacer struct {
	cfg Configuration

	mu sync.Mutex
	// open counts the open generators; the tick goroutine runs while it
	// is positive.
	open int
	// next is closed at the next tick (every generator waiting on it
	// wakes); stop ends the tick goroutine.
	next chan struct{}
	stop chan struct{}
}

// NewPacer returns a Pacer, refusing an invalid configuration. It starts
// nothing: the first generator starts the tick, the last one closed
// stops it.
func NewPacer(cfg Configuration) (*Pacer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid traffic simulation configuration: %w", err)
	}
	return &Pacer{cfg: cfg, next: make(chan struct{})}, nil
}

// tick closes the pacer's channel every Tick until stop.
func (p *Pacer) tick(stop chan struct{}) {
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		close(p.next)
		p.next = make(chan struct{})
		p.mu.Unlock()
	}
}

// wait returns the channel closed at the next tick.
func (p *Pacer) wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// acquire counts a new generator, starting the tick for the first.
func (p *Pacer) acquire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open++
	if p.open == 1 {
		p.stop = make(chan struct{})
		go p.tick(p.stop)
	}
}

// release forgets a closed generator, stopping the tick after the last.
func (p *Pacer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open--
	if p.open == 0 {
		close(p.stop)
		p.stop = nil
	}
}

// Generator makes one job's packets (capture.Generator).
type Generator struct {
	p     *Pacer
	flows []flowTemplate
	done  chan struct{}
	once  sync.Once

	// Read by the job's run goroutine only.
	credit float64
	last   time.Time
	n      uint64
	rnd    uint64
	buf    []byte
	snap   int
}

// NewGenerator returns a generator whose flows are derived from seed
// (distinct seeds, distinct addresses), its frames cut to snaplen.
func (p *Pacer) NewGenerator(seed uint32, snaplen int) *Generator {
	if snaplen <= 0 || snaplen > maxFrame {
		snaplen = maxFrame
	}
	g := &Generator{p: p, done: make(chan struct{}), last: time.Now(), rnd: uint64(seed)<<32 | 0x9e3779b9,
		buf: make([]byte, maxFrame), snap: snaplen}
	for i := range p.cfg.Flows {
		g.flows = append(g.flows, newFlow(seed, i))
	}
	p.acquire()
	return g
}

// Source is the capture source of a new generator.
func (p *Pacer) Source(seed uint32, snaplen int) *capture.Source {
	if snaplen <= 0 || snaplen > maxFrame {
		snaplen = maxFrame
	}
	return capture.FromGenerator(p.NewGenerator(seed, snaplen), LinkType, snaplen)
}

// ReadPacket implements capture.Generator: the next due packet, or
// capture.ErrTimeout after a tick with none due, or io.EOF once closed.
func (g *Generator) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	if g.credit < 1 {
		select {
		case <-g.p.wait():
		case <-g.done:
			return nil, gopacket.CaptureInfo{}, io.EOF
		}
		now := time.Now()
		pps := float64(g.p.cfg.PPS)
		// At most a second's packets at once, after a stall.
		g.credit = min(g.credit+pps*now.Sub(g.last).Seconds(), pps)
		g.last = now
		if g.credit < 1 {
			return nil, gopacket.CaptureInfo{}, capture.ErrTimeout
		}
	}
	select {
	case <-g.done:
		return nil, gopacket.CaptureInfo{}, io.EOF
	default:
	}
	g.credit--
	k := g.n
	g.n++
	// Each flow in turn, its packets alternating client and server.
	f := &g.flows[k%uint64(len(g.flows))]
	n := g.frame(f, k/uint64(len(g.flows))%2 == 1)
	data := g.buf[:min(n, g.snap)]
	return data, gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(data), Length: n}, nil
}

// Close implements capture.Generator.
func (g *Generator) Close() {
	g.once.Do(func() {
		close(g.done)
		g.p.release()
	})
}

// next is a xorshift64 step: sizes vary without a lock or an allocation.
func (g *Generator) next() uint64 {
	g.rnd ^= g.rnd << 13
	g.rnd ^= g.rnd >> 7
	g.rnd ^= g.rnd << 17
	return g.rnd
}

// Frame layout.
const (
	ethLen   = 14
	ipLen    = 20
	udpLen   = 8
	tcpLen   = 20
	minFrame = 60
	maxFrame = 1514
)

// flowTemplate is one flow's endpoints.
type flowTemplate struct {
	src, dst     [4]byte
	sport, dport uint16
	proto        byte // 6 or 17
	seq, ack     uint32
}

// newFlow is flow i of a generator: the client in 10.0.0.0/8 from seed,
// the server in 198.18.0.0/15 (the benchmarking range, RFC 2544).
func newFlow(seed uint32, i int) flowTemplate {
	f := flowTemplate{
		src:   [4]byte{10, byte(seed >> 16), byte(seed >> 8), byte(seed)},
		dst:   [4]byte{198, 18, byte(i >> 8), byte(i + 1)},
		sport: uint16(32768 + (seed*31+uint32(i)*7919)%28000),
		proto: 17,
		dport: 53,
	}
	if i%2 == 1 {
		f.proto, f.dport = 6, []uint16{443, 80, 22, 8080}[(i/2)%4]
		f.seq, f.ack = seed*2654435761+uint32(i), seed^0x5bd1e995
	}
	return f
}

// frame writes the next packet of f (reverse: from the server) into
// g.buf and returns its length.
func (g *Generator) frame(f *flowTemplate, reverse bool) int {
	src, dst, sport, dport := f.src, f.dst, f.sport, f.dport
	if reverse {
		src, dst, sport, dport = dst, src, dport, sport
	}
	l4 := udpLen
	if f.proto == 6 {
		l4 = tcpLen
	}
	payload := int(g.next() % 1200)
	if f.proto == 17 {
		payload = 20 + payload%200 // DNS-sized
	}
	total := ethLen + ipLen + l4 + payload
	// Short frames are padded to Ethernet's minimum, as on the wire.
	b := g.buf[:max(total, minFrame)]
	clear(b[total:])
	// Ethernet: locally administered unicast addresses.
	copy(b[0:6], []byte{0x02, 0, dst[0], dst[1], dst[2], dst[3]})
	copy(b[6:12], []byte{0x02, 0, src[0], src[1], src[2], src[3]})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[ethLen : ethLen+ipLen]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+l4+payload))
	binary.BigEndian.PutUint16(ip[4:], uint16(g.n))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8], ip[9] = 64, f.proto
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	seg := b[ethLen+ipLen : total]
	clear(seg[l4:])
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	if f.proto == 17 {
		binary.BigEndian.PutUint16(seg[4:], uint16(udpLen+payload))
		seg[6], seg[7] = 0, 0
	} else {
		seq, ack := f.seq, f.ack
		if reverse {
			seq, ack = ack, seq
		}
		binary.BigEndian.PutUint32(seg[4:], seq)
		binary.BigEndian.PutUint32(seg[8:], ack)
		seg[12], seg[13] = 5<<4, 0x18 // PSH|ACK
		binary.BigEndian.PutUint16(seg[14:], 65535)
		seg[16], seg[17], seg[18], seg[19] = 0, 0, 0, 0
		if reverse {
			f.ack += uint32(payload)
		} else {
			f.seq += uint32(payload)
		}
	}
	// The transport checksum covers the pseudo-header.
	var pseudo uint32
	pseudo += uint32(binary.BigEndian.Uint16(src[0:])) + uint32(binary.BigEndian.Uint16(src[2:]))
	pseudo += uint32(binary.BigEndian.Uint16(dst[0:])) + uint32(binary.BigEndian.Uint16(dst[2:]))
	pseudo += uint32(f.proto) + uint32(len(seg))
	sum := checksum(seg, pseudo)
	if f.proto == 17 {
		if sum == 0 {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(seg[6:], sum)
	} else {
		binary.BigEndian.PutUint16(seg[16:], sum)
	}
	return len(b)
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
