package flowfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Flow is what a filter looks at in a flow. Addresses are unmapped
// (IPv4 as IPv4, not IPv4-mapped IPv6); Bytes and Packets count both
// directions of a biflow.
type Flow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Packets, Bytes   uint64
}

// Match tells whether a flow matches the filter (the Go predicate).
func (f *Filter) Match(fl *Flow) bool {
	if f == nil || f.Root == nil {
		return true
	}
	return f.Root.Match(fl)
}

// Match implements Node.
func (n *And) Match(f *Flow) bool { return n.L.Match(f) && n.R.Match(f) }

// Match implements Node.
func (n *Or) Match(f *Flow) bool { return n.L.Match(f) || n.R.Match(f) }

// Match implements Node.
func (n *Not) Match(f *Flow) bool { return !n.X.Match(f) }

// Match implements Node.
func (n *Proto) Match(f *Flow) bool { return f.Proto == n.N }

// Match implements Node.
func (n *Host) Match(f *Flow) bool {
	switch n.Dir {
	case Src:
		return f.Src == n.Addr
	case Dst:
		return f.Dst == n.Addr
	}
	return f.Src == n.Addr || f.Dst == n.Addr
}

// Match implements Node.
func (n *Net) Match(f *Flow) bool {
	switch n.Dir {
	case Src:
		return n.Prefix.Contains(f.Src)
	case Dst:
		return n.Prefix.Contains(f.Dst)
	}
	return n.Prefix.Contains(f.Src) || n.Prefix.Contains(f.Dst)
}

// Match implements Node.
func (n *Port) Match(f *Flow) bool {
	v := uint64(n.N)
	switch n.Dir {
	case Src:
		return n.Op.cmp(uint64(f.SrcPort), v)
	case Dst:
		return n.Op.cmp(uint64(f.DstPort), v)
	}
	return n.Op.cmp(uint64(f.SrcPort), v) || n.Op.cmp(uint64(f.DstPort), v)
}

// Match implements Node.
func (n *Count) Match(f *Flow) bool {
	if n.Field == Packets {
		return n.Op.cmp(f.Packets, n.N)
	}
	return n.Op.cmp(f.Bytes, n.N)
}

// Columns names the SQL expressions of a flow's fields for SQL. Address
// columns must hold the 16 bytes of the address as a BLOB (IPv4 as
// IPv4-mapped IPv6, as netip.Addr.As16 gives), so that a prefix is a
// range of BLOBs; Bytes and Packets are expressions of both directions
// ("bytes + rev_bytes").
type Columns struct {
	Src, Dst, SrcPort, DstPort, Proto, Bytes, Packets string
}

// AddrParam is how SQL binds an address: its 16 bytes, IPv4 as
// IPv4-mapped IPv6. Stores write their address columns with it.
func AddrParam(a netip.Addr) []byte {
	b := a.As16()
	return b[:]
}

// SQL compiles the filter to a WHERE condition with ? placeholders and
// their arguments, in order. A filter matching every flow is "1".
func (f *Filter) SQL(c Columns) (string, []any) {
	if f == nil || f.Root == nil {
		return "1", nil
	}
	var b sqlBuilder
	b.node(f.Root, c)
	return b.sb.String(), b.args
}

type sqlBuilder struct {
	sb   strings.Builder
	args []any
}

// mapped is the IPv4-mapped space, excluded from IPv6 prefixes that span
// it (IPv4 addresses are stored mapped, yet an IPv6 prefix never matches
// an IPv4 address).
var mapped = netip.MustParsePrefix("::ffff:0.0.0.0/96")

