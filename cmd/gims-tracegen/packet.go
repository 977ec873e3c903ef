package main

import "encoding/binary"

// Header sizes and protocol numbers used to build frames by hand. Building
// headers into a reused buffer is an order of magnitude faster than
// gopacket's serialization and allocates nothing; the tests decode the
// result with gopacket and tcpdump.
const (
	ethLen     = 14
	vlanLen    = 4
	ipv4Len    = 20
	ipv6Len    = 40
	tcpLen     = 20
	udpLen     = 8
	icmpLen    = 8
	minFrame   = 60 // shortest Ethernet frame without FCS; shorter ones are padded
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100
	protoICMP  = 1
	protoTCP   = 6
	protoUDP   = 17
	protoICMP6 = 58

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// rng is a splitmix64 generator: tiny, fast, and good enough to shape
// traffic. Only integer arithmetic is used on its output so the trace is the
// same on every architecture.
type rng struct{ s uint64 }

// newRNG derives an independent stream for one flow from the seed.
func newRNG(seed, stream uint64) rng {
	r := rng{s: seed ^ (stream+1)*0xd1b54a32d192ed03}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0,n); n must be positive.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// between returns a value in [lo,hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// ppm is true with probability p/1,000,000.
func (r *rng) ppm(p int) bool { return r.intn(1_000_000) < p }

// jitter returns a duration around mean, uniformly in [mean/2, 3*mean/2].
func (r *rng) jitter(mean int64) int64 {
	if mean <= 1 {
		return mean
	}
	return mean/2 + int64(r.next()%uint64(mean+1))
}

// sum16 adds b to a ones'-complement accumulator. Adding 32-bit big-endian
// words is equivalent modulo 0xffff and twice as fast.
func sum16(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold turns an accumulator into an Internet checksum.
func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = (acc >> 16) + (acc & 0xffff)
	}
	return ^uint16(acc)
}

// endpoint is one side of a flow as it appears in the frames it sends.
type endpoint struct {
	ip     [16]byte // IPv4 in the first four bytes
	mac    [6]byte
	port   uint16
	ttl    uint8
	ipID   uint16 // next IPv4 identification
	label  uint32 // IPv6 flow label
	seq    uint32 // TCP: next sequence number to send
	tsOff  uint32 // TCP: timestamp clock offset
	tsLast uint32 // TCP: timestamp value of the last segment sent, echoed by the peer
	win    uint16 // TCP: advertised window after the handshake
}

// header writes the Ethernet, optional 802.1Q and IP headers for a packet
// from src to dst whose IP payload is l4len bytes, and returns the offset of
// the IP payload. frag is the IPv4 fragment offset in 8-byte units, mf the
// more-fragments bit; unfragmented packets set don't-fragment.
func header(b []byte, f *flow, src, dst *endpoint, proto uint8, l4len int, frag uint16, mf bool) int {
	copy(b[0:6], dst.mac[:])
	copy(b[6:12], src.mac[:])
	off := 12
	if f.vlan != 0 {
		binary.BigEndian.PutUint16(b[12:], etherVLAN)
		binary.BigEndian.PutUint16(b[14:], f.vlan)
		off += vlanLen
	}
	if f.v6 {
		binary.BigEndian.PutUint16(b[off:], etherIPv6)
		ip := b[off+2:]
		binary.BigEndian.PutUint32(ip[0:], 6<<28|src.label&0xfffff)
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len))
		ip[6] = proto
		ip[7] = src.ttl
		copy(ip[8:24], src.ip[:])
		copy(ip[24:40], dst.ip[:])
		return off + 2 + ipv6Len
	}
	binary.BigEndian.PutUint16(b[off:], etherIPv4)
	ip := b[off+2 : off+2+ipv4Len]
	ip[0] = 0x45
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipv4Len+l4len))
	binary.BigEndian.PutUint16(ip[4:], src.ipID)
	src.ipID++
	fl := frag
	if mf {
		fl |= 0x2000
	} else if frag == 0 && f.df {
		fl |= 0x4000
	}
	binary.BigEndian.PutUint16(ip[6:], fl)
	ip[8] = src.ttl
	ip[9] = proto
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], src.ip[:4])
	copy(ip[16:20], dst.ip[:4])
	binary.BigEndian.PutUint16(ip[10:], fold(sum16(ip, 0)))
	return off + 2 + ipv4Len
}

// pseudo returns the checksum accumulator of the TCP/UDP/ICMPv6
// pseudo-header.
func pseudo(f *flow, src, dst *endpoint, proto uint8, l4len int) uint64 {
	if f.v6 {
		return sum16(src.ip[:], sum16(dst.ip[:], uint64(proto)+uint64(l4len)))
	}
	return sum16(src.ip[:4], sum16(dst.ip[:4], uint64(proto)+uint64(l4len)))
}

// pad zeroes the frame up to the Ethernet minimum and returns its length.
func pad(b []byte, n int) int {
	for n < minFrame {
		b[n] = 0
		n++
	}
	return n
}
