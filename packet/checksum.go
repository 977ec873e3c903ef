package packet

// Internet checksum arithmetic (RFC 1071) and its incremental update
// (RFC 1624). Anonymization changes a few 16-bit words of a packet; instead
// of recomputing every checksum over data that a snaplen may have cut, each
// checksum covering a changed word is updated with the ones' complement
// difference of that word:
//
//	HC' = ~(~HC + ~m + m')   (RFC 1624, eqn. 3)
//
// The update keeps a wrong checksum wrong by the same amount, so
// anonymization neither hides nor creates checksum errors.

// sumKind tells how a checksum field treats zero.
type sumKind uint8

const (
	// sumPlain is a checksum that is always present: IPv4 header, TCP,
	// ICMP, ICMPv6.
	sumPlain sumKind = iota
	// sumUDP is a UDP or UDP-Lite checksum: zero means "no checksum" and
	// stays zero; a computed zero is sent as 0xFFFF.
	sumUDP
)

// fold reduces a 32-bit sum of 16-bit words to 16 bits with end-around
// carry. The result is 0 only when every added word was 0.
func fold(x uint32) uint16 {
	x = x&0xffff + x>>16
	x = x&0xffff + x>>16
	return uint16(x)
}

// sumDelta returns the ones' complement difference between the 16-bit
// words of old and new (same even length): sum(~old[i] + new[i]).
func sumDelta(old, new []byte) uint16 {
	var x uint32
	for i := 0; i+1 < len(old) && i+1 < len(new); i += 2 {
		o := uint16(old[i])<<8 | uint16(old[i+1])
		n := uint16(new[i])<<8 | uint16(new[i+1])
		x += uint32(^o) + uint32(n)
	}
	return fold(x)
}

// adjust applies the ones' complement difference delta to the checksum
// value hc and reports whether the field is to be rewritten.
//
// Two values leave the field alone, which also makes the update exactly
// invertible (anonymizing with a mapping and then with its inverse restores
// every byte): a UDP checksum of 0 ("none"), and a non-UDP checksum of
// 0xFFFF, which no conforming sender emits (it computes ~sum with a
// non-zero folded sum, so it sends 0x0000 for a zero result) and which the
// update can never produce.
func adjust(hc, delta uint16, kind sumKind) (uint16, bool) {
	switch {
	case kind == sumUDP && hc == 0:
		return hc, false
	case kind == sumPlain && hc == 0xffff:
		return hc, false
	}
	n := ^fold(uint32(^hc) + uint32(delta))
	if kind == sumUDP && n == 0 {
		n = 0xffff
	}
	return n, n != hc
}