func (b *sqlBuilder) node(n Node, c Columns) {
	w := func(s string) { b.sb.WriteString(s) }
	either := func(d Dir, one func(col string)) {
		switch d {
		case Src:
			one(c.Src)
		case Dst:
			one(c.Dst)
		default:
			w("(")
			one(c.Src)
			w(" OR ")
			one(c.Dst)
			w(")")
		}
	}
	switch n := n.(type) {
	case *And:
		w("(")
		b.node(n.L, c)
		w(" AND ")
		b.node(n.R, c)
		w(")")
	case *Or:
		w("(")
		b.node(n.L, c)
		w(" OR ")
		b.node(n.R, c)
		w(")")
	case *Not:
		w("NOT ")
		b.node(n.X, c)
	case *Proto:
		w(c.Proto + " = ?")
		b.args = append(b.args, int64(n.N))
	case *Host:
		either(n.Dir, func(col string) {
			w(col + " = ?")
			b.args = append(b.args, AddrParam(n.Addr))
		})
	case *Net:
		lo, hi := prefixRange(n.Prefix)
		excl := n.Prefix.Addr().Is6() && n.Prefix.Bits() <= mapped.Bits() && n.Prefix.Contains(mapped.Addr())
		either(n.Dir, func(col string) {
			w("(" + col + " BETWEEN ? AND ?")
			b.args = append(b.args, lo, hi)
			if excl {
				mlo, mhi := prefixRange(mapped)
				w(" AND " + col + " NOT BETWEEN ? AND ?")
				b.args = append(b.args, mlo, mhi)
			}
			w(")")
		})
	case *Port:
		cols := []string{c.SrcPort, c.DstPort}
		switch n.Dir {
		case Src:
			cols = cols[:1]
		case Dst:
			cols = cols[1:]
		}
		if len(cols) == 2 {
			w("(")
		}
		for i, col := range cols {
			if i > 0 {
				w(" OR ")
			}
			w(col + " " + n.Op.String() + " ?")
			b.args = append(b.args, int64(n.N))
		}
		if len(cols) == 2 {
			w(")")
		}
	case *Count:
		col := c.Bytes
		if n.Field == Packets {
			col = c.Packets
		}
		w(col + " " + n.Op.String() + " ?")
		// SQLite integers are signed: counts above 2^63-1 cannot be
		// stored, so binding the largest signed value keeps comparisons
		// right for any stored count.
		v := n.N
		if v > 1<<63-1 {
			v = 1<<63 - 1
		}
		b.args = append(b.args, int64(v))
	default:
		panic(fmt.Sprintf("flowfilter: unknown node %T", n))
	}
}

// prefixRange is the first and last address of a prefix as SQL binds
// them.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	lo = append([]byte(nil), a[:]...)
	hi = append([]byte(nil), a[:]...)
	for i := bits; i < 128; i++ {
		hi[i/8] |= 0x80 >> (i % 8)
	}
	return lo, hi
}

// ErrNoBPF is returned by BPF for a filter that BPF cannot express:
// bytes and packets are properties of flows, not of packets.
var ErrNoBPF = errors.New("bytes and packets comparisons have no BPF equivalent")

// BPF compiles the filter to a libpcap filter expression matching the
// packets the filter's terms describe, packet by packet: src and dst are
// the packet's, not the flow's, so a "src host A" flow's reverse packets
// are not matched; use "host A" to get both directions. An empty filter
// is "".
func (f *Filter) BPF() (string, error) {
	if f == nil || f.Root == nil {
		return "", nil
	}
	return bpf(f.Root)
}

func bpf(n Node) (string, error) {
	bin := func(l, r Node, op string) (string, error) {
		a, err := bpf(l)
		if err != nil {
			return "", err
		}
		b, err := bpf(r)
		if err != nil {
			return "", err
		}
		return "(" + a + " " + op + " " + b + ")", nil
	}
	switch n := n.(type) {
	case *And:
		return bin(n.L, n.R, "and")
	case *Or:
		return bin(n.L, n.R, "or")
	case *Not:
		x, err := bpf(n.X)
		if err != nil {
			return "", err
		}
		return "(not " + x + ")", nil
	case *Proto:
		switch n.N {
		case 1:
			return "icmp", nil
		case 6:
			return "tcp", nil
		case 17:
			return "udp", nil
		case 58:
			return "icmp6", nil
		}
		s := strconv.Itoa(int(n.N))
		return "(ip proto " + s + " or ip6 proto " + s + ")", nil
	case *Host:
		return n.Dir.prefix() + "host " + n.Addr.String(), nil
	case *Net:
		return n.Dir.prefix() + "net " + n.Prefix.String(), nil
	case *Port:
		d := n.Dir.prefix()
		lo, hi := 0, 65535
		v := int(n.N)
		switch n.Op {
		case Eq:
			return d + "port " + strconv.Itoa(v), nil
		case Ne:
			return "(not " + d + "port " + strconv.Itoa(v) + ")", nil
		case Lt:
			hi = v - 1
		case Le:
			hi = v
		case Gt:
			lo = v + 1
		case Ge:
			lo = v
		}
		if lo > hi {
			return "(tcp and not tcp)", nil
		}
		return d + "portrange " + strconv.Itoa(lo) + "-" + strconv.Itoa(hi), nil
	case *Count:
		return "", ErrNoBPF
	}
	return "", fmt.Errorf("flowfilter: unknown node %T", n)
}
