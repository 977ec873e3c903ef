package packet

import "encoding/binary"

// PairAnonymizer is an Anonymizer that also maps the two addresses of a
// flow key in place: what a meter does with every flow record it exports
// under a key. A Sanitizer is one, and so is what MemoAnonymizer returns.
type PairAnonymizer interface {
	Anonymizer
	// AnonymizePair maps src and dst in place as Anonymize4 (v4: each
	// address in the first 4 bytes of its array, the rest untouched) or
	// Anonymize16 maps them.
	AnonymizePair(v4 bool, src, dst *[16]byte)
}

// AnonymizePair maps the two addresses of a flow key in place, through
// the memos, as Anonymize4 or Anonymize16 map each: one call per flow
// record where the two methods take two calls through an interface, each
// copying its address in and out. Like Sanitize, it is not safe for
// concurrent use.
func (s *Sanitizer) AnonymizePair(v4 bool, src, dst *[16]byte) {
	if v4 {
		binary.BigEndian.PutUint32(src[:4], s.map4(binary.BigEndian.Uint32(src[:4])))
		binary.BigEndian.PutUint32(dst[:4], s.map4(binary.BigEndian.Uint32(dst[:4])))
		return
	}
	v0, v1 := s.map16(binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(src[8:]))
	binary.BigEndian.PutUint64(src[:8], v0)
	binary.BigEndian.PutUint64(src[8:], v1)
	v0, v1 = s.map16(binary.BigEndian.Uint64(dst[:8]), binary.BigEndian.Uint64(dst[8:]))
	binary.BigEndian.PutUint64(dst[:8], v0)
	binary.BigEndian.PutUint64(dst[8:], v1)
}

func (m *memoAnonymizer) AnonymizePair(v4 bool, src, dst *[16]byte) {
	m.s.AnonymizePair(v4, src, dst)
}
