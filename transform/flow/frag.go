package flow

import (
	"time"

	"github.com/gimsproject/gims/packet"
)

const (
	// FragmentCacheSize bounds how many datagrams' first-fragment ports the
	// table remembers; the oldest entry gives way to a new one.
	FragmentCacheSize = 4096
	// FragmentTimeout is how long, in packet time, the ports of a first
	// fragment stay valid for the datagram's other fragments: Linux's
	// default reassembly timeout (net.ipv4.ipfrag_time).
	FragmentTimeout = 30 * time.Second
)

// fragKey identifies one fragmented datagram (RFC 791 and RFC 8200 use
// addresses, protocol and identification; the VLAN keeps apart the same
// datagram seen on two VLANs).
type fragKey struct {
	src, dst  [16]byte
	id        uint32
	vlan      uint16
	proto     uint8
	ipVersion uint8
}

type fragEntry struct {
	key              fragKey
	ts               int64
	srcPort, dstPort uint16
	used             bool
}

// fragCache maps datagrams to their ports. It is a ring of
// FragmentCacheSize entries indexed by a map: inserting overwrites the
// oldest entry, so memory stays bounded and nothing allocates once the
// ring is full.
type fragCache struct {
	index map[fragKey]int32
	ring  []fragEntry
	next  int32
}

// put remembers the ports of datagram k, seen at ts.
func (c *fragCache) put(k fragKey, srcPort, dstPort uint16, ts int64) {
	if c.ring == nil {
		c.ring = make([]fragEntry, FragmentCacheSize)
		c.index = make(map[fragKey]int32, FragmentCacheSize)
	}
	if i, ok := c.index[k]; ok {
		c.ring[i] = fragEntry{key: k, ts: ts, srcPort: srcPort, dstPort: dstPort, used: true}
		return
	}
	i := c.next
	if old := &c.ring[i]; old.used {
		delete(c.index, old.key)
	}
	c.ring[i] = fragEntry{key: k, ts: ts, srcPort: srcPort, dstPort: dstPort, used: true}
	c.index[k] = i
	c.next = (i + 1) % FragmentCacheSize
}

// get returns the ports of datagram k if its first fragment was seen no
// more than FragmentTimeout before now.
func (c *fragCache) get(k fragKey, now int64) (srcPort, dstPort uint16, ok bool) {
	i, ok := c.index[k]
	if !ok {
		return 0, 0, false
	}
	e := &c.ring[i]
	if now-e.ts > int64(FragmentTimeout) {
		return 0, 0, false
	}
	return e.srcPort, e.dstPort, true
}

// reset forgets every datagram, keeping the memory.
func (c *fragCache) reset() {
	if c.ring == nil {
		return
	}
	clear(c.index)
	clear(c.ring)
	c.next = 0
}

// fragmentPorts returns the ports of fragment s: its own if it is a first
// fragment (remembering them), those of its first fragment otherwise, or
// 0 when the first fragment is unknown.
func (t *Table) fragmentPorts(s *packet.Summary) (srcPort, dstPort uint16) {
	t.stats.Fragments++
	k := fragKey{src: s.Src, dst: s.Dst, id: s.FragID, vlan: s.VLAN, proto: s.Proto, ipVersion: s.IPVersion}
	if s.FragOffset == 0 {
		if s.HasPorts {
			srcPort, dstPort = s.SrcPort, s.DstPort
		}
		t.frags.put(k, srcPort, dstPort, t.now)
		return srcPort, dstPort
	}
	if srcPort, dstPort, ok := t.frags.get(k, t.now); ok {
		return srcPort, dstPort
	}
	t.stats.FragmentsUnmatched++
	return 0, 0
}
