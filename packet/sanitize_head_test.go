package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/internal/advcap"
)

// TestHeaderMemoCollisions sanitizes, with one Sanitizer in every MAC
// mode, frames whose headers share a slot of the header memo, one after
// the other and back: each replaces the other's entry, and every frame
// must come out as the walk makes it (sanitizeChecked: the traced walk,
// Sanitize, and SanitizeDecoded from the decoder's Summary), whether its
// header is in the memo, was replaced, or is new. The frames of one
// slot differ in one MAC or one address, both ways, IPv4 (TCP, UDP,
// ICMP) and IPv6 (TCP, UDP, ICMPv6).
func TestHeaderMemoCollisions(t *testing.T) {
	for _, mode := range []MACMode{MACKeyed, MACZero, MACKeep} {
		s := newTestSanitizer(t, layers.LinkTypeEthernet, PayloadStrip, mode)
		for _, v6 := range []bool{false, true} {
			frames := collidingFrames(t, v6)
			d, err := NewDecoder(layers.LinkTypeEthernet)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range frames { // all of them the memo's
				var sum Summary
				c := bytes.Clone(f)
				d.DecodeSummary(c, &gopacket.CaptureInfo{CaptureLength: len(c), Length: len(c)}, &sum)
				if s.SanitizeDecoded(c, &sum) == 0 {
					t.Fatalf("v6 %t: frame %d does not take SanitizeDecoded's path: %x", v6, i, f)
				}
			}
			for pass := range 3 {
				for i, f := range frames {
					sanitizeChecked(t, s, fmt.Sprintf("%s, v6 %t, pass %d, frame %d", mode, v6, pass, i), f)
				}
			}
		}
	}
}

// collidingFrames returns Ethernet frames of the fast path whose headers
// (MACs and addresses) index one slot of the header memo: a first frame,
// then frames that differ from it in the source address, the destination
// MAC, or both ends swapped, over several transports, found by trying
// source addresses until their hash lands in the first frame's slot.
func collidingFrames(t *testing.T, v6 bool) [][]byte {
	t.Helper()
	macA, macB := [6]byte{0x02, 0, 0, 0, 0, 1}, [6]byte{0x02, 0, 0, 0, 0, 2}
	build := func(dst, src [6]byte, a, b uint32, proto int) []byte {
		if v6 {
			var s6, d6 [16]byte
			s6[0], s6[1], d6[0], d6[1] = 0x20, 0x01, 0x20, 0x01
			binary.BigEndian.PutUint32(s6[12:], a)
			binary.BigEndian.PutUint32(d6[12:], b)
			var l4 []byte
			switch proto {
			case 6:
				l4 = advcap.TCPSeg(s6[:], d6[:], 40000, 443, nil, []byte("payload"))
			case 17:
				l4 = advcap.UDPSeg(s6[:], d6[:], 5353, 53, []byte("payload"))
			default:
				proto, l4 = 58, advcap.ICMP6Msg(s6, d6, 128, 0, []byte{0, 1, 0, 1, 'p'})
			}
			return advcap.EthFrame(dst, src, 0x86dd, advcap.IPv6Pkt(s6, d6, uint8(proto), l4))
		}
		var s4, d4 [4]byte
		binary.BigEndian.PutUint32(s4[:], a)
		binary.BigEndian.PutUint32(d4[:], b)
		var l4 []byte
		switch proto {
		case 6:
			l4 = advcap.TCPSeg(s4[:], d4[:], 40000, 443, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, []byte("payload"))
		case 17:
			l4 = advcap.UDPSeg(s4[:], d4[:], 5353, 53, []byte("payload"))
		default:
			proto, l4 = 1, advcap.ICMP4Msg(8, 0, []byte{0, 1, 0, 1}, []byte("payload"))
		}
		return advcap.EthFrame(dst, src, 0x0800, advcap.IPv4Pkt(s4, d4, uint8(proto), nil, l4))
	}
	slot := func(f []byte) uint64 {
		w0, w1 := binary.BigEndian.Uint64(f[0:8]), uint64(binary.BigEndian.Uint32(f[8:12]))<<32
		if v6 {
			h := f[14:54]
			return setHead6(w0, w1|memoValid>>32, binary.BigEndian.Uint64(h[8:]), binary.BigEndian.Uint64(h[16:]),
				binary.BigEndian.Uint64(h[24:]), binary.BigEndian.Uint64(h[32:]))
		}
		h := f[14:34]
		return setHead4(w0, w1|uint64(binary.BigEndian.Uint32(h[12:])), uint64(binary.BigEndian.Uint32(h[16:]))|memoValid)
	}
	const a, b = 0x0a010001, 0xc0000201
	first := build(macB, macA, a, b, 6)
	frames := [][]byte{first}
	want := slot(first)
	for x := uint32(1); len(frames) < 6 && x < 1<<22; x++ {
		for _, f := range [][]byte{build(macB, macA, a+x, b, 6), build(macA, macB, b, a+x, 17),
			build([6]byte{0x02, 0, 0, 0, byte(x >> 8), byte(x)}, macA, a, b, 58)} {
			if slot(f) == want && len(frames) < 6 {
				frames = append(frames, f)
			}
		}
	}
	if len(frames) < 6 {
		t.Fatalf("found %d frames in one slot of the header memo, want 6", len(frames))
	}
	// And the first frame's flow the other way, and a UDP frame with the
	// first frame's header (the same entry for another transport).
	return append(frames, build(macA, macB, b, a, 6), build(macB, macA, a, b, 17))
}
